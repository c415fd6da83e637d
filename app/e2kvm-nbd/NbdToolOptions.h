#pragma once
// Command line of e2kvm-nbd, in qemu-nbd's syntax.
#include "block/SnapshotSelector.h"
#include "nbd/Export.h"
#include "nbd/ServerConnection.h"
#include "nbd/TlsObjects.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace e2kvm::app {

struct NbdToolOptions {
    bool readOnly = false;
    std::string format; // "" = probe
    // -l/--load-snapshot: export this internal snapshot (read-only) instead of the disk.
    std::optional<block::SnapshotSelector> snapshot;
    uint64_t offset = 0; // -o/--offset: the export starts at this byte of the image
    std::string exportName;
    bool exportNameGiven = false;
    std::string description;
    std::vector<std::string> bitmaps; // in command-line order
    bool allocationDepth = false;
    bool discardUnmap = false; // --discard: ignore (qemu-nbd's default) or unmap
    nbd::DetectZeroes detectZeroes = nbd::DetectZeroes::Off;
    std::string socketPath;
    std::string bindAddress;
    uint16_t port = 10809;
    bool persistent = false;
    unsigned shared = 1;
    bool fork = false;
    std::string pidFile;
    bool list = false;
    // --tls-creds: the id of a tls-creds-x509 --object, or (our short form) the directory.
    std::string tlsCreds;
    nbd::TlsMode tlsMode = nbd::TlsMode::Off;
    bool tlsModeGiven = false;
    bool tlsVerifyPeer = false;
    std::optional<std::string> tlsAuthz; // id of an authz-simple --object
    nbd::TlsObjects tlsObjects;          // from --object
    bool verbose = false;
    std::string file; // image (server) or host (with -L, optional)
};

// Parses argv; prints help/version and exits for -h/-V; throws std::runtime_error on errors.
NbdToolOptions parseNbdToolOptions(int argc, char** argv);

// The program's name in messages: the last component of argv[0] (qemu-nbd when installed
// under that name); "e2kvm-nbd" until setNbdToolName() is called.
const char* nbdToolName();
void setNbdToolName(const char* argv0);

// The server's TLS from --tls-creds, --tls-verify-peer and --tls-authz (call with TLS on).
nbd::TlsServerSettings tlsServerSettings(const NbdToolOptions& o);

} // namespace e2kvm::app
