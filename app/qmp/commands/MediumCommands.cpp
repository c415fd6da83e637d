// QMP removable media: eject, blockdev-open-tray, blockdev-close-tray, blockdev-remove-medium,
// blockdev-insert-medium and blockdev-change-medium, with QEMU 7.2's rules and wording. A drive
// no device uses (-drive if=none) takes and gives up its medium at will (it has no tray); a
// drive with a tray (the board's empty CD-ROM) must have it open, and reports
// DEVICE_TRAY_MOVED; a guest disk is not removable.
#include "app/qmp/BlockdevDriverKeys.h"
#include "app/qmp/QmpArgs.h"
#include "app/qmp/QmpContext.h"
#include "app/qmp/QmpError.h"
#include "app/qmp/commands/DriveLookup.h"
#include "app/qmp/commands/NodeLookup.h"
#include "block/BlockError.h"

#include <cstring>
#include <optional>
#include <string>

namespace e2kvm::qmp {

namespace {

// Moves the tray of a drive that has one; DEVICE_TRAY_MOVED as QEMU sends it (the drive's name,
// the device's id or else its QOM path).
void moveTray(QmpContext& ctx, Drive& drive, bool open) {
    if (drive.disk.trayOpen == open)
        return;
    ctx.machine->updateDisk(drive.key(), [&](QmpMachineDisk& d) { d.trayOpen = open; });
    drive.disk.trayOpen = open;
    ctx.emitEvent(
        "DEVICE_TRAY_MOVED",
        Json::object({{"device", drive.disk.device},
                      {"id", drive.disk.deviceId.empty() ? drive.disk.qdev : drive.disk.deviceId},
                      {"tray-open", open}}));
}

// QEMU's do_open_tray. The board's trays are never locked by a guest, so force changes nothing;
// a drive without a tray has nothing to open (an error QEMU's callers ignore).
void openTray(QmpContext& ctx, Drive& drive) {
    if (!drive.disk.removable)
        throw QmpError("Device '" + drive.label + "' is not removable");
    if (drive.hasTray())
        moveTray(ctx, drive, true);
}

// QEMU's blockdev_remove_medium: the drive lets go of its node. A node the drive opened
// (-drive, blockdev-change-medium) is closed; one a client added (blockdev-add) stays.
void removeMedium(QmpContext& ctx, Drive& drive) {
    if (drive.hasDevice() && !drive.disk.removable)
        throw QmpError("Device '" + drive.label + "' is not removable");
    if (drive.hasTray() && !drive.disk.trayOpen)
        throw QmpError("Tray of device '" + drive.label + "' is not open");
    const std::string nodeName = drive.disk.nodeName;
    if (nodeName.empty())
        return;
    refuseIfJobBusy(ctx, nodeName, drive.disk.device.empty() ? nodeName : drive.disk.device);
    // An NBD export of the drive goes with its medium (BLOCK_EXPORT_DELETED).
    for (const vm::NbdExportInfo& e : ctx.nbd.list())
        if (e.nodeName == nodeName)
            ctx.nbd.removeById(e.id, true);
    ctx.machine->setDiskNode(drive.key(), "");
    drive.disk.nodeName.clear();
    if (ctx.nodeOptions.count(nodeName))
        return; // the monitor's node
    try {
        ctx.nodes.remove(nodeName);
    } catch (const std::exception&) {
        // Still used elsewhere (an overlay's backing): it stays while it is.
    }
}

// QEMU's blockdev-insert-medium after the lookups: `nodeName` goes into the drive.
void insertMedium(QmpContext& ctx, Drive& drive, const std::string& nodeName) {
    if (drive.hasDevice() && !drive.disk.removable)
        throw QmpError("Device is not removable");
    if (drive.hasTray() && !drive.disk.trayOpen)
        throw QmpError("Tray of the device is not open");
    if (!drive.disk.nodeName.empty())
        throw QmpError("There already is a medium in the device");
    ctx.machine->setDiskNode(drive.key(), nodeName);
    drive.disk.nodeName = nodeName;
}

// Whether a drive or an NBD export stands on the node (QEMU: the node has a block backend).
bool nodeHasBackend(QmpContext& ctx, const std::string& nodeName) {
    for (const QmpMachineDisk& d : ctx.machine->disks())
        if (d.nodeName == nodeName)
            return true;
    for (const vm::NbdExportInfo& e : ctx.nbd.list())
        if (e.nodeName == nodeName)
            return true;
    return false;
}

// The drive of eject or blockdev-open-tray (device or id, and force).
Drive driveToOpen(QmpContext& ctx, const Json* args) {
    QmpArgs a(args);
    std::optional<std::string> device = a.optStr("device"), id = a.optStr("id");
    a.optBool("force", false);
    a.finish();
    return findDrive(ctx, device, id);
}

Json eject(QmpContext& ctx, const Json* args) {
    Drive drive = driveToOpen(ctx, args);
    openTray(ctx, drive);
    removeMedium(ctx, drive);
    return Json::object();
}

Json blockdevOpenTray(QmpContext& ctx, const Json* args) {
    Drive drive = driveToOpen(ctx, args);
    openTray(ctx, drive);
    return Json::object();
}

Json blockdevCloseTray(QmpContext& ctx, const Json* args) {
    QmpArgs a(args);
    std::optional<std::string> device = a.optStr("device"), id = a.optStr("id");
    a.finish();
    Drive drive = findDrive(ctx, device, id);
    if (!drive.disk.removable)
        throw QmpError("Device '" + drive.label + "' is not removable");
    if (drive.hasTray())
        moveTray(ctx, drive, false);
    return Json::object();
}

Json blockdevRemoveMedium(QmpContext& ctx, const Json* args) {
    QmpArgs a(args);
    std::string id = a.str("id");
    a.finish();
    Drive drive = findDrive(ctx, std::nullopt, id);
    removeMedium(ctx, drive);
    return Json::object();
}

Json blockdevInsertMedium(QmpContext& ctx, const Json* args) {
    QmpArgs a(args);
    std::string id = a.str("id");
    std::string nodeName = a.str("node-name");
    a.finish();
    Drive drive = findDrive(ctx, std::nullopt, id);
    if (!ctx.nodes.find(nodeName))
        throw QmpError("Node '" + nodeName + "' not found");
    if (nodeHasBackend(ctx, nodeName))
        throw QmpError("Node '" + nodeName + "' is already in use");
    insertMedium(ctx, drive, nodeName);
    return Json::object();
}

// blockdev-change-medium: the new image is opened first (a failure leaves the old medium),
// then the tray opens, the old medium goes, the new one comes in and the tray closes.
Json blockdevChangeMedium(QmpContext& ctx, const Json* args) {
    QmpArgs a(args);
    std::optional<std::string> device = a.optStr("device"), id = a.optStr("id");
    std::string filename = a.str("filename");
    std::optional<std::string> format = a.optStr("format");
    a.optBool("force", false);
    std::optional<std::string> mode = a.optStr("read-only-mode");
    a.finish();
    if (mode && *mode != "retain" && *mode != "read-only" && *mode != "read-write")
        throw QmpError("Parameter 'read-only-mode' does not accept value '" + *mode + "'");
    Drive drive = findDrive(ctx, device, id);
    bool readOnly = drive.disk.readOnly;
    if (auto old = ctx.nodes.find(drive.disk.nodeName))
        readOnly = old->readOnly;
    if (mode && *mode != "retain")
        readOnly = *mode == "read-only";
    if (format && !knownBlockDriver(*format))
        throw QmpError("Unknown driver '" + *format + "'");
    // An image another node has open keeps its lock (QEMU's image locks, within one process
    // too): only reading beside reading is shared (that node is then the medium, and never
    // closed here).
    std::shared_ptr<vm::BlockNode> alreadyOpen = ctx.nodes.findByFile(filename);
    if (alreadyOpen && (!alreadyOpen->readOnly || !readOnly))
        throw QmpError(readOnly ? "Failed to get shared \"write\" lock"
                                : "Failed to get \"write\" lock");
    const bool reused = alreadyOpen != nullptr;
    std::shared_ptr<vm::BlockNode> medium;
    try {
        medium = ctx.nodes.open(filename, format.value_or(""), readOnly);
    } catch (const block::BlockError& e) {
        throw QmpError("Could not open '" + filename + "': " + std::strerror(e.errnoValue()));
    } catch (const std::exception& e) {
        throw QmpError(e.what());
    }
    try {
        if (nodeHasBackend(ctx, medium->name))
            throw QmpError("Node '" + medium->name + "' is already in use");
        openTray(ctx, drive);
        removeMedium(ctx, drive);
        insertMedium(ctx, drive, medium->name);
    } catch (...) {
        if (!reused && drive.disk.nodeName != medium->name) {
            try {
                ctx.nodes.remove(medium->name);
            } catch (const std::exception&) {
            }
        }
        throw;
    }
    if (drive.hasTray())
        moveTray(ctx, drive, false);
    return Json::object();
}

} // namespace

void registerMediumCommands(QmpContext& ctx) {
    ctx.addCommand({"eject", eject, true});
    ctx.addCommand({"blockdev-open-tray", blockdevOpenTray, true});
    ctx.addCommand({"blockdev-close-tray", blockdevCloseTray, true});
    ctx.addCommand({"blockdev-remove-medium", blockdevRemoveMedium, true});
    ctx.addCommand({"blockdev-insert-medium", blockdevInsertMedium, true});
    ctx.addCommand({"blockdev-change-medium", blockdevChangeMedium, true});
}

} // namespace e2kvm::qmp
