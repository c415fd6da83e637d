// QMP query-blockstats: per drive and guest device (QEMU's BlockBackends) the requests its
// device made (block/graph/BlockAccounting, counted by the device's BlockHandle), with the
// node it uses and, at that level, the stats of the node's backing node; with query-nodes,
// one entry per node. As QEMU: a drive that no device uses counts nothing; a node outside a
// drive has only its wr_highest_offset (and account_invalid/account_failed false).
#include "app/qmp/QmpArgs.h"
#include "app/qmp/QmpContext.h"
#include "block/graph/BlockHandle.h"

#include <algorithm>
#include <optional>

namespace e2kvm::qmp {

namespace {

using block::AccountedRequest;

// BlockDeviceStats from counters; `accounting` says whether they are a drive's (QEMU's
// account_invalid and account_failed default to on there) or a node's.
Json deviceStats(const block::BlockAccountingCounters& c, bool accounting) {
    auto at = [](const auto& array, AccountedRequest kind) { return array[size_t(kind)]; };
    Json s = Json::object();
    s.set("rd_bytes", at(c.bytes, AccountedRequest::Read));
    s.set("wr_bytes", at(c.bytes, AccountedRequest::Write));
    s.set("unmap_bytes", at(c.bytes, AccountedRequest::Unmap));
    s.set("rd_operations", at(c.operations, AccountedRequest::Read));
    s.set("wr_operations", at(c.operations, AccountedRequest::Write));
    s.set("flush_operations", at(c.operations, AccountedRequest::Flush));
    s.set("unmap_operations", at(c.operations, AccountedRequest::Unmap));
    s.set("rd_total_time_ns", at(c.totalTimeNs, AccountedRequest::Read));
    s.set("wr_total_time_ns", at(c.totalTimeNs, AccountedRequest::Write));
    s.set("flush_total_time_ns", at(c.totalTimeNs, AccountedRequest::Flush));
    s.set("unmap_total_time_ns", at(c.totalTimeNs, AccountedRequest::Unmap));
    s.set("wr_highest_offset", c.writeHighestOffset);
    // Requests are never merged (QEMU merges only some virtio-blk requests).
    s.set("rd_merged", 0);
    s.set("wr_merged", 0);
    s.set("unmap_merged", 0);
    if (c.accessed)
        s.set("idle_time_ns", c.idleTimeNs);
    s.set("failed_rd_operations", at(c.failed, AccountedRequest::Read));
    s.set("failed_wr_operations", at(c.failed, AccountedRequest::Write));
    s.set("failed_flush_operations", at(c.failed, AccountedRequest::Flush));
    s.set("failed_unmap_operations", at(c.failed, AccountedRequest::Unmap));
    // Requests out of range are refused by the block layer before the handle sees them (the
    // device reports them to the guest); none is counted as invalid.
    s.set("invalid_rd_operations", 0);
    s.set("invalid_wr_operations", 0);
    s.set("invalid_flush_operations", 0);
    s.set("invalid_unmap_operations", 0);
    s.set("account_invalid", accounting);
    s.set("account_failed", accounting);
    s.set("timed_stats", Json::array()); // no stats-intervals
    return s;
}

// The highest write end through the devices on `nodeName`: the node's wr_highest_offset as far
// as e2kvm knows it (writes of jobs and exports are not counted).
uint64_t nodeWriteHighestOffset(QmpContext& ctx, const std::string& nodeName) {
    uint64_t top = 0;
    if (ctx.machine)
        for (const QmpMachineDisk& d : ctx.machine->disks())
            if (d.nodeName == nodeName && d.handle)
                top = std::max(top, d.handle->accounting().counters().writeHighestOffset);
    return top;
}

std::shared_ptr<vm::BlockNode> nodeOfImage(QmpContext& ctx, const block::BlockDriver* image) {
    for (const auto& node : ctx.nodes.list())
        if (node->image.get() == image)
            return node;
    return nullptr;
}

// BlockStats of a node: its name and highest write, and at drive level (`driveLevel`) its
// backing node's stats too, as QEMU's bdrv_query_bds_stats.
Json nodeStats(QmpContext& ctx, const vm::BlockNode& node, bool driveLevel, int depth,
               const block::BlockAccountingCounters* drive) {
    Json s = Json::object();
    s.set("node-name", node.name);
    block::BlockAccountingCounters counters;
    if (drive)
        counters = *drive;
    counters.writeHighestOffset = nodeWriteHighestOffset(ctx, node.name);
    s.set("stats", deviceStats(counters, drive != nullptr));
    if (driveLevel && depth < 1000)
        if (const block::BlockDriver* b = node.image->backing())
            if (auto backing = nodeOfImage(ctx, b))
                s.set("backing", nodeStats(ctx, *backing, true, depth + 1, nullptr));
    return s;
}

Json queryBlockstats(QmpContext& ctx, const Json* args) {
    QmpArgs a(args);
    bool queryNodes = a.optBool("query-nodes", false);
    a.finish();
    Json list = Json::array();
    if (queryNodes) {
        for (const auto& node : ctx.nodes.list())
            list.push(nodeStats(ctx, *node, false, 0, nullptr));
        return list;
    }
    if (!ctx.machine)
        return list;
    for (const QmpMachineDisk& d : ctx.machine->disks()) {
        block::BlockAccountingCounters counters;
        if (d.handle)
            counters = d.handle->accounting().counters();
        Json s = Json::object();
        if (auto node = d.nodeName.empty() ? nullptr : ctx.nodes.find(d.nodeName))
            s = nodeStats(ctx, *node, true, 0, &counters);
        else
            s.set("stats", deviceStats(counters, true));
        s.set("device", d.device);
        if (!d.qdev.empty())
            s.set("qdev", d.qdev);
        list.push(std::move(s));
    }
    return list;
}

} // namespace

void registerBlockStatsCommands(QmpContext& ctx) {
    ctx.addCommand({"query-blockstats", queryBlockstats});
}

} // namespace e2kvm::qmp
