// IoShell's commands on the image as a whole: open, close, reopen (e2kvm-io's own images),
// truncate, alloc, and the process commands sigraise and sleep.
#include "app/ioshell/IoCommandOptions.h"
#include "app/ioshell/IoNumbers.h"
#include "app/ioshell/IoReport.h"
#include "app/ioshell/IoShell.h"
#include "block/OnOffValue.h"
#include "block/OpenFailureText.h"
#include "block/RawImage.h"
#include "block/blkdebug/Blkdebug.h"
#include "block/filter/RawWindow.h"
#include "block/qcow2/Qcow2Driver.h"
#include "block/qcow2/Qcow2RuntimeOptions.h"

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <thread>

namespace e2kvm::io {

using block::BlockError;

namespace {

// Adds "k=v,..." to `options`; false (after qemu-io's message) if the text is not an option
// list.
bool addOptions(const std::string& text, block::DriverOptions& options, IoOutput& out) {
    try {
        for (auto& [key, value] : block::parseImageOptions(text))
            options[key] = value;
        return true;
    } catch (const std::exception& e) {
        out.report(e.what());
        return false;
    }
}

} // namespace

bool IoShell::openWith(const IoOpenRequest& request, bool quietFailure) {
    try {
        IoOpenedImage opened = openIoImage(request);
        if (!opened.warning.empty())
            out_->err(opened.warning);
        image_ = std::move(opened.image);
        if (options_.soleUser)
            if (block::Blkdebug* injector = image_->blkdebug())
                injector->setHoldingAllowed(false);
        openRequest_ = request;
        return true;
    } catch (const IoOpenConflict& e) {
        if (!quietFailure)
            out_->report(e.what());
        return false;
    } catch (const std::exception& e) {
        if (!quietFailure) {
            if (request.filename)
                out_->report(std::string("can't open device ") + *request.filename + ": " +
                             block::openFailureText(*request.filename, e.what()));
            else
                out_->report(std::string("can't open: ") + e.what());
        }
        return false;
    }
}

bool IoShell::cmdOpen(const Command& cmd, Args& args) {
    IoOpenRequest request;
    CacheMode cache;
    bool discardUnmap = true;
    CommandOptions opts(args, *out_);
    int c;
    while ((c = opts.next("snCro:ki:t:d:U")) != -1) {
        switch (c) {
        case 's':
            request.snapshot = true;
            break;
        case 'n':
            cache = {false, false};
            break;
        case 'C':
        case 'k':
            break;
        case 'r':
            request.readOnly = true;
            break;
        case 't':
            if (!parseCacheMode(optarg, cache)) {
                out_->report(std::string("Invalid cache option: ") + optarg);
                return false;
            }
            break;
        case 'd':
            if (!parseDiscardMode(optarg, discardUnmap)) {
                out_->report(std::string("Invalid discard option: ") + optarg);
                return false;
            }
            break;
        case 'i':
            if (std::strcmp(optarg, "threads") && std::strcmp(optarg, "native") &&
                std::strcmp(optarg, "io_uring")) {
                out_->report(std::string("Invalid aio option: ") + optarg);
                return false;
            }
            break;
        case 'o':
            if (options_.imageOpts) {
                out_->outf("--image-opts and 'open -o' are mutually exclusive\n");
                return false;
            }
            if (!addOptions(optarg, request.options, *out_))
                return false;
            break;
        case 'U':
            request.forceShare = true;
            break;
        default:
            printUsage(cmd, args[0]);
            return false;
        }
    }
    if (options_.imageOpts && optind == opts.argc() - 1) {
        if (!addOptions(opts.arg(optind), request.options, *out_))
            return false;
        ++optind;
    }
    if (optind == opts.argc() - 1) {
        request.filename = opts.arg(optind);
    } else if (optind != opts.argc()) {
        printUsage(cmd, args[0]);
        return false;
    }
    if (image_) {
        out_->report("file open already, try 'help close'");
        return false;
    }
    if (!openWith(request))
        return false;
    options_.writethrough = cache.writethrough;
    options_.ignoreFlush = cache.ignoreFlush;
    options_.discardUnmap = discardUnmap;
    return true;
}

bool IoShell::cmdClose(const Command&, Args&) {
    completePending();
    auto image = std::move(image_);
    try {
        image->flush();
    } catch (const std::exception&) {
        // As qemu-io: closing drops the image whatever its last flush says.
    }
    return true;
}

bool IoShell::cmdReopen(const Command& cmd, Args& args) {
    completePending(); // reopening drains the image
    std::optional<bool> readOnly;
    std::optional<CacheMode> cache;
    block::DriverOptions options;
    CommandOptions opts(args, *out_);
    int c;
    while ((c = opts.next("c:o:rw")) != -1) {
        switch (c) {
        case 'c': {
            CacheMode mode;
            if (!parseCacheMode(optarg, mode)) {
                out_->report(std::string("Invalid cache option: ") + optarg);
                return false;
            }
            cache = mode;
            break;
        }
        case 'o':
            if (!addOptions(optarg, options, *out_))
                return false;
            break;
        case 'r':
        case 'w':
            if (readOnly) {
                out_->report("Only one -r/-w option may be given");
                return false;
            }
            readOnly = c == 'r';
            break;
        default:
            printUsage(cmd, args[0]);
            return false;
        }
    }
    if (optind != opts.argc()) {
        printUsage(cmd, args[0]);
        return false;
    }
    if (options.count("read-only") && readOnly) {
        out_->report("Cannot set both -r/-w and 'read-only'");
        return false;
    }
    if ((options.count("cache.direct") || options.count("cache.no-flush")) && cache) {
        out_->report("Cannot set both -c and the cache options");
        return false;
    }
    CacheMode newCache{options_.writethrough, options_.ignoreFlush};
    if (cache)
        newCache = *cache;
    // The options reopen can change, checked as QEMU parses them.
    for (const char* key : {"read-only", "cache.direct", "cache.no-flush", "auto-read-only"}) {
        auto it = options.find(key);
        if (it == options.end())
            continue;
        const std::optional<bool> value = block::onOffValue(it->second);
        if (!value) {
            out_->report(std::string("Parameter '") + key + "' expects 'on' or 'off'");
            return false;
        }
        const bool on = *value;
        if (std::strcmp(key, "read-only") == 0)
            readOnly = on;
        else if (std::strcmp(key, "cache.no-flush") == 0)
            newCache.ignoreFlush = on;
        options.erase(it);
    }
    // discard and detect-zeroes of the image and of its backing node (QEMU reopens the
    // backing child with its backing.* options).
    bool discardUnmap = options_.discardUnmap;
    Options::ZeroDetection detectZeroes = options_.detectZeroes;
    bool backingDiscardUnmap = backingDiscardUnmap_;
    Options::ZeroDetection backingDetectZeroes = backingDetectZeroes_;
    if (!takeZeroOptions(options, "", discardUnmap, detectZeroes))
        return false;
    if (image_->backing() &&
        !takeZeroOptions(options, "backing.", backingDiscardUnmap, backingDetectZeroes))
        return false;
    // A qcow2 image's runtime options (overlap checks, cache sizes...), checked as a whole
    // before any takes effect.
    block::DriverOptions runtime;
    for (auto it = options.begin(); it != options.end();) {
        if (block::qcow2::isQcow2RuntimeOption(it->first)) {
            runtime.insert(*it);
            it = options.erase(it);
        } else {
            ++it;
        }
    }
    // The same for the backing node's (backing.l2-cache-size=...).
    block::DriverOptions backingRuntime;
    for (auto it = options.begin(); it != options.end();) {
        if (it->first.rfind("backing.", 0) == 0 &&
            block::qcow2::isQcow2RuntimeOption(it->first.substr(8))) {
            backingRuntime.emplace(it->first.substr(8), it->second);
            it = options.erase(it);
        } else {
            ++it;
        }
    }
    if (!backingRuntime.empty()) {
        auto* qcow2 = dynamic_cast<block::qcow2::Qcow2Driver*>(image_->backing());
        if (!qcow2) {
            out_->report("Cannot change the option 'backing." + backingRuntime.begin()->first +
                         "'");
            return false;
        }
        try {
            qcow2->applyRuntimeOptions(backingRuntime);
        } catch (const BlockError& e) {
            out_->report(e.what());
            return false;
        }
    }
    if (!runtime.empty()) {
        auto* qcow2 = dynamic_cast<block::qcow2::Qcow2Driver*>(image_.get());
        if (!qcow2) {
            out_->report("Cannot change the option '" + runtime.begin()->first + "'");
            return false;
        }
        try {
            qcow2->applyRuntimeOptions(runtime);
        } catch (const BlockError& e) {
            out_->report(e.what());
            return false;
        }
    }
    // A raw image's window onto its file (offset, size) moves; an image without one gets one.
    if ((options.count("offset") || options.count("size")) && image_->formatName() == "raw" &&
        (dynamic_cast<block::RawWindow*>(image_.get()) ||
         dynamic_cast<block::RawImage*>(image_.get()))) {
        try {
            const uint64_t offset = options.count("offset")
                                        ? block::RawWindow::byteSize("offset", options["offset"])
                                        : 0;
            std::optional<uint64_t> size;
            if (options.count("size"))
                size = block::RawWindow::byteSize("size", options["size"]);
            if (auto* window = dynamic_cast<block::RawWindow*>(image_.get()))
                window->reposition(offset, size);
            else
                image_ = std::make_unique<block::RawWindow>(std::move(image_), offset, size);
        } catch (const BlockError& e) {
            out_->report(e.what());
            return false;
        }
        options.erase("offset");
        options.erase("size");
    }
    // Node names and drivers stay what they are: naming the same ones again is fine.
    for (auto it = options.begin(); it != options.end();) {
        const std::string& key = it->first;
        const std::string last =
            key.substr(key.rfind('.') == std::string::npos ? 0 : key.rfind('.') + 1);
        std::optional<std::string> current;
        if (key.rfind("backing.", 0) == 0 && !image_->backing()) {
            out_->report("Cannot change the option '" + key + "'"); // no such child
            return false;
        } else if (last == "node-name" && openRequest_) {
            auto was = openRequest_->options.find(key);
            if (was != openRequest_->options.end())
                current = was->second;
        } else if (key == "driver") {
            current = image_->formatName();
        } else if (key == "file.driver") {
            current = image_->formatName() == "nbd" ? "nbd" : "file";
        } else if (key == "backing.driver" && image_->backing()) {
            current = image_->backing()->formatName();
        } else if (last != "node-name" && last != "driver") {
            ++it;
            continue;
        }
        if (!current || *current != it->second) {
            out_->report("Cannot change the option '" + last + "'");
            return false;
        }
        it = options.erase(it);
    }
    if (!options.empty()) {
        // QEMU names the option as the child node it is for knows it.
        std::string key = options.begin()->first;
        while (key.rfind("backing.", 0) == 0 || key.rfind("file.", 0) == 0)
            key = key.substr(key.find('.') + 1);
        out_->report("Cannot change the option '" + key + "'");
        return false;
    }
    // Without -r/-w the image keeps its mode, as qemu-io (its flags stay as they are).
    const bool wantReadOnly = readOnly.value_or(this->readOnly());
    if (wantReadOnly != this->readOnly()) {
        if (!openRequest_ || !options_.fileCommands || openRequest_->snapshot) {
            // The image is not the shell's to open again (a VM's node) or lives only in its
            // temporary overlay: the shell's own access changes.
            if (!wantReadOnly && image_->readOnly()) {
                out_->report("Block node is read-only");
                return false;
            }
            options_.readOnly = wantReadOnly;
        } else {
            // Really open the image again, so that its locks say what is now allowed.
            IoOpenRequest request = *openRequest_;
            IoOpenRequest previous = request;
            request.readOnly = wantReadOnly;
            request.options.erase("read-only");
            auto image = std::move(image_);
            image->flush();
            image.reset();
            if (!openWith(request)) {
                openWith(previous, true);
                return false;
            }
        }
    }
    options_.writethrough = newCache.writethrough;
    options_.ignoreFlush = newCache.ignoreFlush;
    options_.discardUnmap = discardUnmap;
    options_.detectZeroes = detectZeroes;
    backingDiscardUnmap_ = backingDiscardUnmap;
    backingDetectZeroes_ = backingDetectZeroes;
    return true;
}

bool IoShell::takeZeroOptions(block::DriverOptions& options, const std::string& prefix,
                              bool& discardUnmap, Options::ZeroDetection& detectZeroes) {
    if (auto it = options.find(prefix + "discard"); it != options.end()) {
        const std::string& v = it->second;
        if (v == "unmap" || v == "on")
            discardUnmap = true;
        else if (v == "ignore" || v == "off")
            discardUnmap = false;
        else {
            out_->report("Invalid discard option");
            return false;
        }
        options.erase(it);
    }
    if (auto it = options.find(prefix + "detect-zeroes"); it != options.end()) {
        const std::string& v = it->second;
        if (v == "off")
            detectZeroes = Options::ZeroDetection::Off;
        else if (v == "on")
            detectZeroes = Options::ZeroDetection::On;
        else if (v == "unmap")
            detectZeroes = Options::ZeroDetection::Unmap;
        else {
            out_->report("invalid parameter value: " + v);
            return false;
        }
        options.erase(it);
        if (detectZeroes == Options::ZeroDetection::Unmap && !discardUnmap) {
            out_->report("setting detect-zeroes to unmap is not allowed without setting discard "
                         "operation to unmap");
            return false;
        }
    }
    return true;
}

bool IoShell::cmdTruncate(const Command& cmd, Args& args) {
    std::string prealloc = "off";
    CommandOptions opts(args, *out_);
    int c;
    while ((c = opts.next("m:")) != -1) {
        switch (c) {
        case 'm':
            prealloc = optarg;
            if (prealloc != "off" && prealloc != "metadata" && prealloc != "falloc" &&
                prealloc != "full") {
                out_->report("Invalid preallocation mode '" + prealloc + "'");
                return false;
            }
            break;
        default:
            printUsage(cmd, args[0]);
            return false;
        }
    }
    if (optind >= opts.argc()) {
        printUsage(cmd, args[0]);
        return false;
    }
    auto size = parseByteCount(opts.arg(optind), *out_);
    if (!size)
        return false;
    if (prealloc != "off") {
        out_->report("Preallocation mode '" + prealloc + "' is not supported by e2kvm-io");
        return false;
    }
    try {
        image_->truncate(*size);
    } catch (const std::exception& e) {
        out_->report(e.what());
        return false;
    }
    return true;
}

bool IoShell::cmdAlloc(const Command&, Args& args) {
    auto start = parseByteCount(args[1], *out_);
    if (!start)
        return false;
    uint64_t count = 512;
    if (args.size() == 3) {
        auto n = parseByteCount(args[2], *out_);
        if (!n)
            return false;
        count = *n;
    }
    const uint64_t size = image_->size();
    uint64_t offset = *start, remaining = count, allocated = 0;
    while (remaining) {
        uint64_t num = 0;
        bool here = false;
        if (offset < size) {
            try {
                uint64_t ask = std::min(remaining, size - offset);
                auto extent = image_->layerStatus(offset, ask);
                num = std::min(extent.length, ask);
                here = extent.kind != block::Allocation::Unallocated;
            } catch (const BlockError& e) {
                out_->outf("is_allocated failed: %s\n", std::strerror(e.errnoValue()));
                return false;
            }
        }
        offset += num;
        remaining -= num;
        if (here)
            allocated += num;
        if (num == 0) { // the end of the image
            count -= remaining;
            remaining = 0;
        }
    }
    out_->outf("%llu/%llu bytes allocated at offset %s\n", (unsigned long long)allocated,
               (unsigned long long)count, humanSize(double(*start)).c_str());
    return true;
}

bool IoShell::cmdSigraise(const Command&, Args& args) {
    auto sig = parseByteCount(args[1], *out_);
    if (!sig)
        return false;
    if (*sig > uint64_t(NSIG)) {
        out_->outf("signal argument '%s' is too large to be a valid signal\n", args[1].c_str());
        return false;
    }
    out_->flush(); // the signal may end the program: show everything printed so far
    std::raise(int(*sig));
    return true;
}

bool IoShell::cmdSleep(const Command&, Args& args) {
    char* end = nullptr;
    long ms = std::strtol(args[1].c_str(), &end, 0);
    if (ms < 0 || *end != '\0') {
        out_->outf("%s is not a valid number\n", args[1].c_str());
        return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(ms));
    return true;
}

} // namespace e2kvm::io
