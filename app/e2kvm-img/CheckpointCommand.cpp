// e2kvm-img checkpoint: starts a new checkpoint in one step: adds bitmap NEW (enabled) and
// disables every other enabled bitmap, so that each older bitmap holds exactly the changes
// between its checkpoint and the next.
#include "CommandError.h"
#include "CommandOptions.h"
#include "Commands.h"
#include "ImageOpening.h"
#include "block/bitmap/BitmapCatalog.h"

#include <cstdio>
#include <string>
#include <vector>

namespace e2kvm::img {

int runCheckpoint(int argc, char** argv) {
    CommandOptions opts(argc, argv, "f:g:q", {});
    std::string format;
    uint64_t granularity = 0;
    bool quiet = false;
    for (int c; (c = opts.next()) != -1;) {
        switch (c) {
        case 'f':
            format = opts.arg();
            break;
        case 'g':
            granularity = parseSizeArgument(opts.arg());
            break;
        case 'q':
            quiet = true;
            break;
        default:
            break;
        }
    }
    std::vector<std::string> args = opts.positional();
    if (args.size() != 2)
        throw UsageError("Expecting filename and new bitmap name");
    OpenRequest req;
    req.format = format;
    req.writable = true;
    auto image = openForCommand(args[0], req);
    block::BitmapCatalog* catalog = image->bitmaps();
    if (!catalog)
        throw CommandFailure("Format '" + image->formatName() +
                             "' does not support persistent dirty bitmaps");
    std::vector<block::BitmapAction> batch;
    std::vector<std::string> disabled;
    for (const block::NamedBitmap& b : catalog->list()) {
        if (!b.enabled || b.inconsistent)
            continue; // inconsistent bitmaps record nothing anyway; they can only be removed
        block::BitmapAction a;
        a.kind = block::BitmapActionKind::Disable;
        a.name = b.name;
        batch.push_back(a);
        disabled.push_back(b.name);
    }
    block::BitmapAction add;
    add.kind = block::BitmapActionKind::Add;
    add.name = args[1];
    add.granularity = granularity;
    batch.push_back(add);
    catalog->apply(batch);
    catalog->saveForClose();
    if (!quiet) {
        std::printf("Checkpoint '%s' started", args[1].c_str());
        for (size_t i = 0; i < disabled.size(); ++i)
            std::printf("%s'%s'", i ? ", " : "; disabled ", disabled[i].c_str());
        std::printf("\n");
    }
    return 0;
}

} // namespace e2kvm::img
