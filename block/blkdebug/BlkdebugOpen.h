#pragma once
// Opening images with a blkdebug injector from QEMU's options: a format over blkdebug
// (driver=qcow2,file.driver=blkdebug,file.image.filename=F,file.inject-error.0.event=E) and a
// blkdebug node of its own (driver=blkdebug,image.filename=F or image.driver=qcow2,...).
#include "block/BlockDriver.h"
#include "block/ImageOpen.h"

#include <map>
#include <memory>
#include <string>

namespace e2kvm::block {

// `format` ("raw", "qcow2") over a blkdebug node whose options (without the "file." prefix)
// are `node`: the injector goes between the format and the file the node's image names.
std::unique_ptr<BlockDriver> openFormatOverBlkdebug(const std::string& format,
                                                    const std::map<std::string, std::string>& node,
                                                    OpenOptions open);

// driver=blkdebug as the image itself: a BlkdebugImage over what image.* (or x-image, a file)
// describes.
std::unique_ptr<BlockDriver> openBlkdebugNode(const std::map<std::string, std::string>& node,
                                              OpenOptions open);

} // namespace e2kvm::block
