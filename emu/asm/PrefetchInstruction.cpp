#include "emu/asm/PrefetchInstruction.h"

#include "emu/asm/AsmError.h"
#include "emu/asm/AsmText.h"

#include <cctype>
#include <cstdio>

namespace e2kvm::emu {

namespace {

struct Field {
    const char* name;
    unsigned offset, width;
};

// APS fields by name; `disp` is the whole APLS word. be/am/area replace incr/ind when si=1.
constexpr Field kFields[] = {
    {"ct", 31, 1},   {"dpl", 31, 1}, {"si", 30, 1},   {"dcd", 28, 2}, {"fmt", 25, 3},
    {"mrng", 20, 5}, {"d", 15, 5},   {"incr", 12, 3}, {"ind", 8, 4},  {"be", 14, 1},
    {"am", 13, 1},   {"area", 8, 5}, {"asz", 5, 3},   {"abs", 0, 5},  {"disp", 0, 32},
};

std::string lowerCase(std::string s) {
    for (char& c : s)
        c = char(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

// The parts of `s` between top-level commas (outside parentheses), trimmed.
std::vector<std::string> splitCommas(const std::string& s) {
    std::vector<std::string> out;
    std::string cur;
    int depth = 0;
    for (char c : s) {
        if (c == '(')
            ++depth;
        else if (c == ')')
            --depth;
        else if (c == ',' && depth == 0) {
            out.push_back(trim(cur));
            cur.clear();
            continue;
        }
        cur += c;
    }
    out.push_back(trim(cur));
    return out;
}

unsigned bits(uint32_t word, unsigned offset, unsigned width) {
    return (word >> offset) & ((1u << width) - 1);
}

// One `fapb` instruction: which half it writes and its two words.
struct Half {
    unsigned index = 0;
    uint32_t aps = 0, apls = 0;
};

Half encodeOne(const std::string& op, const ExprValue& dot, const ExprLookup& lookup,
               bool finalPass) {
    std::string text = trim(op);
    size_t sp = text.find_first_of(" \t");
    std::string rest = sp == std::string::npos ? "" : trim(text.substr(sp));
    bool set[std::size(kFields)] = {};
    uint64_t value[std::size(kFields)] = {};
    if (!rest.empty())
        for (const std::string& part : splitCommas(rest)) {
            size_t eq = part.find('=');
            if (eq == std::string::npos)
                throw AsmError("fapb: expected name=value, got '" + part + "'");
            std::string name = lowerCase(trim(part.substr(0, eq)));
            size_t f = 0;
            while (f < std::size(kFields) && name != kFields[f].name)
                ++f;
            if (f == std::size(kFields))
                throw AsmError("fapb: unknown field '" + name + "'");
            if (set[f])
                throw AsmError("fapb: " + name + "= given twice");
            ExprValue v = evaluate(trim(part.substr(eq + 1)), dot, lookup, finalPass);
            if (v.relocatable())
                throw AsmError("fapb: " + name + "= must be a constant");
            const Field& fd = kFields[f];
            const int64_t max = (int64_t(1) << fd.width) - 1;
            const int64_t min = fd.width == 32 ? INT32_MIN : 0;
            if (v.value < min || v.value > max)
                throw AsmError("fapb: " + name + "=" + std::to_string(v.value) + " does not fit " +
                               std::to_string(fd.width) + " bit" + (fd.width > 1 ? "s" : ""));
            set[f] = true;
            value[f] = uint64_t(v.value) & uint64_t(max);
        }
    auto given = [&](const char* name) {
        for (size_t f = 0; f < std::size(kFields); ++f)
            if (std::string(kFields[f].name) == name)
                return set[f];
        return false;
    };
    Half h;
    if (given("ct") && given("dpl"))
        throw AsmError("fapb: ct= (left half) and dpl= (right half) exclude each other");
    if (!given("ct") && !given("dpl"))
        throw AsmError("fapb needs ct= (left half) or dpl= (right half)");
    h.index = given("ct") ? 0 : 1;
    bool si = false;
    for (size_t f = 0; f < std::size(kFields); ++f)
        if (set[f] && std::string(kFields[f].name) == "si")
            si = value[f] != 0;
    if (!si && (given("be") || given("am") || given("area")))
        throw AsmError("fapb: be=, am= and area= need si=1");
    if (si && (given("incr") || given("ind")))
        throw AsmError("fapb: incr= and ind= cannot go with si=1");
    for (size_t f = 0; f < std::size(kFields); ++f) {
        if (!set[f])
            continue;
        if (std::string(kFields[f].name) == "disp")
            h.apls = uint32_t(value[f]);
        else
            h.aps |= uint32_t(value[f]) << kFields[f].offset;
    }
    return h;
}

std::string hex(uint32_t v) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "0x%x", v);
    return buf;
}

uint32_t le32(const uint8_t* p) {
    return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}

// "fmt=1, mrng=8, ..." from `aps`/`apls`, with be/am/area in place of incr/ind when `si`.
std::string fieldsText(uint32_t aps, uint32_t apls, bool withSi) {
    auto f = [&](const char* name, unsigned offset, unsigned width) {
        return std::string(", ") + name + "=" + std::to_string(bits(aps, offset, width));
    };
    const bool si = bits(aps, 30, 1);
    std::string s = withSi && si ? f("si", 30, 1) : "";
    s += f("dcd", 28, 2) + f("fmt", 25, 3) + f("mrng", 20, 5) + f("d", 15, 5);
    if (withSi && si)
        s += f("be", 14, 1) + f("am", 13, 1) + f("area", 8, 5);
    else
        s += f("incr", 12, 3) + f("ind", 8, 4);
    return s + f("asz", 5, 3) + f("abs", 0, 5) + ", disp=" + hex(apls);
}

} // namespace

bool isPrefetchOp(const std::string& op) {
    std::string t = trim(op);
    size_t sp = t.find_first_of(" \t");
    return lowerCase(t.substr(0, sp)) == "fapb";
}

std::array<uint32_t, 4> encodePrefetchInstruction(const std::vector<std::string>& ops,
                                                  const ExprValue& dot, const ExprLookup& lookup,
                                                  bool finalPass) {
    std::array<uint32_t, 4> words{};
    bool used[2] = {};
    for (const std::string& op : ops) {
        if (trim(op).empty())
            continue;
        if (!isPrefetchOp(op))
            throw AsmError("'" + trim(op) +
                           "' cannot share a bundle with fapb (a prefetch program instruction)");
        Half h = encodeOne(op, dot, lookup, finalPass);
        if (used[h.index])
            throw AsmError(std::string("fapb: the ") +
                           (h.index ? "right half (dpl=)" : "left half (ct=)") +
                           " is written twice in one instruction");
        used[h.index] = true;
        words[2 * h.index] = h.aps;
        words[2 * h.index + 1] = h.apls;
    }
    return words;
}

std::array<std::string, 2> prefetchListing(const uint8_t* bytes) {
    std::array<std::string, 2> out;
    for (unsigned i = 0; i < 2; ++i) {
        uint32_t aps = le32(bytes + 8 * i), apls = le32(bytes + 8 * i + 4);
        const unsigned fmt = bits(aps, 25, 3);
        std::string s = std::string("apb ") + (i == 0 ? "ct=" : "dpl=") + std::to_string(aps >> 31);
        if (fmt == 0)
            s += ", fmt=0";
        else
            s += fieldsText(aps, apls, false);
        out[i] = s;
    }
    return out;
}

std::string prefetchSource(const uint8_t* bytes) {
    std::string s = "{ ";
    for (unsigned i = 0; i < 2; ++i) {
        uint32_t aps = le32(bytes + 8 * i), apls = le32(bytes + 8 * i + 4);
        if (i)
            s += "; ";
        s += std::string("fapb ") + (i == 0 ? "ct=" : "dpl=") + std::to_string(aps >> 31);
        // An unused half (only ct/dpl, if anything) reads as MCST's objdump prints it.
        if ((aps & 0x7FFFFFFFu) == 0 && apls == 0)
            s += ", fmt=0";
        else
            s += fieldsText(aps, apls, true);
    }
    return s + " }";
}

} // namespace e2kvm::emu
