// QMP internal snapshots: blockdev-snapshot-internal-sync (the disk as it is now recorded in
// the image's own snapshot table, qcow2) and blockdev-snapshot-delete-internal-sync (answers
// the removed snapshot's SnapshotInfo), with QEMU 7.2's checks and wording.
#include "app/qmp/QmpError.h"
#include "app/qmp/commands/InternalSnapshotAction.h"
#include "app/qmp/commands/NodeLookup.h"
#include "app/vmcore/BlockNodeTable.h"
#include "block/InternalSnapshots.h"

#include <chrono>
#include <optional>
#include <string>

namespace e2kvm::qmp {

namespace {

// QEMU's qmp_get_root_bs: a drive id or node name that no other node stands over (a backing
// file or a filter's child is not a root).
std::shared_ptr<vm::BlockNode> rootNode(QmpContext& ctx, const std::string& device) {
    std::shared_ptr<vm::BlockNode> node = lookupNode(ctx, device);
    const std::string overlayPrefix = "backing of node '", filterPrefix = "node '";
    for (const std::string& user : ctx.nodes.users(node->name))
        if (user.rfind(overlayPrefix, 0) == 0 || user.rfind(filterPrefix, 0) == 0)
            throw QmpError("Need a root block node");
    return node;
}

// The first snapshot with this id (if given) and this name (if given).
std::optional<block::InternalSnapshot> findSnapshot(block::InternalSnapshots& table,
                                                    const std::optional<std::string>& id,
                                                    const std::optional<std::string>& name) {
    for (const block::InternalSnapshot& s : table.listSnapshots())
        if ((!id || s.id == *id) && (!name || s.name == *name))
            return s;
    return std::nullopt;
}

Json snapshotDeleteInternal(QmpContext& ctx, const Json* args) {
    QmpArgs a(args);
    std::string device = a.str("device");
    std::optional<std::string> id = a.optStr("id");
    std::optional<std::string> name = a.optStr("name");
    a.finish();
    std::shared_ptr<vm::BlockNode> node = rootNode(ctx, device);
    if (!id && !name)
        throw QmpError("Name or id must be provided");
    refuseIfJobBusy(ctx, node->name, device);
    block::InternalSnapshots* table = node->image->snapshots();
    std::optional<block::InternalSnapshot> found;
    if (table)
        found = findSnapshot(*table, id, name);
    if (!found)
        throw QmpError("Snapshot with id '" + id.value_or("null") + "' and name '" +
                       name.value_or("null") + "' does not exist on device '" + device + "'");
    try {
        table->deleteSnapshot(id, name);
    } catch (const std::exception& e) {
        throw QmpError(blockMessage(*node, e));
    }
    return snapshotInfo(*found);
}

} // namespace

std::function<void()> internalSnapshotAction(QmpContext& ctx, QmpArgs& a) {
    std::string device = a.str("device");
    std::string name = a.str("name");
    a.finish();
    std::shared_ptr<vm::BlockNode> node = rootNode(ctx, device);
    refuseIfJobBusy(ctx, node->name, device);
    if (node->readOnly)
        throw QmpError("Device '" + device + "' is read only");
    block::InternalSnapshots* table = node->image->snapshots();
    if (!table)
        throw QmpError("Block format '" + node->format + "' used by device '" + device +
                       "' does not support internal snapshots");
    if (name.empty())
        throw QmpError("Name is empty");
    if (findSnapshot(*table, std::nullopt, name))
        throw QmpError("Snapshot with name '" + name + "' already exists on device '" + device +
                       "'");
    // The date now; e2kvm's machine has no virtual clock to record (QEMU's VM clock), and
    // without record/replay there is no instruction count either.
    auto sinceEpoch = std::chrono::system_clock::now().time_since_epoch();
    auto micros = std::chrono::duration_cast<std::chrono::microseconds>(sinceEpoch).count();
    block::InternalSnapshot want;
    want.name = name;
    want.dateSec = uint32_t(micros / 1000000);
    want.dateNsec = uint32_t(micros % 1000000 * 1000);
    block::InternalSnapshot taken;
    try {
        taken = table->createSnapshot(want);
    } catch (const std::exception& e) {
        throw QmpError("Failed to create snapshot '" + name + "' on device '" + device +
                       "': " + blockMessage(*node, e));
    }
    std::shared_ptr<vm::BlockNode> keep = node;
    return [keep, taken] {
        try {
            keep->image->snapshots()->deleteSnapshot(taken.id, taken.name);
        } catch (const std::exception&) {
            // QEMU reports a failed take-back and goes on, as here.
        }
    };
}

void registerInternalSnapshotCommands(QmpContext& ctx) {
    ctx.addCommand({"blockdev-snapshot-internal-sync", [](QmpContext& c, const Json* args) {
                        QmpArgs a(args);
                        internalSnapshotAction(c, a);
                        return Json::object();
                    }});
    ctx.addCommand({"blockdev-snapshot-delete-internal-sync", snapshotDeleteInternal});
}

} // namespace e2kvm::qmp
