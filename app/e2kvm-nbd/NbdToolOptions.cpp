#include "NbdToolOptions.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <getopt.h>
#include <stdexcept>

namespace e2kvm::app {

namespace {

void usage() {
    std::printf("Usage: e2kvm-nbd [OPTIONS] FILE\n"
                "       e2kvm-nbd -L [OPTIONS]\n"
                "Serve a disk image over NBD (qemu-nbd compatible options).\n\n"
                "  -r, --read-only           export read-only\n"
                "  -f, --format=FMT          image format (raw, qcow2); probed if absent\n"
                "  -x, --export-name=NAME    export name (default \"\")\n"
                "  -D, --description=TEXT    export description\n"
                "  -B, --bitmap=NAME         also export dirty bitmap NAME (repeatable)\n"
                "  -A, --allocation-depth    export qemu:allocation-depth\n"
                "  -k, --socket=PATH         listen on a Unix socket\n"
                "  -b, --bind=ADDR           listen address (default 127.0.0.1)\n"
                "  -p, --port=PORT           TCP port (default 10809)\n"
                "  -t, --persistent          do not exit when the last client disconnects\n"
                "  -e, --shared=NUM          clients allowed at once (default 1, 0 = unlimited)\n"
                "      --fork                fork into the background once ready\n"
                "      --pid-file=PATH       write the process id to PATH\n"
                "  -L, --list                list the exports of a server (client mode)\n"
                "      --tls-creds=DIR       X.509 credentials directory (server-cert.pem,\n"
                "                            server-key.pem, ca-cert.pem)\n"
                "      --tls-mode=MODE       off, allowed or required (default: required\n"
                "                            with --tls-creds)\n"
                "      --tls-verify-peer     require client certificates signed by ca-cert.pem\n"
                "  -v, --verbose             log connections and failed requests to stderr\n"
                "  -h, --help                this help\n"
                "  -V, --version             version\n");
}

unsigned long parseNumber(const char* text, const char* what, unsigned long max) {
    char* end = nullptr;
    errno = 0;
    unsigned long v = std::strtoul(text, &end, 10);
    if (!*text || *end || errno || v > max || text[0] == '-')
        throw std::runtime_error(std::string("Invalid ") + what + " '" + text + "'");
    return v;
}

} // namespace

NbdToolOptions parseNbdToolOptions(int argc, char** argv) {
    enum { OptFork = 256, OptPidFile, OptTlsCreds, OptTlsMode, OptTlsVerify };
    static const option longOpts[] = {
        {"read-only", no_argument, nullptr, 'r'},
        {"format", required_argument, nullptr, 'f'},
        {"export-name", required_argument, nullptr, 'x'},
        {"description", required_argument, nullptr, 'D'},
        {"bitmap", required_argument, nullptr, 'B'},
        {"allocation-depth", no_argument, nullptr, 'A'},
        {"socket", required_argument, nullptr, 'k'},
        {"bind", required_argument, nullptr, 'b'},
        {"port", required_argument, nullptr, 'p'},
        {"persistent", no_argument, nullptr, 't'},
        {"shared", required_argument, nullptr, 'e'},
        {"fork", no_argument, nullptr, OptFork},
        {"pid-file", required_argument, nullptr, OptPidFile},
        {"list", no_argument, nullptr, 'L'},
        {"tls-creds", required_argument, nullptr, OptTlsCreds},
        {"tls-mode", required_argument, nullptr, OptTlsMode},
        {"tls-verify-peer", no_argument, nullptr, OptTlsVerify},
        {"verbose", no_argument, nullptr, 'v'},
        {"help", no_argument, nullptr, 'h'},
        {"version", no_argument, nullptr, 'V'},
        {nullptr, 0, nullptr, 0},
    };
    NbdToolOptions o;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "+:rf:x:D:B:Ak:b:p:te:LvhV", longOpts, nullptr)) != -1) {
        switch (c) {
        case 'r':
            o.readOnly = true;
            break;
        case 'f':
            o.format = optarg;
            break;
        case 'x':
            o.exportName = optarg;
            o.exportNameGiven = true;
            break;
        case 'D':
            o.description = optarg;
            break;
        case 'B':
            o.bitmaps.push_back(optarg);
            break;
        case 'A':
            o.allocationDepth = true;
            break;
        case 'k':
            o.socketPath = optarg;
            break;
        case 'b':
            o.bindAddress = optarg;
            break;
        case 'p':
            o.port = uint16_t(parseNumber(optarg, "port", 65535));
            break;
        case 't':
            o.persistent = true;
            break;
        case 'e':
            o.shared = unsigned(parseNumber(optarg, "shared", 1u << 20));
            break;
        case OptFork:
            o.fork = true;
            break;
        case OptPidFile:
            o.pidFile = optarg;
            break;
        case 'L':
            o.list = true;
            break;
        case OptTlsCreds:
            o.tlsCreds = optarg;
            break;
        case OptTlsMode: {
            std::string m = optarg;
            o.tlsModeGiven = true;
            if (m == "off")
                o.tlsMode = nbd::TlsMode::Off;
            else if (m == "allowed")
                o.tlsMode = nbd::TlsMode::Allowed;
            else if (m == "required")
                o.tlsMode = nbd::TlsMode::Required;
            else
                throw std::runtime_error("Invalid --tls-mode '" + m +
                                         "' (expected off, allowed or required)");
            break;
        }
        case OptTlsVerify:
            o.tlsVerifyPeer = true;
            break;
        case 'v':
            o.verbose = true;
            break;
        case 'h':
            usage();
            std::exit(0);
        case 'V':
            std::printf("e2kvm-nbd 0.1.0\n");
            std::exit(0);
        case ':':
            throw std::runtime_error(std::string("option '") + argv[optind - 1] +
                                     "' requires an argument");
        default:
            throw std::runtime_error(std::string("invalid option '") + argv[optind - 1] + "'");
        }
    }
    if (!o.tlsCreds.empty() && !o.tlsModeGiven)
        o.tlsMode = nbd::TlsMode::Required;
    if (o.tlsMode != nbd::TlsMode::Off && o.tlsCreds.empty())
        throw std::runtime_error("--tls-mode needs --tls-creds");
    if (o.list) {
        if (optind < argc)
            o.file = argv[optind++];
    } else {
        if (optind >= argc)
            throw std::runtime_error("Expected one argument (filename), try 'e2kvm-nbd --help'");
        o.file = argv[optind++];
    }
    if (optind < argc)
        throw std::runtime_error(std::string("Unexpected argument '") + argv[optind] + "'");
    if (!o.socketPath.empty() && !o.bindAddress.empty())
        throw std::runtime_error("--bind and --socket are mutually exclusive");
    return o;
}

} // namespace e2kvm::app
