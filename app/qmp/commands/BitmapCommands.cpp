// QMP dirty bitmap commands: block-dirty-bitmap-add/-remove/-clear/-enable/-disable/-merge and
// transaction over them and blockdev-backup. Every command becomes BitmapActions checked against
// QEMU's rules (busy bitmaps exported over NBD, inconsistent ones, read-only nodes) and applied
// with one BitmapCatalog::apply per node, so a failing transaction changes nothing.
#include "app/qmp/QmpArgs.h"
#include "app/qmp/QmpContext.h"
#include "app/qmp/QmpError.h"
#include "app/qmp/commands/BackupStart.h"
#include "app/qmp/commands/InternalSnapshotAction.h"
#include "app/qmp/commands/NodeLookup.h"
#include "app/qmp/commands/SnapshotAction.h"

#include <algorithm>
#include <cstdint>
#include <map>

namespace e2kvm::qmp {

namespace {

struct NodeAction {
    std::shared_ptr<vm::BlockNode> node;
    block::BitmapAction action;
};

// What a batch looks like to its later actions: the bitmaps of each touched node after the
// earlier actions.
class BatchState {
public:
    explicit BatchState(QmpContext& ctx) : ctx_(ctx) {}

    struct Entry {
        bool exists = false, enabled = false, inconsistent = false;
        uint64_t diskSize = 0;
    };

    Entry& bitmap(const vm::BlockNode& node, const std::string& name) {
        auto key = std::make_pair(node.name, name);
        auto it = state_.find(key);
        if (it != state_.end())
            return it->second;
        Entry e;
        e.diskSize = node.image->size();
        if (block::BitmapCatalog* c = node.image->bitmaps())
            if (auto b = c->find(name)) {
                e.exists = true;
                e.enabled = b->enabled;
                e.inconsistent = b->inconsistent;
            }
        return state_[key] = e;
    }

    // QEMU's checks for a bitmap an action reads or changes.
    Entry& usable(const vm::BlockNode& node, const std::string& name, bool modifies) {
        Entry& e = bitmap(node, name);
        if (!e.exists)
            throw QmpError("Dirty bitmap '" + name + "' not found");
        if (modifies && (!ctx_.nbd.exportsUsingBitmap(node.name, name).empty() ||
                         ctx_.jobs.bitmapBusy(node.name, name)))
            throw QmpError("Bitmap '" + name +
                           "' is currently in use by another operation and cannot be used");
        if (modifies && node.readOnly)
            throw QmpError("Bitmap '" + name + "' is readonly and cannot be modified");
        if (e.inconsistent)
            throw QmpError("Bitmap '" + name + "' is inconsistent and cannot be used");
        return e;
    }

private:
    QmpContext& ctx_;
    std::map<std::pair<std::string, std::string>, Entry> state_;
};

NodeAction parseAction(QmpContext& ctx, BatchState& state, const std::string& type, QmpArgs& a) {
    NodeAction na;
    block::BitmapAction& act = na.action;
    // As QEMU: every argument is read (a missing or mistyped one reported) before the node
    // is looked up.
    const std::string nodeName = a.str("node");
    act.name = a.str("name");
    if (type == "block-dirty-bitmap-add") {
        act.kind = block::BitmapActionKind::Add;
        std::optional<uint64_t> granularity = a.optUInt("granularity");
        act.granularity = granularity.value_or(0);
        act.persistent = a.optBool("persistent", false);
        act.disabled = a.optBool("disabled", false);
        a.finish();
        na.node = lookupNode(ctx, nodeName);
        if (act.name.empty())
            throw QmpError("Bitmap name cannot be empty");
        if (act.name.size() > 1023)
            throw QmpError("Bitmap name is too long");
        // QAPI types granularity as uint32; QEMU 7.2 then wants a power of 2 from 512 up.
        if (granularity && *granularity > UINT32_MAX)
            throw QmpError("Parameter 'granularity' expects uint32_t");
        if (granularity && (act.granularity < 512 || (act.granularity & (act.granularity - 1))))
            throw QmpError("Granularity must be power of 2 and at least 512");
        // Only qcow2 stores bitmaps; any node keeps non-persistent ones in memory. QEMU 7.2's
        // wording (as `qemu-img bitmap --add` on a raw image prints it).
        if (act.persistent && na.node->format != "qcow2")
            throw QmpError("Can't store persistent bitmaps to " + na.node->name +
                           ": Operation not supported");
        bitmapCatalog(*na.node);
        if (na.node->readOnly)
            throw QmpError("Node '" + na.node->name + "' is read-only");
        BatchState::Entry& e = state.bitmap(*na.node, act.name);
        if (e.exists)
            throw QmpError("Bitmap already exists: " + act.name);
        e = BatchState::Entry{true, !act.disabled, false, e.diskSize};
        return na;
    }
    a.finish();
    na.node = lookupNode(ctx, nodeName);
    bitmapCatalog(*na.node);
    if (type == "block-dirty-bitmap-remove") {
        act.kind = block::BitmapActionKind::Remove;
        BatchState::Entry& e = state.bitmap(*na.node, act.name);
        if (!e.exists)
            throw QmpError("Dirty bitmap '" + act.name + "' not found");
        if (!ctx.nbd.exportsUsingBitmap(na.node->name, act.name).empty() ||
            ctx.jobs.bitmapBusy(na.node->name, act.name))
            throw QmpError("Bitmap '" + act.name +
                           "' is currently in use by another operation and cannot be used");
        if (na.node->readOnly)
            throw QmpError("Bitmap '" + act.name + "' is readonly and cannot be modified");
        e.exists = false;
        return na;
    }
    BatchState::Entry& e = state.usable(*na.node, act.name, true);
    if (type == "block-dirty-bitmap-clear") {
        act.kind = block::BitmapActionKind::Clear;
    } else if (type == "block-dirty-bitmap-enable") {
        act.kind = block::BitmapActionKind::Enable;
        e.enabled = true;
    } else {
        act.kind = block::BitmapActionKind::Disable;
        e.enabled = false;
    }
    return na;
}

// block-dirty-bitmap-merge: one Merge action per source bitmap.
std::vector<NodeAction> expandMerge(QmpContext& ctx, BatchState& state, const Json* args,
                                    const std::string& prefix) {
    QmpArgs a(args, prefix);
    auto target = lookupNode(ctx, a.str("node"));
    std::string targetName = a.str("target");
    const Json& list = a.require("bitmaps");
    if (!list.isArray())
        a.typeError("bitmaps", "array");
    a.finish();
    bitmapCatalog(*target);
    BatchState::Entry& t = state.usable(*target, targetName, true);
    std::vector<NodeAction> out;
    size_t index = 0;
    for (const Json& src : list.asArray()) {
        std::string where = a.path("bitmaps[" + std::to_string(index++) + "]");
        NodeAction na;
        na.node = target;
        na.action.kind = block::BitmapActionKind::Merge;
        na.action.name = targetName;
        if (src.isString()) {
            state.usable(*target, src.asString(), false);
            na.action.source = src.asString();
        } else if (src.isObject()) {
            QmpArgs s(&src, where);
            auto node = lookupNode(ctx, s.str("node"));
            std::string name = s.str("name");
            s.finish();
            BatchState::Entry& e = state.usable(*node, name, false);
            if (e.diskSize != t.diskSize)
                throw QmpError("Bitmaps are incompatible and can't be merged");
            if (node == target) {
                na.action.source = name;
            } else {
                // The source's live bitmap; it must exist now, not only later in the batch.
                try {
                    na.action.sourceBitmap = bitmapCatalog(*node).usable(name);
                } catch (const std::exception& ex) {
                    throw QmpError(blockMessage(*node, ex));
                }
                na.action.sourceLabel = node->name + "/" + name;
            }
        } else {
            throw QmpError("Invalid parameter type for '" + where + "', expected: string");
        }
        out.push_back(std::move(na));
    }
    return out;
}

void applyAll(const std::vector<NodeAction>& actions) {
    // Per node, in the order nodes first appear; all checks are done already.
    std::vector<std::shared_ptr<vm::BlockNode>> order;
    for (const NodeAction& na : actions)
        if (std::find(order.begin(), order.end(), na.node) == order.end())
            order.push_back(na.node);
    for (const auto& node : order) {
        std::vector<block::BitmapAction> batch;
        for (const NodeAction& na : actions)
            if (na.node == node)
                batch.push_back(na.action);
        try {
            bitmapCatalog(*node).apply(batch);
        } catch (const QmpError&) {
            throw;
        } catch (const std::exception& e) {
            throw QmpError(blockMessage(*node, e));
        }
    }
}

QmpHandler single(std::string type) {
    return [type](QmpContext& ctx, const Json* args) -> Json {
        BatchState state(ctx);
        std::vector<NodeAction> actions;
        if (type == "block-dirty-bitmap-merge") {
            actions = expandMerge(ctx, state, args, "");
        } else {
            QmpArgs a(args);
            actions.push_back(parseAction(ctx, state, type, a));
        }
        applyAll(actions);
        return Json::object();
    };
}

// Prepares the actions in their order; an external snapshot is taken as it comes (the actions
// after it see its overlay, as in QEMU), with what takes it back put in `undoSnapshots`.
void prepareTransaction(QmpContext& ctx, const Json& list, BatchState& state,
                        std::vector<NodeAction>& actions, std::vector<PreparedBackup>& backups,
                        std::vector<std::function<void()>>& undoSnapshots,
                        std::vector<std::function<void()>>& commitSteps, bool grouped);

Json transaction(QmpContext& ctx, const Json* args) {
    QmpArgs a(args);
    const Json& list = a.require("actions");
    if (!list.isArray())
        a.typeError("actions", "array");
    bool grouped = false;
    if (auto props = a.optObject("properties")) {
        auto mode = props->optEnum("completion-mode", {"individual", "grouped"});
        props->finish();
        grouped = mode && *mode == "grouped";
    }
    a.finish();
    BatchState state(ctx);
    std::vector<NodeAction> actions;
    std::vector<PreparedBackup> backups;
    std::vector<std::function<void()>> undoSnapshots, commitSteps;
    try {
        // External snapshots are taken as they come (SnapshotAction.h); taken back if
        // anything fails later.
        prepareTransaction(ctx, list, state, actions, backups, undoSnapshots, commitSteps, grouped);
        // The bitmap actions and the backups' points in time happen while the sources are
        // paused.
        startBackups(
            ctx, backups, [&] { applyAll(actions); }, grouped);
    } catch (...) {
        for (auto undo = undoSnapshots.rbegin(); undo != undoSnapshots.rend(); ++undo)
            (*undo)();
        // As in QEMU, jobs the failed transaction had already created end at once.
        for (PreparedBackup& b : backups)
            ctx.jobs.abandon(b.job);
        throw;
    }
    for (const std::function<void()>& step : commitSteps)
        step();
    return Json::object();
}

void prepareTransaction(QmpContext& ctx, const Json& list, BatchState& state,
                        std::vector<NodeAction>& actions, std::vector<PreparedBackup>& backups,
                        std::vector<std::function<void()>>& undoSnapshots,
                        std::vector<std::function<void()>>& commitSteps, bool grouped) {
    size_t index = 0;
    for (const Json& item : list.asArray()) {
        std::string where = "actions[" + std::to_string(index++) + "]";
        if (!item.isObject())
            throw QmpError("Invalid parameter type for '" + where + "', expected: object");
        QmpArgs ia(&item, where);
        std::string type = ia.str("type");
        const Json* data = ia.any("data");
        ia.finish();
        if (type == "abort" && !data)
            throw QmpError("Parameter '" + where + ".data' is missing");
        if (type == "abort")
            throw QmpError("Transaction aborted using Abort action");
        // Only the backups can complete as a group (QEMU's check, as each action is prepared).
        const bool bitmapAction =
            type == "block-dirty-bitmap-add" || type == "block-dirty-bitmap-remove" ||
            type == "block-dirty-bitmap-clear" || type == "block-dirty-bitmap-enable" ||
            type == "block-dirty-bitmap-disable" || type == "block-dirty-bitmap-merge";
        if (grouped && bitmapAction && data)
            throw QmpError("Action '" + type +
                           "' does not support Transaction property completion-mode = grouped");
        if (type == "block-dirty-bitmap-merge") {
            for (NodeAction& na : expandMerge(ctx, state, data, where + ".data"))
                actions.push_back(std::move(na));
            continue;
        }
        if (type == "drive-backup") {
            if (!data)
                throw QmpError("Parameter '" + where + ".data' is missing");
            backups.push_back(prepareDriveBackup(ctx, data, where + ".data"));
            continue;
        }
        if (type == "blockdev-snapshot-sync" || type == "blockdev-snapshot") {
            if (!data)
                throw QmpError("Parameter '" + where + ".data' is missing");
            QmpArgs da(data, where + ".data");
            undoSnapshots.push_back(snapshotAction(ctx, type, da, &commitSteps));
            continue;
        }
        if (type == "blockdev-snapshot-internal-sync") {
            if (!data)
                throw QmpError("Parameter '" + where + ".data' is missing");
            if (grouped)
                throw QmpError("Action '" + type +
                               "' does not support Transaction property completion-mode = grouped");
            QmpArgs da(data, where + ".data");
            undoSnapshots.push_back(internalSnapshotAction(ctx, da));
            continue;
        }
        if (type == "blockdev-backup") {
            if (!data)
                throw QmpError("Parameter '" + where + ".data' is missing");
            QmpArgs da(data, where + ".data");
            backups.push_back(prepareBackup(ctx, da));
            continue;
        }
        if (!bitmapAction)
            throw QmpError("Parameter '" + where + ".type' does not accept value '" + type + "'");
        if (!data)
            throw QmpError("Parameter '" + where + ".data' is missing");
        QmpArgs da(data, where + ".data");
        actions.push_back(parseAction(ctx, state, type, da));
    }
}

} // namespace

void registerBitmapCommands(QmpContext& ctx) {
    for (const char* type :
         {"block-dirty-bitmap-add", "block-dirty-bitmap-remove", "block-dirty-bitmap-clear",
          "block-dirty-bitmap-enable", "block-dirty-bitmap-disable", "block-dirty-bitmap-merge"})
        ctx.addCommand({type, single(type)});
    ctx.addCommand({"transaction", transaction});
}

} // namespace e2kvm::qmp
