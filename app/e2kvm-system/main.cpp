// e2kvm-system: run one e2k-vm virtual machine with qemu-system's command line: disks opened
// as block nodes that QMP, NBD exports and the guest share, an SDL window or none, the serial
// port on stdio or a file, and QMP monitors.
#include "app/e2kvm-system/DefaultRom.h"
#include "app/e2kvm-system/DriveDriverOptions.h"
#include "app/e2kvm-system/HmpConsole.h"
#include "app/e2kvm-system/QtestServer.h"
#include "app/e2kvm-system/SerialConsole.h"
#include "app/e2kvm-system/ShutdownRequest.h"
#include "app/e2kvm-system/SignalWatcher.h"
#include "app/e2kvm-system/SystemMachine.h"
#include "app/e2kvm-system/SystemOptions.h"
#include "app/guestdevices/BlockDeviceModels.h"
#include "app/qmp/QmpContext.h"
#include "app/qmp/QmpError.h"
#include "app/qmp/QmpServer.h"
#include "app/qmp/commands/BlockdevTree.h"
#include "app/vmcore/BlockNodeTable.h"
#include "app/vmcore/NbdExportService.h"
#include "block/HeaderProbe.h"
#include "block/ImageLock.h"
#include "block/ImageOpen.h"
#include "block/ImageOptions.h"
#include "block/OpenFailureText.h"
#include "block/blkdebug/Blkdebug.h"
#include "block/filter/ThrottleFilter.h"
#include "block/qcow2/Qcow2Driver.h"
#include "emu/machine/MachineRunner.h"
#include "nbd/NbdImage.h"

#ifdef E2KVM_HAVE_SDL
#include "app/e2kvm-system/SdlDisplay.h"
#endif

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <map>
#include <memory>
#include <string>
#include <vector>

using namespace e2kvm;
using Clock = std::chrono::steady_clock;

namespace {

[[noreturn]] void die(const std::string& message) {
    std::fprintf(stderr, "e2kvm-system: %s\n", message.c_str());
    std::exit(EXIT_FAILURE);
}

void warn(const std::string& message) {
    std::fprintf(stderr, "e2kvm-system: %s\n", message.c_str());
}

// E2KVM_TRACE_FIRST_FRAME=1: one stderr line when the first guest frame is out (published
// without a window, on screen with one), timed from the start of main().
class FirstFrameTrace {
public:
    explicit FirstFrameTrace(Clock::time_point start) : start_(start) {
        const char* v = std::getenv("E2KVM_TRACE_FIRST_FRAME");
        enabled_ = v && std::strcmp(v, "1") == 0;
    }
    bool enabled() const { return enabled_; }
    void hit(const char* what) {
        if (!enabled_ || done_.exchange(true))
            return;
        double ms = std::chrono::duration<double, std::milli>(Clock::now() - start_).count();
        std::fprintf(stderr, "e2kvm-system: first frame %s after %.1f ms\n", what, ms);
    }

private:
    Clock::time_point start_;
    bool enabled_ = false;
    std::atomic<bool> done_{false};
};

// What QMP knows of a -drive and -device: query-block's device name and qdev path.
struct DiskNaming {
    unsigned anonymousDevices = 0; // /machine/peripheral-anon/device[N]
    unsigned unattachedDevices = 0;
};

// -drive backing.node-name=...: the backing layers so named become nodes of their own (the
// deepest first, so that each is the backing of the one added after it), as QEMU's.
void nameBackingLayers(const sys::DriveOption& d, const std::shared_ptr<vm::BlockNode>& node,
                       vm::BlockNodeTable& nodes) {
    std::vector<std::shared_ptr<block::BlockDriver>> layers;
    std::shared_ptr<block::BlockDriver> layer = node->image;
    for (size_t i = 0; i < d.backingNodeNames.size(); ++i) {
        auto* q = dynamic_cast<block::qcow2::Qcow2Driver*>(layer.get());
        layer = q ? q->backingImage() : nullptr;
        if (!layer)
            die("-drive " + d.spec + ": the image has no backing file at depth " +
                std::to_string(i + 1));
        layers.push_back(layer);
    }
    std::string above = node->name;
    for (size_t i = layers.size(); i-- > 0;) {
        if (d.backingNodeNames[i].empty())
            continue;
        try {
            nodes.add(layers[i], layers[i]->filename(), layers[i]->formatName(), true,
                      d.backingNodeNames[i]);
        } catch (const std::exception& e) {
            die("-drive " + d.spec + ": " + e.what());
        }
    }
    // Each named layer is the backing of the nearest named (or the drive's) node above it.
    for (size_t i = 0; i < layers.size(); ++i) {
        if (d.backingNodeNames[i].empty())
            continue;
        if (i == 0 || d.backingNodeNames[i - 1].empty())
            nodes.setUser(d.backingNodeNames[i], vm::BlockNodeTable::backingUser(above), true);
        above = d.backingNodeNames[i];
    }
}

// Why `file` could not be opened, as qemu-system says it: "Could not open 'F': why" once.
std::string couldNotOpen(const std::string& file, const std::string& message) {
    std::string text = block::openFailureText(file, message);
    if (text.rfind("Could not open '", 0) == 0)
        return text;
    return "Could not open '" + file + "': " + message;
}

// A -drive of a file in a format (given or probed): an open of its own, as each of QEMU's
// -drive options opens its image anew (two of one file conflict by their image locks).
// Throws std::runtime_error with what qemu-system says after "-drive SPEC: ".
std::shared_ptr<vm::BlockNode> openPlainDriveNode(const sys::DriveOption& d,
                                                  vm::BlockNodeTable& nodes) {
    try {
        if (d.format.empty() && !d.readOnly && block::probeFormat(d.file) == "raw") {
            std::string text = block::probedRawWarning(d.file);
            text.pop_back(); // warn() ends the line
            warn(text);
        }
        return nodes.open(d.file, d.format, d.readOnly, d.nodeName, d.forceShare,
                          vm::OpenReuse::Never);
    } catch (const block::BlockError& e) {
        // A lock conflict is QEMU's own two lines ("Failed to get "write" lock" and the
        // hint), without "Could not open".
        if (block::isImageLockConflict(e))
            throw std::runtime_error(e.what());
        throw std::runtime_error(couldNotOpen(d.file, e.what()));
    } catch (const std::exception& e) {
        throw std::runtime_error(couldNotOpen(d.file, e.what()));
    }
}

std::shared_ptr<vm::BlockNode> openPlainDrive(const sys::DriveOption& d,
                                              vm::BlockNodeTable& nodes) {
    try {
        return openPlainDriveNode(d, nodes);
    } catch (const std::runtime_error& e) {
        die("-drive " + d.spec + ": " + e.what());
    }
}

// The format of a -drive without file= whose file.* options name the file's node (file.driver=
// blkdebug, file.image.filename=...): probed from what that node reads, as QEMU probes through
// its file child.
std::string probeFileNode(const std::map<std::string, std::string>& options) {
    block::DriverOptions file = block::subOptions(options, "file.");
    if (!file.count("driver"))
        return block::probeFormat(file.count("filename") ? file.at("filename") : std::string());
    block::OpenOptions open;
    open.readOnly = true;
    open.locking = false; // only looked at; the drive opens it again
    std::unique_ptr<block::BlockDriver> node = block::openImageFromOptions(file, open);
    std::vector<uint8_t> head(size_t(std::min<uint64_t>(block::kProbeBytes, node->size())));
    node->read(0, head);
    return block::openProbe(head);
}

// A -drive with options for the drivers (driver=blkdebug, file.driver=..., a format's
// runtime options): opened by the block library from them, as QEMU's drivers take them.
std::shared_ptr<vm::BlockNode> openDriverDrive(const sys::DriveOption& d, vm::BlockNodeTable& nodes,
                                               qmp::QmpContext& setup) {
    std::map<std::string, std::string> options = d.driverOptions;
    try {
        if (!options.count("driver")) {
            options["driver"] =
                d.file.empty() ? probeFileNode(options) : block::probeFormat(d.file);
            try {
                sys::checkDriveDriverOptions(options);
            } catch (const sys::OptionError& e) {
                die("-drive " + d.spec + ": " + e.what());
            }
        }
        options = sys::withDriveFile(options, d.file);
        // Filters that need the process's objects (a throttle group) are built as QMP builds
        // them; the rest the block library opens from the options.
        // So are trees naming a node (backing=NODE).
        bool filterHere = false;
        for (const auto& [key, value] : options)
            filterHere = filterHere ||
                         ((key == "driver" || key.ends_with(".driver")) &&
                          (value == "throttle" || value == "copy-on-read")) ||
                         ((key == "backing" || key.ends_with(".backing")) && !value.empty());
        std::shared_ptr<block::BlockDriver> image;
        if (filterHere) {
            image = qmp::openBlockdevTree(setup, sys::nestedOptions(options), d.readOnly).image;
        } else {
            block::OpenOptions open;
            open.readOnly = d.readOnly;
            open.forceShare = d.forceShare;
            image = block::openImageFromOptions(options, open);
        }
        return nodes.add(image, image->filename(), image->formatName(), d.readOnly, d.nodeName);
    } catch (const block::BlockError& e) {
        if (block::isImageLockConflict(e) || d.file.empty())
            die("-drive " + d.spec + ": " + e.what());
        die("-drive " + d.spec + ": " + couldNotOpen(d.file, e.what()));
    } catch (const std::exception& e) {
        die("-drive " + d.spec + ": " + e.what());
    }
}

// -drive cache=MODE as query-block's cache flags: writeback unless writethrough or
// directsync, direct for none and directsync, flushes ignored for unsafe.
void setCacheMode(qmp::QmpMachineDisk& disk, const std::string& mode) {
    disk.writeback = mode != "writethrough" && mode != "directsync";
    disk.direct = mode == "none" || mode == "directsync";
    disk.noFlush = mode == "unsafe";
}

// -drive throttling.*: the drive joins its group (throttling.group, else one of its own named
// after the drive), whose limits become the ones given, as QEMU's legacy throttling does.
void throttleDrive(const sys::DriveOption& d, qmp::QmpMachineDisk& disk) {
    if (d.throttling.empty())
        return;
    static std::map<std::string, std::shared_ptr<block::ThrottleGroup>> groups;
    block::ThrottleLimits limits;
    std::string group = d.id;
    for (const auto& [key, value] : d.throttling) {
        if (key == "group") {
            group = value;
            continue;
        }
        uint64_t* field = nullptr;
        for (size_t k = 0; k < block::kThrottleKinds && !field; ++k) {
            const std::string name = block::ThrottleLimits::name(block::ThrottleKind(k));
            block::ThrottleLimit& l = limits.limit[k];
            field = key == name                   ? &l.avg
                    : key == name + "-max"        ? &l.max
                    : key == name + "-max-length" ? &l.maxLength
                                                  : nullptr;
        }
        if (key == "iops-size")
            field = &limits.iopsSize;
        if (!field)
            die("-drive " + d.spec + ": Invalid parameter 'throttling." + key + "'");
        if (value.empty() || value.find_first_not_of("0123456789") != std::string::npos ||
            value.size() > 19)
            die("-drive " + d.spec + ": Parameter 'throttling." + key + "' expects a number");
        *field = std::stoull(value);
    }
    try {
        auto& shared = groups[group];
        if (!shared)
            shared = std::make_shared<block::ThrottleGroup>(limits);
        else
            shared->setLimits(limits);
        disk.throttleGroup = shared;
        disk.throttleGroupName = group;
    } catch (const std::exception& e) {
        die("-drive " + d.spec + ": " + e.what());
    }
}

void openDrives(const sys::SystemOptions& o, vm::BlockNodeTable& nodes,
                guestdev::GuestDevices& devices, std::vector<qmp::QmpMachineDisk>& qmpDisks,
                DiskNaming& naming, qmp::QmpContext& setup) {
    for (const sys::DriveOption& d : o.drives) {
        if (d.noMedium) { // an empty CD-ROM drive: listed, no node, not seen by the guest
            qmp::QmpMachineDisk disk{d.id, "",
                                     "/machine/unattached/device[" +
                                         std::to_string(naming.unattachedDevices++) + "]",
                                     true};
            disk.readOnly = true;
            qmpDisks.push_back(disk);
            continue;
        }
        std::shared_ptr<vm::BlockNode> node =
            d.driverOptions.empty() ? openPlainDrive(d, nodes) : openDriverDrive(d, nodes, setup);
        node->discardUnmap = d.discardUnmap;
        node->detectZeroes = d.detectZeroes == "on"      ? nbd::DetectZeroes::On
                             : d.detectZeroes == "unmap" ? nbd::DetectZeroes::Unmap
                                                         : nbd::DetectZeroes::Off;
        nameBackingLayers(d, node, nodes);
        if (!d.attached) {
            // QMP knows every drive by its id (if=none ones too: blockdev-backup device=drive0);
            // a -device using it gives it its qdev (attachDevices). Until then, as QEMU's, it
            // is a removable drive with its tray closed.
            qmp::QmpMachineDisk disk{d.id, node->name, "", true};
            disk.readOnly = d.readOnly;
            setCacheMode(disk, d.cache);
            throttleDrive(d, disk);
            qmpDisks.push_back(disk);
            continue;
        }
        std::string qomPath =
            "/machine/peripheral-anon/device[" + std::to_string(naming.anonymousDevices++) + "]";
        qmp::QmpMachineDisk disk{d.id, node->name, qomPath + "/virtio-backend", false};
        setCacheMode(disk, d.cache);
        throttleDrive(d, disk);
        disk.qomPath = qomPath;
        disk.user = "drive '" + d.id + "'";
        disk.handle = std::make_shared<block::BlockHandle>(
            guestdev::GuestDevices::guestImage(disk, node->image), d.readOnly);
        qmpDisks.push_back(disk);
        devices.addDriveDisk(disk, d.readOnly || node->readOnly);
        nodes.setUser(node->name, disk.user, true);
    }
}

// The units of the if=none drives there are, by drive id: QEMU gives each if=none drive the
// first unit no other one has, and names a drive without id after it ("none<unit>").
using NoneDriveUnits = std::map<std::string, unsigned>;

NoneDriveUnits commandLineNoneUnits(const sys::SystemOptions& o) {
    NoneDriveUnits units;
    for (const sys::DriveOption& d : o.drives)
        if (!d.attached && !d.noMedium)
            units.emplace(d.id, unsigned(units.size()));
    return units;
}

// HMP drive_add: a drive no device uses (if=none), of a file in a format given or probed, as
// a -drive of the command line would be (`ids`: the drives there are).
qmp::QmpMachineDisk hotAddDrive(const std::string& options, const std::vector<std::string>& ids,
                                vm::BlockNodeTable& nodes, NoneDriveUnits& units) {
    sys::DriveOption d;
    try {
        d = sys::parseDrive(options);
    } catch (const sys::OptionError& e) {
        std::string what = e.what();
        const std::string prefix = "-drive " + options + ": ";
        throw std::runtime_error(what.rfind(prefix, 0) == 0 ? what.substr(prefix.size()) : what);
    }
    if (d.attached)
        throw std::runtime_error("e2kvm's drive_add adds if=none drives only");
    if (d.noMedium || !d.driverOptions.empty() || !d.throttling.empty())
        throw std::runtime_error("e2kvm's drive_add takes a file with format, id, node-name, "
                                 "read-only, force-share and cache options only");
    auto taken = [&](const std::string& id) {
        return std::find(ids.begin(), ids.end(), id) != ids.end();
    };
    unsigned unit = 0;
    while (std::any_of(units.begin(), units.end(), [&](const auto& u) { return u.second == unit; }))
        ++unit;
    if (d.id.empty())
        d.id = "none" + std::to_string(unit);
    if (taken(d.id))
        throw std::runtime_error("Duplicate ID '" + d.id + "' for drive");
    std::shared_ptr<vm::BlockNode> node = openPlainDriveNode(d, nodes);
    node->discardUnmap = d.discardUnmap;
    qmp::QmpMachineDisk disk{d.id, node->name, "", true};
    setCacheMode(disk, d.cache);
    units[d.id] = unit;
    return disk;
}

// HMP drive_del of a drive no device uses: its node closes, unless another user (an export)
// still holds it; it then stays as a node of its own.
void hotDeleteDrive(const qmp::QmpMachineDisk& drive, vm::BlockNodeTable& nodes,
                    NoneDriveUnits& units) {
    units.erase(drive.device);
    if (drive.nodeName.empty())
        return;
    try {
        nodes.remove(drive.nodeName);
    } catch (const std::exception&) {
    }
}

// -object: each object is made by QMP's object-add, in command-line order.
void addObjects(const sys::SystemOptions& o, qmp::QmpContext& ctx) {
    for (const sys::ObjectOption& object : o.objects) {
        try {
            ctx.execute("object-add", &object.arguments);
        } catch (const std::exception& e) {
            die("-object " + object.spec + ": " + e.what());
        }
    }
}

// -blockdev: each node is made by QMP's blockdev-add, in command-line order. The context's
// protocol-only file nodes are handed to the QMP context later (takeFileNodes).
void addBlockdevs(const sys::SystemOptions& o, qmp::QmpContext& ctx) {
    for (const sys::BlockdevOption& b : o.blockdevs) {
        try {
            ctx.execute("blockdev-add", &b.options);
        } catch (const std::exception& e) {
            die("-blockdev " + b.spec + ": " + e.what());
        }
    }
}

// -device: controllers and disks (on node X or on the node of -drive id X), numbered from 0 in
// /machine/peripheral-anon.
void attachDevices(const sys::SystemOptions& o, guestdev::GuestDevices& devices,
                   std::vector<qmp::QmpMachineDisk>& qmpDisks) {
    const unsigned afterDevices = devices.nextAnonymous();
    devices.setNextAnonymous(0);
    for (const sys::DeviceOption& d : o.devices) {
        try {
            devices.add(d, qmpDisks);
        } catch (const std::exception& e) {
            die("-device " + d.spec + ": " + e.what());
        }
    }
    devices.setNextAnonymous(afterDevices); // device_add's go on after the -drive ones
}

// Flushes every writable node at shutdown, reporting failures as QEMU does on close.
void flushNodes(vm::BlockNodeTable& nodes) {
    for (const std::shared_ptr<vm::BlockNode>& n : nodes.list()) {
        try {
            if (!n->image->readOnly())
                n->image->flush();
        } catch (const block::BlkdebugInjectedError& e) {
            // An error injected into the flush on close: QEMU's qcow2 reports its two
            // metadata caches (each written back, then the file flushed); other formats
            // say nothing.
            if (n->image->formatName() == "qcow2")
                for (const char* cache : {"L2 table", "refcount block"})
                    warn(std::string("Failed to flush the ") + cache +
                         " cache: " + std::strerror(e.errnoValue()));
        } catch (const std::exception& e) {
            warn("flushing '" + n->file + "': " + e.what());
        }
    }
}

int runSystem(const sys::SystemOptions& o, Clock::time_point start) {
    sys::ShutdownRequest shutdown;
    sys::SignalWatcher signals(shutdown);
    FirstFrameTrace trace(start);

    vm::BlockNodeTable nodes;
    vm::NbdExportService nbd(nodes);

    emu::MachineConfig config;
    config.name = o.name.empty() ? "e2k-vm" : o.name;
    config.ramBytes = o.ramBytes;
    config.displayWidth = o.displayWidth;
    config.displayHeight = o.displayHeight;
    config.kernelPath = o.kernel;
    config.biosPath = o.bios;
    if (config.biosPath.empty() && config.kernelPath.empty()) {
        std::vector<std::string> looked;
        config.biosPath = sys::findDefaultRom(&looked);
        if (config.biosPath.empty()) {
            std::string where;
            for (const std::string& l : looked)
                where += (where.empty() ? "" : ", ") + l;
            die("no boot ROM found (looked for " + where + "); give one with -bios");
        }
    }
    std::vector<qmp::QmpMachineDisk> qmpDisks;
    DiskNaming naming;
    // qemu-system creates the -device devices before those of -drive if=virtio: the latter
    // come after the anonymous -device ones in /machine/peripheral-anon.
    naming.anonymousDevices = unsigned(std::count_if(o.devices.begin(), o.devices.end(),
                                                     [](const auto& d) { return d.id.empty(); }));
    // -object, -drive and -blockdev act through a QMP context of their own (objects first, as
    // in QEMU); what it keeps besides the nodes passes on to the monitors' context below.
    auto setup = std::make_unique<qmp::QmpContext>(nodes, nbd);
    addObjects(o, *setup);
    addBlockdevs(o, *setup); // before the drives, as QEMU: a -drive may name them
    guestdev::GuestDevices devices(nodes);
    devices.setConfig(&config);
    devices.setIothreads(&setup->iothreads);
    openDrives(o, nodes, devices, qmpDisks, naming, *setup);
    devices.setNextAnonymous(naming.anonymousDevices);
    attachDevices(o, devices, qmpDisks);

    std::unique_ptr<sys::SerialConsole> serial;
    try {
        serial = std::make_unique<sys::SerialConsole>(o.serial);
    } catch (const std::exception& e) {
        die(e.what());
    }

    std::unique_ptr<emu::MachineRunner> runner;
    try {
        runner = std::make_unique<emu::MachineRunner>(config);
    } catch (const std::exception& e) {
        die(e.what());
    }
    if (o.serial.kind != sys::SerialKind::None)
        runner->setSerialOutput(
            [s = serial.get()](const char* data, size_t len) { s->write(data, len); });

    NoneDriveUnits noneUnits = commandLineNoneUnits(o); // drive_add's, outliving the machine
    auto machine = std::make_unique<sys::SystemMachine>(*runner, qmpDisks, o.name);
    machine->setDriveHotplug(
        [&nodes, &noneUnits](const std::string& options, const std::vector<std::string>& ids) {
            return hotAddDrive(options, ids, nodes, noneUnits);
        },
        [&nodes, &noneUnits](const qmp::QmpMachineDisk& drive) {
            hotDeleteDrive(drive, nodes, noneUnits);
        });
    auto qmpContext = std::make_unique<qmp::QmpContext>(nodes, nbd, machine.get());
    qmpContext->takeNodeStateFrom(*setup);
    devices.setIothreads(&qmpContext->iothreads);
    devices.setRunner(runner.get()); // from now on disks are plugged into the running machine
    machine->setDeviceHotplug(&devices);
    setup.reset();
    qmpContext->setOnQuit([&shutdown] { shutdown.request(sys::ShutdownCause::QmpQuit); });
    std::vector<std::unique_ptr<qmp::QmpServer>> qmpServers;
    for (const std::string& spec : o.qmp) {
        auto server = std::make_unique<qmp::QmpServer>(*qmpContext);
        server->holdQuitReply(true); // stopped after the images are flushed
        try {
            server->listen(qmp::parseQmpAddress(spec));
        } catch (const std::exception& e) {
            die("-qmp " + spec + ": " + e.what());
        }
        qmpServers.push_back(std::move(server));
    }
    if (o.qmpStdio || !o.qmpConnect.empty() || !o.qmpFds.empty()) {
        auto server = std::make_unique<qmp::QmpServer>(*qmpContext);
        server->holdQuitReply(true);
        if (o.qmpStdio)
            server->adopt(STDIN_FILENO, STDOUT_FILENO, false, o.qmpPretty);
        for (int fd : o.qmpFds) {
            if (fcntl(fd, F_GETFD) < 0)
                die("-chardev socket,fd=" + std::to_string(fd) + ": " + std::strerror(errno));
            fcntl(fd, F_SETFD, FD_CLOEXEC);
            server->adopt(fd, fd, true);
        }
        for (const std::string& path : o.qmpConnect) {
            try {
                server->connect(path);
            } catch (const std::exception& e) {
                die("-chardev socket,path=" + path + ": " + e.what());
            }
        }
        qmpServers.push_back(std::move(server));
    }

    // -monitor stdio: the human monitor runs its lines as QMP's human-monitor-command does.
    std::unique_ptr<sys::HmpConsole> hmp;
    if (o.hmpStdio) {
        qmp::Json version = qmpContext->execute("query-version", nullptr);
        const qmp::Json* q = version.find("qemu");
        auto part = [q](const char* key) { return std::to_string(q->find(key)->asInt()); };
        hmp = std::make_unique<sys::HmpConsole>(
            STDIN_FILENO, STDOUT_FILENO, part("major") + "." + part("minor") + "." + part("micro"),
            [ctx = qmpContext.get()](const std::string& line) {
                qmp::Json args = qmp::Json::object({{"command-line", line}});
                try {
                    return ctx->execute("human-monitor-command", &args).asString();
                } catch (const std::exception& e) {
                    return std::string("Error: ") + e.what() + "\n";
                }
            },
            [ctx = qmpContext.get(), &shutdown] {
                if (ctx->takeQuitRequest()) {
                    ctx->finishQuit();
                    return true;
                }
                return shutdown.current().has_value();
            });
    }

    // -qtest: QEMU connects to the test's socket at startup, before the machine runs.
    std::unique_ptr<sys::QtestServer> qtest;
    if (!o.qtest.empty()) {
        try {
            qtest = std::make_unique<sys::QtestServer>(o.qtest, *runner);
        } catch (const std::exception& e) {
            die(e.what());
        }
    }

    int traceListener = 0;
    if (trace.enabled() && o.display.kind == sys::DisplayKind::None) {
        emu::FramePublisher& frames = runner->display();
        traceListener = frames.subscribe([&trace] { trace.hit("published"); });
    }

#ifdef E2KVM_HAVE_SDL
    std::unique_ptr<sys::SdlDisplay> display;
    std::atomic<sys::SdlDisplay*> statusDisplay{nullptr}; // read on the machine thread
#endif
    const bool canRecover = !qmpServers.empty() || o.display.kind != sys::DisplayKind::None;
    machine->setObserver([&](const emu::MachineEvent& e) {
        switch (e.kind) {
        case emu::MachineEvent::Shutdown:
            if (e.detail == "guest-shutdown")
                shutdown.request(sys::ShutdownCause::GuestPowerOff);
            break;
        case emu::MachineEvent::Error:
            warn("guest stopped: " + e.detail);
            if (!canRecover)
                shutdown.request(sys::ShutdownCause::Failure, "guest stopped: " + e.detail);
            break;
#ifdef E2KVM_HAVE_SDL
        case emu::MachineEvent::Stop:
        case emu::MachineEvent::Resume:
            if (sys::SdlDisplay* d = statusDisplay.load())
                d->setStatus(e.kind == emu::MachineEvent::Stop ? "Stopped" : "");
            break;
#endif
        default:
            break;
        }
    });

    for (auto& s : qmpServers)
        s->start();
    if (hmp)
        hmp->start();
    // The guest boots while the window is being set up (creating a renderer can take a
    // noticeable part of a second); the window then shows the newest frame.
    runner->start(o.startPaused);
    serial->startInput([r = runner.get()](const std::string& bytes) { r->serialInput(bytes); },
                       [&shutdown] { shutdown.request(sys::ShutdownCause::ConsoleEscape); });

#ifdef E2KVM_HAVE_SDL
    if (o.display.kind == sys::DisplayKind::Sdl) {
        sys::SdlDisplayOptions so;
        so.name = o.name;
        so.integerScale = o.display.integerScale;
        so.windowClose = o.display.windowClose;
        so.showCursor = o.display.showCursor;
        so.fullScreen = o.display.fullScreen;
        try {
            display = std::make_unique<sys::SdlDisplay>(runner->display(), runner->input(), so);
        } catch (const std::exception& e) {
            die(std::string("-display sdl: ") + e.what());
        }
        display->setOnFirstPresent([&trace] { trace.hit("on screen"); });
        statusDisplay = display.get();
        if (runner->state() != emu::RunState::Running)
            display->setStatus("Stopped");
    }
#else
    if (o.display.kind == sys::DisplayKind::Sdl)
        die("-display sdl: this e2kvm-system was built without SDL2");
#endif

#ifdef E2KVM_HAVE_SDL
    if (display) {
        shutdown.setWake([d = display.get()] { d->stop(); });
        try {
            if (display->run() == sys::SdlDisplay::Exit::Closed)
                shutdown.request(sys::ShutdownCause::WindowClosed);
        } catch (const std::exception& e) {
            shutdown.request(sys::ShutdownCause::Failure, std::string("display: ") + e.what());
        }
        shutdown.setWake(nullptr);
    }
#endif
    sys::Shutdown why = shutdown.wait();
    serial->stop();
    if (!why.detail.empty())
        warn(why.detail);

    // The host ends the machine for its own reason (the QMP quit command already did).
    if (why.cause != sys::ShutdownCause::QmpQuit) {
        qmpContext->drainThrottleGroups(true); // throttled requests would hold up the end
        machine->quit(sys::shutdownReason(why.cause));
    }
    if (traceListener)
        runner->display().unsubscribe(traceListener);
    // The images are flushed first, while the QMP clients still wait for the reply to quit:
    // as QEMU's, what closing the images reports comes before that reply. Then the last
    // words to the QMP clients, the NBD exports, the window, the machine and finally the
    // images (dirty bitmaps stored).
    flushNodes(nodes);
    if (hmp)
        hmp->stop();
    hmp.reset();
    for (auto& s : qmpServers)
        s->stop();
    qmpServers.clear();
    qtest.reset();
    qmpContext.reset();
    nbd.stop();
#ifdef E2KVM_HAVE_SDL
    // The machine thread has ended (quit above), so nothing reads statusDisplay any more.
    statusDisplay = nullptr;
    display.reset();
#endif
    machine.reset();
    runner.reset();
    for (const std::shared_ptr<vm::BlockNode>& n : nodes.list()) {
        for (const std::string& user : nodes.users(n->name))
            nodes.setUser(n->name, user, false);
        nodes.remove(n->name);
    }
    return why.cause == sys::ShutdownCause::Failure ? EXIT_FAILURE : EXIT_SUCCESS;
}

} // namespace

int main(int argc, char** argv) {
    Clock::time_point start = Clock::now();
    sys::SignalWatcher::block();
    sys::SystemOptions options;
    try {
        options = sys::parseSystemOptions(argc, argv, sys::currentOptionEnvironment());
    } catch (const sys::OptionError& e) {
        die(e.what());
    }
    if (options.help) {
        std::fputs(sys::usageText().c_str(), stdout);
        return EXIT_SUCCESS;
    }
    if (options.version) {
        std::printf("e2kvm-system version %s\n", E2KVM_VERSION);
        return EXIT_SUCCESS;
    }
    if (options.formatHelp) {
        std::fputs(sys::formatHelpText().c_str(), stdout);
        return EXIT_SUCCESS;
    }
    if (options.deviceHelp) {
        std::fputs(guestdev::deviceHelpText().c_str(), stdout);
        return EXIT_SUCCESS;
    }
    if (options.machineHelp) { // as qemu-system lists them; scripts look for "(default)"
        std::fputs("Supported machines are:\n"
                   "e2k-vm               Elbrus 2000 virtual board (default)\n"
                   "none                 empty machine\n",
                   stdout);
        return EXIT_SUCCESS;
    }
    if (options.accelHelp) {
        std::fputs("Accelerators supported in QEMU binary:\ntcg\nqtest\n", stdout);
        return EXIT_SUCCESS;
    }
    // NBD nodes (blockdev-add driver=nbd, nbd:// names), as QEMU's block layer has them.
    nbd::registerNbdProtocol();
    // As QEMU under qtest, blkdebug does not announce the requests it holds and resumes.
    if (options.noGuestCode)
        block::Blkdebug::setAnnounceRequests(false);
    // QMP and the block layer only (-machine none, -accel qtest): the CPU is never started.
    if (options.noMachine || options.noGuestCode)
        options.startPaused = true;
    return runSystem(options, start);
}
