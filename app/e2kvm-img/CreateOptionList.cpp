#include "CreateOptionList.h"
#include "block/OnOffValue.h"

#include "CommandError.h"

#include <cerrno>
#include <cstdlib>
#include <vector>

namespace e2kvm::img {

namespace {

// Option names in the order qemu-img prints them, with the default it prints when the option
// was not given (nullptr: printed only when given).
struct OptionInfo {
    const char* name;
    const char* printedDefault;
};

// nocow and extent_size_hint are the file's (QEMU's file driver) options, printed after the
// format's own.
const std::vector<OptionInfo> kQcow2Options = {
    {"encryption", nullptr},    {"cluster_size", "65536"},    {"extended_l2", "off"},
    {"preallocation", nullptr}, {"compression_type", "zlib"}, {"size", nullptr},
    {"compat", nullptr},        {"backing_file", nullptr},    {"backing_fmt", nullptr},
    {"data_file", nullptr},     {"data_file_raw", nullptr},   {"lazy_refcounts", "off"},
    {"refcount_bits", "16"},    {"nocow", nullptr},           {"extent_size_hint", nullptr},
};

const std::vector<OptionInfo> kRawOptions = {
    {"size", nullptr},
    {"nocow", nullptr},
    {"preallocation", nullptr},
    {"extent_size_hint", nullptr},
};

const std::vector<OptionInfo>& optionsOf(const std::string& format) {
    return format == "qcow2" ? kQcow2Options : kRawOptions;
}

bool parseBool(const std::string& v, bool& out) {
    auto on = block::onOffValue(v);
    if (on)
        out = *on;
    return on.has_value();
}

bool isSizeOption(const std::string& key) {
    return key == "size" || key == "cluster_size" || key == "extent_size_hint";
}

} // namespace

bool isCreatableFormat(const std::string& format) {
    return format == "raw" || format == "qcow2";
}

void CreateOptionList::validate(const std::string& key, std::string& value,
                                const std::string& filename) const {
    auto fail = [&](const std::string& what) { throw CommandFailure(filename + ": " + what); };
    bool known = false;
    for (const OptionInfo& o : optionsOf(format_))
        known = known || key == o.name;
    if (!known)
        fail("Invalid parameter '" + key + "'");
    if (isSizeOption(key)) {
        try {
            value = std::to_string(block::parseSize(value));
        } catch (const block::BlockError&) {
            fail("Parameter '" + key +
                 "' expects a non-negative number below 2^64\n"
                 "Optional suffix k, M, G, T, P or E means kilo-, mega-, giga-, tera-, peta-\n"
                 "and exabytes, respectively.");
        }
    } else if (key == "lazy_refcounts" || key == "extended_l2" || key == "data_file_raw" ||
               key == "nocow" || key == "encryption") {
        bool b;
        if (!parseBool(value, b))
            fail("Parameter '" + key + "' expects 'on' or 'off'");
    } else if (key == "refcount_bits") {
        // A number as QEMU reads it (strtoull: "-1" wraps around); whether it is a valid
        // width is the qcow2 driver's concern ("Refcount width must be a power of two...").
        char* end = nullptr;
        errno = 0;
        std::strtoull(value.c_str(), &end, 0);
        if (value.empty() || *end || errno == ERANGE)
            fail("Parameter 'refcount_bits' expects a number");
    }
}

// The values QEMU's drivers check only when they create the image, after qemu-img has printed
// its Formatting line.
void CreateOptionList::checkValues(const std::string& filename) const {
    auto fail = [&](const std::string& what) { throw CommandFailure(filename + ": " + what); };
    for (const auto& [key, value] : values_) {
        if (key == "preallocation") {
            if (value != "off" && value != "metadata" && value != "falloc" && value != "full")
                fail("Parameter 'preallocation' does not accept value '" + value + "'");
            if (format_ == "raw" && value == "metadata")
                fail("Parameter 'preallocation' does not accept value 'metadata'");
        } else if (key == "compat") {
            if (value != "0.10" && value != "1.1" && value != "v2" && value != "v3")
                fail("Parameter 'version' does not accept value '" + value + "'");
        } else if (key == "compression_type") {
            if (value != "zlib" && value != "zstd")
                fail("Parameter 'compression-type' does not accept value '" + value + "'");
        } else if (key == "encryption") {
            bool on = false;
            if (parseBool(value, on) && on)
                fail("Encrypted images are not supported");
        }
    }
}

void CreateOptionList::parse(const std::string& text, const std::string& filename) {
    size_t i = 0;
    while (i <= text.size()) {
        std::string item;
        while (i < text.size()) {
            if (text[i] == ',') {
                if (i + 1 < text.size() && text[i + 1] == ',') {
                    item += ',';
                    i += 2;
                    continue;
                }
                break;
            }
            item += text[i++];
        }
        ++i; // skip the separator
        if (item.empty())
            continue;
        auto eq = item.find('=');
        if (eq == std::string::npos)
            throw CommandFailure(filename + ": Invalid parameter '" + item + "'");
        std::string key = item.substr(0, eq);
        std::string value = item.substr(eq + 1);
        validate(key, value, filename);
        values_[key] = value;
    }
}

std::string CreateOptionList::get(const std::string& key) const {
    auto it = values_.find(key);
    return it == values_.end() ? "" : it->second;
}

block::CreateOptions CreateOptionList::toCreateOptions() const {
    block::CreateOptions o;
    o.format = format_;
    if (has("size")) {
        o.size = std::stoull(get("size"));
        o.sizeGiven = true;
    }
    if (has("cluster_size")) {
        uint64_t cs = std::stoull(get("cluster_size"));
        // Out-of-range values are left for the format to reject with its own message.
        o.clusterSize = cs > UINT32_MAX ? 0 : uint32_t(cs);
    }
    o.backingFile = get("backing_file");
    o.backingFormat = get("backing_fmt");
    std::string prealloc = get("preallocation");
    if (prealloc == "metadata")
        o.preallocation = block::Preallocation::Metadata;
    else if (prealloc == "falloc")
        o.preallocation = block::Preallocation::Falloc;
    else if (prealloc == "full")
        o.preallocation = block::Preallocation::Full;
    if (has("refcount_bits")) {
        // Widths past 64 (or negative ones, wrapped around) are invalid: keep them invalid.
        unsigned long long bits = std::strtoull(get("refcount_bits").c_str(), nullptr, 0);
        o.refcountBits = bits > 64 ? 0 : uint32_t(bits);
    }
    bool b = false;
    if (parseBool(get("lazy_refcounts"), b))
        o.lazyRefcounts = b;
    if (parseBool(get("extended_l2"), b))
        o.extendedL2 = b;
    if (parseBool(get("data_file_raw"), b))
        o.dataFileRaw = b;
    std::string compat = get("compat");
    if (compat == "v2" || compat == "0.10")
        o.compat = "0.10";
    else if (!compat.empty())
        o.compat = "1.1";
    if (has("compression_type"))
        o.compressionType = get("compression_type");
    o.dataFile = get("data_file");
    return o;
}

std::string CreateOptionList::formattingLine(const std::string& filename) const {
    std::string line = "Formatting '" + filename + "', fmt=" + format_;
    // Values are printed as option strings spell them: a comma doubled.
    auto escaped = [](const std::string& value) {
        std::string out;
        for (char c : value)
            out += c == ',' ? std::string(",,") : std::string(1, c);
        return out;
    };
    for (const OptionInfo& o : optionsOf(format_)) {
        auto it = values_.find(o.name);
        if (it != values_.end())
            line += std::string(" ") + o.name + "=" + escaped(it->second);
        else if (o.printedDefault)
            line += std::string(" ") + o.name + "=" + o.printedDefault;
    }
    return line;
}

} // namespace e2kvm::img
