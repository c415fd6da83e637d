// e2kvm-io: exercise a disk image with qemu-io's commands and output
// (e2kvm-io [-f FMT] [-r] [-d unmap] [-t CACHE] [--image-opts] [-c CMD]... FILE|NBD-URI;
// commands from stdin without -c). Messages name the program as it was invoked (argv[0]).
#include "app/ioshell/IoOutput.h"
#include "app/ioshell/IoShell.h"

#include "block/BlockError.h"
#include "block/ImageOpen.h"
#include "block/ImageOptions.h"
#include "block/RawImage.h"
#include "block/blkdebug/Blkdebug.h"
#include "nbd/NbdImage.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <getopt.h>
#include <iostream>
#include <string>
#include <unistd.h>
#include <vector>

namespace {

// The program's name as invoked (qemu-io when installed under that name).
const char* gProgram = "e2kvm-io";

void printHelp() {
    std::printf(
        "Usage: %s [OPTIONS]... [-c STRING]... file\n"
        "Reads and writes a disk image with qemu-io's commands (see '%s -c help').\n"
        "The file may be an NBD URI (nbd://, nbd+unix://, nbd:unix:PATH...).\n\n"
        "  -c, --cmd STRING     run this command (may be repeated); without -c, commands\n"
        "                       are read from standard input, one per line\n"
        "  -f, --format FMT     image format (raw, qcow2); probed when not given\n"
        "  -r, --read-only      open the image read-only\n"
        "  -d, --discard=MODE   'unmap' (or 'on', the default): discard requests deallocate;\n"
        "                       'ignore' (or 'off'): they are accepted and ignored\n"
        "  -t, --cache=MODE     writethrough (default; every write is flushed), directsync,\n"
        "                       writeback, none (no flush per write), unsafe (no flushes:\n"
        "                       after a power cut, written data may be lost; the image is\n"
        "                       still written in crash-safe order)\n"
        "  -n, --nocache        same as -t none\n"
        "  -s, --snapshot       writes go to a temporary overlay, the image is left as it is\n"
        "  -U, --force-share    open an image another process holds: QEMU's image locks\n"
        "                       are taken without refusing its writes (needs -r)\n"
        "      --image-opts     the file is QEMU's option string (driver=qcow2,file.filename=F\n"
        "                       or driver=nbd,server.type=unix,server.path=S,export=E)\n"
        "  -h, --help           display this help and exit\n"
        "  -V, --version        output version information and exit\n",
        gProgram, gProgram);
}

// -s: the image opened read-only below a temporary qcow2 overlay (deleted at once, so nothing
// is left behind) that takes the writes, as qemu-io's snapshot mode does.
std::unique_ptr<e2kvm::block::BlockDriver>
openSnapshotOverlay(std::unique_ptr<e2kvm::block::BlockDriver> base) {
    using namespace e2kvm;
    const char* dir = std::getenv("TMPDIR");
    std::string path = std::string(dir && *dir ? dir : "/var/tmp") + "/e2kvm-io-snapshot.XXXXXX";
    int fd = ::mkstemp(path.data());
    if (fd < 0)
        block::throwError(errno, path, "Could not create the temporary overlay");
    ::close(fd);
    try {
        block::CreateOptions create;
        create.format = "qcow2";
        create.size = base->size();
        create.sizeGiven = true;
        create.backingFile = base->filename();
        create.backingFormat = base->formatName();
        block::createImage(path, create);
        block::OpenOptions open;
        open.format = "qcow2";
        open.readOnly = false;
        open.backingNode = std::shared_ptr<block::BlockDriver>(std::move(base));
        auto overlay = block::openImage(path, std::move(open));
        ::unlink(path.c_str());
        return overlay;
    } catch (...) {
        ::unlink(path.c_str());
        throw;
    }
}

} // namespace

int main(int argc, char** argv) {
    using namespace e2kvm;
    if (argc > 0 && argv[0] && *argv[0]) {
        const char* slash = std::strrchr(argv[0], '/');
        gProgram = slash ? slash + 1 : argv[0];
    }
    nbd::registerNbdProtocol();
    enum { OptImageOpts = 256 };
    static const option longOptions[] = {
        {"image-opts", no_argument, nullptr, OptImageOpts},
        {"cmd", required_argument, nullptr, 'c'},
        {"format", required_argument, nullptr, 'f'},
        {"read-only", no_argument, nullptr, 'r'},
        {"discard", required_argument, nullptr, 'd'},
        {"cache", required_argument, nullptr, 't'},
        {"nocache", no_argument, nullptr, 'n'},
        {"force-share", no_argument, nullptr, 'U'},
        {"copy-on-read", no_argument, nullptr, 'C'},
        {"misalign", no_argument, nullptr, 'm'},
        {"native-aio", no_argument, nullptr, 'k'},
        {"aio", required_argument, nullptr, 'i'},
        {"help", no_argument, nullptr, 'h'},
        {"version", no_argument, nullptr, 'V'},
        {nullptr, 0, nullptr, 0},
    };
    std::vector<std::string> commands;
    block::OpenOptions open;
    open.readOnly = false;
    io::IoShell::Options shellOptions;
    shellOptions.soleUser = true;
    bool imageOpts = false, snapshot = false;
    int c;
    while ((c = getopt_long(argc, argv, "c:f:rd:t:nsUCmki:hV", longOptions, nullptr)) != -1) {
        switch (c) {
        case OptImageOpts:
            imageOpts = true;
            break;
        case 'c':
            commands.emplace_back(optarg);
            break;
        case 'f':
            open.format = optarg;
            break;
        case 'r':
            open.readOnly = true;
            break;
        case 'd':
            if (!std::strcmp(optarg, "unmap") || !std::strcmp(optarg, "on")) {
                shellOptions.discardUnmap = true;
            } else if (!std::strcmp(optarg, "ignore") || !std::strcmp(optarg, "off")) {
                shellOptions.discardUnmap = false;
            } else {
                std::fprintf(stderr, "%s: Invalid discard option: %s\n", gProgram, optarg);
                return 1;
            }
            break;
        case 't': {
            // QEMU's cache modes: which ones flush every write, which ignore flushes.
            std::string mode = optarg;
            if (mode == "writethrough" || mode == "directsync") {
                shellOptions.writethrough = true;
                shellOptions.ignoreFlush = false;
            } else if (mode == "writeback" || mode == "none") {
                shellOptions.writethrough = false;
                shellOptions.ignoreFlush = false;
            } else if (mode == "unsafe") {
                shellOptions.writethrough = false;
                shellOptions.ignoreFlush = true;
            } else {
                std::fprintf(stderr, "%s: Invalid cache option: %s\n", gProgram, optarg);
                return 1;
            }
            break;
        }
        case 's':
            snapshot = true;
            break;
        case 'n': // -t none
            shellOptions.writethrough = false;
            break;
        case 'U':
            open.forceShare = true;
            break;
        case 'C':
        case 'm':
        case 'k':
        case 'i':
            break;
        case 'h':
            printHelp();
            return 0;
        case 'V':
            std::printf("%s version 0.1.0 (qemu-io 7.2 compatible)\n", gProgram);
            return 0;
        default:
            std::fprintf(stderr, "Try '%s --help' for more information.\n", gProgram);
            return 1;
        }
    }
    if (optind != argc - 1) {
        std::fprintf(stderr,
                     optind >= argc ? "%s: no image file given\n" : "%s: too many arguments\n",
                     gProgram);
        std::fprintf(stderr, "Try '%s --help' for more information.\n", gProgram);
        return 1;
    }
    const std::string filename = argv[optind];
    std::unique_ptr<block::BlockDriver> image;
    try {
        if (snapshot)
            open.readOnly = true;
        image = imageOpts ? block::openImageFromOptions(block::parseImageOptions(filename), open)
                          : block::openImage(filename, open);
        if (snapshot)
            image = openSnapshotOverlay(std::move(image));
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s: can't open device %s: %s\n", gProgram, filename.c_str(),
                     e.what());
        return 1;
    }
    // As qemu-io: writes to the first sector of a probed raw image are restricted; say so.
    if (auto* raw = dynamic_cast<block::RawImage*>(image.get());
        raw && raw->formatProbed() && !raw->readOnly() && !snapshot)
        std::fputs(block::probedRawWarning(filename).c_str(), stderr);
    io::StdioOutput output(stdout, stderr, gProgram);
    const std::string format = image->formatName();
    io::IoShell shell(std::move(image), shellOptions, output);
    if (!commands.empty()) {
        for (const auto& command : commands) {
            if (!shell.runLine(command))
                break;
        }
    } else {
        const bool interactive = isatty(STDIN_FILENO);
        std::string line;
        for (;;) {
            if (interactive) {
                std::printf("%s> ", gProgram);
                std::fflush(stdout);
            }
            if (!std::getline(std::cin, line))
                break;
            if (!shell.runLine(line))
                break;
        }
    }
    bool failed = shell.anyFailed();
    // Closing the image (destructor) writes back caches and clears the dirty state.
    try {
        shell.close();
    } catch (const block::BlkdebugInjectedError& e) {
        // An injected error that fails the flush on close (a blkdebug rule still active):
        // qemu-io's qcow2 reports its two metadata caches (each written back and followed by
        // a flush of the file) and goes on; other formats say nothing. The exit status stays.
        if (format == "qcow2")
            for (const char* cache : {"L2 table", "refcount block"})
                std::fprintf(stderr, "%s: Failed to flush the %s cache: %s\n", gProgram, cache,
                             std::strerror(e.errnoValue()));
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s: closing %s: %s\n", gProgram, filename.c_str(), e.what());
        failed = true;
    }
    return failed ? 1 : 0;
}
