// e2kvm-img amend: changes the options of an existing qcow2 image (compat, refcount_bits,
// lazy_refcounts, data_file, data_file_raw, size), as `qemu-img amend`.
#include "CommandError.h"
#include "CommandOptions.h"
#include "Commands.h"
#include "ImageOpening.h"
#include "OptionHelp.h"
#include "ProgressBar.h"
#include "block/HostFile.h"
#include "block/ImageOpen.h"
#include "block/ImageOptions.h"
#include "block/OnOffValue.h"
#include "block/qcow2/Qcow2Amend.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <vector>

namespace e2kvm::img {

namespace {

// What qemu-img lists for `amend -o help` with qcow2, in its order.
const char* const kQcow2AmendHelp =
    "Amend options for 'qcow2':\n"
    "  backing_file=<str>     - File name of a base image\n"
    "  backing_fmt=<str>      - Image format of the base image\n"
    "  compat=<str>           - Compatibility level (v2 [0.10] or v3 [1.1])\n"
    "  data_file=<str>        - File name of an external data file\n"
    "  data_file_raw=<bool (on/off)> - The external data file must stay valid as a raw image\n"
    "  encrypt.iter-time=<num> - Time to spend in PBKDF in milliseconds\n"
    "  encrypt.keyslot=<num>  - Select a single keyslot to modify explicitly\n"
    "  encrypt.new-secret=<str> - New secret to set in the matching keyslots. Empty string to "
    "erase\n"
    "  encrypt.old-secret=<str> - Select all keyslots that match this password\n"
    "  encrypt.state=<str>    - Select new state of affected keyslots (active/inactive)\n"
    "  lazy_refcounts=<bool (on/off)> - Postpone refcount updates\n"
    "  refcount_bits=<num>    - Width of a reference count entry in bits\n"
    "  size=<size>            - Virtual disk size\n";

// Formats QEMU knows but cannot amend (qemu-img names them in its refusal).
bool isOtherQemuFormat(const std::string& f) {
    for (const char* known : {"raw", "bochs", "cloop", "dmg", "file", "luks", "nbd", "null-co",
                              "parallels", "qcow", "qed", "vdi", "vhdx", "vmdk", "vpc", "vvfat"})
        if (f == known)
            return true;
    return false;
}

// "a=1,b,c=x,,y" split into key/value items (",," is a literal comma; "b" alone has no value).
std::vector<std::pair<std::string, std::optional<std::string>>>
splitOptions(const std::string& text) {
    std::vector<std::pair<std::string, std::optional<std::string>>> items;
    size_t i = 0;
    while (i < text.size()) {
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
        ++i;
        auto eq = item.find('=');
        if (eq == std::string::npos)
            items.emplace_back(item, std::nullopt);
        else
            items.emplace_back(item.substr(0, eq), item.substr(eq + 1));
    }
    return items;
}

bool isCreateOnlyOption(const std::string& key) {
    for (const char* k :
         {"cluster_size", "preallocation", "extended_l2", "compression_type", "encryption",
          "encrypt.format", "encrypt.key-secret", "encrypt.cipher-alg", "encrypt.cipher-mode",
          "encrypt.ivgen-alg", "encrypt.ivgen-hash-alg", "encrypt.hash-alg", "nocow",
          "extent_size_hint"})
        if (key == k)
            return true;
    return false;
}

bool parseBool(const std::string& key, const std::string& v) {
    if (auto on = block::onOffValue(v))
        return *on;
    throw CommandFailure("Parameter '" + key + "' expects 'on' or 'off'");
}

block::qcow2::Qcow2AmendRequest parseAmendOptions(const std::string& text) {
    block::qcow2::Qcow2AmendRequest req;
    for (const auto& [key, given] : splitOptions(text)) {
        if (key.empty())
            continue;
        const std::string value = given.value_or("on");
        if (key == "compat") {
            if (value == "0.10" || value == "v2")
                req.version = 2;
            else if (value == "1.1" || value == "v3")
                req.version = 3;
            else
                throw CommandFailure("Unknown compatibility level " + value);
        } else if (key == "size") {
            try {
                req.size = block::parseSize(value);
            } catch (const block::BlockError&) {
                throw CommandFailure(
                    "Parameter 'size' expects a non-negative number below 2^64\n"
                    "Optional suffix k, M, G, T, P or E means kilo-, mega-, giga-, tera-, peta-\n"
                    "and exabytes, respectively.");
            }
        } else if (key == "backing_file") {
            req.backingFile = value;
        } else if (key == "backing_fmt") {
            req.backingFormat = value;
        } else if (key == "lazy_refcounts") {
            req.lazyRefcounts = parseBool(key, value);
        } else if (key == "data_file_raw") {
            req.dataFileRaw = parseBool(key, value);
        } else if (key == "data_file") {
            req.dataFile = value;
        } else if (key == "refcount_bits") {
            char* end = nullptr;
            errno = 0;
            unsigned long long bits = std::strtoull(value.c_str(), &end, 0);
            if (value.empty() || *end || errno == ERANGE)
                throw CommandFailure("Parameter 'refcount_bits' expects a number");
            if (bits == 0 || bits > 64 || (bits & (bits - 1)))
                throw CommandFailure("Refcount width must be a power of two and may not "
                                     "exceed 64 bits");
            req.refcountBits = uint32_t(bits);
        } else if (key.rfind("encrypt.", 0) == 0 && !isCreateOnlyOption(key)) {
            throw CommandFailure("Can't amend encryption options - encryption not present");
        } else {
            std::string message = "Invalid parameter '" + key + "'";
            if (isCreateOnlyOption(key))
                message += "\nThis option is only supported for image creation";
            throw CommandFailure(message);
        }
    }
    return req;
}

int printAmendHelp(const std::string& format) {
    if (format == "qcow2") {
        std::printf("%s", kQcow2AmendHelp);
        return 0;
    }
    if (isOtherQemuFormat(format))
        throw CommandFailure("Format driver '" + format + "' does not support option amendment");
    throw CommandFailure("Unknown file format '" + format + "'");
}

} // namespace

int runAmend(int argc, char** argv) {
    enum { OptObject = 256, OptImageOpts, OptForce };
    CommandOptions opts(argc, argv, "o:f:t:pq",
                        {{"object", required_argument, nullptr, OptObject},
                         {"image-opts", no_argument, nullptr, OptImageOpts},
                         {"force", no_argument, nullptr, OptForce}});
    std::string format, options, cache = "writeback";
    bool haveOptions = false, quiet = false, progressWanted = false, imageOpts = false;
    for (int c; (c = opts.next()) != -1;) {
        switch (c) {
        case 'o':
            if (!isValidOptionList(opts.arg()))
                throw CommandFailure("Invalid option list: " + opts.arg());
            options = haveOptions ? options + "," + opts.arg() : opts.arg();
            haveOptions = true;
            break;
        case 'f':
            format = opts.arg();
            break;
        case 't':
            cache = opts.arg();
            break;
        case 'p':
            progressWanted = true;
            break;
        case 'q':
            quiet = true;
            break;
        case OptImageOpts:
            imageOpts = true;
            break;
        case OptObject:
            throw UsageError("--object is not supported");
        case OptForce: // only LUKS keyslot changes need it
        default:
            break;
        }
    }
    if (!haveOptions)
        throw UsageError("Must specify options (-o)");
    if (quiet)
        progressWanted = false;
    std::vector<std::string> args = opts.positional();
    ProgressBar progress(progressWanted, 100);
    if (!format.empty() && hasHelpOption(options)) {
        int rc = printAmendHelp(format);
        progress.finish();
        return rc;
    }
    if (args.size() != 1)
        throw CommandFailure("Expecting one image file name");
    bool validCache = false;
    for (const char* mode : {"none", "off", "writeback", "writethrough", "directsync", "unsafe"})
        validCache = validCache || cache == mode;
    if (!validCache)
        throw CommandFailure("Invalid cache option: " + cache);
    const std::string& filename = args[0];

    OpenRequest req;
    req.format = format;
    req.writable = true;
    req.imageOpts = imageOpts;
    std::string detected;
    {
        auto image = openForCommand(filename, req);
        detected = image->formatName();
        if (hasHelpOption(options)) {
            image.reset();
            int rc = printAmendHelp(detected);
            progress.finish();
            return rc;
        }
    }
    if (detected != "qcow2")
        throw CommandFailure("Format driver '" + detected + "' does not support option amendment");
    block::qcow2::Qcow2AmendRequest amend = parseAmendOptions(options);
    std::string path = filename;
    if (imageOpts) {
        // The image file the options name (data-file.* and the like only matter for opening).
        block::DriverOptions given = block::parseImageOptions(filename);
        auto it = given.find("file.filename");
        if (it == given.end() || given.count("file.driver"))
            throw CommandFailure("amend with --image-opts needs a local image file "
                                 "(file.filename=PATH)");
        path = it->second;
    }

    // Held as qemu-img holds the image while it amends it: nobody else may write or resize.
    block::OpenOptions lockOptions;
    lockOptions.readOnly = false;
    block::HostFile lockHolder(path, block::HostFile::Mode::ReadWrite);
    try {
        lockHolder.lock(block::imageLocks(lockOptions, true));
    } catch (const block::BlockError& e) {
        throw CommandFailure("Could not open '" + path + "': " + e.what());
    }
    try {
        block::qcow2::amendQcow2(path, amend, [&progress](uint64_t done, uint64_t total) {
            progress.show(100.0f * float(done) / float(total));
        });
    } catch (const block::BlockError& e) {
        progress.finish(); // qemu-img draws 100% whether the amendment worked or not
        std::string message = e.what();
        if (message == "Cannot amend the backing file")
            message += "\nYou can use '" + std::string(kToolName) + " rebase' instead.";
        throw failureInContext("", message, kToolName);
    }
    progress.finish(); // 100%, as qemu-img draws it after the amendment
    return 0;
}

} // namespace e2kvm::img
