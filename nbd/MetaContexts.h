#pragma once
// Answers LIST_META_CONTEXT / SET_META_CONTEXT queries for one export the way qemu-nbd 7.2
// does: fixed ids (base:allocation 0, qemu:allocation-depth 1, bitmaps 2+i), answers in id
// order, wildcards ("base:", "qemu:", "qemu:dirty-bitmap:", no query) only when listing.
#include "nbd/Export.h"

#include <cstdint>
#include <string>
#include <vector>

namespace e2kvm::nbd {

enum class ContextKind { BaseAllocation, AllocationDepth, DirtyBitmap };

struct MetaContext {
    uint32_t id = 0;
    ContextKind kind = ContextKind::BaseAllocation;
    size_t bitmapIndex = 0; // into ExportConfig::bitmaps
    std::string name;
};

// The contexts matched by `queries` (list = LIST semantics), sorted by id.
std::vector<MetaContext> matchMetaContexts(const ExportConfig& exp,
                                           const std::vector<std::string>& queries, bool list);

} // namespace e2kvm::nbd
