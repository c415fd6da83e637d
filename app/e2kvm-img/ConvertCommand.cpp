// e2kvm-img convert: copies an image (flattening its backing chain) into a new or existing
// image of any format, sparse, optionally compressed, with an optional progress bar.
#include "CommandError.h"
#include "CommandOptions.h"
#include "Commands.h"
#include "ConcatenatedImage.h"
#include "ConvertBitmaps.h"
#include "CreateOptionList.h"
#include "ImageOpening.h"
#include "OptionHelp.h"
#include "ProgressBar.h"
#include "QemuDrivers.h"
#include "block/ImageCopy.h"
#include "block/ImageOpen.h"
#include "block/SnapshotSelector.h"
#include "block/bitmap/BitmapCatalog.h"

#include <cstdio>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <sys/stat.h>

namespace e2kvm::img {

namespace {
const char* const kBadSparseSize =
    "Invalid buffer size for sparse output specified. Valid sizes are multiples of 512 up to "
    "16777216. Select 0 to disable sparse detection (fully allocates output).";
} // namespace

int runConvert(int argc, char** argv) {
    enum { OptTargetImageOpts = 256, OptBitmaps, OptSkipBrokenBitmaps, OptImageOpts, OptSalvage };
    CommandOptions opts(argc, argv, "cCf:O:o:nS:pqm:Wt:T:UB:F:l:",
                        {{"force-share", no_argument, nullptr, 'U'},
                         {"image-opts", no_argument, nullptr, OptImageOpts},
                         {"bitmaps", no_argument, nullptr, OptBitmaps},
                         {"salvage", no_argument, nullptr, OptSalvage},
                         {"skip-broken-bitmaps", no_argument, nullptr, OptSkipBrokenBitmaps}});
    bool bitmaps = false, skipBrokenBitmaps = false, imageOpts = false, salvage = false;
    std::string sourceFormat, targetFormat = "raw";
    std::vector<std::string> optionTexts;
    std::string backingName, backingFormat; // -B, -F: the target's backing file
    bool compress = false, noCreate = false, progressWanted = false, forceShare = false;
    bool quiet = false;
    std::optional<block::SnapshotSelector> snapshot; // -l
    uint64_t minSparse = 4096;
    bool sparseGiven = false, copyOffload = false;
    unsigned workers = 4;
    for (int c; (c = opts.next()) != -1;) {
        switch (c) {
        case OptImageOpts:
            imageOpts = true;
            break;
        case 'l':
            // -l: copy an internal snapshot of the source instead of its current disk.
            try {
                snapshot = block::parseSnapshotSelector(opts.arg());
            } catch (const std::invalid_argument& e) {
                throw CommandFailure(std::string(e.what()) + "\n" + kToolName +
                                     ": Failed in parsing snapshot param '" + opts.arg() + "'");
            }
            break;
        case OptSalvage:
            salvage = true;
            break;
        case OptBitmaps:
            bitmaps = true;
            break;
        case OptSkipBrokenBitmaps:
            skipBrokenBitmaps = true;
            break;
        case 'c':
            compress = true;
            break;
        case 'C':
            copyOffload = true;
            break;
        case 'U':
            forceShare = true;
            break;
        case 'f':
            sourceFormat = opts.arg();
            break;
        case 'O':
            targetFormat = opts.arg();
            break;
        case 'o':
            if (!isValidOptionList(opts.arg()))
                throw CommandFailure("Invalid option list: " + opts.arg());
            optionTexts.push_back(opts.arg());
            break;
        case 'B':
            backingName = opts.arg();
            break;
        case 'F':
            backingFormat = opts.arg();
            break;
        case 'n':
            noCreate = true;
            break;
        case 'p':
            progressWanted = true;
            break;
        case 'q':
            progressWanted = false;
            quiet = true;
            break;
        case 'S':
            sparseGiven = true;
            try {
                minSparse = block::parseSize(opts.arg());
            } catch (const block::BlockError&) {
                throw CommandFailure(kBadSparseSize);
            }
            if (minSparse % 512 || minSparse > (16 << 20))
                throw CommandFailure(kBadSparseSize);
            break;
        case 'm': {
            std::string v = opts.arg();
            if (v.empty() || v.size() > 2 || v.find_first_not_of("0123456789") != v.npos ||
                std::stoi(v) < 1 || std::stoi(v) > 16)
                throw CommandFailure("Invalid number of coroutines. Allowed number of coroutines "
                                     "is between 1 and 16");
            workers = unsigned(std::stoi(v));
            break;
        }
        default:
            break; // -W, -t, -T, -U: accepted; our writes are always in-order safe
        }
    }
    if (compress && copyOffload)
        throw CommandFailure("Cannot enable copy offloading when -c is used");
    if (sparseGiven && copyOffload)
        throw CommandFailure("Cannot enable copy offloading when -S is used");
    if (copyOffload && salvage)
        throw CommandFailure("Cannot use copy offloading in salvaging mode");
    std::vector<std::string> args = opts.positional();
    if (noCreate && !optionTexts.empty())
        throw CommandFailure("-o has no effect when skipping image creation");
    // As qemu-img: the last argument is the target once there is a source before it.
    for (const std::string& t : optionTexts)
        if (hasHelpOption(t))
            return printCreateOptionHelp(targetFormat,
                                         args.size() >= 2 ? args.back() : std::string());
    if (args.size() < 2)
        throw UsageError("Expecting image file name");
    // Several sources are copied one after another into one target (a concatenation).
    const std::vector<std::string> sourceNames(args.begin(), args.end() - 1);
    const std::string& sourceName = sourceNames.front();
    const std::string& targetName = args.back();
    if (sourceNames.size() > 1) {
        if (snapshot)
            throw CommandFailure("No support for concatenating multiple snapshot");
        if (bitmaps)
            throw CommandFailure("Copying bitmaps only possible with single source");
        if (!backingName.empty())
            throw CommandFailure("Having a backing file for the target makes no sense when "
                                 "concatenating multiple input images");
    }
    if (noCreate && !optionTexts.empty())
        throw CommandFailure("-o has no effect when skipping image creation");
    if (!isCreatableFormat(targetFormat))
        throw CommandFailure(cannotCreateMessage(targetFormat));
    if (compress && targetFormat != "qcow2")
        throw CommandFailure("Compression not supported for this file format");

    OpenRequest srcReq;
    srcReq.format = sourceFormat;
    srcReq.imageOpts = imageOpts;
    srcReq.forceShare = forceShare;
    // As qemu-img convert: no one may write or resize the source while it is copied.
    srcReq.unshare = block::kPermWrite | block::kPermResize;
    std::unique_ptr<block::BlockDriver> source;
    std::vector<block::BlockDriver*> sourceImages; // each source, for the checks below
    if (sourceNames.size() == 1) {
        source = openForCommand(sourceName, srcReq);
        sourceImages.push_back(source.get());
    } else {
        std::vector<std::unique_ptr<block::BlockDriver>> parts;
        for (const std::string& name : sourceNames) {
            parts.push_back(openForCommand(name, srcReq));
            sourceImages.push_back(parts.back().get());
        }
        source = std::make_unique<ConcatenatedImage>(std::move(parts));
    }
    if (snapshot) {
        try {
            block::loadSelectedSnapshot(*source, *snapshot);
        } catch (const block::BlockError& e) {
            throw CommandFailure(std::string("Failed to load snapshot: ") + e.what());
        }
    }
    if (skipBrokenBitmaps && !bitmaps)
        throw CommandFailure("--skip-broken-bitmaps requires --bitmaps");
    if (bitmaps)
        checkConvertBitmaps(*source, skipBrokenBitmaps);

    // Creating the target truncates it: never when it is the source or one of its backing files
    // (qemu-img refuses through its image locks).
    struct stat targetStat {};
    if (::stat(targetName.c_str(), &targetStat) == 0) {
        for (block::BlockDriver* image : sourceImages)
            for (block::BlockDriver* layer = image; layer; layer = layer->backing()) {
                struct stat layerStat {};
                if (::stat(layer->filename().c_str(), &layerStat) == 0 &&
                    layerStat.st_dev == targetStat.st_dev && layerStat.st_ino == targetStat.st_ino)
                    throw CommandFailure(targetName +
                                         ": Failed to get \"write\" lock: it is the "
                                         "source image '" +
                                         layer->filename() + "'");
            }
    }

    block::CopySettings settings;
    settings.minSparse = minSparse;
    // Copy offloading (QEMU's copy_file_range) copies the source's data ranges as they are:
    // zeros inside them are not looked for, so the target allocates what the source does.
    settings.copyDataAsIs = copyOffload;
    settings.compress = compress;
    settings.workers = workers;
    settings.orderedWrites = true;
    if (salvage) {
        // One worker: the warnings come in the source's order, as qemu-img's.
        settings.salvage = true;
        settings.workers = 1;
        if (!quiet)
            settings.warn = [](const std::string& message) {
                std::fprintf(stderr, "%s: warning: %s\n", kToolName, message.c_str());
            };
    }
    // An NBD export is not created: it must be there, large enough (as QEMU's nbd driver).
    // A qcow2 target is made inside the export, as qemu-img formats it over its nbd node.
    const bool targetIsExport = isProtocolName(targetName) && targetFormat != "qcow2";
    bool topLayerOnly = false;
    if (!noCreate && !targetIsExport) {
        CreateOptionList options(targetFormat);
        for (const std::string& t : optionTexts)
            options.parse(t, targetName);
        if (!backingName.empty())
            options.set("backing_file", backingName);
        if (!backingFormat.empty())
            options.set("backing_fmt", backingFormat);
        if (options.has("backing_file") && targetFormat != "qcow2")
            throw CommandFailure("Backing file not supported for file format '" + targetFormat +
                                 "'");
        if (!options.get("backing_file").empty() && options.get("backing_fmt").empty())
            throw CommandFailure("Use of backing file requires explicit backing format");
        if (options.has("backing_fmt") && options.get("backing_file").empty())
            throw CommandFailure(targetName + ": error while converting " + targetFormat +
                                 ": Backing format cannot be used without backing file");
        // With a backing file the target shows what the source's backing chain holds: only
        // the source's top layer is copied, its zeros written as zeros (as qemu-img convert -B).
        topLayerOnly = !options.get("backing_file").empty();
        options.set("size", std::to_string(source->size()));
        try {
            options.checkValues("");
        } catch (const CommandFailure& e) {
            std::string message = e.what();
            throw CommandFailure(targetName + ": error while converting " + targetFormat + message);
        }
        block::createImage(targetName, options.toCreateOptions());
        // A preallocated target holds zeros already, but its clusters must still be written.
        settings.targetReadsZero = !topLayerOnly;
        settings.topLayerOnly = topLayerOnly;
    } else {
        settings.targetReadsZero = false;
    }

    OpenRequest dstReq;
    dstReq.format = targetFormat;
    dstReq.writable = true;
    auto target = openForCommand(targetName, dstReq);
    if ((noCreate || targetIsExport) && target->size() < source->size())
        throw CommandFailure(targetName + ": target image is smaller than the source (" +
                             std::to_string(target->size()) + " < " +
                             std::to_string(source->size()) + " bytes)");
    // As qemu-img, the target is created before it is found unable to keep bitmaps.
    if (bitmaps && !(target->bitmaps() && target->bitmaps()->storesBitmaps()))
        throw CommandFailure("Format driver '" + target->formatName() +
                             "' does not support bitmaps");
    if (compress && !target->supportsCompression())
        throw CommandFailure("Compression not supported for this file format");

    // As qemu-img: the progress counts the data copied, piece by piece as it starts.
    std::vector<block::ProgressStep> steps;
    if (progressWanted) {
        steps = block::convertProgressSteps(*source, settings, target->clusterSize());
        settings.progressSteps = &steps;
    }
    uint64_t total = 0;
    for (const block::ProgressStep& s : steps)
        total += s.length;
    ProgressBar progress(progressWanted, total);
    try {
        block::copyImage(*source, *target, settings,
                         [&progress](uint64_t bytes) { progress.advance(bytes); });
    } catch (const block::CopyWriteError& e) {
        // As qemu-img words a failed write to the target.
        throw CommandFailure("error while writing at byte " + std::to_string(e.offset()) + ": " +
                             std::strerror(e.errnoValue()));
    }
    progress.finish();
    if (bitmaps)
        copyConvertBitmaps(*source, *target, skipBrokenBitmaps);
    return 0;
}

} // namespace e2kvm::img
