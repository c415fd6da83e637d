#pragma once
// SystemOptions: the command line of e2kvm-system in qemu-system's syntax (-m, -drive,
// -blockdev, -device, -bios, -kernel, -display, -serial, -qmp, -qtest, -S, -name, -nographic),
// parsed into plain values.
#include "app/guestdevices/DeviceOption.h"
#include "app/guestdevices/QemuOpts.h"
#include "app/qmp/Json.h"

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace e2kvm::sys {

// A bad command line (QEMU's option syntax and -device are shared with device_add).
using guestdev::DeviceOption;
using guestdev::OptionError;
using guestdev::splitQemuOpts;

struct DriveOption {
    std::string spec;     // the -drive argument as given (for messages)
    std::string file;     // image path
    std::string format;   // "qcow2", "raw" or "" (probe)
    std::string id;       // drive id; default "disk<N>" (N counts attached drives), or
                          // QEMU's name with an explicit if= ("virtio<N>", "ide<B>-hd<U>")
    std::string nodeName; // block node name; default = id
    bool readOnly = false;
    bool attached = true; // false for if=none: the node exists for QMP, the guest sees no disk
    std::string iface;    // if= as given ("virtio", "ide", "scsi"; "" when not given)
    // backing.node-name, backing.backing.node-name, ...: node names of the backing layers
    // (index 0 the image's backing file; "" leaves a layer unnamed)
    std::vector<std::string> backingNodeNames;
    // An empty removable drive (-drive if=ide,media=cdrom without file=): a device with no
    // medium, which query-block lists and the guest does not see.
    bool noMedium = false;
    std::string cache = "writeback"; // none, writeback, unsafe, directsync, writethrough
    std::string aio = "threads";     // threads, native, io_uring
    // The node's discard= and detect-zeroes= (what its NBD exports follow), as -blockdev's.
    bool discardUnmap = false;
    std::string detectZeroes = "off"; // off, on, unmap
    bool forceShare = false;          // read-only only: open although another process writes
    // Options QEMU hands to the drivers (driver=blkdebug,align=..., file.driver=blkverify,...;
    // see DriveDriverOptions), "driver" included: when not empty, the drive is opened from
    // these by the block library (with `file` put where the driver reads it).
    std::map<std::string, std::string> driverOptions;
    // throttling.* (without the prefix): the drive's legacy I/O limits and their group.
    std::map<std::string, std::string> throttling;
};

// Whether `s` is a well-formed QEMU id (of a -drive, -device, -object): a letter first, then
// letters, digits, '-', '.', '_'.
bool validQemuId(const std::string& s);

// -blockdev: the options of a blockdev-add (QEMU's dotted keys or a JSON object).
struct BlockdevOption {
    std::string spec;
    qmp::Json options;
    std::string nodeName;
};

// -object: the arguments of an object-add (throttle-group, iothread, tls-creds-x509, ...).
struct ObjectOption {
    std::string spec;
    qmp::Json arguments;
};

enum class DisplayKind { Sdl, None };

struct DisplayOptions {
    DisplayKind kind = DisplayKind::None;
    bool integerScale = false; // scale by whole factors only (sharp pixels)
    bool windowClose = true;   // closing the window quits (window-close=off ignores it)
    bool showCursor = false;   // host cursor over the guest picture
    bool fullScreen = false;   // -full-screen
};

enum class SerialKind { None, Stdio, File };

struct SerialOptions {
    SerialKind kind = SerialKind::None;
    std::string path;        // SerialKind::File
    bool escapeKeys = false; // -nographic: Ctrl-A x quits, Ctrl-A c is ignored (no monitor)
};

inline constexpr uint64_t kMinRamBytes = 16ull << 20;
inline constexpr uint64_t kMaxRamBytes = 3ull << 30;
inline constexpr size_t kMaxAttachedDrives = 8; // block devices of the e2k-vm board

struct SystemOptions {
    uint64_t ramBytes = 256ull << 20;
    std::vector<DriveOption> drives; // command-line order
    std::vector<BlockdevOption> blockdevs;
    std::vector<ObjectOption> objects; // command-line order
    std::vector<DeviceOption> devices; // block devices and their controllers
    bool formatHelp = false;           // -drive format=help
    bool deviceHelp = false;           // -device help
    std::string qtest;                 // -qtest unix:path=SOCK: a socket to connect to
    std::string bios;                  // "" = the default ROM (unless -kernel is given)
    std::string kernel;
    DisplayOptions display;
    // -g WxH[x32]: the display's preferred mode (the guest is told; it picks its own mode).
    uint32_t displayWidth = 640, displayHeight = 480;
    SerialOptions serial;
    std::vector<std::string> qmp; // -qmp address specs, validated (listening servers)
    bool qmpStdio = false;        // -qmp stdio
    bool hmpStdio = false;        // -monitor stdio: QEMU's human monitor on stdin/stdout
    bool qmpPretty = false;       // -qmp-pretty stdio: QMP on stdio, messages indented
    // Monitors on sockets that another program listens on (-chardev socket,id=X,path=P
    // without server=on, with -mon chardev=X,mode=control): we connect and serve QMP there.
    std::vector<std::string> qmpConnect;
    // Monitors on a connected socket inherited from the parent (-chardev socket,id=X,fd=N with
    // -mon chardev=X,mode=control: iotests' socketpair).
    std::vector<int> qmpFds;
    bool noMachine = false;   // -machine none: QMP and the block layer only, no guest runs
    bool noGuestCode = false; // -accel qtest: the board exists, its CPU executes nothing
    bool machineHelp = false; // -machine help
    bool accelHelp = false;   // -accel help
    bool startPaused = false; // -S
    std::string name;         // -name
    bool help = false;
    bool version = false;
};

// A -chardev socket (the only backend a monitor needs here).
struct Chardev {
    std::string id, path;
    int fd = -1;         // fd=N: a connected socket we inherited (instead of path)
    bool server = false; // server=on: we listen; otherwise we connect to path
};
Chardev parseChardev(const std::string& text);
// One -drive option string (HMP drive_add takes the same): its id and node name are not
// defaulted here. Throws OptionError ("-drive SPEC: why").
DriveOption parseDrive(const std::string& spec);
// -mon chardev=ID,mode=control: a QMP monitor on that chardev (added to o.qmp / o.qmpConnect).
void attachMonitor(const std::string& text, const std::vector<Chardev>& chardevs, SystemOptions& o);
// -accel NAME[:FALLBACK...] (tcg, qtest; help).
void parseAccel(const std::string& text, SystemOptions& o);

// Environment facts the defaults depend on.
struct OptionEnvironment {
    bool haveGraphicalSession = false; // $DISPLAY or $WAYLAND_DISPLAY set
};
OptionEnvironment currentOptionEnvironment();

// Parses argv[1..argc) (argv[0] is not read). Throws OptionError.
SystemOptions parseSystemOptions(int argc, const char* const* argv, const OptionEnvironment& env);
SystemOptions parseSystemOptions(const std::vector<std::string>& args,
                                 const OptionEnvironment& env);

// -m's value: a number of MiB, or a size with a B/K/M/G/T suffix (fractions allowed, "1.5G"),
// optionally as "size=...". Rounded up to 8 KiB. Throws OptionError("invalid size") and
// range errors.
uint64_t parseRamSize(const std::string& text);

// -g's value "WxH" or "WxHx32" (1x1 ... 1920x1080; the board has 32-bit pixels only).
// Throws OptionError.
std::pair<uint32_t, uint32_t> parseResolution(const std::string& text);

std::string usageText();
// `-drive format=help`: the drivers blockdev-add and -drive know, in QEMU's two lines
// (read-write, then read-only).
std::string formatHelpText();

} // namespace e2kvm::sys
