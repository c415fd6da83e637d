#include "app/e2kvm-system/SystemOptions.h"

#include "app/vmcore/QemuId.h"
#include "block/OnOffValue.h"

#include "app/e2kvm-system/BlockdevKeyval.h"
#include "app/e2kvm-system/DriveDriverOptions.h"
#include "app/e2kvm-system/ObjectKeyval.h"
#include "app/e2kvm-system/SetOption.h"
#include "app/guestdevices/BlockDeviceModels.h"
#include "app/qmp/BlockdevDriverKeys.h"
#include "app/qmp/QmpServer.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <map>
#include <set>
#include <tuple>

namespace e2kvm::sys {

bool validQemuId(const std::string& s) {
    return vm::wellFormedId(s);
}

namespace {

std::string lower(std::string s) {
    for (char& c : s)
        c = char(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

// QEMU's boolean option values.
bool parseBool(const std::string& where, const std::string& key, const std::string& value) {
    if (auto on = block::onOffValue(lower(value)))
        return *on;
    throw OptionError(where + ": Parameter '" + key + "' expects 'on' or 'off'");
}

// "backing.node-name", "backing.backing.node-name", ...
bool isBackingNodeNameKey(const std::string& key) {
    const std::string tail = "node-name", step = "backing.";
    if (key.size() <= tail.size() || key.compare(key.size() - tail.size(), tail.size(), tail) != 0)
        return false;
    size_t prefix = key.size() - tail.size();
    if (prefix % step.size() != 0)
        return false;
    for (size_t i = 0; i < prefix; i += step.size())
        if (key.compare(i, step.size(), step) != 0)
            return false;
    return true;
}

} // namespace

DriveOption parseDrive(const std::string& spec) {
    const std::string where = "-drive " + spec;
    DriveOption d;
    d.spec = spec;
    std::set<std::string> seen;
    std::vector<std::pair<std::string, std::string>> items;
    try {
        items = splitQemuOpts(spec, "");
    } catch (const OptionError& e) {
        throw OptionError(where + ": " + e.what());
    }
    bool cdrom = false, direct = false;
    std::map<std::string, std::string> driverOptions;
    for (const auto& [key, value] : items) {
        if (!seen.insert(key).second)
            throw OptionError(where + ": Parameter '" + key + "' given twice");
        if (key == "file") {
            if (value.empty())
                throw OptionError(where + ": file= needs a file name");
            d.file = value;
        } else if (key == "format" || key == "driver") {
            // driver= is the -blockdev spelling QEMU's -drive also takes
            if ((key == "driver" && seen.count("format")) ||
                (key == "format" && seen.count("driver")))
                throw OptionError(where + ": Cannot specify both 'driver' and 'format'");
            if (!qmp::knownBlockDriver(value))
                throw OptionError(where + ": Unknown driver '" + value + "'");
            d.format = value;
        } else if (key == "readonly" || key == "read-only") {
            if (seen.count(key == "readonly" ? "read-only" : "readonly"))
                throw OptionError(where + ": 'read-only' and its alias 'readonly' can't be used "
                                          "at the same time");
            d.readOnly = parseBool(where, key, value);
        } else if (key == "if") {
            d.iface = value;
            if (value == "none")
                d.attached = false;
            else if (value != "virtio" && value != "ide" && value != "scsi")
                throw OptionError(where + ": unsupported interface '" + value +
                                  "' (the e2k-vm board has one kind of disk; use if=virtio, "
                                  "ide, scsi or none)");
        } else if (key == "id") {
            if (!validQemuId(value))
                throw OptionError(where + ": Parameter 'id' expects an identifier");
            d.id = value;
        } else if (key == "node-name") {
            if (!validQemuId(value))
                throw OptionError(where + ": Invalid node-name: '" + value + "'");
            d.nodeName = value;
        } else if (isBackingNodeNameKey(key)) {
            // backing.node-name, backing.backing.node-name, ...: names of the backing layers
            size_t depth = (key.size() - 9) / 8;
            if (!validQemuId(value))
                throw OptionError(where + ": Invalid node-name: '" + value + "'");
            if (d.backingNodeNames.size() < depth)
                d.backingNodeNames.resize(depth);
            d.backingNodeNames[depth - 1] = value;
        } else if (key == "media") {
            if (value != "disk" && value != "cdrom")
                throw OptionError(where + ": '" + value + "' invalid media");
            cdrom = value == "cdrom";
        } else if (key == "cache") {
            // QEMU's cache modes: which of cache.writeback / cache.direct / cache.no-flush.
            if (value == "none" || value == "directsync")
                direct = true;
            else if (value != "writeback" && value != "unsafe" && value != "writethrough")
                throw OptionError(where + ": invalid cache option");
            d.cache = value;
        } else if (key == "aio") {
            if (value != "threads" && value != "native" && value != "io_uring")
                throw OptionError(where + ": invalid aio option");
            d.aio = value;
        } else if (key == "discard") {
            if (value != "ignore" && value != "off" && value != "unmap" && value != "on")
                throw OptionError(where + ": Invalid discard option");
            d.discardUnmap = value == "unmap" || value == "on";
        } else if (key == "detect-zeroes") {
            if (value != "off" && value != "on" && value != "unmap")
                throw OptionError(where + ": invalid parameter value: " + value);
            d.detectZeroes = value;
        } else if (key == "force-share") {
            d.forceShare = parseBool(where, key, value);
        } else if (key == "lazy-refcounts") {
            // qcow2's lazy refcount updates: a speed setting; e2kvm writes refcounts as it
            // goes either way (the image stays as consistent as with QEMU's default).
            parseBool(where, key, value);
        } else if (key == "file.locking") {
            // QEMU's image locks: e2kvm always takes them (on and auto alike).
            if (value != "on" && value != "off" && value != "auto")
                throw OptionError(where + ": Parameter 'locking' does not accept value '" + value +
                                  "'");
        } else if (key.rfind("throttling.", 0) == 0) {
            d.throttling[key.substr(11)] = value; // checked when the group is made
        } else {
            driverOptions[key] = value; // the driver's (checked below)
        }
    }
    if (!driverOptions.empty() || (!d.format.empty() && d.format != "qcow2" && d.format != "raw")) {
        if (!d.format.empty())
            driverOptions["driver"] = d.format;
        // Without a format, the keys are checked once the image is open and its format known
        // (as QEMU: a file that cannot be opened is reported first).
        try {
            if (driverOptions.count("driver"))
                checkDriveDriverOptions(driverOptions);
        } catch (const OptionError& e) {
            throw OptionError(where + ": " + e.what());
        }
        d.driverOptions = std::move(driverOptions);
    }
    if (d.forceShare && !d.readOnly)
        throw OptionError(where + ": force-share=on can only be used with read-only images");
    if (d.aio == "native" && !direct)
        throw OptionError(where + ": aio=native was specified, but it requires cache.direct=on, "
                                  "which was not specified.");
    if (cdrom && !d.file.empty() && d.attached)
        throw OptionError(where + ": media 'cdrom' with an image is not supported (the e2k-vm "
                                  "board has disks only; an empty CD-ROM drive, or one no device "
                                  "uses (if=none), is accepted)");
    if (cdrom && !d.file.empty())
        d.readOnly = true; // a CD-ROM's medium is read-only, as in QEMU
    else if (cdrom) {
        d.noMedium = true;
        d.attached = false;
        return d;
    }
    if (d.file.empty() && d.driverOptions.empty())
        throw OptionError(where + ": a drive needs file=IMAGE (empty drives are not supported)");
    return d;
}

namespace {

DisplayOptions parseDisplay(const std::string& spec, DisplayOptions current) {
    const std::string where = "-display " + spec;
    std::vector<std::pair<std::string, std::string>> items;
    try {
        items = splitQemuOpts(spec, "type");
    } catch (const OptionError& e) {
        throw OptionError(where + ": " + e.what());
    }
    if (items.empty() || items[0].first != "type")
        throw OptionError(where + ": Parameter 'type' is missing");
    const std::string& type = items[0].second;
    if (type == "none") {
        if (items.size() > 1)
            throw OptionError(where + ": Invalid parameter '" + items[1].first + "'");
        current.kind = DisplayKind::None;
        return current;
    }
    if (type != "sdl")
        throw OptionError(where + ": Display '" + type + "' is not available");
    current.kind = DisplayKind::Sdl;
    for (size_t i = 1; i < items.size(); ++i) {
        const auto& [key, value] = items[i];
        if (key == "integer-scale")
            current.integerScale = parseBool(where, key, value);
        else if (key == "window-close")
            current.windowClose = parseBool(where, key, value);
        else if (key == "show-cursor")
            current.showCursor = parseBool(where, key, value);
        else if (key == "full-screen")
            current.fullScreen = parseBool(where, key, value);
        else if (key == "gl") {
            if (parseBool(where, key, value))
                throw OptionError(where + ": OpenGL is not supported by the SDL display");
        } else
            throw OptionError(where + ": Invalid parameter '" + key + "'");
    }
    return current;
}

SerialOptions parseSerial(const std::string& spec) {
    SerialOptions s;
    if (spec == "stdio" || spec == "mon:stdio") {
        s.kind = SerialKind::Stdio;
    } else if (spec == "none" || spec == "null") {
        s.kind = SerialKind::None;
    } else if (spec.rfind("file:", 0) == 0) {
        s.kind = SerialKind::File;
        s.path = spec.substr(5);
        if (s.path.empty())
            throw OptionError("-serial " + spec + ": file: needs a path");
    } else {
        std::string backend = spec.substr(0, spec.find(':'));
        throw OptionError("-serial " + spec + ": '" + backend +
                          "' is not a supported serial backend (stdio, file:PATH, none)");
    }
    return s;
}

std::string parseName(const std::string& spec) {
    std::vector<std::pair<std::string, std::string>> items;
    try {
        items = splitQemuOpts(spec, "guest");
    } catch (const OptionError& e) {
        throw OptionError("-name " + spec + ": " + e.what());
    }
    std::string name;
    for (const auto& [key, value] : items) {
        if (key == "guest")
            name = value;
        else if (key != "process" && key != "debug-threads")
            throw OptionError("-name " + spec + ": Invalid parameter '" + key + "'");
    }
    return name;
}

} // namespace

OptionEnvironment currentOptionEnvironment() {
    OptionEnvironment env;
    const char* x = std::getenv("DISPLAY");
    const char* w = std::getenv("WAYLAND_DISPLAY");
    env.haveGraphicalSession = (x && *x) || (w && *w);
    return env;
}

uint64_t parseRamSize(const std::string& spec) {
    std::string text = spec;
    if (text.rfind("size=", 0) == 0)
        text = text.substr(5);
    auto invalid = [&] { return OptionError("-m " + spec + ": invalid size"); };
    if (text.empty() || !std::isdigit(static_cast<unsigned char>(text[0])))
        throw invalid();
    size_t i = 0;
    uint64_t whole = 0;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
        if (whole > (UINT64_MAX - 9) / 10)
            throw invalid();
        whole = whole * 10 + uint64_t(text[i] - '0');
        ++i;
    }
    double fraction = 0;
    if (i < text.size() && text[i] == '.') {
        ++i;
        double scale = 0.1;
        size_t start = i;
        while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
            fraction += double(text[i] - '0') * scale;
            scale /= 10;
            ++i;
        }
        if (i == start)
            throw invalid();
    }
    int shift = 20; // a bare number counts MiB, as qemu-system's -m does
    if (i < text.size()) {
        switch (std::toupper(static_cast<unsigned char>(text[i]))) {
        case 'B':
            shift = 0;
            break;
        case 'K':
            shift = 10;
            break;
        case 'M':
            shift = 20;
            break;
        case 'G':
            shift = 30;
            break;
        case 'T':
            shift = 40;
            break;
        default:
            throw invalid();
        }
        ++i;
    }
    if (i != text.size())
        throw invalid();
    if (shift == 0 && fraction != 0)
        throw invalid();
    // Anything above 2^42 is out of range anyway; stop before the shift overflows.
    if (whole >= (uint64_t(1) << (62 - shift)))
        throw OptionError("-m " + spec + ": RAM size must be between 16 MiB and 3 GiB");
    uint64_t bytes =
        (whole << shift) + uint64_t(std::ceil(fraction * double(uint64_t(1) << shift)));
    bytes = (bytes + 8191) & ~uint64_t(8191);
    if (bytes < kMinRamBytes || bytes > kMaxRamBytes)
        throw OptionError("-m " + spec + ": RAM size must be between 16 MiB and 3 GiB");
    return bytes;
}

namespace {

// "key=value,key=value" after a first field (which `first` receives, may be a key=value too).
std::vector<std::pair<std::string, std::string>> splitOptions(const std::string& text,
                                                              std::string* first) {
    std::vector<std::pair<std::string, std::string>> out;
    size_t start = 0;
    bool isFirst = true;
    for (;;) {
        size_t comma = text.find(',', start);
        std::string part = text.substr(start, comma == std::string::npos ? comma : comma - start);
        size_t eq = part.find('=');
        if (isFirst && first && eq == std::string::npos)
            *first = part;
        else if (eq == std::string::npos)
            out.emplace_back(part, "on");
        else
            out.emplace_back(part.substr(0, eq), part.substr(eq + 1));
        isFirst = false;
        if (comma == std::string::npos)
            break;
        start = comma + 1;
    }
    return out;
}

// The boards -machine help lists: ours, and "none" (QMP and block jobs without a guest).
void parseMachine(const std::string& text, SystemOptions& o) {
    std::string type;
    for (auto& [k, v] : splitOptions(text, &type)) {
        if (k == "type")
            type = v;
        else if (k == "accel")
            parseAccel(v, o);
        else
            throw OptionError("-machine " + text + ": Property '" + type + "-machine." + k +
                              "' not found");
    }
    if (type == "help" || type == "?") {
        o.machineHelp = true;
    } else if (type == "none") {
        o.noMachine = true;
    } else if (!type.empty() && type != "e2k-vm") {
        throw OptionError("-machine " + text +
                          ": unsupported machine type\n"
                          "Use -machine help to list supported machines");
    }
}

} // namespace

void parseAccel(const std::string& text, SystemOptions& o) {
    std::string name;
    for (auto& [k, v] : splitOptions(text, &name))
        if (k == "accel")
            name = v;
    // Colon-separated fallbacks (accel=kvm:tcg): the first we have wins.
    bool found = false;
    for (size_t start = 0;;) {
        size_t colon = name.find(':', start);
        std::string one = name.substr(start, colon == std::string::npos ? colon : colon - start);
        if (one == "help" || one == "?") {
            o.accelHelp = true;
            return;
        }
        // The interpreter is the one accelerator: "tcg", and "qtest" (no guest code runs
        // before QMP says so) are both it.
        if (one == "tcg" || one == "qtest")
            found = true;
        if (one == "qtest") // as QEMU's qtest accelerator: the guest executes nothing
            o.noGuestCode = true;
        if (colon == std::string::npos || found)
            break;
        start = colon + 1;
    }
    if (!found)
        throw OptionError("-accel " + text + ": invalid accelerator " + name);
}

Chardev parseChardev(const std::string& text) {
    Chardev c;
    std::string backend;
    for (auto& [k, v] : splitOptions(text, &backend)) {
        if (k == "id")
            c.id = v;
        else if (k == "path")
            c.path = v;
        else if (k == "fd") {
            if (v.empty() || v.find_first_not_of("0123456789") != std::string::npos || v.size() > 9)
                throw OptionError("-chardev " + text + ": Parameter 'fd' expects a number");
            c.fd = std::stoi(v);
        } else if (k == "server")
            c.server = v == "on";
        else if (k == "wait" || k == "nowait" || k == "telnet" || k == "logfile")
            continue;
        else
            throw OptionError("-chardev " + text + ": Invalid parameter '" + k + "'");
    }
    if (backend != "socket")
        throw OptionError("-chardev " + text + ": e2kvm-system supports 'socket' chardevs only");
    if (c.id.empty())
        throw OptionError("-chardev " + text + ": Parameter 'id' is missing");
    if (c.path.empty() && c.fd < 0)
        throw OptionError("-chardev " + text + ": e2kvm-system needs path= or fd=");
    return c;
}

void attachMonitor(const std::string& text, const std::vector<Chardev>& chardevs,
                   SystemOptions& o) {
    std::string chardev, mode = "readline";
    for (auto& [k, v] : splitOptions(text, nullptr)) {
        if (k == "chardev")
            chardev = v;
        else if (k == "mode")
            mode = v;
        else if (k == "pretty")
            continue;
        else
            throw OptionError("-mon " + text + ": Invalid parameter '" + k + "'");
    }
    if (mode != "control")
        throw OptionError("-mon " + text + ": e2kvm-system has no HMP monitor (mode=control)");
    auto it = std::find_if(chardevs.begin(), chardevs.end(),
                           [&](const Chardev& c) { return c.id == chardev; });
    if (it == chardevs.end())
        throw OptionError("-mon " + text + ": chardev \"" + chardev + "\" not found");
    if (it->fd >= 0)
        o.qmpFds.push_back(it->fd);
    else if (it->server)
        o.qmp.push_back("unix:" + it->path + ",server=on,wait=off");
    else
        o.qmpConnect.push_back(it->path);
}

SystemOptions parseSystemOptions(const std::vector<std::string>& givenArgs,
                                 const OptionEnvironment& env) {
    const std::vector<std::string> args = applySetOptions(givenArgs); // -set (SetOption.cpp)
    SystemOptions o;
    bool displayGiven = false, serialGiven = false, nographic = false;
    std::vector<Chardev> chardevs;
    std::vector<std::string> monitors;
    std::set<std::string> ids, nodeNames;
    size_t attached = 0;

    for (size_t i = 0; i < args.size(); ++i) {
        const std::string& arg = args[i];
        if (arg.empty() || arg[0] != '-') {
            // qemu-system treats a bare file name as the first hard disk.
            DriveOption d = parseDrive("file=" + arg);
            d.spec = arg;
            o.drives.push_back(d);
            continue;
        }
        // Both -opt and --opt, as qemu-system accepts.
        std::string opt = arg.substr(arg.rfind("--", 0) == 0 ? 2 : 1);
        auto value = [&]() -> const std::string& {
            if (i + 1 >= args.size())
                throw OptionError("-" + opt + ": requires an argument");
            return args[++i];
        };
        if (opt == "h" || opt == "help") {
            o.help = true;
        } else if (opt == "version") {
            o.version = true;
        } else if (opt == "m") {
            o.ramBytes = parseRamSize(value());
        } else if (opt == "drive") {
            const std::string& v = value();
            if (v == "format=help" || v == "format=?")
                o.formatHelp = true;
            else
                o.drives.push_back(parseDrive(v));
        } else if (opt == "blockdev") {
            const std::string& v = value();
            BlockdevOption b{v, parseBlockdevArgument(v), {}};
            const qmp::Json* n = b.options.find("node-name");
            if (!n || !n->isString())
                throw OptionError("-blockdev " + v +
                                  ": 'node-name' must be specified for the root node");
            b.nodeName = n->asString();
            o.blockdevs.push_back(std::move(b));
        } else if (opt == "device") {
            const std::string& v = value();
            if (v == "help" || v == "?")
                o.deviceHelp = true;
            else
                o.devices.push_back(guestdev::parseDevice(v));
        } else if (opt == "qtest") {
            const std::string& v = value();
            // unix:path=SOCK or unix:SOCK (QEMU's chardev shorthand); we connect to it.
            std::string path;
            if (v.rfind("unix:path=", 0) == 0)
                path = v.substr(10);
            else if (v.rfind("unix:", 0) == 0)
                path = v.substr(5);
            else
                throw OptionError("-qtest " + v +
                                  ": e2kvm-system takes unix:path=SOCK or unix:SOCK");
            path = path.substr(0, path.find(','));
            if (path.empty())
                throw OptionError("-qtest " + v + ": needs a socket path");
            o.qtest = path;
        } else if (opt == "bios") {
            o.bios = value();
            if (o.bios.empty())
                throw OptionError("-bios: needs a file name");
        } else if (opt == "kernel") {
            o.kernel = value();
            if (o.kernel.empty())
                throw OptionError("-kernel: needs a file name");
        } else if (opt == "display") {
            o.display = parseDisplay(value(), o.display);
            displayGiven = true;
        } else if (opt == "g") {
            std::tie(o.displayWidth, o.displayHeight) = parseResolution(value());
        } else if (opt == "full-screen") {
            o.display.fullScreen = true;
        } else if (opt == "serial") {
            const std::string& v = value();
            if (serialGiven)
                throw OptionError("-serial " + v + ": the e2k-vm board has one serial port");
            o.serial = parseSerial(v);
            serialGiven = true;
        } else if ((opt == "qmp" || opt == "qmp-pretty") && i + 1 < args.size() &&
                   args[i + 1] == "stdio") {
            ++i;
            if (o.qmpStdio || o.hmpStdio)
                throw OptionError("-" + opt +
                                  " stdio: cannot use stdio by multiple character devices");
            o.qmpStdio = true;
            o.qmpPretty = opt == "qmp-pretty";
        } else if (opt == "qmp-pretty") {
            const std::string& v = value();
            throw OptionError("-qmp-pretty " + v + ": e2kvm-system takes -qmp-pretty stdio only");
        } else if (opt == "machine" || opt == "M") {
            parseMachine(value(), o);
        } else if (opt == "accel") {
            parseAccel(value(), o);
        } else if (opt == "nodefaults") {
            // No default devices: the e2k-vm board has none besides what is configured.
        } else if (opt == "vga") {
            const std::string& v = value();
            if (v != "none")
                throw OptionError("-vga " + v + ": the e2k-vm board has no VGA (only 'none')");
        } else if (opt == "monitor") {
            const std::string& v = value();
            if (v == "stdio") {
                if (o.qmpStdio || o.hmpStdio)
                    throw OptionError(
                        "-monitor stdio: cannot use stdio by multiple character devices");
                o.hmpStdio = true;
            } else if (v != "none") {
                throw OptionError("-monitor " + v +
                                  ": e2kvm-system has its human monitor only on stdio (use "
                                  "-qmp, or QMP's human-monitor-command)");
            }
        } else if (opt == "object") {
            // Made by QMP's object-add before the drives are opened (as QEMU's -object).
            const std::string& v = value();
            try {
                o.objects.push_back({v, parseObjectArgument(v)});
            } catch (const OptionError& e) {
                throw OptionError("-object " + v + ": " + e.what());
            }
        } else if (opt == "chardev") {
            chardevs.push_back(parseChardev(value()));
        } else if (opt == "mon") {
            monitors.push_back(value());
        } else if (opt == "qmp") {
            const std::string& v = value();
            try {
                qmp::parseQmpAddress(v);
            } catch (const std::exception& e) {
                throw OptionError("-qmp " + v + ": " + e.what());
            }
            o.qmp.push_back(v);
        } else if (opt == "S") {
            o.startPaused = true;
        } else if (opt == "name") {
            o.name = parseName(value());
        } else if (opt == "nographic") {
            nographic = true;
        } else {
            throw OptionError("-" + opt + ": invalid option");
        }
    }

    for (const std::string& m : monitors)
        attachMonitor(m, chardevs, o);
    if ((o.qmpStdio || o.hmpStdio) && serialGiven && o.serial.kind == SerialKind::Stdio)
        throw OptionError("-serial stdio: cannot use stdio by multiple character devices");
    if (nographic) {
        if (displayGiven && o.display.kind != DisplayKind::None)
            throw OptionError("-nographic cannot be used with -display");
        o.display.kind = DisplayKind::None;
        if (!serialGiven && !o.qmpStdio && !o.hmpStdio)
            o.serial.kind = SerialKind::Stdio;
        o.serial.escapeKeys = o.serial.kind == SerialKind::Stdio;
    } else if (!displayGiven) {
        o.display.kind = env.haveGraphicalSession ? DisplayKind::Sdl : DisplayKind::None;
    }

    size_t ideUnit = 0;
    std::map<std::string, size_t> ifaceIndex;
    for (DriveOption& d : o.drives) {
        if (d.noMedium && d.id.empty()) // QEMU's name for an IDE drive: ide<bus>-cd<unit>
            d.id = "ide" + std::to_string(ideUnit / 2) + "-cd" + std::to_string(ideUnit % 2);
        if (d.noMedium)
            ++ideUnit;
        if (d.attached) {
            // QEMU names a drive after its interface and index (QEMU's iotests address
            // `-drive file=X,if=virtio` as "virtio0"); without if= ours is "disk<N>".
            size_t& index = ifaceIndex[d.iface];
            if (d.id.empty() && d.iface == "virtio")
                d.id = "virtio" + std::to_string(index);
            else if (d.id.empty() && (d.iface == "ide" || d.iface == "scsi"))
                d.id = d.iface + std::to_string(index / (d.iface == "ide" ? 2 : 7)) + "-hd" +
                       std::to_string(index % (d.iface == "ide" ? 2 : 7));
            else if (d.id.empty())
                d.id = "disk" + std::to_string(attached);
            ++index;
            ++attached;
        } else if (d.id.empty()) {
            d.id = "none" + std::to_string(ifaceIndex["none"]++); // QEMU's name
        }
        if (!ids.insert(d.id).second)
            throw OptionError("-drive " + d.spec + ": Duplicate ID '" + d.id + "' for drive");
        if (d.noMedium)
            continue; // no node
        // Without node-name= the node's name is generated ("#block123"), as QEMU's: QMP
        // finds it by the drive's id.
        if (!d.nodeName.empty() && !nodeNames.insert(d.nodeName).second)
            throw OptionError("-drive " + d.spec + ": Duplicate nodes with node-name='" +
                              d.nodeName + "'");
    }
    for (const BlockdevOption& b : o.blockdevs)
        if (!nodeNames.insert(b.nodeName).second)
            throw OptionError("-blockdev " + b.spec + ": Duplicate nodes with node-name='" +
                              b.nodeName + "'");
    for (const DeviceOption& d : o.devices) {
        if (!d.id.empty() && !ids.insert(d.id).second)
            throw OptionError("-device " + d.spec + ": Duplicate device ID '" + d.id + "'");
        if (d.drive.empty())
            continue;
        // The drive must be a -drive id (if=none) or a node name, not used by another device.
        auto drive = std::find_if(o.drives.begin(), o.drives.end(),
                                  [&](const DriveOption& x) { return x.id == d.drive; });
        bool known = (drive != o.drives.end() && !drive->noMedium) ||
                     std::any_of(o.blockdevs.begin(), o.blockdevs.end(),
                                 [&](const BlockdevOption& b) { return b.nodeName == d.drive; }) ||
                     std::any_of(o.drives.begin(), o.drives.end(), [&](const DriveOption& x) {
                         return !x.noMedium && x.nodeName == d.drive;
                     });
        std::string qdevModel = d.driver == "virtio-blk-pci" ? "virtio-blk-device" : d.driver;
        if (!known)
            throw OptionError("-device " + d.spec + ": Property '" + qdevModel +
                              ".drive' can't find value '" + d.drive + "'");
        if (drive != o.drives.end() && drive->attached)
            throw OptionError("-device " + d.spec + ": Drive '" + d.drive +
                              "' is already in use by another device");
        ++attached;
    }
    if (attached > kMaxAttachedDrives)
        throw OptionError("-drive " + o.drives.back().spec + ": too many drives (the e2k-vm " +
                          "board has " + std::to_string(kMaxAttachedDrives) + " block devices)");
    return o;
}

std::pair<uint32_t, uint32_t> parseResolution(const std::string& text) {
    std::vector<std::string> pieces;
    for (size_t pos = 0;;) {
        size_t end = text.find('x', pos);
        pieces.push_back(
            text.substr(pos, end == std::string::npos ? std::string::npos : end - pos));
        if (end == std::string::npos)
            break;
        pos = end + 1;
    }
    bool wellFormed = pieces.size() == 2 || pieces.size() == 3;
    for (const std::string& p : pieces)
        wellFormed = wellFormed && !p.empty() && p.size() <= 5 &&
                     p.find_first_not_of("0123456789") == std::string::npos;
    if (!wellFormed)
        throw OptionError("-g " + text + ": expected WIDTHxHEIGHT, e.g. 1024x768");
    if (pieces.size() == 3 && std::stoul(pieces[2]) != 32)
        throw OptionError("-g " + text + ": the e2k-vm display has 32 bits per pixel only");
    auto w = uint32_t(std::stoul(pieces[0])), h = uint32_t(std::stoul(pieces[1]));
    if (w < 1 || w > 1920 || h < 1 || h > 1080)
        throw OptionError("-g " + text + ": the display size must be between 1x1 and 1920x1080");
    return {w, h};
}

SystemOptions parseSystemOptions(int argc, const char* const* argv, const OptionEnvironment& env) {
    std::vector<std::string> args;
    for (int i = 1; i < argc; ++i)
        args.emplace_back(argv[i]);
    return parseSystemOptions(args, env);
}

std::string formatHelpText() {
    const std::string drivers = qmp::blockDriverNames();
    return "Supported formats: " + drivers + "\nSupported formats (read-only): " + drivers + "\n";
}

std::string usageText() {
    return "Usage: e2kvm-system [options] [disk_image]\n"
           "Run an e2k-vm virtual machine (qemu-system compatible options).\n\n"
           "  -m SIZE                RAM size: MiB, or with a B/K/M/G suffix (16M..3G, "
           "default 256M)\n"
           "  -drive file=F[,format=qcow2|raw][,readonly=on][,if=virtio|none][,id=ID]"
           "[,node-name=N]\n"
           "                         a disk (repeatable; up to 8 attached); if=none only "
           "opens the\n"
           "                         image as a block node for QMP\n"
           "  -drive if=ide,media=cdrom  an empty CD-ROM drive (listed by query-block)\n"
           "  -drive if=none,media=cdrom,file=IMAGE  a read-only removable drive (eject)\n"
           "  -blockdev OPTIONS      a block node as blockdev-add makes it (dotted keys or "
           "JSON)\n"
           "  -device virtio-blk|scsi-hd|ide-hd,drive=X[,id=ID]\n"
           "                         the board's disk on node/drive X (-device help lists "
           "models)\n"
           "  -qtest unix:path=SOCK  answer the qtest protocol on a socket we connect to\n"
           "  -bios ROM              boot ROM image (default: the built demo ROM)\n"
           "  -kernel ELF            load a static E2K ELF into RAM and start it directly\n"
           "  -display sdl[,integer-scale=on][,window-close=off][,show-cursor=on]"
           "[,full-screen=on]\n"
           "  -display none          no window (default without $DISPLAY/$WAYLAND_DISPLAY)\n"
           "  -full-screen           start the window in full screen\n"
           "  -g WxH                 the display's preferred size, told to the guest "
           "(default 640x480)\n"
           "  -serial stdio|file:PATH|none\n"
           "                         where the serial port goes (default none)\n"
           "  -qmp unix:PATH,server=on,wait=off\n"
           "                         QMP monitor (repeatable; also tcp:HOST:PORT,...)\n"
           "  -qmp stdio             QMP on standard input and output\n"
           "  -chardev socket,id=ID,path=P[,server=on,wait=off] -mon chardev=ID,mode=control\n"
           "                         QMP on a socket we listen on (server=on) or connect to\n"
           "  -machine e2k-vm|none|help\n"
           "                         the board (none: QMP and block jobs only, no guest)\n"
           "  -accel tcg|qtest|help  qtest: the CPU executes nothing (block-layer tests)\n"
           "  -nodefaults, -vga none, -monitor none, -object iothread,id=ID\n"
           "                         accepted as qemu-system does (nothing to change here)\n"
           "  -S                     do not start the CPU (QMP 'cont' starts it)\n"
           "  -name NAME             VM name (window title, QMP query-name)\n"
           "  -nographic             -display none -serial stdio; Ctrl-A x quits\n"
           "  -h, --help             this help\n"
           "  --version              version\n\n"
           "In the window: Ctrl+Alt+F full screen, Ctrl+Alt+G grab/release keyboard and "
           "mouse.\n";
}

} // namespace e2kvm::sys
