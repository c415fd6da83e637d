#pragma once
// ImageDetails: the text of the images panel's details pane for one image (what `info` shows:
// sizes, format fields, backing chain, bitmaps, who uses the node).
#include <QString>

namespace e2kvm::vm {
class BlockNodeTable;
}

namespace e2kvm::ui {

struct ImageRow;

QString imageDetailsText(const ImageRow& row, const vm::BlockNodeTable* nodes);

} // namespace e2kvm::ui
