#pragma once
// NodeFilename: the file name QMP shows for a node, as QEMU's bdrv_refresh_filename makes it:
// a qcow2 layer whose backing is not the one it would open by itself (a node given as its
// backing, null-co, none at all, or a header that now names another file) is named by its
// open options as a json: name ('json:{"backing": ..., "driver": "qcow2", "file": {...}}').
#include "block/BlockDriver.h"

#include <string>

namespace e2kvm::qmp {

// `plain`: the name the node has otherwise (the node's file as given, or the image's name).
// Images whose options e2kvm cannot spell out (an error injector, an external data file, a
// backing of another kind) keep the plain name.
std::string refreshedFilename(const block::BlockDriver& image, const std::string& plain);

} // namespace e2kvm::qmp
