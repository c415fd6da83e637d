#include "NbdToolOptions.h"
#include "block/OnOffValue.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <getopt.h>
#include <map>
#include <stdexcept>
#include <vector>

namespace e2kvm::app {

namespace {

const char* gToolName = "e2kvm-nbd";

void usage() {
    std::printf("Usage: %s [OPTIONS] FILE\n"
                "       %s -L [OPTIONS]\n"
                "Serve a disk image over NBD (qemu-nbd compatible options).\n\n"
                "  -r, --read-only           export read-only\n"
                "  -l, --load-snapshot=SNAPSHOT\n"
                "                            export an internal snapshot (read-only):\n"
                "                            snapshot.id=ID,snapshot.name=NAME or ID_OR_NAME\n"
                "  -f, --format=FMT          image format (raw, qcow2); probed if absent\n"
                "  -o, --offset=OFFSET       export the image from byte OFFSET on\n"
                "  -x, --export-name=NAME    export name (default \"\")\n"
                "  -D, --description=TEXT    export description\n"
                "  -B, --bitmap=NAME         also export dirty bitmap NAME (repeatable)\n"
                "  -A, --allocation-depth    export qemu:allocation-depth\n"
                "      --discard=MODE        ignore (default: TRIM does nothing) or unmap\n"
                "      --detect-zeroes=MODE  off (default), on or unmap: all-zero writes\n"
                "                            become zero writes\n"
                "  -k, --socket=PATH         listen on a Unix socket\n"
                "  -b, --bind=ADDR           listen address (default 127.0.0.1)\n"
                "  -p, --port=PORT           TCP port (default 10809)\n"
                "  -t, --persistent          do not exit when the last client disconnects\n"
                "  -e, --shared=NUM          clients allowed at once (default 1, 0 = unlimited)\n"
                "      --fork                fork into the background once ready\n"
                "      --pid-file=PATH       write the process id to PATH\n"
                "  -L, --list                list the exports of a server (client mode)\n"
                "      --object=OBJ          tls-creds-x509,id=ID,dir=DIR,endpoint=server\n"
                "                            [,verify-peer=on|off] or\n"
                "                            authz-simple,id=ID,identity=DN\n"
                "      --tls-creds=ID|DIR    TLS credentials: an --object id, or the directory\n"
                "                            itself (server-cert.pem, server-key.pem,\n"
                "                            ca-cert.pem; clients then need no certificate)\n"
                "      --tls-mode=MODE       off, allowed or required (default: required\n"
                "                            with --tls-creds)\n"
                "      --tls-verify-peer     require client certificates signed by ca-cert.pem\n"
                "      --tls-authz=ID        let in only the client whose certificate's\n"
                "                            distinguished name is authz-simple ID's identity\n"
                "  -v, --verbose             log connections and failed requests to stderr\n"
                "  -h, --help                this help\n"
                "  -V, --version             version\n",
                nbdToolName(), nbdToolName());
}

unsigned long parseNumber(const char* text, const char* what, unsigned long max) {
    char* end = nullptr;
    errno = 0;
    unsigned long v = std::strtoul(text, &end, 10);
    if (!*text || *end || errno || v > max || text[0] == '-')
        throw std::runtime_error(std::string("Invalid ") + what + " '" + text + "'");
    return v;
}

// QEMU's option syntax: "type,key=value,..." where ",," is a literal comma.
std::map<std::string, std::string> parseObjectOption(const std::string& text) {
    std::vector<std::string> parts(1);
    for (size_t i = 0; i < text.size(); ++i) {
        if (text[i] != ',') {
            parts.back() += text[i];
        } else if (i + 1 < text.size() && text[i + 1] == ',') {
            parts.back() += ',';
            ++i;
        } else {
            parts.emplace_back();
        }
    }
    std::map<std::string, std::string> out;
    for (size_t i = 0; i < parts.size(); ++i) {
        size_t eq = parts[i].find('=');
        std::string key = eq == std::string::npos ? "" : parts[i].substr(0, eq);
        std::string value = eq == std::string::npos ? parts[i] : parts[i].substr(eq + 1);
        if (key.empty()) {
            if (i != 0)
                throw std::runtime_error("Invalid parameter '" + parts[i] + "'");
            key = "qom-type";
        }
        if (!out.emplace(key, value).second)
            throw std::runtime_error("Parameter '" + key + "' given twice");
    }
    return out;
}

bool parseOnOff(const std::string& key, const std::string& value) {
    if (auto on = block::onOffValue(value))
        return *on;
    throw std::runtime_error("Parameter '" + key + "' expects 'on' or 'off'");
}

void addObject(nbd::TlsObjects& objects, const std::string& text) {
    std::map<std::string, std::string> p = parseObjectOption(text);
    auto take = [&p](const std::string& key) -> std::optional<std::string> {
        auto it = p.find(key);
        if (it == p.end())
            return std::nullopt;
        std::string v = it->second;
        p.erase(it);
        return v;
    };
    std::string type = take("qom-type").value_or("");
    std::optional<std::string> id = take("id");
    if (type == "tls-creds-x509") {
        if (!id)
            throw std::runtime_error("Parameter 'id' is missing");
        std::string endpoint = take("endpoint").value_or("client");
        if (endpoint != "client" && endpoint != "server")
            throw std::runtime_error("Parameter 'endpoint' does not accept value '" + endpoint +
                                     "'");
        std::optional<std::string> verify = take("verify-peer");
        bool verifyPeer = verify ? parseOnOff("verify-peer", *verify) : true;
        std::optional<std::string> dir = take("dir");
        for (const char* ignored : {"sanity-check", "priority", "loaded", "passwordid"})
            take(ignored);
        if (!p.empty())
            throw std::runtime_error("Invalid parameter '" + p.begin()->first + "'");
        objects.addCredentials(*id, dir.value_or(""), endpoint == "server", verifyPeer);
    } else if (type == "authz-simple") {
        if (!id)
            throw std::runtime_error("Parameter 'id' is missing");
        std::optional<std::string> identity = take("identity");
        take("loaded");
        if (!p.empty())
            throw std::runtime_error("Invalid parameter '" + p.begin()->first + "'");
        if (!identity)
            throw std::runtime_error("Parameter 'identity' is missing");
        objects.addAuthz(*id, *identity);
    } else {
        throw std::runtime_error("Parameter 'qom-type' does not accept value '" + type +
                                 "' (e2kvm-nbd knows tls-creds-x509 and authz-simple)");
    }
}

} // namespace

nbd::TlsServerSettings tlsServerSettings(const NbdToolOptions& o) {
    nbd::TlsServerSettings s;
    try {
        if (o.tlsObjects.contains(o.tlsCreds)) {
            s = o.tlsObjects.serverSettings(o.tlsCreds, o.tlsAuthz);
        } else if (std::filesystem::is_directory(o.tlsCreds)) {
            s.dir = o.tlsCreds;
            if (o.tlsAuthz)
                s.allowedClientDn = o.tlsObjects.authzIdentity(*o.tlsAuthz);
        } else {
            throw std::runtime_error("No TLS credentials with id '" + o.tlsCreds +
                                     "' and no such directory");
        }
    } catch (const std::runtime_error& e) {
        throw std::runtime_error(std::string("Failed to get TLS creds: ") + e.what());
    }
    if (o.tlsVerifyPeer)
        s.verifyPeer = true;
    return s;
}

const char* nbdToolName() {
    return gToolName;
}

void setNbdToolName(const char* argv0) {
    if (!argv0 || !*argv0)
        return;
    const char* slash = std::strrchr(argv0, '/');
    gToolName = slash ? slash + 1 : argv0;
}

NbdToolOptions parseNbdToolOptions(int argc, char** argv) {
    enum {
        OptFork = 256,
        OptPidFile,
        OptTlsCreds,
        OptTlsMode,
        OptTlsVerify,
        OptTlsAuthz,
        OptObject,
        OptDiscard,
        OptDetectZeroes
    };
    static const option longOpts[] = {
        {"read-only", no_argument, nullptr, 'r'},
        {"load-snapshot", required_argument, nullptr, 'l'},
        {"format", required_argument, nullptr, 'f'},
        {"export-name", required_argument, nullptr, 'x'},
        {"offset", required_argument, nullptr, 'o'},
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
        {"tls-authz", required_argument, nullptr, OptTlsAuthz},
        {"object", required_argument, nullptr, OptObject},
        {"discard", required_argument, nullptr, OptDiscard},
        {"detect-zeroes", required_argument, nullptr, OptDetectZeroes},
        {"verbose", no_argument, nullptr, 'v'},
        {"help", no_argument, nullptr, 'h'},
        {"version", no_argument, nullptr, 'V'},
        {nullptr, 0, nullptr, 0},
    };
    NbdToolOptions o;
    // Options may follow the image name, as qemu-nbd takes them (GNU getopt permutes);
    // 0 makes getopt start afresh when the parser runs again in one process.
    optind = 0;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":rl:f:o:x:D:B:Ak:b:p:te:LvhV", longOpts, nullptr)) != -1) {
        switch (c) {
        case 'l':
            // An internal snapshot is exported read-only (as qemu-nbd: -l implies -r).
            try {
                o.snapshot = block::parseSnapshotSelector(optarg);
            } catch (const std::invalid_argument& e) {
                // Two lines, as qemu-nbd: the bad key, then which argument it was in.
                throw std::runtime_error(std::string(e.what()) + "\n" + nbdToolName() +
                                         ": Failed in parsing snapshot param `" + optarg + "'");
            }
            o.readOnly = true;
            break;
        case 'r':
            o.readOnly = true;
            break;
        case 'f':
            o.format = optarg;
            break;
        case 'o': {
            // As qemu-nbd: decimal, 0x hexadecimal or 0 octal, no sign.
            char* end = nullptr;
            errno = 0;
            o.offset = std::strtoull(optarg, &end, 0);
            if (!*optarg || *end || errno || optarg[0] == '-')
                throw std::runtime_error(std::string("Invalid offset '") + optarg + "'");
            break;
        }
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
        case OptTlsAuthz:
            o.tlsAuthz = optarg;
            break;
        case OptObject:
            addObject(o.tlsObjects, optarg);
            break;
        case OptDiscard: {
            std::string m = optarg;
            if (m == "ignore" || m == "off")
                o.discardUnmap = false;
            else if (m == "unmap" || m == "on")
                o.discardUnmap = true;
            else
                throw std::runtime_error("Invalid discard mode `" + m + "'");
            break;
        }
        case OptDetectZeroes: {
            std::string m = optarg;
            if (m == "off")
                o.detectZeroes = nbd::DetectZeroes::Off;
            else if (m == "on")
                o.detectZeroes = nbd::DetectZeroes::On;
            else if (m == "unmap")
                o.detectZeroes = nbd::DetectZeroes::Unmap;
            else
                throw std::runtime_error(
                    "Failed to parse detect_zeroes mode: invalid parameter value: " + m);
            break;
        }
        case 'v':
            o.verbose = true;
            break;
        case 'h':
            usage();
            std::exit(0);
        case 'V':
            std::printf("%s 0.1.0 (qemu-nbd 7.2 compatible)\n", nbdToolName());
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
    if (o.detectZeroes == nbd::DetectZeroes::Unmap && !o.discardUnmap)
        throw std::runtime_error("setting detect-zeroes to unmap is not allowed without setting "
                                 "discard operation to unmap");
    if (o.tlsAuthz && o.tlsCreds.empty())
        throw std::runtime_error("--tls-authz is not permitted without --tls-creds");
    // As qemu-nbd: one image argument (optional with --list); the hint names argv[0] in full.
    const int images = argc - optind;
    if (images > 1 || (images == 0 && !o.list))
        throw std::runtime_error(std::string("Invalid number of arguments\nTry `") +
                                 (argc > 0 ? argv[0] : nbdToolName()) +
                                 " --help' for more information.");
    if (images == 1)
        o.file = argv[optind++];
    if (!o.socketPath.empty() && !o.bindAddress.empty())
        throw std::runtime_error("--bind and --socket are mutually exclusive");
    return o;
}

} // namespace e2kvm::app
