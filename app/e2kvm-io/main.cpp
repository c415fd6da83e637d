// e2kvm-io: exercise a disk image with qemu-io's commands and output
// (e2kvm-io [-f FMT] [-r] [-s] [-d unmap] [-t CACHE] [--image-opts] [-c CMD]... [FILE|NBD-URI];
// commands from stdin without -c; without a file, "open" opens one). Messages name the program
// as it was invoked (argv[0]).
#include "app/ioshell/IoOpen.h"
#include "app/ioshell/IoOutput.h"
#include "app/ioshell/IoShell.h"

#include "block/BlockError.h"
#include "block/ImageOpen.h"
#include "block/ImageOptions.h"
#include "block/OpenFailureText.h"
#include "block/RawImage.h"
#include "block/blkdebug/Blkdebug.h"
#include "block/qcow2/Qcow2CacheFlushError.h"
#include "nbd/NbdImage.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <getopt.h>
#include <iostream>
#include <string>
#include <string_view>
#include <unistd.h>
#include <vector>

namespace {

// The program's name as invoked (qemu-io when installed under that name).
const char* gProgram = "e2kvm-io";

void printHelp() {
    std::printf(
        "Usage: %s [OPTIONS]... [-c STRING]... [file]\n"
        "Reads and writes a disk image with qemu-io's commands (see '%s -c help').\n"
        "The file may be an NBD URI (nbd://, nbd+unix://, nbd:unix:PATH...); without one,\n"
        "the 'open' command opens an image.\n\n"
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
        "      --object DEF     a QEMU object: 'secret' objects are accepted (e2kvm opens no\n"
        "                       encrypted images), other types refused\n"
        "  -C, --copy-on-read   accepted, but reads do not copy backing data into the image\n"
        "  -m, --misalign       accepted (e2kvm's requests need no buffer alignment)\n"
        "  -k, --native-aio, -i, --aio=MODE\n"
        "                       accepted (threads, native, io_uring): one I/O path here\n"
        "  -T, --trace OPTS     accepted and ignored: e2kvm has no QEMU trace events\n"
        "  -h, --help           display this help and exit\n"
        "  -V, --version        output version information and exit\n",
        gProgram, gProgram);
}

// --object TYPE,id=ID,...: e2kvm-io knows secret objects only (passwords for encrypted
// images, which e2kvm does not open); anything else is refused with qemu-io's message.
bool acceptObject(const std::string& definition) {
    auto options = e2kvm::block::parseImageOptions(
        definition.find('=') == std::string::npos || definition.find(',') < definition.find('=')
            ? "qom-type=" + definition
            : definition);
    const std::string type = options.count("qom-type") ? options["qom-type"] : "";
    if (type != "secret") {
        std::fprintf(stderr, "%s: Parameter 'qom-type' does not accept value '%s'\n", gProgram,
                     type.c_str());
        return false;
    }
    if (!options.count("id")) {
        std::fprintf(stderr, "%s: Parameter 'id' is missing\n", gProgram);
        return false;
    }
    return true;
}

} // namespace

int main(int argc, char** argv) {
    using namespace e2kvm;
    if (argc > 0 && argv[0] && *argv[0]) {
        const char* slash = std::strrchr(argv[0], '/');
        gProgram = slash ? slash + 1 : argv[0];
    }
    nbd::registerNbdProtocol();
    enum { OptImageOpts = 256, OptObject };
    static const option longOptions[] = {
        {"image-opts", no_argument, nullptr, OptImageOpts},
        {"object", required_argument, nullptr, OptObject},
        {"snapshot", no_argument, nullptr, 's'},
        {"trace", required_argument, nullptr, 'T'},
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
    io::IoOpenRequest request;
    io::IoShell::Options shellOptions;
    shellOptions.soleUser = true;
    shellOptions.fileCommands = true;
    bool imageOpts = false;
    int c;
    while ((c = getopt_long(argc, argv, "c:f:rd:t:T:nsUCmki:hV", longOptions, nullptr)) != -1) {
        switch (c) {
        case OptImageOpts:
            imageOpts = true;
            break;
        case OptObject:
            try {
                if (!acceptObject(optarg))
                    return 1;
            } catch (const std::exception& e) {
                std::fprintf(stderr, "%s: %s\n", gProgram, e.what());
                return 1;
            }
            break;
        case 'T': // trace events: e2kvm has none to enable
            break;
        case 'c':
            commands.emplace_back(optarg);
            break;
        case 'f':
            request.format = optarg;
            break;
        case 'r':
            request.readOnly = true;
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
            io::CacheMode mode;
            if (!io::parseCacheMode(optarg, mode)) {
                std::fprintf(stderr, "%s: Invalid cache option: %s\n", gProgram, optarg);
                return 1;
            }
            shellOptions.writethrough = mode.writethrough;
            shellOptions.ignoreFlush = mode.ignoreFlush;
            break;
        }
        case 's':
            request.snapshot = true;
            break;
        case 'n': // -t none
            shellOptions.writethrough = false;
            break;
        case 'U':
            request.forceShare = true;
            break;
        case 'C': // copy-on-read: reads do not change what the image holds
        case 'm': // misaligned buffers: e2kvm's requests have no alignment needs
        case 'k':
            break;
        case 'i':
            if (std::strcmp(optarg, "threads") && std::strcmp(optarg, "native") &&
                std::strcmp(optarg, "io_uring")) {
                std::fprintf(stderr, "%s: Invalid aio option: %s\n", gProgram, optarg);
                return 1;
            }
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
    if (argc - optind > 1) {
        std::fprintf(stderr, "%s: too many arguments\n", gProgram);
        std::fprintf(stderr, "Try '%s --help' for more information.\n", gProgram);
        return 1;
    }
    if (imageOpts && !request.format.empty()) {
        std::fprintf(stderr, "%s: --image-opts and -f are mutually exclusive\n", gProgram);
        return 1;
    }
    shellOptions.imageOpts = imageOpts;
    io::StdioOutput output(stdout, stderr, gProgram);
    std::shared_ptr<block::BlockDriver> image;
    std::string format;
    if (optind < argc) {
        const std::string filename = argv[optind];
        try {
            if (imageOpts)
                request.options = block::parseImageOptions(filename);
            else
                request.filename = filename;
            io::IoOpenedImage opened = io::openIoImage(request);
            std::fputs(opened.warning.c_str(), stderr);
            image = std::move(opened.image);
        } catch (const io::IoOpenConflict& e) {
            std::fprintf(stderr, "%s: %s\n", gProgram, e.what());
            return 1;
        } catch (const std::exception& e) {
            if (imageOpts)
                std::fprintf(stderr, "%s: can't open: %s\n", gProgram, e.what());
            else
                std::fprintf(stderr, "%s: can't open device %s: %s\n", gProgram, filename.c_str(),
                             block::openFailureText(filename, e.what()).c_str());
            return 1;
        }
        format = image->formatName();
    }
    io::IoShell shell(std::move(image), shellOptions, output);
    if (optind < argc)
        shell.setOpenRequest(request);
    if (!commands.empty()) {
        for (const auto& command : commands) {
            if (!shell.runLine(command))
                break;
        }
    } else {
        // As qemu-io, the prompt is printed even when the commands do not come from a terminal.
        std::string line;
        for (;;) {
            std::printf("%s> ", gProgram);
            std::fflush(stdout);
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
    } catch (const block::qcow2::Qcow2CacheFlushError& e) {
        // A qcow2 metadata cache that cannot be written back (a refcount block the overlap
        // checks refuse): reported as qemu-io's qcow2 does at close; the exit status stays.
        std::fprintf(stderr, "%s: Failed to flush the %s cache: %s\n", gProgram, e.cache().c_str(),
                     std::strerror(e.errnoValue()));
    } catch (const block::BlkdebugInjectedError& e) {
        // An injected error that fails the flush on close (a blkdebug rule still active):
        // qemu-io's qcow2 reports its two metadata caches (each written back and followed by
        // a flush of the file) and goes on; other formats say nothing. The exit status stays.
        if (format == "qcow2")
            for (const char* cache : {"L2 table", "refcount block"})
                std::fprintf(stderr, "%s: Failed to flush the %s cache: %s\n", gProgram, cache,
                             std::strerror(e.errnoValue()));
    } catch (const std::exception& e) {
        // qemu-io says nothing when closing fails (a flush to an NBD server that went away);
        // installed under its name, neither do we.
        if (std::string_view(gProgram) != "qemu-io") {
            std::fprintf(stderr, "%s: closing the image: %s\n", gProgram, e.what());
            failed = true;
        }
    }
    return failed ? 1 : 0;
}
