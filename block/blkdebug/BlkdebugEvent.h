#pragma once
// BlkdebugEvent: the points in a format driver's work at which an error injector (blkdebug)
// may act, with QEMU's names for them (QAPI's BlkdebugEvent: "l1_update", "l2_load",
// "write_aio", "refblock_alloc", ...), and the kinds of request a rule can fail.
#include <optional>
#include <string>
#include <string_view>

namespace e2kvm::block {

enum class BlkdebugEvent {
    L1Update,
    L1GrowAllocTable,
    L1GrowWriteTable,
    L1GrowActivateTable,
    L2Load,
    L2Update,
    L2UpdateCompressed,
    L2AllocCowRead,
    L2AllocWrite,
    ReadAio,
    ReadBackingAio,
    ReadCompressed,
    WriteAio,
    WriteCompressed,
    VmstateLoad,
    VmstateSave,
    CowRead,
    CowWrite,
    ReftableLoad,
    ReftableGrow,
    ReftableUpdate,
    RefblockLoad,
    RefblockUpdate,
    RefblockUpdatePart,
    RefblockAlloc,
    RefblockAllocHookup,
    RefblockAllocWrite,
    RefblockAllocWriteBlocks,
    RefblockAllocWriteTable,
    RefblockAllocSwitchTable,
    ClusterAlloc,
    ClusterAllocBytes,
    ClusterFree,
    FlushToOs,
    FlushToDisk,
    PwritevRmwHead,
    PwritevRmwAfterHead,
    PwritevRmwTail,
    PwritevRmwAfterTail,
    Pwritev,
    PwritevZero,
    PwritevDone,
    EmptyImagePrepare,
    L1ShrinkWriteTable,
    L1ShrinkFreeL2Clusters,
    CorWrite,
    ClusterAllocSpace,
    None,
    Count // not an event: the number of events
};

// QEMU's name of an event ("l2_alloc_write").
std::string_view blkdebugEventName(BlkdebugEvent event);
// The event with that name, if any.
std::optional<BlkdebugEvent> blkdebugEventByName(std::string_view name);

// What a request does to the file below the injector (QAPI's BlkdebugIOType).
enum class BlkdebugIoType { Read, Write, WriteZeroes, Discard, Flush, BlockStatus, Count };

std::optional<BlkdebugIoType> blkdebugIoTypeByName(std::string_view name);

} // namespace e2kvm::block
