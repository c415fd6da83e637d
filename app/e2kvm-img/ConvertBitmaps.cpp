#include "ConvertBitmaps.h"

#include "CommandError.h"
#include "CommandOptions.h"
#include "block/bitmap/BitmapCatalog.h"

#include <cstdio>
#include <vector>

namespace e2kvm::img {

namespace {

// The bitmaps in the order qemu-img visits them: QEMU loads the image's bitmap directory
// putting each bitmap in front of the ones before it, so the last stored comes first.
std::vector<block::NamedBitmap> inQemuOrder(const block::BitmapCatalog& catalog) {
    std::vector<block::NamedBitmap> all = catalog.list();
    return {all.rbegin(), all.rend()};
}

} // namespace

void checkConvertBitmaps(block::BlockDriver& source, bool skipBroken) {
    block::BitmapCatalog* c = source.bitmaps();
    if (!c)
        return;
    for (const block::NamedBitmap& b : inQemuOrder(*c))
        if (b.persistent && b.inconsistent && !skipBroken)
            // QEMU's hint names qemu-img whatever the program is called.
            throw CommandFailure("Cannot copy inconsistent bitmap '" + b.name +
                                 "'\nTry --skip-broken-bitmaps, or use 'qemu-img bitmap "
                                 "--remove' to delete it");
}

void copyConvertBitmaps(block::BlockDriver& source, block::BlockDriver& target, bool skipBroken) {
    block::BitmapCatalog* from = source.bitmaps();
    if (!from)
        return;
    // qemu-img warns and copies in its own visiting order; since new bitmaps are stored newest
    // first, the copies end up in the target's directory in the source's order.
    for (const block::NamedBitmap& b : inQemuOrder(*from)) {
        if (!b.persistent || !(b.inconsistent || !b.bitmap))
            continue;
        if (!skipBroken)
            throw CommandFailure("Cannot copy inconsistent bitmap '" + b.name + "'");
        std::fflush(stdout);
        std::fprintf(stderr, "%s: warning: Skipping inconsistent bitmap '%s'\n", kToolName,
                     b.name.c_str());
    }
    std::vector<block::BitmapAction> batch;
    for (const block::NamedBitmap& b : inQemuOrder(*from)) {
        if (!b.persistent || b.inconsistent || !b.bitmap)
            continue;
        block::BitmapAction add;
        add.kind = block::BitmapActionKind::Add;
        add.name = b.name;
        add.granularity = b.granularity;
        add.disabled = !b.enabled;
        batch.push_back(add);
        block::BitmapAction merge;
        merge.kind = block::BitmapActionKind::Merge;
        merge.name = b.name;
        merge.sourceBitmap = b.bitmap;
        merge.sourceLabel = source.filename() + ":" + b.name;
        batch.push_back(merge);
    }
    if (batch.empty())
        return;
    block::BitmapCatalog* to = target.bitmaps();
    if (!to)
        throw CommandFailure(target.filename() + ": format '" + target.formatName() +
                             "' cannot store persistent dirty bitmaps");
    to->apply(batch);
    to->saveForClose();
}

} // namespace e2kvm::img
