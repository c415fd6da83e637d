// e2kvm-io: exercise a disk image with qemu-io's commands and output
// (e2kvm-io [-f FMT] [-r] [-d unmap] [-t CACHE] [-c CMD]... FILE; commands from stdin without -c).
#include "app/ioshell/IoOutput.h"
#include "app/ioshell/IoShell.h"

#include "block/BlockError.h"
#include "block/ImageOpen.h"
#include "block/RawImage.h"

#include <cstdio>
#include <cstring>
#include <getopt.h>
#include <iostream>
#include <string>
#include <unistd.h>
#include <vector>

namespace {

void printHelp() {
    std::printf(
        "Usage: e2kvm-io [OPTIONS]... [-c STRING]... file\n"
        "Reads and writes a disk image with qemu-io's commands (see 'e2kvm-io -c help').\n\n"
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
        "  -U, --force-share    open an image another process holds: QEMU's image locks\n"
        "                       are taken without refusing its writes (needs -r)\n"
        "  -h, --help           display this help and exit\n"
        "  -V, --version        output version information and exit\n");
}

} // namespace

int main(int argc, char** argv) {
    using namespace e2kvm;
    static const option longOptions[] = {
        {"cmd", required_argument, nullptr, 'c'},   {"format", required_argument, nullptr, 'f'},
        {"read-only", no_argument, nullptr, 'r'},   {"discard", required_argument, nullptr, 'd'},
        {"cache", required_argument, nullptr, 't'}, {"nocache", no_argument, nullptr, 'n'},
        {"force-share", no_argument, nullptr, 'U'}, {"copy-on-read", no_argument, nullptr, 'C'},
        {"misalign", no_argument, nullptr, 'm'},    {"native-aio", no_argument, nullptr, 'k'},
        {"aio", required_argument, nullptr, 'i'},   {"help", no_argument, nullptr, 'h'},
        {"version", no_argument, nullptr, 'V'},     {nullptr, 0, nullptr, 0},
    };
    std::vector<std::string> commands;
    block::OpenOptions open;
    open.readOnly = false;
    io::IoShell::Options shellOptions;
    int c;
    while ((c = getopt_long(argc, argv, "c:f:rd:t:nUCmki:hV", longOptions, nullptr)) != -1) {
        switch (c) {
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
                std::fprintf(stderr, "e2kvm-io: Invalid discard option: %s\n", optarg);
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
                std::fprintf(stderr, "e2kvm-io: Invalid cache option: %s\n", optarg);
                return 1;
            }
            break;
        }
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
            std::printf("e2kvm-io version 0.1.0\n");
            return 0;
        default:
            std::fprintf(stderr, "Try 'e2kvm-io --help' for more information.\n");
            return 1;
        }
    }
    if (optind != argc - 1) {
        std::fprintf(stderr, optind >= argc ? "e2kvm-io: no image file given\n"
                                            : "e2kvm-io: too many arguments\n");
        std::fprintf(stderr, "Try 'e2kvm-io --help' for more information.\n");
        return 1;
    }
    const std::string filename = argv[optind];
    std::unique_ptr<block::BlockDriver> image;
    try {
        image = block::openImage(filename, open);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "e2kvm-io: can't open device %s: %s\n", filename.c_str(), e.what());
        return 1;
    }
    // As qemu-io: writes to the first sector of a probed raw image are restricted; say so.
    if (auto* raw = dynamic_cast<block::RawImage*>(image.get());
        raw && raw->formatProbed() && !raw->readOnly())
        std::fputs(block::probedRawWarning(filename).c_str(), stderr);
    io::StdioOutput output(stdout, stderr, "e2kvm-io");
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
                std::printf("e2kvm-io> ");
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
    } catch (const std::exception& e) {
        std::fprintf(stderr, "e2kvm-io: closing %s: %s\n", filename.c_str(), e.what());
        failed = true;
    }
    return failed ? 1 : 0;
}
