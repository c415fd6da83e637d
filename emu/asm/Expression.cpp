#include "emu/asm/Expression.h"

#include "emu/asm/AsmError.h"

#include <cctype>
#include <climits>

namespace e2kvm::emu {

namespace {

bool symbolStart(char c) {
    return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '$';
}
bool symbolChar(char c) {
    return symbolStart(c) || std::isdigit(static_cast<unsigned char>(c));
}

class Parser {
public:
    Parser(const std::string& text, const ExprValue& dot, const ExprLookup& lookup, bool final)
        : s_(text), dot_(dot), lookup_(lookup), final_(final) {}

    ExprValue parse() {
        ExprValue v = logicalOr();
        skip();
        if (i_ != s_.size())
            bad();
        return v;
    }

private:
    [[noreturn]] void bad() const { throw AsmError("bad expression '" + s_ + "'"); }

    void skip() {
        while (i_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[i_])))
            ++i_;
    }

    bool eat(const char* op) {
        skip();
        size_t n = std::char_traits<char>::length(op);
        if (s_.compare(i_, n, op) != 0)
            return false;
        // "<" must not match "<<" or "<=", "|" not "||" and so on.
        if (n == 1 && i_ + 1 < s_.size()) {
            char c = s_[i_], d = s_[i_ + 1];
            if ((c == '<' && (d == '<' || d == '=' || d == '>')) ||
                (c == '>' && (d == '>' || d == '=')) || (c == '|' && d == '|') ||
                (c == '&' && d == '&') || (c == '!' && d == '=') || (c == '=' && d == '='))
                return false;
        }
        i_ += n;
        return true;
    }

    static ExprValue absolute(int64_t v, bool symbolic) {
        ExprValue r;
        r.value = v;
        r.symbolic = symbolic;
        return r;
    }

    void needAbsolute(const ExprValue& a, const ExprValue& b) const {
        if (a.relocatable() || b.relocatable())
            throw AsmError("expression '" + s_ + "' combines a relocatable value in a way " +
                           "that needs an absolute one");
    }

    ExprValue logicalOr() {
        ExprValue a = logicalAnd();
        while (eat("||")) {
            ExprValue b = logicalAnd();
            needAbsolute(a, b);
            a = absolute((a.value || b.value) ? 1 : 0, a.symbolic || b.symbolic);
        }
        return a;
    }

    ExprValue logicalAnd() {
        ExprValue a = additive();
        while (eat("&&")) {
            ExprValue b = additive();
            needAbsolute(a, b);
            a = absolute((a.value && b.value) ? 1 : 0, a.symbolic || b.symbolic);
        }
        return a;
    }

    ExprValue additive() {
        ExprValue a = bitwise();
        for (;;) {
            bool sym;
            if (eat("+")) {
                ExprValue b = bitwise();
                sym = a.symbolic || b.symbolic;
                if (a.relocatable() && b.relocatable())
                    throw AsmError("cannot add two relocatable values in '" + s_ + "'");
                ExprValue r = a.relocatable() ? a : b;
                r.value = int64_t(uint64_t(a.value) + uint64_t(b.value));
                r.symbolic = sym;
                a = r;
            } else if (eat("-")) {
                ExprValue b = bitwise();
                sym = a.symbolic || b.symbolic;
                if (b.relocatable()) {
                    if (a.section != b.section)
                        throw AsmError("cannot subtract values of different sections in '" + s_ +
                                       "'");
                    a = absolute(int64_t(uint64_t(a.value) - uint64_t(b.value)), sym);
                } else {
                    a.value = int64_t(uint64_t(a.value) - uint64_t(b.value));
                    a.symbolic = sym;
                }
            } else {
                int op = eat("==")                ? 0
                         : eat("!=") || eat("<>") ? 1
                         : eat("<=")              ? 2
                         : eat(">=")              ? 3
                         : eat("<")               ? 4
                         : eat(">")               ? 5
                                                  : -1;
                if (op < 0)
                    return a;
                ExprValue b = bitwise();
                bool t;
                if (a.section != b.section)
                    needAbsolute(a, b);
                switch (op) {
                case 0:
                    t = a.value == b.value;
                    break;
                case 1:
                    t = a.value != b.value;
                    break;
                case 2:
                    t = a.value <= b.value;
                    break;
                case 3:
                    t = a.value >= b.value;
                    break;
                case 4:
                    t = a.value < b.value;
                    break;
                default:
                    t = a.value > b.value;
                }
                a = absolute(t ? -1 : 0, a.symbolic || b.symbolic);
            }
        }
    }

    ExprValue bitwise() {
        ExprValue a = multiplicative();
        for (;;) {
            int op = eat("|") ? 0 : eat("&") ? 1 : eat("^") ? 2 : eat("!") ? 3 : -1;
            if (op < 0)
                return a;
            ExprValue b = multiplicative();
            needAbsolute(a, b);
            uint64_t x = uint64_t(a.value), y = uint64_t(b.value);
            uint64_t r = op == 0 ? x | y : op == 1 ? x & y : op == 2 ? x ^ y : x | ~y;
            a = absolute(int64_t(r), a.symbolic || b.symbolic);
        }
    }

    ExprValue multiplicative() {
        ExprValue a = unary();
        for (;;) {
            int op = eat("*")    ? 0
                     : eat("/")  ? 1
                     : eat("%")  ? 2
                     : eat("<<") ? 3
                     : eat(">>") ? 4
                                 : -1;
            if (op < 0)
                return a;
            ExprValue b = unary();
            needAbsolute(a, b);
            int64_t x = a.value, y = b.value, r;
            if ((op == 1 || op == 2) && y == 0) {
                if (final_)
                    throw AsmError("division by zero in '" + s_ + "'");
                y = 1;
            }
            switch (op) {
            case 0:
                r = int64_t(uint64_t(x) * uint64_t(y));
                break;
            case 1:
                r = (x == INT64_MIN && y == -1) ? x : x / y;
                break;
            case 2:
                r = (y == -1) ? 0 : x % y;
                break;
            case 3:
                r = y >= 64 ? 0 : int64_t(uint64_t(x) << y);
                break;
            default:
                r = y >= 64 ? 0 : int64_t(uint64_t(x) >> y);
            }
            a = absolute(r, a.symbolic || b.symbolic);
        }
    }

    ExprValue unary() {
        skip();
        if (eat("-")) {
            ExprValue v = unary();
            needAbsolute(v, {});
            v.value = int64_t(0 - uint64_t(v.value));
            return v;
        }
        if (eat("+"))
            return unary();
        if (eat("~")) {
            ExprValue v = unary();
            needAbsolute(v, {});
            v.value = ~v.value;
            return v;
        }
        if (eat("!")) {
            ExprValue v = unary();
            needAbsolute(v, {});
            v.value = v.value ? 0 : 1;
            return v;
        }
        return primary();
    }

    ExprValue primary() {
        skip();
        if (i_ >= s_.size())
            bad();
        char c = s_[i_];
        if (c == '(') {
            ++i_;
            ExprValue v = logicalOr();
            if (!eat(")"))
                bad();
            return v;
        }
        if (c == '\'' && i_ + 1 < s_.size()) {
            int64_t v = static_cast<unsigned char>(s_[i_ + 1]);
            i_ += 2;
            if (i_ < s_.size() && s_[i_] == '\'')
                ++i_;
            return absolute(v, false);
        }
        if (std::isdigit(static_cast<unsigned char>(c)))
            return number();
        if (symbolStart(c)) {
            size_t j = i_;
            while (j < s_.size() && symbolChar(s_[j]))
                ++j;
            std::string name = s_.substr(i_, j - i_);
            i_ = j;
            if (name == ".") {
                ExprValue d = dot_;
                d.symbolic = true;
                return d;
            }
            return symbol(name);
        }
        bad();
    }

    ExprValue symbol(const std::string& name) {
        std::optional<ExprValue> v = lookup_ ? lookup_(name) : std::nullopt;
        if (!v) {
            if (final_)
                throw AsmError("undefined symbol '" + name + "'");
            return absolute(0, true);
        }
        return *v;
    }

    ExprValue number() {
        size_t j = i_;
        while (j < s_.size() && std::isalnum(static_cast<unsigned char>(s_[j])))
            ++j;
        std::string t = s_.substr(i_, j - i_);
        i_ = j;
        // Numeric local label reference: "1b", "2f".
        if (t.size() >= 2 &&
            (t.back() == 'b' || t.back() == 'f' || t.back() == 'B' || t.back() == 'F')) {
            bool digits = true;
            for (size_t k = 0; k + 1 < t.size(); ++k)
                digits &= std::isdigit(static_cast<unsigned char>(t[k])) != 0;
            if (digits)
                return symbol(t);
        }
        // C integer suffixes (1UL, 0x10ULL), which MCST's as accepts.
        while (t.size() > 1 &&
               (t.back() == 'u' || t.back() == 'U' || t.back() == 'l' || t.back() == 'L'))
            t.pop_back();
        int base = 10;
        size_t k = 0;
        if (t.size() > 2 && t[0] == '0' && (t[1] == 'x' || t[1] == 'X')) {
            base = 16;
            k = 2;
        } else if (t.size() > 2 && t[0] == '0' && (t[1] == 'b' || t[1] == 'B')) {
            base = 2;
            k = 2;
        } else if (t.size() > 1 && t[0] == '0') {
            base = 8;
            k = 1;
        }
        uint64_t v = 0;
        for (; k < t.size(); ++k) {
            char ch = char(std::tolower(static_cast<unsigned char>(t[k])));
            int d = std::isdigit(static_cast<unsigned char>(ch)) ? ch - '0'
                    : (ch >= 'a' && ch <= 'f')                   ? ch - 'a' + 10
                                                                 : 99;
            if (d >= base)
                throw AsmError("bad number '" + t + "'");
            if (v > (UINT64_MAX - uint64_t(d)) / uint64_t(base))
                throw AsmError("number too large: " + t);
            v = v * uint64_t(base) + uint64_t(d);
        }
        return absolute(int64_t(v), false);
    }

    const std::string& s_;
    const ExprValue& dot_;
    const ExprLookup& lookup_;
    bool final_;
    size_t i_ = 0;
};

} // namespace

ExprValue evaluate(const std::string& text, const ExprValue& dot, const ExprLookup& lookup,
                   bool finalPass) {
    if (text.find_first_not_of(" \t") == std::string::npos)
        throw AsmError("missing value");
    return Parser(text, dot, lookup, finalPass).parse();
}

} // namespace e2kvm::emu
