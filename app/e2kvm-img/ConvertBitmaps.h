#pragma once
// ConvertBitmaps: `convert --bitmaps`: copies the persistent dirty bitmaps of the source's top
// layer into the (qcow2) target after the data, keeping name, granularity and enabled state.
#include "block/BlockDriver.h"

namespace e2kvm::img {

// Before copying: refuses inconsistent source bitmaps unless skipBroken (CommandFailure).
void checkConvertBitmaps(block::BlockDriver& source, bool skipBroken);
// After copying: adds every (consistent) persistent source bitmap to the target in one batch.
void copyConvertBitmaps(block::BlockDriver& source, block::BlockDriver& target, bool skipBroken);

} // namespace e2kvm::img
