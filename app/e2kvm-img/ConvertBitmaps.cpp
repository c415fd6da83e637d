#include "ConvertBitmaps.h"

#include "CommandError.h"
#include "block/bitmap/BitmapCatalog.h"

#include <vector>

namespace e2kvm::img {

void checkConvertBitmaps(block::BlockDriver& source, bool skipBroken) {
    block::BitmapCatalog* c = source.bitmaps();
    if (!c)
        return;
    for (const block::NamedBitmap& b : c->list())
        if (b.persistent && b.inconsistent && !skipBroken)
            throw CommandFailure("Cannot copy inconsistent bitmap '" + b.name +
                                 "'\nTry --skip-broken-bitmaps, or use 'e2kvm-img bitmap "
                                 "--remove' to delete it");
}

void copyConvertBitmaps(block::BlockDriver& source, block::BlockDriver& target, bool skipBroken) {
    block::BitmapCatalog* from = source.bitmaps();
    if (!from)
        return;
    std::vector<block::BitmapAction> batch;
    for (const block::NamedBitmap& b : from->list()) {
        if (!b.persistent)
            continue;
        if (b.inconsistent || !b.bitmap) {
            if (skipBroken)
                continue;
            throw CommandFailure("Cannot copy inconsistent bitmap '" + b.name + "'");
        }
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
