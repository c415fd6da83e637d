// QMP human-monitor-command: one line of QEMU's human monitor (HMP), parsed and answered as
// QEMU 7.2 does; the reply is what the monitor printed, each "\n" sent as "\r\n". Commands:
// qemu-io [-d] DEVICE "COMMAND" (QEMU's iotests write into a running VM's disk with it), info
// status, info block [-n] [DEVICE], info block-jobs, drive_backup, drive_mirror, block_resize,
// eject, drive_add (if=none drives), drive_del, device_add, device_del, savevm, loadvm,
// delvm, info snapshots (commands/VmSnapshots.cpp), stop|s, cont|c, system_reset, quit|q;
// every other line gets QEMU's "unknown command" answer. As in QEMU, qemu-io prints its
// statistics and most of its errors on the process's standard output and standard error,
// not into the reply: only its error_report() messages ("Block node is read-only",
// warnings) and qemu_printf() text
// ("info"'s format-specific part) are returned.
#include "app/ioshell/IoShell.h"
#include "app/qmp/QmpArgs.h"
#include "app/qmp/QmpContext.h"
#include "app/qmp/QmpError.h"
#include "app/qmp/commands/DriveCommit.h"
#include "app/qmp/commands/NodeLookup.h"
#include "app/qmp/commands/VmSnapshots.h"
#include "block/ImageOpen.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace e2kvm::qmp {

namespace {

// QEMU parses each argument into a 1024-byte buffer and a command name into 256 bytes.
constexpr size_t kMaxArgumentBytes = 1023;
constexpr size_t kMaxCommandNameBytes = 255;

bool isSpace(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

// Writes to the process's own standard output (QEMU's printf() while parsing or in qemu-io).
void printStdout(std::string_view text) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
}

// What the monitor printed: the command's reply.
class MonitorText {
public:
    void print(std::string_view text) {
        for (char c : text) {
            if (c == '\n')
                text_ += '\r';
            text_ += c;
        }
    }
    const std::string& text() const { return text_; }

private:
    std::string text_;
};

// qemu-io's output places under HMP: the process's streams, and the monitor for
// error_report() and qemu_printf(). e2kvm's failure details are left out, as QEMU prints none.
class MonitorIoOutput : public io::IoOutput {
public:
    explicit MonitorIoOutput(MonitorText& monitor) : monitor_(monitor) {}
    void out(std::string_view text) override { std::fwrite(text.data(), 1, text.size(), stdout); }
    void err(std::string_view text) override {
        std::fflush(stdout);
        std::fwrite(text.data(), 1, text.size(), stderr);
    }
    void report(std::string_view message) override {
        monitor_.print(message);
        monitor_.print("\n");
    }
    void monitor(std::string_view text) override { monitor_.print(text); }
    void note(std::string_view) override {}
    void flush() override {
        std::fflush(stdout);
        std::fflush(stderr);
    }

private:
    MonitorText& monitor_;
};

// The command line being parsed, with QEMU's rules for words: spaces separate them, a word in
// double quotes may hold spaces and the escapes \n \r \\ \' \".
class HmpLine {
public:
    explicit HmpLine(const std::string& line) : line_(line) {}

    const std::string& text() const { return line_; }
    size_t pos = 0;

    char peek() const { return pos < line_.size() ? line_[pos] : '\0'; }
    bool atEnd() const { return pos >= line_.size(); }
    void skipSpaces() {
        while (!atEnd() && isSpace(line_[pos]))
            ++pos;
    }
    // The next word, or nothing if there is none or its quotes are broken (the reason is
    // printed on the standard output, as QEMU does).
    std::optional<std::string> word() {
        skipSpaces();
        if (atEnd())
            return std::nullopt;
        std::string out;
        auto keep = [&](char c) {
            if (out.size() < kMaxArgumentBytes)
                out += c;
        };
        if (line_[pos] != '"') {
            while (!atEnd() && !isSpace(line_[pos]))
                keep(line_[pos++]);
            return out;
        }
        ++pos;
        while (!atEnd() && line_[pos] != '"') {
            if (line_[pos] != '\\') {
                keep(line_[pos++]);
                continue;
            }
            ++pos;
            char c = peek();
            ++pos;
            switch (c) {
            case 'n':
                keep('\n');
                break;
            case 'r':
                keep('\r');
                break;
            case '\\':
            case '\'':
            case '"':
                keep(c);
                break;
            default:
                // QEMU prints the character even when the line ends after the backslash.
                printStdout(std::string("unsupported escape code: '\\") + c + "'\n");
                return std::nullopt;
            }
        }
        if (atEnd()) {
            printStdout("unterminated string\n");
            return std::nullopt;
        }
        ++pos;
        return out;
    }

private:
    const std::string& line_;
};

// One argument of an HMP command, in the kinds the commands here use.
struct HmpParam {
    enum Kind { Flag, Device, String, OptionalString, Size } kind;
    char flag = 0; // Flag: the option letter ("-d")
};

struct HmpArgs {
    std::vector<bool> flags;                          // per Flag parameter, in order
    std::vector<std::string> strings;                 // per Device/String parameter, in order
    std::vector<std::optional<std::string>> optional; // per OptionalString parameter
    std::vector<int64_t> sizes;                       // per Size parameter, in bytes
};

using HmpHandler = void (*)(QmpContext&, MonitorText&, const HmpArgs&);

struct HmpCommand {
    const char* name; // alternatives separated by '|' ("cont|c"), printed whole in messages
    std::vector<HmpParam> params;
    const std::vector<HmpCommand>* subCommands = nullptr;
    HmpHandler run = nullptr; // null: QEMU's command exists, e2kvm answers as if it did not
};

bool nameMatches(const char* names, const std::string& typed) {
    std::string_view all(names);
    size_t start = 0;
    while (start <= all.size()) {
        size_t bar = all.find('|', start);
        std::string_view one =
            all.substr(start, bar == std::string_view::npos ? std::string_view::npos : bar - start);
        if (one == typed)
            return true;
        if (bar == std::string_view::npos)
            break;
        start = bar + 1;
    }
    return false;
}

// Runs a QMP command's handler (the command lock is already held) and returns its result.
Json runQmp(QmpContext& ctx, const std::string& name, const Json* arguments = nullptr) {
    const QmpCommand* c = ctx.findCommand(name);
    if (!c)
        throw QmpError("The command " + name + " has not been found", "CommandNotFound");
    if (c->needsMachine && !ctx.machine)
        throw QmpError("No machine");
    return c->handler(ctx, arguments);
}

// HMP's answer to a failed command: "Error: <description>".
void printError(MonitorText& mon, const std::string& message) {
    mon.print("Error: " + message + "\n");
}

void qemuIo(QmpContext& ctx, MonitorText& mon, const HmpArgs& args) {
    const bool qdevId = args.flags[0];
    const std::string& device = args.strings[0];
    const std::string& command = args.strings[1];
    // With -d: the guest device of that id or QOM path, through what it reads and writes
    // (a filter put under it with qom-set included).
    std::shared_ptr<vm::BlockNode> node;
    std::shared_ptr<block::BlockDriver> deviceImage;
    if (qdevId) {
        if (ctx.machine)
            for (const QmpMachineDisk& d : ctx.machine->disks())
                // The device, or its virtio backend by QOM path ("/machine/peripheral/vblk/
                // virtio-backend", or relative to /machine/peripheral as "vblk/virtio-backend").
                if ((!d.qomPath.empty() && d.qomPath == device) ||
                    (!d.deviceId.empty() && d.deviceId == device) ||
                    (!d.qdev.empty() &&
                     (d.qdev == device || d.qdev == "/machine/peripheral/" + device))) {
                    node = ctx.nodes.find(d.nodeName);
                    deviceImage = d.handle;
                }
        if (!node) {
            printError(mon, "Device '" + device + "' not found");
            return;
        }
    }
    // As QEMU: a drive id first, then a node name.
    if (!node && ctx.machine) {
        for (const QmpMachineDisk& d : ctx.machine->disks()) {
            if (d.device == device && !d.nodeName.empty()) {
                node = ctx.nodes.find(d.nodeName);
                break;
            }
        }
    }
    if (!node)
        node = ctx.nodes.find(device);
    if (!node) {
        printError(mon, "Cannot find device='' nor node-name='" + device + "'");
        return;
    }
    io::IoShell::Options options;
    options.discardUnmap = node->discardUnmap; // QEMU's discard=ignore default skips discards
    options.writethrough = false;              // a drive's default cache mode is writeback
    options.readOnly = node->readOnly;
    options.quitCommand = false;
    MonitorIoOutput output(mon);
    io::IoShell shell(deviceImage ? deviceImage : node->image, options, output);
    shell.runLine(command);
    output.flush();
}

void infoStatus(QmpContext& ctx, MonitorText& mon, const HmpArgs&) {
    try {
        Json status = runQmp(ctx, "query-status");
        const Json* running = status.find("running");
        const Json* state = status.find("status");
        bool isRunning = running && running->isBool() && running->asBool();
        std::string name = state && state->isString() ? state->asString() : "";
        std::string text = std::string("VM status: ") + (isRunning ? "running" : "paused");
        if (!isRunning && name != "paused")
            text += " (" + name + ")";
        mon.print(text + "\n");
    } catch (const QmpError& e) {
        printError(mon, e.what());
    }
}

// info block-jobs: one line per job of query-block-jobs.
void infoBlockJobs(QmpContext& ctx, MonitorText& mon, const HmpArgs&) {
    Json jobs;
    try {
        jobs = runQmp(ctx, "query-block-jobs");
    } catch (const QmpError& e) {
        printError(mon, e.what());
        return;
    }
    if (jobs.asArray().empty()) {
        mon.print("No active jobs\n");
        return;
    }
    for (const Json& j : jobs.asArray()) {
        auto text = [&](const char* key) {
            const Json* v = j.find(key);
            return v && v->isString() ? v->asString() : std::string();
        };
        auto number = [&](const char* key) {
            const Json* v = j.find(key);
            return std::to_string(v ? v->asInt() : 0);
        };
        std::string progress = "Completed " + number("offset") + " of " + number("len") +
                               " bytes, speed limit " + number("speed") + " bytes/s\n";
        if (text("type") == "stream")
            mon.print("Streaming device " + text("device") + ": " + progress);
        else
            mon.print("Type " + text("type") + ", device " + text("device") + ": " + progress);
    }
}

// One entry of info block: a drive (`drive`: a query-block element) and/or a node
// (`inserted`: its BlockDeviceInfo), in QEMU's layout.

// "    I/O throttling:   bps=... group=G" of a throttled drive, as QEMU prints it; "" otherwise.
std::string throttlingLine(const Json& inserted) {
    auto number = [&](const char* key) {
        const Json* v = inserted.find(key);
        return v && v->isInteger() ? v->asInt() : int64_t(0);
    };
    bool limited = false;
    for (const char* k : {"bps", "bps_rd", "bps_wr", "iops", "iops_rd", "iops_wr"})
        limited = limited || number(k) != 0;
    if (!limited)
        return {};
    std::string out = "    I/O throttling:  ";
    for (const char* k :
         {"bps", "bps_rd", "bps_wr", "bps_max", "bps_rd_max", "bps_wr_max", "iops", "iops_rd",
          "iops_wr", "iops_max", "iops_rd_max", "iops_wr_max", "iops_size"})
        out += std::string(" ") + k + "=" + std::to_string(number(k));
    const Json* group = inserted.find("group");
    return out + " group=" + (group && group->isString() ? group->asString() : "") + "\n";
}

void printBlockEntry(MonitorText& mon, const Json* drive, const Json* inserted) {
    auto text = [](const Json* o, const char* key) {
        const Json* v = o ? o->find(key) : nullptr;
        return v && v->isString() ? v->asString() : std::string();
    };
    auto flag = [](const Json* o, const char* key) {
        const Json* v = o ? o->find(key) : nullptr;
        return v && v->isBool() && v->asBool();
    };
    std::string line = text(drive, "device");
    if (!line.empty()) {
        if (!text(inserted, "node-name").empty())
            line += " (" + text(inserted, "node-name") + ")";
    } else if (!text(inserted, "node-name").empty()) {
        line = text(inserted, "node-name");
    } else {
        line = drive && drive->find("qdev") ? text(drive, "qdev") : "<anonymous>";
    }
    if (inserted)
        line += ": " + text(inserted, "file") + " (" + text(inserted, "drv") +
                (flag(inserted, "ro") ? ", read-only" : "") +
                (flag(inserted, "encrypted") ? ", encrypted" : "") + ")\n";
    else
        line += ": [not inserted]\n";
    if (drive) {
        if (drive->find("qdev"))
            line += "    Attached to:      " + text(drive, "qdev") + "\n";
        if (!text(drive, "io-status").empty() && text(drive, "io-status") != "ok")
            line += "    I/O status:       " + text(drive, "io-status") + "\n";
        if (flag(drive, "removable"))
            line += std::string("    Removable device: ") + (flag(drive, "locked") ? "" : "not ") +
                    "locked, tray " + (flag(drive, "tray_open") ? "open" : "closed") + "\n";
    }
    if (inserted) {
        const Json* cache = inserted->find("cache");
        line += std::string("    Cache mode:       ") +
                (flag(cache, "writeback") ? "writeback" : "writethrough") +
                (flag(cache, "direct") ? ", direct" : "") +
                (flag(cache, "no-flush") ? ", ignore flushes" : "") + "\n";
        if (inserted->find("backing_file")) {
            const Json* depth = inserted->find("backing_file_depth");
            line += "    Backing file:     " + text(inserted, "backing_file") + " (chain depth: " +
                    std::to_string(depth && depth->isInteger() ? depth->asInt() : 0) + ")\n";
        }
        if (!text(inserted, "detect_zeroes").empty() && text(inserted, "detect_zeroes") != "off")
            line += "    Detect zeroes:    " + text(inserted, "detect_zeroes") + "\n";
        line += throttlingLine(*inserted);
    }
    mon.print(line);
}

// info block [-n] [DEVICE]: the drives (query-block), or with -n, or when DEVICE names no
// drive, the nodes (query-named-block-nodes), as QEMU prints them.
void infoBlock(QmpContext& ctx, MonitorText& mon, const HmpArgs& args) {
    const bool nodes = args.flags[0];
    const std::optional<std::string>& device = args.optional[0];
    bool printed = false;
    try {
        auto named = [&](const Json& o, const char* key) {
            const Json* v = o.find(key);
            return v && v->isString() && v->asString() == *device;
        };
        if (!nodes) {
            Json drives = runQmp(ctx, "query-block");
            const auto& list = drives.asArray();
            for (size_t i = 0; i < list.size(); ++i) {
                if (device && !named(list[i], "device"))
                    continue;
                if (i > 0) // (as QEMU: also when the drives before were not printed)
                    mon.print("\n");
                printBlockEntry(mon, &list[i], list[i].find("inserted"));
                printed = true;
            }
        }
        if ((!device && !nodes) || printed)
            return;
        Json nodeList = runQmp(ctx, "query-named-block-nodes");
        const auto& list = nodeList.asArray();
        for (size_t i = 0; i < list.size(); ++i) {
            if (device && !named(list[i], "node-name"))
                continue;
            if (i > 0)
                mon.print("\n");
            printBlockEntry(mon, nullptr, &list[i]);
        }
    } catch (const QmpError& e) {
        printError(mon, e.what());
    }
}

// drive_backup [-n] [-f] [-c] DEVICE TARGET [FORMAT]: QMP's drive-backup with sync "full"
// (-f) or "top", mode "existing" (-n) or "absolute-paths", and compress (-c).
void driveBackup(QmpContext& ctx, MonitorText& mon, const HmpArgs& args) {
    Json q = Json::object({{"device", args.strings[0]},
                           {"target", args.strings[1]},
                           {"sync", args.flags[1] ? "full" : "top"},
                           {"mode", args.flags[0] ? "existing" : "absolute-paths"}});
    if (args.optional[0])
        q.set("format", *args.optional[0]);
    if (args.flags[2])
        q.set("compress", true);
    try {
        runQmp(ctx, "drive-backup", &q);
    } catch (const QmpError& e) {
        printError(mon, e.what());
    }
}

// drive_mirror [-n] [-f] DEVICE TARGET [FORMAT]: QMP's drive-mirror with sync "full" (-f) or
// "top", mode "existing" (-n) or "absolute-paths".
void driveMirror(QmpContext& ctx, MonitorText& mon, const HmpArgs& args) {
    Json q = Json::object({{"device", args.strings[0]},
                           {"target", args.strings[1]},
                           {"sync", args.flags[1] ? "full" : "top"},
                           {"mode", args.flags[0] ? "existing" : "absolute-paths"}});
    if (args.optional[0])
        q.set("format", *args.optional[0]);
    try {
        runQmp(ctx, "drive-mirror", &q);
    } catch (const QmpError& e) {
        printError(mon, e.what());
    }
}

// block_resize DEVICE SIZE: QMP's block_resize of the drive DEVICE (never a node name).
void blockResize(QmpContext& ctx, MonitorText& mon, const HmpArgs& args) {
    Json q = Json::object({{"device", args.strings[0]}, {"size", args.sizes[0]}});
    try {
        runQmp(ctx, "block_resize", &q);
    } catch (const QmpError& e) {
        printError(mon, e.what());
    }
}

// eject [-f] DEVICE: QMP's eject of the drive DEVICE.
void eject(QmpContext& ctx, MonitorText& mon, const HmpArgs& args) {
    Json q = Json::object({{"device", args.strings[0]}, {"force", bool(args.flags[0])}});
    try {
        runQmp(ctx, "eject", &q);
    } catch (const QmpError& e) {
        printError(mon, e.what());
    }
}

// commit DEVICE|all: the drive's active layer copied into its backing file and emptied
// (commands/DriveCommit); failures as QEMU's error_report lines.
void commit(QmpContext& ctx, MonitorText& mon, const HmpArgs& args) {
    const std::string& device = args.strings[0];
    std::vector<QmpMachineDisk> disks;
    if (ctx.machine)
        disks = ctx.machine->disks();
    int error = 0;
    if (device == "all") {
        for (const QmpMachineDisk& d : disks) {
            auto node = d.nodeName.empty() ? nullptr : ctx.nodes.find(d.nodeName);
            if (node && node->image->backing() && (error = commitDriveLayer(ctx, *node)) != 0)
                break;
        }
    } else {
        auto drive = std::find_if(disks.begin(), disks.end(), [&](const QmpMachineDisk& d) {
            return !d.device.empty() && d.device == device;
        });
        if (drive == disks.end()) {
            mon.print("Device '" + device + "' not found\n");
            return;
        }
        auto node = drive->nodeName.empty() ? nullptr : ctx.nodes.find(drive->nodeName);
        if (!node) {
            mon.print("Device '" + device + "' has no medium\n");
            return;
        }
        error = commitDriveLayer(ctx, *node);
    }
    if (error != 0)
        mon.print("'commit' error for '" + device + "': " + std::strerror(error) + "\n");
}

// drive_add [-n] ADDR OPTIONS: a drive no device uses ("OK"), opened by the machine from
// -drive options; with -n a node from blockdev-add options instead. Failures are printed as
// QEMU's error_report() lines.
void driveAdd(QmpContext& ctx, MonitorText& mon, const HmpArgs& args) {
    if (args.flags[0]) {
        mon.print("e2kvm's drive_add -n is not supported (use blockdev-add)\n");
        return;
    }
    if (!ctx.machine) {
        mon.print("No machine\n");
        return;
    }
    try {
        ctx.machine->addDrive(args.strings[1]);
    } catch (const std::exception& e) {
        mon.print(std::string(e.what()) + "\n");
        return;
    }
    mon.print("OK\n");
}

// drive_del ID: a node of that name goes as blockdev-del takes it away; a drive's node closes
// with the drive, unless a block job uses it.
void driveDel(QmpContext& ctx, MonitorText& mon, const HmpArgs& args) {
    const std::string& id = args.strings[0];
    std::optional<QmpMachineDisk> drive;
    if (ctx.machine)
        for (const QmpMachineDisk& d : ctx.machine->disks())
            if (d.device == id)
                drive = d;
    try {
        if (!drive && ctx.nodes.find(id)) {
            Json q = Json::object({{"node-name", id}});
            runQmp(ctx, "blockdev-del", &q);
            return;
        }
        if (!drive || !ctx.machine)
            throw QmpError("Device '" + id + "' not found");
        if (!drive->nodeName.empty())
            refuseIfJobBusy(ctx, drive->nodeName, drive->nodeName);
        ctx.machine->deleteDrive(id);
    } catch (const std::exception& e) {
        mon.print(std::string(e.what()) + "\n");
    }
}

// device_add DRIVER[,PROP=VALUE…] and device_del ID: as QMP's (DEVICE_DELETED included).
void deviceAdd(QmpContext& ctx, MonitorText& mon, const HmpArgs& args) {
    try {
        if (!ctx.machine)
            throw QmpError("No machine");
        ctx.machine->addDevice(args.strings[0]);
    } catch (const std::exception& e) {
        printError(mon, e.what());
    }
}

void deviceDel(QmpContext& ctx, MonitorText& mon, const HmpArgs& args) {
    try {
        Json q = Json::object({{"id", args.strings[0]}});
        runQmp(ctx, "device_del", &q);
    } catch (const std::exception& e) {
        printError(mon, e.what());
    }
}

// An HMP command that is a QMP command without arguments (stop, cont, system_reset).
void runQmpAlias(QmpContext& ctx, MonitorText& mon, const std::string& qmpName) {
    try {
        runQmp(ctx, qmpName);
    } catch (const QmpError& e) {
        printError(mon, e.what());
    }
}

const std::vector<HmpCommand>& infoCommands() {
    static const std::vector<HmpCommand> table = {
        {"block", {{HmpParam::Flag, 'n'}, {HmpParam::OptionalString, 0}}, nullptr, infoBlock},
        {"block-jobs", {}, nullptr, infoBlockJobs},
        {"status", {}, nullptr, infoStatus},
        {"snapshots",
         {},
         nullptr,
         [](QmpContext& ctx, MonitorText& mon, const HmpArgs&) {
             mon.print(hmpInfoSnapshots(ctx));
         }},
    };
    return table;
}

const std::vector<HmpCommand>& hmpCommands() {
    static const std::vector<HmpCommand> table = {
        {"qemu-io",
         {{HmpParam::Flag, 'd'}, {HmpParam::Device, 0}, {HmpParam::String, 0}},
         nullptr,
         qemuIo},
        {"info", {}, &infoCommands(), nullptr},
        {"drive_backup",
         {{HmpParam::Flag, 'n'},
          {HmpParam::Flag, 'f'},
          {HmpParam::Flag, 'c'},
          {HmpParam::Device, 0},
          {HmpParam::String, 0},
          {HmpParam::OptionalString, 0}},
         nullptr,
         driveBackup},
        {"drive_mirror",
         {{HmpParam::Flag, 'n'},
          {HmpParam::Flag, 'f'},
          {HmpParam::Device, 0},
          {HmpParam::String, 0},
          {HmpParam::OptionalString, 0}},
         nullptr,
         driveMirror},
        {"block_resize", {{HmpParam::Device, 0}, {HmpParam::Size, 0}}, nullptr, blockResize},
        {"commit", {{HmpParam::Device, 0}}, nullptr, commit},
        {"eject", {{HmpParam::Flag, 'f'}, {HmpParam::Device, 0}}, nullptr, eject},
        {"drive_add",
         {{HmpParam::Flag, 'n'}, {HmpParam::String, 0}, {HmpParam::String, 0}},
         nullptr,
         driveAdd},
        {"drive_del", {{HmpParam::String, 0}}, nullptr, driveDel},
        {"device_add", {{HmpParam::String, 0}}, nullptr, deviceAdd},
        {"device_del", {{HmpParam::String, 0}}, nullptr, deviceDel},
        {"savevm",
         {{HmpParam::OptionalString, 0}},
         nullptr,
         [](QmpContext& ctx, MonitorText& mon, const HmpArgs& args) {
             mon.print(hmpSaveVm(ctx, args.optional[0]));
         }},
        {"loadvm",
         {{HmpParam::String, 0}},
         nullptr,
         [](QmpContext& ctx, MonitorText& mon, const HmpArgs& args) {
             mon.print(hmpLoadVm(ctx, args.strings[0]));
         }},
        {"delvm",
         {{HmpParam::String, 0}},
         nullptr,
         [](QmpContext& ctx, MonitorText& mon, const HmpArgs& args) {
             mon.print(hmpDelVm(ctx, args.strings[0]));
         }},
        {"stop|s",
         {},
         nullptr,
         [](QmpContext& ctx, MonitorText& mon, const HmpArgs&) { runQmpAlias(ctx, mon, "stop"); }},
        {"cont|c",
         {},
         nullptr,
         [](QmpContext& ctx, MonitorText& mon, const HmpArgs&) { runQmpAlias(ctx, mon, "cont"); }},
        {"system_reset",
         {},
         nullptr,
         [](QmpContext& ctx, MonitorText& mon, const HmpArgs&) {
             runQmpAlias(ctx, mon, "system_reset");
         }},
        // As QMP's quit: the process ends once the line is answered.
        {"quit|q",
         {},
         nullptr,
         [](QmpContext& ctx, MonitorText& mon, const HmpArgs&) { runQmpAlias(ctx, mon, "quit"); }},
    };
    return table;
}

struct CommandLookup {
    const HmpCommand* command = nullptr; // null: a blank line, or an unknown name
    bool blank = false;                  // nothing to run and nothing to say
    size_t nameEnd = 0;                  // where the (last) command name ends in the line
};

// The command a line names (following "info" into its subcommands), with `line.pos` after its
// name and the spaces behind it.
CommandLookup findCommand(HmpLine& line, const std::vector<HmpCommand>& table) {
    CommandLookup result;
    line.skipSpaces();
    if (line.atEnd()) {
        result.blank = true;
        return result;
    }
    size_t start = line.pos;
    while (!line.atEnd() && line.peek() != '/' && !isSpace(line.peek()))
        ++line.pos;
    result.nameEnd = line.pos;
    std::string name = line.text().substr(start, std::min(line.pos - start, kMaxCommandNameBytes));
    const HmpCommand* found = nullptr;
    for (const HmpCommand& c : table) {
        if (nameMatches(c.name, name)) {
            found = &c;
            break;
        }
    }
    if (!found)
        return result;
    line.skipSpaces();
    if (found->subCommands && !line.atEnd())
        return findCommand(line, *found->subCommands);
    result.command = found;
    return result;
}

// A size argument as HMP reads it: a decimal number with an optional fraction and unit letter
// (B K M G T P E), mebibytes without one; it ends where the unit (or the number) does, so the
// rest of the word is left for the next parameter. Nothing for a missing, negative or too
// large size.
std::optional<int64_t> sizeArgument(HmpLine& line) {
    line.skipSpaces();
    const std::string& text = line.text();
    size_t end = line.pos;
    while (end < text.size() &&
           (std::isdigit(static_cast<unsigned char>(text[end])) || text[end] == '.'))
        ++end;
    if (end == line.pos)
        return std::nullopt;
    std::string number = text.substr(line.pos, end - line.pos);
    if (end < text.size() &&
        std::string_view("bBkKmMgGtTpPeE").find(text[end]) != std::string_view::npos)
        number += text[end++];
    else
        number += 'M';
    try {
        uint64_t bytes = block::parseSize(number);
        if (bytes > uint64_t(INT64_MAX))
            return std::nullopt;
        line.pos = end;
        return int64_t(bytes);
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

// QEMU's argument parser for `cmd`'s parameters; false after printing why they do not fit.
bool parseArguments(HmpLine& line, const HmpCommand& cmd, MonitorText& mon, HmpArgs& args) {
    for (size_t i = 0; i < cmd.params.size(); ++i) {
        const HmpParam& p = cmd.params[i];
        if (p.kind == HmpParam::Flag) {
            size_t before = line.pos;
            line.skipSpaces();
            bool set = false;
            if (line.peek() == '-') {
                ++line.pos;
                char given = line.peek();
                if (given == p.flag) {
                    ++line.pos;
                    set = true;
                } else {
                    bool laterFlag = false;
                    for (size_t j = i + 1; j < cmd.params.size(); ++j)
                        laterFlag |= cmd.params[j].kind == HmpParam::Flag &&
                                     cmd.params[j].flag == given && given != '\0';
                    if (!laterFlag) {
                        // QEMU prints the letter with %c: a line ending in "-" cuts the
                        // message (and its newline) at that NUL.
                        std::string m = std::string(cmd.name) + ": unsupported option -";
                        mon.print(given ? m + given + "\n" : m);
                        return false;
                    }
                    line.pos = before;
                }
            }
            args.flags.push_back(set);
            continue;
        }
        if (p.kind == HmpParam::OptionalString) {
            line.skipSpaces();
            if (line.atEnd()) {
                args.optional.emplace_back();
                continue;
            }
            std::optional<std::string> w = line.word();
            if (!w) {
                mon.print(std::string(cmd.name) + ": string expected\n");
                return false;
            }
            args.optional.push_back(std::move(*w));
            continue;
        }
        if (p.kind == HmpParam::Size) {
            std::optional<int64_t> size = sizeArgument(line);
            if (!size) {
                mon.print("invalid size\n");
                return false;
            }
            args.sizes.push_back(*size);
            continue;
        }
        std::optional<std::string> w = line.word();
        if (!w) {
            mon.print(std::string(cmd.name) + (p.kind == HmpParam::Device
                                                   ? ": block device name expected\n"
                                                   : ": string expected\n"));
            return false;
        }
        args.strings.push_back(std::move(*w));
    }
    line.skipSpaces();
    if (!line.atEnd()) {
        mon.print(std::string(cmd.name) + ": extraneous characters at the end of line\n");
        return false;
    }
    return true;
}

std::string runHmpLine(QmpContext& ctx, const std::string& text) {
    MonitorText mon;
    HmpLine line(text);
    CommandLookup found = findCommand(line, hmpCommands());
    if (found.blank)
        return {};
    const HmpCommand* cmd = found.command;
    if (!cmd || !cmd->run) {
        mon.print("unknown command: '" + text.substr(0, found.nameEnd) + "'\n");
        return mon.text();
    }
    size_t afterName = line.pos;
    HmpArgs args;
    if (!parseArguments(line, *cmd, mon, args)) {
        size_t end = afterName;
        while (end > 0 && isSpace(text[end - 1]))
            --end;
        mon.print("Try \"help " + text.substr(0, end) + "\" for more information\n");
        return mon.text();
    }
    cmd->run(ctx, mon, args);
    return mon.text();
}

Json humanMonitorCommand(QmpContext& ctx, const Json* arguments) {
    QmpArgs a(arguments);
    std::string commandLine = a.str("command-line");
    std::optional<int64_t> cpuIndex = a.optInt("cpu-index");
    a.finish();
    // e2kvm's machines have one CPU; without a machine there is none.
    if (cpuIndex && (!ctx.machine || *cpuIndex != 0))
        throw QmpError("Parameter 'cpu-index' expects a CPU number");
    return Json(runHmpLine(ctx, commandLine));
}

} // namespace

void registerHmpCommands(QmpContext& ctx) {
    ctx.addCommand({"human-monitor-command", humanMonitorCommand});
}

} // namespace e2kvm::qmp
