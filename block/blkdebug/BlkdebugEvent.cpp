#include "BlkdebugEvent.h"

#include <array>

namespace e2kvm::block {

namespace {

// In the order of the enum.
constexpr std::array<std::string_view, size_t(BlkdebugEvent::Count)> kEventNames = {
    "l1_update",
    "l1_grow_alloc_table",
    "l1_grow_write_table",
    "l1_grow_activate_table",
    "l2_load",
    "l2_update",
    "l2_update_compressed",
    "l2_alloc_cow_read",
    "l2_alloc_write",
    "read_aio",
    "read_backing_aio",
    "read_compressed",
    "write_aio",
    "write_compressed",
    "vmstate_load",
    "vmstate_save",
    "cow_read",
    "cow_write",
    "reftable_load",
    "reftable_grow",
    "reftable_update",
    "refblock_load",
    "refblock_update",
    "refblock_update_part",
    "refblock_alloc",
    "refblock_alloc_hookup",
    "refblock_alloc_write",
    "refblock_alloc_write_blocks",
    "refblock_alloc_write_table",
    "refblock_alloc_switch_table",
    "cluster_alloc",
    "cluster_alloc_bytes",
    "cluster_free",
    "flush_to_os",
    "flush_to_disk",
    "pwritev_rmw_head",
    "pwritev_rmw_after_head",
    "pwritev_rmw_tail",
    "pwritev_rmw_after_tail",
    "pwritev",
    "pwritev_zero",
    "pwritev_done",
    "empty_image_prepare",
    "l1_shrink_write_table",
    "l1_shrink_free_l2_clusters",
    "cor_write",
    "cluster_alloc_space",
    "none",
};

constexpr std::array<std::string_view, size_t(BlkdebugIoType::Count)> kIoTypeNames = {
    "read", "write", "write-zeroes", "discard", "flush", "block-status",
};

} // namespace

std::string_view blkdebugEventName(BlkdebugEvent event) {
    return kEventNames.at(size_t(event));
}

std::optional<BlkdebugEvent> blkdebugEventByName(std::string_view name) {
    for (size_t i = 0; i < kEventNames.size(); ++i)
        if (kEventNames[i] == name)
            return BlkdebugEvent(i);
    return std::nullopt;
}

std::optional<BlkdebugIoType> blkdebugIoTypeByName(std::string_view name) {
    for (size_t i = 0; i < kIoTypeNames.size(); ++i)
        if (kIoTypeNames[i] == name)
            return BlkdebugIoType(i);
    return std::nullopt;
}

} // namespace e2kvm::block
