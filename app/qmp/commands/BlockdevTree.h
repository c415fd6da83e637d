#pragma once
// BlockdevTree: blockdev-add for the node trees the dedicated paths of BlockCommands do not
// take: any driver of the block library (blkdebug, blkverify, compress, null-co, raw with
// offset/size, a format over another format), with children given inline or by the name of a
// node added before. A tree with no such reference is opened by block::openImageFromOptions
// from its options as dotted keys (as QEMU flattens them); one with references is built node
// by node over the referenced images.
#include "app/qmp/Json.h"
#include "app/qmp/QmpContext.h"
#include "block/BlockDriver.h"
#include "block/filter/RawWindow.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace e2kvm::qmp {

struct BlockdevTree {
    std::shared_ptr<block::BlockDriver> image;
    // The nodes of the table it stands over (named by reference): in use by it until it is
    // removed.
    std::vector<std::string> children;
    // A protocol-only file node it reads (named by reference), in use by it likewise.
    std::string fileNode;
    // The raw nodes with offset/size in it, by where they are ("" the top, "file." its file).
    std::map<std::string, std::shared_ptr<block::RawWindow>> rawWindows;
};

// Opens the tree `options` (blockdev-add's arguments, node-name and the options every node
// takes already read by the caller) describes. Throws QmpError with QEMU's messages:
// "Parameter 'image.foo' is unexpected", "Cannot find device='X' nor node-name='X'", and the
// block layer's for what does not open.
BlockdevTree openBlockdevTree(QmpContext& ctx, const Json& options, bool readOnly);

// Whether blockdev-add of `driver` goes to openBlockdevTree: drivers the block library opens
// that have no path of their own in BlockCommands.
bool opensAsBlockdevTree(const std::string& driver);

} // namespace e2kvm::qmp
