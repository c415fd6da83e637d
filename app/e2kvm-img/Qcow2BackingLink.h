#pragma once
// Rewrites the backing-file name and backing-format extension in a closed qcow2 image's
// header cluster (what `rebase` changes). Used when the qcow2 driver offers no call for it.
#include <string>

namespace e2kvm::img {

// `name` "" removes the backing file (and its format extension). Throws BlockError on a
// damaged header or when the new header does not fit in the first cluster.
void rewriteQcow2BackingLink(const std::string& path, const std::string& name,
                             const std::string& format);

} // namespace e2kvm::img
