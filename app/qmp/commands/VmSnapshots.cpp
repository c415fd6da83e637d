#include "app/qmp/commands/VmSnapshots.h"

#include "app/qmp/QmpMachine.h"
#include "app/qmp/commands/NodeLookup.h"
#include "app/vmcore/BlockNodeTable.h"
#include "block/InternalSnapshots.h"
#include "block/SnapshotTableText.h"
#include "emu/machine/MachineState.h"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <memory>
#include <stdexcept>
#include <vector>

namespace e2kvm::qmp {

namespace {

// A failure whose message the monitor prints as "Error: <message>".
struct SnapshotFailure : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// One image a VM snapshot covers, and the names QEMU gives it in messages.
struct SnapshotImage {
    std::shared_ptr<vm::BlockNode> node; // null for a protocol ("file") node
    std::string nodeName;
    std::string deviceName;                    // the drive id ("" for a node no drive has)
    std::string deviceOrNode;                  // the drive id, else the node name
    block::InternalSnapshots* table = nullptr; // null: keeps no snapshots (or read-only)
};

std::string driveOf(const std::vector<QmpMachineDisk>& disks, const std::string& nodeName) {
    for (const QmpMachineDisk& d : disks)
        if (d.nodeName == nodeName && !d.device.empty())
            return d.device;
    return {};
}

SnapshotImage imageOf(const std::shared_ptr<vm::BlockNode>& node,
                      const std::vector<QmpMachineDisk>& disks) {
    SnapshotImage img;
    img.node = node;
    img.nodeName = node->name;
    img.deviceName = driveOf(disks, node->name);
    img.deviceOrNode = img.deviceName.empty() ? node->name : img.deviceName;
    if (node->image && !node->readOnly)
        img.table = node->image->snapshots();
    return img;
}

// QEMU's bdrv_all_snapshots_includes_bs over the nodes in opening order: every writable image
// that a drive, export or job uses or that no other node stands over (a backing file or a
// filter's child that nothing else uses is left out).
std::vector<SnapshotImage> allSnapshotImages(QmpContext& ctx,
                                             const std::vector<QmpMachineDisk>& disks) {
    std::vector<SnapshotImage> out;
    for (const std::shared_ptr<vm::BlockNode>& node : ctx.nodes.list()) {
        if (!node->image || node->readOnly)
            continue;
        // A user that is another node stands over it; any other (a guest device, an NBD
        // export, a job) uses it as QEMU's BlockBackend would.
        bool child = false, backend = false;
        for (const std::string& user : ctx.nodes.users(node->name)) {
            const bool parent =
                user.rfind("backing of node '", 0) == 0 || user.rfind("node '", 0) == 0;
            child |= parent;
            backend |= !parent;
        }
        SnapshotImage img = imageOf(node, disks);
        if (child && !backend && img.deviceName.empty())
            continue;
        out.push_back(std::move(img));
    }
    // A writable protocol ("file") node that no format node stands over is the monitor's
    // own, and covered too (it keeps no snapshots).
    for (const auto& [name, file] : ctx.fileNodes) {
        bool used = ctx.readOnlyFileNodes.count(name) != 0;
        for (const auto& [format, fileNode] : ctx.fileNodeUsers)
            used |= fileNode == name;
        if (used)
            continue;
        SnapshotImage img;
        img.nodeName = img.deviceOrNode = name;
        out.push_back(std::move(img));
    }
    return out;
}

// bdrv_all_get_snapshot_devices: the covered images, every listed node when a list is given.
std::vector<SnapshotImage> snapshotImages(QmpContext& ctx, const VmSnapshotScope& scope) {
    std::vector<QmpMachineDisk> disks;
    if (ctx.machine)
        disks = ctx.machine->disks();
    if (!scope.devices)
        return allSnapshotImages(ctx, disks);
    if (scope.devices->empty())
        throw SnapshotFailure("At least one device is required for snapshot");
    std::vector<SnapshotImage> out;
    for (const std::string& name : *scope.devices) {
        if (std::shared_ptr<vm::BlockNode> node = ctx.nodes.find(name)) {
            out.push_back(imageOf(node, disks));
        } else if (ctx.fileNodes.count(name)) {
            SnapshotImage img; // a protocol node: no snapshots of its own
            img.nodeName = img.deviceOrNode = name;
            out.push_back(std::move(img));
        } else {
            throw SnapshotFailure("No block device node '" + name + "'");
        }
    }
    return out;
}

// bdrv_all_can_snapshot: every covered image keeps snapshots.
void checkCanSnapshot(const std::vector<SnapshotImage>& images) {
    for (const SnapshotImage& img : images)
        if (!img.table)
            throw SnapshotFailure("Device '" + img.deviceOrNode +
                                  "' is writable but does not support snapshots");
}

// bdrv_all_find_vmstate_bs: the image named `vmstate`, else the first that can hold the VM
// state.
const SnapshotImage& vmStateImage(const std::vector<SnapshotImage>& images,
                                  const std::optional<std::string>& vmstate) {
    for (const SnapshotImage& img : images) {
        if (!vmstate) {
            if (img.table)
                return img;
        } else if (img.nodeName == *vmstate) {
            if (img.table)
                return img;
            throw SnapshotFailure("vmstate block device '" + *vmstate +
                                  "' does not support snapshots");
        }
    }
    if (vmstate)
        throw SnapshotFailure("vmstate block device '" + *vmstate + "' does not exist");
    throw SnapshotFailure("no block device can store vmstate for snapshot");
}

// bdrv_snapshot_find: by name only.
std::optional<block::InternalSnapshot> findByName(block::InternalSnapshots& table,
                                                  const std::string& name) {
    for (const block::InternalSnapshot& s : table.listSnapshots())
        if (s.name == name)
            return s;
    return std::nullopt;
}

bool onAllImages(const std::vector<SnapshotImage>& images, const std::string& name) {
    for (const SnapshotImage& img : images)
        if (!findByName(*img.table, name))
            return false;
    return true;
}

// bdrv_all_delete_snapshot: removes the snapshot of that name wherever it is.
void deleteEverywhere(const std::vector<SnapshotImage>& images, const std::string& name) {
    for (const SnapshotImage& img : images) {
        std::optional<block::InternalSnapshot> s = findByName(*img.table, name);
        if (!s)
            continue;
        try {
            img.table->deleteSnapshot(s->id, s->name);
        } catch (const std::exception& e) {
            throw SnapshotFailure("Could not delete snapshot '" + name + "' on '" +
                                  img.deviceOrNode + "': " + blockMessage(*img.node, e));
        }
    }
}

std::string errorText(const std::exception& e) {
    return std::string("Error: ") + e.what() + "\n";
}

QmpMachine& machineOf(QmpContext& ctx) {
    if (!ctx.machine)
        throw SnapshotFailure("No machine");
    return *ctx.machine;
}

} // namespace

void saveVmSnapshot(QmpContext& ctx, const std::optional<std::string>& givenName, bool overwrite,
                    const VmSnapshotScope& scope) {
    std::vector<SnapshotImage> images = snapshotImages(ctx, scope);
    checkCanSnapshot(images);
    QmpMachine& machine = machineOf(ctx); // before an older snapshot is deleted
    auto now = std::chrono::system_clock::now();
    const int64_t micros =
        std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count();
    std::string name;
    if (givenName) {
        name = *givenName;
        if (overwrite)
            deleteEverywhere(images, name);
        else if (onAllImages(images, name))
            throw SnapshotFailure("Snapshot '" + name + "' already exists in one or more devices");
    } else {
        std::time_t t = std::time_t(micros / 1000000);
        std::tm tm{};
        char buf[64] = "";
        if (localtime_r(&t, &tm))
            std::strftime(buf, sizeof buf, "vm-%Y%m%d%H%M%S", &tm);
        name = buf;
    }
    const SnapshotImage& vmImage = vmStateImage(images, scope.vmstate);
    // With the machine stopped: the state into the VM state area, then every disk's
    // snapshot (the VM state image's one keeps the state).
    machine.saveState([&](const std::vector<uint8_t>& state, uint64_t vmClockNs) {
        try {
            vmImage.node->image->writeVmState(0, state);
        } catch (const std::exception& e) {
            throw SnapshotFailure("Error while writing VM state: " +
                                  blockMessage(*vmImage.node, e));
        }
        block::InternalSnapshot want;
        want.name = name;
        want.dateSec = uint32_t(micros / 1000000);
        want.dateNsec = uint32_t(micros % 1000000 * 1000);
        want.vmClockNsec = vmClockNs;
        for (const SnapshotImage& img : images) {
            want.vmStateSize = &img == &vmImage ? state.size() : 0;
            try {
                img.table->createSnapshot(want);
            } catch (const std::exception&) {
                try {
                    deleteEverywhere(images, name);
                } catch (const std::exception&) {
                    // QEMU takes back what it can and reports the first failure.
                }
                throw SnapshotFailure("Could not create snapshot '" + name + "' on '" +
                                      img.deviceOrNode + "'");
            }
        }
    });
}

void loadVmSnapshot(QmpContext& ctx, const std::string& name, const VmSnapshotScope& scope) {
    QmpMachine& machine = machineOf(ctx);
    try {
        // QEMU's loadvm stops the machine before its checks: a failed one leaves it stopped.
        machine.loadState([&]() -> std::vector<uint8_t> {
            std::vector<SnapshotImage> images = snapshotImages(ctx, scope);
            checkCanSnapshot(images);
            if (!onAllImages(images, name))
                throw SnapshotFailure("Snapshot '" + name +
                                      "' does not exist in one or more devices");
            const SnapshotImage& vmImage = vmStateImage(images, scope.vmstate);
            std::optional<block::InternalSnapshot> sn = findByName(*vmImage.table, name);
            if (!sn)
                throw SnapshotFailure("Snapshot '" + name +
                                      "' does not exist in one or more devices");
            if (sn->vmStateSize == 0)
                throw SnapshotFailure("This is a disk-only snapshot. Revert to it  offline "
                                      "using qemu-img");
            for (const SnapshotImage& img : images) {
                try {
                    img.table->applySnapshot(name);
                } catch (const std::exception& e) {
                    throw SnapshotFailure("Could not load snapshot '" + name + "' on '" +
                                          img.deviceOrNode + "': " + blockMessage(*img.node, e));
                }
            }
            std::vector<uint8_t> state(sn->vmStateSize);
            try {
                vmImage.node->image->readVmState(0, state);
            } catch (const std::exception& e) {
                throw SnapshotFailure("Error while loading VM state: " +
                                      blockMessage(*vmImage.node, e));
            }
            return state;
        });
    } catch (const emu::MachineStateError& e) {
        // The state itself was refused (QEMU: "Error -22 while loading VM state").
        throw SnapshotFailure(std::string("Error -22 while loading VM state: ") + e.what());
    }
}

void deleteVmSnapshot(QmpContext& ctx, const std::string& name, const VmSnapshotScope& scope) {
    std::vector<SnapshotImage> images = snapshotImages(ctx, scope);
    checkCanSnapshot(images);
    deleteEverywhere(images, name);
}

std::string hmpSaveVm(QmpContext& ctx, const std::optional<std::string>& name) {
    try {
        saveVmSnapshot(ctx, name, true, {});
    } catch (const std::exception& e) {
        return errorText(e);
    }
    return "";
}

std::string hmpLoadVm(QmpContext& ctx, const std::string& name) {
    try {
        loadVmSnapshot(ctx, name, {});
    } catch (const std::exception& e) {
        return errorText(e);
    }
    return "";
}

std::string hmpDelVm(QmpContext& ctx, const std::string& name) {
    try {
        deleteVmSnapshot(ctx, name, {});
    } catch (const std::exception& e) {
        return errorText(e);
    }
    return "";
}

std::string hmpInfoSnapshots(QmpContext& ctx) {
    std::vector<SnapshotImage> images = snapshotImages(ctx, {});
    const SnapshotImage* vmImage = nullptr;
    for (const SnapshotImage& img : images)
        if (img.table) {
            vmImage = &img;
            break;
        }
    if (!vmImage)
        return "no block device can store vmstate for snapshot\n";
    std::vector<block::InternalSnapshot> candidates = vmImage->table->listSnapshots();

    // Every node that keeps snapshots (not only the covered ones), with the ones it has.
    struct Listed {
        std::string name;
        std::vector<block::InternalSnapshot> snapshots;
    };
    std::vector<Listed> listed;
    std::vector<QmpMachineDisk> disks;
    if (ctx.machine)
        disks = ctx.machine->disks();
    for (const std::shared_ptr<vm::BlockNode>& node : ctx.nodes.list()) {
        block::InternalSnapshots* table = node->image ? node->image->snapshots() : nullptr;
        if (!table)
            continue;
        std::vector<block::InternalSnapshot> all = table->listSnapshots();
        if (all.empty())
            continue;
        Listed l;
        for (const QmpMachineDisk& d : disks)
            if (d.nodeName == node->name && !d.device.empty() && l.name.empty())
                l.name = d.device;
        l.snapshots = std::move(all);
        listed.push_back(std::move(l));
    }
    if (listed.empty())
        return "There is no snapshot available.\n";

    std::string out = "List of snapshots present on all disks:\n";
    std::string global;
    for (block::InternalSnapshot& s : candidates) {
        bool everywhere = true;
        for (const SnapshotImage& img : images)
            everywhere &= img.table && findByName(*img.table, s.name).has_value();
        if (!everywhere)
            continue;
        global += block::snapshotTableRow(s, "--"); // ids differ between images
        for (Listed& l : listed)
            std::erase_if(l.snapshots,
                          [&](const block::InternalSnapshot& x) { return x.name == s.name; });
    }
    out += global.empty() ? "None\n" : block::snapshotTableHeader() + global;
    for (const Listed& l : listed) {
        if (l.snapshots.empty())
            continue;
        out += "\nList of partial (non-loadable) snapshots on '" + l.name + "':\n";
        out += block::snapshotTableHeader();
        for (const block::InternalSnapshot& s : l.snapshots)
            out += block::snapshotTableRow(s, s.id);
    }
    return out;
}

} // namespace e2kvm::qmp
