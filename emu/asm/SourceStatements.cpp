#include "emu/asm/SourceStatements.h"

#include "emu/asm/AsmError.h"
#include "emu/asm/AsmText.h"
#include "emu/asm/Expression.h"

#include <cctype>
#include <map>

namespace e2kvm::emu {

namespace {

bool identChar(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '$';
}

// Replaces comments by blanks, keeping the newlines so that line numbers stay right.
std::string stripComments(const std::string& src) {
    std::string out;
    out.reserve(src.size());
    bool quote = false, lineStart = true;
    for (size_t i = 0; i < src.size(); ++i) {
        char c = src[i];
        if (quote) {
            out += c;
            if (c == '\\' && i + 1 < src.size())
                out += src[++i];
            else if (c == '"')
                quote = false;
            continue;
        }
        if (c == '"') {
            quote = true;
            lineStart = false;
            out += c;
            continue;
        }
        bool toEol = c == '!' || (c == '/' && i + 1 < src.size() && src[i + 1] == '/') ||
                     (c == '#' && lineStart);
        if (toEol) {
            while (i < src.size() && src[i] != '\n')
                ++i;
            if (i < src.size())
                out += '\n';
            lineStart = true;
            continue;
        }
        if (c == '/' && i + 1 < src.size() && src[i + 1] == '*') {
            i += 2;
            while (i + 1 < src.size() && !(src[i] == '*' && src[i + 1] == '/')) {
                if (src[i] == '\n')
                    out += '\n';
                ++i;
            }
            ++i;
            out += ' ';
            continue;
        }
        out += c;
        if (c == '\n')
            lineStart = true;
        else if (c != ' ' && c != '\t')
            lineStart = false;
    }
    return out;
}

// Splits text into statements at '\n', ';', '{' and '}' (outside quotes); a leading
// "name:" becomes a statement of its own. Lines are counted from `line`.
void splitInto(const std::string& text, int line, std::vector<SourceStatement>& out) {
    std::string cur;
    auto flush = [&](int at) {
        std::string t = trim(cur);
        cur.clear();
        while (!t.empty()) {
            size_t n = 0;
            while (n < t.size() && identChar(t[n]))
                ++n;
            if (n > 0 && n < t.size() && t[n] == ':' && (n + 1 == t.size() || t[n + 1] != '=')) {
                out.push_back({at, t.substr(0, n + 1)});
                t = trim(t.substr(n + 1));
                continue;
            }
            out.push_back({at, t});
            break;
        }
    };
    bool quote = false;
    for (size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        if (quote) {
            cur += c;
            if (c == '\\' && i + 1 < text.size())
                cur += text[++i];
            else if (c == '"')
                quote = false;
            continue;
        }
        if (c == '"') {
            quote = true;
            cur += c;
        } else if (c == '\n' || c == ';') {
            flush(line);
            if (c == '\n')
                ++line;
        } else if (c == '{' || c == '}') {
            flush(line);
            out.push_back({line, std::string(1, c)});
        } else {
            cur += c;
        }
    }
    flush(line);
}

std::string firstWord(const std::string& s) {
    size_t n = 0;
    while (n < s.size() && !std::isspace(static_cast<unsigned char>(s[n])) && s[n] != ',')
        ++n;
    return s.substr(0, n);
}

std::string lowerCopy(std::string s) {
    for (char& c : s)
        c = char(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

// Splits at top-level commas (outside quotes and brackets).
std::vector<std::string> splitCommas(const std::string& s) {
    std::vector<std::string> out;
    std::string cur;
    int depth = 0;
    bool quote = false;
    for (size_t i = 0; i < s.size(); ++i) {
        char c = s[i];
        if (quote) {
            cur += c;
            if (c == '\\' && i + 1 < s.size())
                cur += s[++i];
            else if (c == '"')
                quote = false;
            continue;
        }
        if (c == '"')
            quote = true;
        else if (c == '(' || c == '[')
            ++depth;
        else if (c == ')' || c == ']')
            --depth;
        if (c == ',' && depth == 0) {
            out.push_back(trim(cur));
            cur.clear();
            continue;
        }
        cur += c;
    }
    if (!trim(cur).empty() || !out.empty())
        out.push_back(trim(cur));
    return out;
}

std::vector<std::string> splitBlanks(const std::string& s) {
    std::vector<std::string> out;
    std::string cur;
    bool quote = false;
    for (char c : s) {
        if (c == '"')
            quote = !quote;
        if (!quote && std::isspace(static_cast<unsigned char>(c))) {
            if (!cur.empty())
                out.push_back(cur);
            cur.clear();
            continue;
        }
        cur += c;
    }
    if (!cur.empty())
        out.push_back(cur);
    return out;
}

struct MacroParam {
    std::string name, defaultValue;
    bool required = false, vararg = false;
};

struct Macro {
    std::vector<MacroParam> params;
    std::vector<SourceStatement> body;
};

class Expander {
public:
    explicit Expander(const std::string& file) : file_(file) {}

    // Expands `in` into `out`; returns true if .exitm was reached.
    bool run(const std::vector<SourceStatement>& in, std::vector<SourceStatement>& out, int depth,
             int useLine) {
        if (depth > 200)
            fail(useLine, "macros nested too deeply (recursive macro?)");
        for (size_t i = 0; i < in.size(); ++i) {
            const SourceStatement& st = in[i];
            int line = depth ? useLine : st.line;
            std::string word = lowerCopy(firstWord(st.text));
            std::string rest = trim(st.text.substr(firstWord(st.text).size()));
            if (word == ".macro") {
                defineMacro(in, i, rest, line);
            } else if (word == ".rept" || word == ".irp" || word == ".irpc") {
                std::vector<SourceStatement> body = collect(in, i, ".endr", line);
                repeat(word, rest, body, out, depth, line);
            } else if (word == ".endm" || word == ".endr") {
                fail(line, word + " without a matching start");
            } else if (word == ".exitm") {
                if (depth == 0)
                    fail(line, ".exitm outside a macro");
                return true;
            } else if (word == ".purgem") {
                macros_.erase(trim(rest));
            } else if (auto it = macros_.find(firstWord(st.text)); it != macros_.end()) {
                expand(it->second, rest, out, depth, line);
            } else {
                noteConstant(word, rest, st.text);
                out.push_back({line, st.text});
            }
        }
        return false;
    }

private:
    [[noreturn]] void fail(int line, const std::string& msg) const {
        throw AsmError(file_ + ":" + std::to_string(line) + ": " + msg);
    }

    // Statements after in[i] up to the matching `end` (nested starts counted); i ends on it.
    std::vector<SourceStatement> collect(const std::vector<SourceStatement>& in, size_t& i,
                                         const std::string& end, int line) {
        std::vector<SourceStatement> body;
        int nest = 0;
        for (++i; i < in.size(); ++i) {
            std::string w = lowerCopy(firstWord(in[i].text));
            bool start =
                end == ".endm" ? w == ".macro" : (w == ".rept" || w == ".irp" || w == ".irpc");
            if (start)
                ++nest;
            if (w == end) {
                if (nest == 0)
                    return body;
                --nest;
            }
            body.push_back(in[i]);
        }
        fail(line, "missing " + end);
    }

    void defineMacro(const std::vector<SourceStatement>& in, size_t& i, const std::string& head,
                     int line) {
        std::string h = head;
        // "name = value" spacing is allowed in the parameter list.
        for (size_t p; (p = h.find(" =")) != std::string::npos;)
            h.erase(p, 1);
        for (size_t p; (p = h.find("= ")) != std::string::npos;)
            h.erase(p + 1, 1);
        for (char& c : h)
            if (c == ',')
                c = ' ';
        std::vector<std::string> words = splitBlanks(h);
        if (words.empty())
            fail(line, ".macro needs a name");
        Macro m;
        for (size_t k = 1; k < words.size(); ++k) {
            MacroParam p;
            std::string w = words[k];
            size_t eq = w.find('=');
            if (eq != std::string::npos) {
                p.defaultValue = w.substr(eq + 1);
                w = w.substr(0, eq);
                if (p.defaultValue.size() >= 2 && p.defaultValue.front() == '"' &&
                    p.defaultValue.back() == '"')
                    p.defaultValue = p.defaultValue.substr(1, p.defaultValue.size() - 2);
            }
            size_t colon = w.find(':');
            if (colon != std::string::npos) {
                std::string q = w.substr(colon + 1);
                if (q == "req")
                    p.required = true;
                else if (q == "vararg")
                    p.vararg = true;
                else
                    fail(line, "unknown macro parameter qualifier :" + q);
                w = w.substr(0, colon);
            }
            p.name = w;
            m.params.push_back(p);
        }
        m.body = collect(in, i, ".endm", line);
        macros_[words[0]] = std::move(m);
    }

    void expand(const Macro& m, const std::string& argText, std::vector<SourceStatement>& out,
                int depth, int line) {
        std::vector<std::string> args = splitCommas(argText);
        if (args.size() == 1 && m.params.size() > 1)
            args = splitBlanks(argText);
        std::map<std::string, std::string> values;
        size_t pos = 0;
        for (size_t k = 0; k < args.size(); ++k) {
            const std::string& a = args[k];
            size_t eq = a.find('=');
            if (eq != std::string::npos) {
                std::string key = trim(a.substr(0, eq));
                bool known = false;
                for (const MacroParam& p : m.params)
                    known |= p.name == key;
                if (known) {
                    values[key] = trim(a.substr(eq + 1));
                    continue;
                }
            }
            if (pos >= m.params.size()) {
                if (a.empty())
                    continue;
                fail(line, "too many arguments for the macro");
            }
            if (m.params[pos].vararg) {
                std::string all;
                for (size_t r = k; r < args.size(); ++r)
                    all += (r > k ? "," : "") + args[r];
                values[m.params[pos].name] = all;
                break;
            }
            values[m.params[pos++].name] = a;
        }
        for (const MacroParam& p : m.params) {
            auto it = values.find(p.name);
            if (it == values.end() || it->second.empty()) {
                if (p.required)
                    fail(line, "missing value for required macro parameter " + p.name);
                values[p.name] = p.defaultValue;
            }
        }
        std::string counter = std::to_string(uses_++);
        std::vector<SourceStatement> body;
        for (const SourceStatement& st : m.body)
            splitInto(substitute(st.text, values, counter), line, body);
        run(body, out, depth + 1, line);
    }

    static std::string substitute(const std::string& text,
                                  const std::map<std::string, std::string>& values,
                                  const std::string& counter) {
        std::string out;
        for (size_t i = 0; i < text.size(); ++i) {
            if (text[i] != '\\' || i + 1 >= text.size()) {
                out += text[i];
                continue;
            }
            char n = text[i + 1];
            if (n == '(' && i + 2 < text.size() && text[i + 2] == ')') {
                i += 2;
                continue;
            }
            if (n == '@') {
                out += counter;
                ++i;
                continue;
            }
            size_t j = i + 1;
            while (j < text.size() && (std::isalnum(static_cast<unsigned char>(text[j])) ||
                                       text[j] == '_' || text[j] == '$' || text[j] == '.'))
                ++j;
            // The longest parameter name that is a prefix of the word.
            std::string word = text.substr(i + 1, j - i - 1);
            bool done = false;
            for (size_t len = word.size(); len > 0 && !done; --len) {
                auto it = values.find(word.substr(0, len));
                if (it != values.end()) {
                    out += it->second;
                    i += len;
                    done = true;
                }
            }
            if (!done)
                out += text[i];
        }
        return out;
    }

    // Remembers absolute .set/.equ/"=" values, for the counts of .rept.
    void noteConstant(const std::string& word, const std::string& rest, const std::string& text) {
        std::string name, expr;
        if (word == ".set" || word == ".equ") {
            auto parts = splitCommas(rest);
            if (parts.size() != 2)
                return;
            name = parts[0];
            expr = parts[1];
        } else {
            size_t eq = text.find('=');
            if (eq == std::string::npos || eq + 1 >= text.size() || text[eq + 1] == '=')
                return;
            name = trim(text.substr(0, eq));
            expr = text.substr(eq + 1);
            for (char c : name)
                if (!identChar(c))
                    return;
        }
        try {
            ExprValue v = evaluate(expr, {}, constantLookup(), true);
            if (!v.relocatable())
                constants_[name] = v.value;
        } catch (const AsmError&) {
            constants_.erase(name); // not a constant (a label difference, say)
        }
    }

    ExprLookup constantLookup() const {
        return [this](const std::string& n) -> std::optional<ExprValue> {
            auto it = constants_.find(n);
            if (it == constants_.end())
                return std::nullopt;
            ExprValue v;
            v.value = it->second;
            return v;
        };
    }

    void repeat(const std::string& kind, const std::string& rest,
                const std::vector<SourceStatement>& body, std::vector<SourceStatement>& out,
                int depth, int line) {
        if (kind == ".rept") {
            long long n = 0;
            try {
                n = evaluate(rest, {}, constantLookup(), true).value;
            } catch (const AsmError& e) {
                fail(line, std::string(".rept needs a constant count: ") + e.what());
            }
            if (n < 0 || n > 1000000)
                fail(line, ".rept count out of range");
            for (long long k = 0; k < n; ++k)
                run(body, out, depth + 1, line);
            return;
        }
        std::vector<std::string> parts = splitCommas(rest);
        if (parts.size() == 1)
            parts = splitBlanks(rest);
        if (parts.empty() || parts[0].empty())
            fail(line, kind + " needs a parameter name");
        std::string name = parts[0];
        std::vector<std::string> items(parts.begin() + 1, parts.end());
        if (kind == ".irpc") {
            std::string chars = items.empty() ? "" : items[0];
            items.clear();
            for (char c : chars)
                items.push_back(std::string(1, c));
        }
        if (items.empty())
            items.push_back("");
        for (const std::string& item : items) {
            std::vector<SourceStatement> copy;
            for (const SourceStatement& st : body)
                splitInto(substitute(st.text, {{name, item}}, std::to_string(uses_)), line, copy);
            run(copy, out, depth + 1, line);
        }
    }

    std::string file_;
    std::map<std::string, Macro> macros_;
    std::map<std::string, int64_t> constants_;
    unsigned uses_ = 0;
};

} // namespace

std::vector<SourceStatement> readStatements(const std::string& source, const std::string& file) {
    std::vector<SourceStatement> raw;
    splitInto(stripComments(source), 1, raw);
    std::vector<SourceStatement> out;
    Expander(file).run(raw, out, 0, 0);
    return out;
}

} // namespace e2kvm::emu
