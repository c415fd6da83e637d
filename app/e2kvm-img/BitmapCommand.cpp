// e2kvm-img bitmap: adds, removes, clears, enables, disables and merges persistent dirty
// bitmaps with qemu-img's syntax; all actions of one call are applied as one batch.
#include "CommandError.h"
#include "CommandOptions.h"
#include "Commands.h"
#include "ImageOpening.h"
#include "block/bitmap/BitmapCatalog.h"

#include <memory>
#include <string>
#include <vector>

namespace e2kvm::img {

namespace {

block::BitmapCatalog& catalogOf(block::BlockDriver& image) {
    block::BitmapCatalog* c = image.bitmaps();
    if (!c)
        throw CommandFailure("Format '" + image.formatName() +
                             "' does not support persistent dirty bitmaps");
    return *c;
}

} // namespace

int runBitmap(int argc, char** argv) {
    enum {
        OptAdd = 256,
        OptRemove,
        OptClear,
        OptEnable,
        OptDisable,
        OptMerge,
        OptObject,
        OptImageOpts
    };
    CommandOptions opts(argc, argv, "b:f:F:g:q",
                        {{"add", no_argument, nullptr, OptAdd},
                         {"granularity", required_argument, nullptr, 'g'},
                         {"remove", no_argument, nullptr, OptRemove},
                         {"clear", no_argument, nullptr, OptClear},
                         {"enable", no_argument, nullptr, OptEnable},
                         {"disable", no_argument, nullptr, OptDisable},
                         {"merge", required_argument, nullptr, OptMerge},
                         {"object", required_argument, nullptr, OptObject},
                         {"image-opts", no_argument, nullptr, OptImageOpts}});
    std::vector<block::BitmapAction> actions;
    std::string format, sourceFile, sourceFormat;
    uint64_t granularity = 0;
    bool add = false, imageOpts = false;
    for (int c; (c = opts.next()) != -1;) {
        block::BitmapAction a;
        switch (c) {
        case 'b':
            sourceFile = opts.arg();
            break;
        case 'f':
            format = opts.arg();
            break;
        case 'F':
            sourceFormat = opts.arg();
            break;
        case 'g':
            granularity = parseSizeArgument(opts.arg());
            break;
        case 'q':
            break;
        case OptAdd:
            a.kind = block::BitmapActionKind::Add;
            add = true;
            actions.push_back(a);
            break;
        case OptRemove:
            a.kind = block::BitmapActionKind::Remove;
            actions.push_back(a);
            break;
        case OptClear:
            a.kind = block::BitmapActionKind::Clear;
            actions.push_back(a);
            break;
        case OptEnable:
            a.kind = block::BitmapActionKind::Enable;
            actions.push_back(a);
            break;
        case OptDisable:
            // As in qemu-img, --disable right after --add creates the bitmap disabled.
            a.kind = block::BitmapActionKind::Disable;
            actions.push_back(a);
            break;
        case OptMerge:
            a.kind = block::BitmapActionKind::Merge;
            a.source = opts.arg();
            actions.push_back(a);
            break;
        case OptObject:
            throw UsageError("--object is not supported");
        case OptImageOpts:
            imageOpts = true;
            break;
        default:
            break;
        }
    }
    if (actions.empty())
        throw UsageError("Need at least one of --add, --remove, --clear, --enable, --disable, "
                         "or --merge");
    if (granularity && !add)
        throw UsageError("granularity only supported with --add");
    if (!sourceFormat.empty() && sourceFile.empty())
        throw UsageError("-F only supported with -b");
    bool merge = false;
    for (const auto& a : actions)
        merge |= a.kind == block::BitmapActionKind::Merge;
    if (!sourceFile.empty() && !merge)
        throw UsageError("Merge bitmap source file only supported with --merge");
    std::vector<std::string> args = opts.positional();
    if (args.size() != 2)
        throw UsageError("Expecting filename and bitmap name");
    const std::string& file = args[0];
    const std::string& name = args[1];

    // "--add --disable" creates a disabled bitmap (one action, as qemu-img's add+disable).
    std::vector<block::BitmapAction> batch;
    for (auto& a : actions) {
        a.name = name;
        if (a.kind == block::BitmapActionKind::Add)
            a.granularity = granularity;
        if (a.kind == block::BitmapActionKind::Disable && !batch.empty() &&
            batch.back().kind == block::BitmapActionKind::Add && !batch.back().disabled) {
            batch.back().disabled = true;
            continue;
        }
        batch.push_back(a);
    }

    OpenRequest req;
    req.format = format;
    req.writable = true;
    req.imageOpts = imageOpts;
    // As qemu-img, neither image opens its backing chain: the bitmaps are the top layer's,
    // and the source may be the target's backing file or have the target as its own.
    req.openBacking = false;
    std::unique_ptr<block::BlockDriver> image = openForCommand(file, req);
    block::BitmapCatalog& catalog = catalogOf(*image);

    std::unique_ptr<block::BlockDriver> source;
    if (!sourceFile.empty()) {
        OpenRequest sreq;
        sreq.format = sourceFormat;
        sreq.openBacking = false;
        source = openForCommand(sourceFile, sreq);
        block::BitmapCatalog& sc = catalogOf(*source);
        for (auto& a : batch)
            if (a.kind == block::BitmapActionKind::Merge) {
                a.sourceBitmap = sc.usable(a.source);
                a.sourceLabel = sourceFile + ":" + a.source;
            }
    }
    catalog.apply(batch);
    catalog.saveForClose();
    return 0;
}

} // namespace e2kvm::img
