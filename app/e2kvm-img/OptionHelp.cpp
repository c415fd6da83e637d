#include "OptionHelp.h"

#include "CommandError.h"
#include "ImageOpening.h"
#include "QemuDrivers.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <vector>

namespace e2kvm::img {

namespace {

// One creation option as qemu-img lists it: its name, the kind of value, what it is for.
struct OptionHelpEntry {
    const char* name;
    const char* type;
    const char* description;
};

// The qcow2 format's creation options (QEMU 7.2 lists the encryption ones too, although this
// tool does not create encrypted images).
const std::vector<OptionHelpEntry> kQcow2CreateOptions = {
    {"size", "size", "Virtual disk size"},
    {"compat", "str", "Compatibility level (v2 [0.10] or v3 [1.1])"},
    {"backing_file", "str", "File name of a base image"},
    {"backing_fmt", "str", "Image format of the base image"},
    {"data_file", "str", "File name of an external data file"},
    {"data_file_raw", "bool (on/off)", "The external data file must stay valid as a raw image"},
    {"encryption", "bool (on/off)",
     "Encrypt the image with format 'aes'. (Deprecated in favor of encrypt.format=aes)"},
    {"encrypt.format", "str", "Encrypt the image, format choices: 'aes', 'luks'"},
    {"encrypt.key-secret", "str", "ID of secret providing qcow AES key or LUKS passphrase"},
    {"encrypt.cipher-alg", "str", "Name of encryption cipher algorithm"},
    {"encrypt.cipher-mode", "str", "Name of encryption cipher mode"},
    {"encrypt.ivgen-alg", "str", "Name of IV generator algorithm"},
    {"encrypt.ivgen-hash-alg", "str", "Name of IV generator hash algorithm"},
    {"encrypt.hash-alg", "str", "Name of encryption hash algorithm"},
    {"encrypt.iter-time", "num", "Time to spend in PBKDF in milliseconds"},
    {"cluster_size", "size", "qcow2 cluster size"},
    {"preallocation", "str", "Preallocation mode (allowed values: off, metadata, falloc, full)"},
    {"lazy_refcounts", "bool (on/off)", "Postpone refcount updates"},
    {"refcount_bits", "num", "Width of a reference count entry in bits"},
    {"compression_type", "str", "Compression method used for image cluster compression"},
    {"extended_l2", "bool (on/off)", "Extended L2 tables"},
};

const std::vector<OptionHelpEntry> kRawCreateOptions = {
    {"size", "size", "Virtual disk size"},
};

// The file protocol's: what creating the host file itself takes.
const std::vector<OptionHelpEntry> kFileCreateOptions = {
    {"size", "size", "Virtual disk size"},
    {"nocow", "bool (on/off)", "Turn off copy-on-write (valid only on btrfs)"},
    {"preallocation", "str", "Preallocation mode (allowed values: off, falloc, full)"},
    {"extent_size_hint", "size", "Extent size hint for the image file, 0 to disable"},
};

// The items of an option list, ",," read as a literal comma.
std::vector<std::string> splitItems(const std::string& text) {
    std::vector<std::string> items;
    std::string item;
    for (size_t i = 0; i < text.size(); ++i) {
        if (text[i] != ',') {
            item += text[i];
        } else if (i + 1 < text.size() && text[i + 1] == ',') {
            item += ',';
            ++i;
        } else {
            items.push_back(item);
            item.clear();
        }
    }
    items.push_back(item);
    return items;
}

} // namespace

bool isValidOptionList(const std::string& text) {
    if (text.empty() || text[0] == ',')
        return false;
    size_t i = text.size();
    while (i > 0 && text[i - 1] == ',')
        --i;
    return (text.size() - i) % 2 == 0;
}

bool hasHelpOption(const std::string& text) {
    for (const std::string& item : splitItems(text))
        if (item == "help" || item == "?")
            return true;
    return false;
}

int printCreateOptionHelp(const std::string& format, const std::string& filename) {
    std::vector<OptionHelpEntry> entries;
    if (format == "qcow2")
        entries = kQcow2CreateOptions;
    else if (format == "raw")
        entries = kRawCreateOptions;
    else
        throw CommandFailure(cannotCreateMessage(format));
    // A local target file adds the file protocol's options (the format's win on a clash).
    if (!filename.empty() && !isProtocolName(filename))
        for (const OptionHelpEntry& e : kFileCreateOptions)
            if (std::none_of(entries.begin(), entries.end(), [&](const OptionHelpEntry& have) {
                    return std::strcmp(have.name, e.name) == 0;
                }))
                entries.push_back(e);
    std::sort(entries.begin(), entries.end(),
              [](const OptionHelpEntry& a, const OptionHelpEntry& b) {
                  return std::strcmp(a.name, b.name) < 0;
              });
    if (filename.empty())
        std::printf("Supported %s options:\n", format.c_str());
    else
        std::printf("Supported options:\n");
    for (const OptionHelpEntry& e : entries) {
        const std::string head = std::string(e.name) + "=<" + e.type + ">";
        std::printf("  %-22s - %s\n", head.c_str(), e.description);
    }
    if (filename.empty())
        std::printf("\nThe protocol level may support further options.\n"
                    "Specify the target filename to include those options.\n");
    return 0;
}

} // namespace e2kvm::img
