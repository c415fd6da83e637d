// e2kvm-backup: the command line of the backup library (app/backup).
#include "app/backup/BackupOperations.h"
#include "app/backup/ImageFileSource.h"
#include "app/backup/NbdExportSource.h"
#include "app/backup/QmpVmSource.h"
#include "nbd/NbdImage.h"

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <getopt.h>
#include <iostream>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

using namespace e2kvm;
using namespace e2kvm::backup;

namespace {

std::atomic<bool> g_cancel{false};
std::string g_prog = "e2kvm-backup";

void onSignal(int) {
    g_cancel = true;
}

const char* kUsage =
    "usage: e2kvm-backup COMMAND ...\n"
    "\n"
    "Restore points of a disk in a directory: one qcow2 file per point (an incremental point\n"
    "has the previous one as its backing file) and a manifest, e2kvm-backup.json.\n"
    "\n"
    "Commands:\n"
    "  full SOURCE DIR        take a full point\n"
    "  inc SOURCE DIR         take an incremental point: only what changed since the last\n"
    "                         point (a full point if that cannot be known, saying why)\n"
    "  list DIR [--output=human|json]\n"
    "  verify DIR [--point N] recompute checksums and check the files; exit 0 only if intact\n"
    "  restore DIR OUT [--point N] [-O raw|qcow2] [--force]\n"
    "                         write the disk as it was at point N (default: the latest)\n"
    "  prune DIR --keep N     merge the oldest points so that N remain\n"
    "\n"
    "SOURCE is one of:\n"
    "  --qmp unix:PATH --device NAME   a disk of a running VM (qemu-system, e2kvm-system or\n"
    "                                  e2kvm --qmp): drive id, qdev id or node name\n"
    "  --nbd URI [--bitmap NAME] [--tls-creds DIR]\n"
    "                                  an NBD export that holds a point in time (qemu-nbd -r -B,\n"
    "                                  e2kvm-nbd -r -B); NAME marks what changed since the last\n"
    "                                  point\n"
    "  IMAGE [-f raw|qcow2]            an image file that nothing writes (an image a VM or\n"
    "                                  another tool writes is refused, as QEMU's image locks\n"
    "                                  say: back a running VM up with --qmp)\n"
    "\n"
    "Options:\n"
    "  -p, --progress         show progress\n"
    "  -c, --connections N    read over up to N connections at once (default 4)\n"
    "  --keep N               (full, inc) prune to N points after the backup\n"
    "  --compress[=zstd|zlib] (full, inc) store the point's data compressed (default zstd);\n"
    "                         any qcow2 reader (qemu-img 5.1 or later for zstd) reads it\n"
    "  -h, --help             this text\n";

[[noreturn]] void usageError(const std::string& message) {
    std::fprintf(stderr, "%s: %s\nTry '%s --help' for more information.\n", g_prog.c_str(),
                 message.c_str(), g_prog.c_str());
    std::exit(1);
}

uint64_t parseNumber(const std::string& text, const char* what) {
    if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos ||
        text.size() > 18)
        usageError(std::string("invalid ") + what + " '" + text + "'");
    return std::stoull(text);
}

std::string humanSize(uint64_t bytes) {
    const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    double v = double(bytes);
    int u = 0;
    while (v >= 1024 && u < 6) {
        v /= 1024;
        ++u;
    }
    char buf[32];
    if (u == 0)
        std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(bytes));
    else
        std::snprintf(buf, sizeof buf, "%.3g %s", v, units[u]);
    return buf;
}

// qemu-img's progress line "    (12.34/100%)\r", redrawn when it moves.
class Progress {
public:
    explicit Progress(bool enabled) : enabled_(enabled) {}
    ProgressSink sink() {
        if (!enabled_)
            return {};
        return [this](uint64_t done, uint64_t total) {
            std::lock_guard lock(mutex_);
            double pct = total ? 100.0 * double(done) / double(total) : 100.0;
            if (pct < last_ + 1 && pct < 100 && drawn_)
                return;
            last_ = pct;
            drawn_ = true;
            std::printf("    (%.2f/100%%)\r", pct);
            std::fflush(stdout);
        };
    }
    void finish() {
        if (enabled_ && drawn_) {
            std::printf("    (100.00/100%%)\n");
            std::fflush(stdout);
        }
    }

private:
    bool enabled_;
    std::mutex mutex_;
    double last_ = -100;
    bool drawn_ = false;
};

struct Args {
    std::string command;
    std::vector<std::string> positional;
    std::string qmp, device, nbd, bitmap, tlsCreds, format, outputFormat = "raw";
    std::string output = "human";
    std::string compression;
    std::optional<uint64_t> point;
    std::optional<unsigned> keep;
    unsigned connections = 4;
    bool progress = false;
    bool force = false;
};

Args parseArgs(int argc, char** argv) {
    Args a;
    enum {
        OptQmp = 256,
        OptDevice,
        OptNbd,
        OptBitmap,
        OptTls,
        OptOutput,
        OptPoint,
        OptKeep,
        OptForce,
        OptCompress
    };
    static const option longOpts[] = {{"qmp", required_argument, nullptr, OptQmp},
                                      {"device", required_argument, nullptr, OptDevice},
                                      {"nbd", required_argument, nullptr, OptNbd},
                                      {"bitmap", required_argument, nullptr, OptBitmap},
                                      {"tls-creds", required_argument, nullptr, OptTls},
                                      {"output", required_argument, nullptr, OptOutput},
                                      {"point", required_argument, nullptr, OptPoint},
                                      {"keep", required_argument, nullptr, OptKeep},
                                      {"force", no_argument, nullptr, OptForce},
                                      {"compress", optional_argument, nullptr, OptCompress},
                                      {"progress", no_argument, nullptr, 'p'},
                                      {"connections", required_argument, nullptr, 'c'},
                                      {"help", no_argument, nullptr, 'h'},
                                      {nullptr, 0, nullptr, 0}};
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":pc:f:O:h", longOpts, nullptr)) != -1) {
        switch (c) {
        case OptQmp:
            a.qmp = optarg;
            break;
        case OptDevice:
            a.device = optarg;
            break;
        case OptNbd:
            a.nbd = optarg;
            break;
        case OptBitmap:
            a.bitmap = optarg;
            break;
        case OptTls:
            a.tlsCreds = optarg;
            break;
        case OptOutput:
            a.output = optarg;
            if (a.output != "human" && a.output != "json")
                usageError("--output must be human or json");
            break;
        case OptPoint:
            a.point = parseNumber(optarg, "point number");
            break;
        case OptKeep: {
            uint64_t k = parseNumber(optarg, "--keep count");
            if (k == 0 || k > 100000)
                usageError("--keep must be between 1 and 100000");
            a.keep = unsigned(k);
            break;
        }
        case OptForce:
            a.force = true;
            break;
        case OptCompress:
            a.compression = optarg ? optarg : "zstd";
            if (a.compression != "zstd" && a.compression != "zlib")
                usageError("--compress takes zstd (the default) or zlib, not '" + a.compression +
                           "'");
            break;
        case 'p':
            a.progress = true;
            break;
        case 'c': {
            uint64_t n = parseNumber(optarg, "connection count");
            if (n == 0 || n > 64)
                usageError("--connections must be between 1 and 64");
            a.connections = unsigned(n);
            break;
        }
        case 'f':
            a.format = optarg;
            break;
        case 'O':
            a.outputFormat = optarg;
            break;
        case 'h':
            std::fputs(kUsage, stdout);
            std::exit(0);
        case ':':
            usageError(std::string("option '") + argv[optind - 1] + "' needs an argument");
        default:
            usageError(std::string("unknown option '") + argv[optind - 1] + "'");
        }
    }
    for (int i = optind; i < argc; ++i)
        a.positional.push_back(argv[i]);
    if (a.positional.empty())
        usageError("no command given");
    a.command = a.positional.front();
    a.positional.erase(a.positional.begin());
    return a;
}

void expectPositional(const Args& a, size_t n, const char* what) {
    if (a.positional.size() != n)
        usageError(a.command + " expects " + what);
}

int runBackup(const Args& a) {
    bool incremental = a.command == "inc";
    std::unique_ptr<BackupSource> source;
    std::string dir;
    int kinds = !a.qmp.empty() + !a.nbd.empty();
    if (kinds > 1)
        usageError("give one source: --qmp or --nbd or an image file");
    if (!a.qmp.empty()) {
        expectPositional(a, 1, "DIR after --qmp");
        if (a.device.empty())
            usageError("--qmp needs --device NAME (a drive id, qdev id or node name)");
        source = std::make_unique<QmpVmSource>(a.qmp, a.device);
        dir = a.positional[0];
    } else if (!a.nbd.empty()) {
        expectPositional(a, 1, "DIR after --nbd");
        source = std::make_unique<NbdExportSource>(a.nbd, a.bitmap, a.tlsCreds);
        dir = a.positional[0];
    } else {
        expectPositional(a, 2, "SOURCE DIR (an image file, or --qmp / --nbd, and a directory)");
        source = std::make_unique<ImageFileSource>(a.positional[0], a.format);
        dir = a.positional[1];
    }
    if (!a.bitmap.empty() && a.nbd.empty())
        usageError("--bitmap goes with --nbd (other sources keep their own checkpoints)");
    BackupRepository repo(dir, BackupRepository::Access::Write);
    Progress progress(a.progress);
    BackupOptions o;
    o.incremental = incremental;
    o.connections = a.connections;
    o.keep = a.keep;
    o.compression = a.compression;
    o.progress = progress.sink();
    o.cancel = &g_cancel;
    o.note = [&](const std::string& text) {
        std::fflush(stdout);
        std::fprintf(stderr, "%s: %s\n", g_prog.c_str(), text.c_str());
    };
    RestorePoint p = takeBackup(repo, *source, o);
    progress.finish();
    std::printf("point %llu (%s): %s of %s changed, %s copied, %s stored in %s\n",
                static_cast<unsigned long long>(p.number), pointTypeName(p.type),
                humanSize(p.changedBytes).c_str(), humanSize(p.virtualSize).c_str(),
                humanSize(p.copiedBytes).c_str(), humanSize(p.storedBytes).c_str(), p.file.c_str());
    if (!p.compression.empty())
        std::printf("point %llu is stored %s-compressed\n",
                    static_cast<unsigned long long>(p.number), p.compression.c_str());
    return 0;
}

int runList(const Args& a) {
    expectPositional(a, 1, "DIR");
    BackupRepository repo(a.positional[0], BackupRepository::Access::Read);
    if (a.output == "json") {
        json::Json arr = json::Json::array();
        for (const RestorePoint& p : repo.points())
            arr.push(toJson(p));
        std::printf("%s\n", arr.serialize().c_str());
        return 0;
    }
    if (repo.points().empty()) {
        std::printf("No restore points in %s\n", repo.directory().c_str());
        return 0;
    }
    std::printf("%-6s %-5s %-21s %-10s %-10s %-10s %-9s %s\n", "POINT", "TYPE", "TIME", "DISK SIZE",
                "CHANGED", "STORED", "VERIFIED", "FILE");
    for (const RestorePoint& p : repo.points())
        std::printf("%-6llu %-5s %-21s %-10s %-10s %-10s %-9s %s\n",
                    static_cast<unsigned long long>(p.number), pointTypeName(p.type),
                    p.time.c_str(), humanSize(p.virtualSize).c_str(),
                    humanSize(p.changedBytes).c_str(), humanSize(p.storedBytes).c_str(),
                    p.verified ? "yes" : (p.verifiedTime.empty() ? "not yet" : "FAILED"),
                    p.file.c_str());
    return 0;
}

int runVerify(const Args& a) {
    expectPositional(a, 1, "DIR");
    BackupRepository repo(a.positional[0], BackupRepository::Access::Write);
    if (repo.points().empty()) {
        std::printf("No restore points in %s\n", repo.directory().c_str());
        return 0;
    }
    Progress progress(a.progress);
    VerifyReport r = verifyPoints(repo, a.point, progress.sink(), &g_cancel);
    progress.finish();
    for (const VerifyIssue& i : r.issues)
        std::fprintf(stderr, "%s: point %llu: %s\n", g_prog.c_str(),
                     static_cast<unsigned long long>(i.point), i.problem.c_str());
    if (!r.ok()) {
        std::printf("%zu of %zu point(s) failed verification; restore from an intact point, "
                    "and take a new full backup\n",
                    r.issues.size(), r.checked.size());
        return 1;
    }
    std::printf("%zu point(s) verified: all intact\n", r.checked.size());
    return 0;
}

int runRestore(const Args& a) {
    expectPositional(a, 2, "DIR OUT");
    BackupRepository repo(a.positional[0], BackupRepository::Access::Read);
    Progress progress(a.progress);
    RestoreOptions o;
    o.point = a.point;
    o.format = a.outputFormat;
    o.overwrite = a.force;
    o.progress = progress.sink();
    o.cancel = &g_cancel;
    RestorePoint p = restorePoint(repo, a.positional[1], o);
    progress.finish();
    std::printf("restored point %llu (%s, %s) to %s\n", static_cast<unsigned long long>(p.number),
                p.time.c_str(), humanSize(p.virtualSize).c_str(), a.positional[1].c_str());
    return 0;
}

int runPrune(const Args& a) {
    expectPositional(a, 1, "DIR");
    if (!a.keep)
        usageError("prune needs --keep N");
    BackupRepository repo(a.positional[0], BackupRepository::Access::Write);
    Progress progress(a.progress);
    PruneReport r = prunePoints(repo, *a.keep, progress.sink(), &g_cancel);
    progress.finish();
    if (r.removed.empty()) {
        std::printf("nothing to prune: %zu point(s), keeping %u\n", repo.points().size(), *a.keep);
        return 0;
    }
    std::printf("removed %zu point(s)", r.removed.size());
    if (r.merged)
        std::printf("; point %llu now holds everything up to it (full)",
                    static_cast<unsigned long long>(*r.merged));
    std::printf("\n");
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    if (argc > 0 && argv[0]) {
        const char* slash = std::strrchr(argv[0], '/');
        g_prog = slash ? slash + 1 : argv[0];
    }
    struct sigaction sa {};
    sa.sa_handler = onSignal;
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    sigaction(SIGHUP, &sa, nullptr);
    std::signal(SIGPIPE, SIG_IGN);
    nbd::registerNbdProtocol();
    Args a = parseArgs(argc, argv);
    try {
        if (a.command == "full" || a.command == "inc")
            return runBackup(a);
        if (a.command == "list")
            return runList(a);
        if (a.command == "verify")
            return runVerify(a);
        if (a.command == "restore")
            return runRestore(a);
        if (a.command == "prune")
            return runPrune(a);
        usageError("unknown command '" + a.command + "'");
    } catch (const std::exception& e) {
        std::fflush(stdout);
        std::fprintf(stderr, "%s: %s%s\n", g_prog.c_str(), e.what(),
                     g_cancel.load() ? " (interrupted: no point was taken or changed)" : "");
        return 1;
    }
}
