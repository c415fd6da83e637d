#pragma once
// Command line of e2kvm-nbd, in qemu-nbd's syntax.
#include "nbd/ServerConnection.h"

#include <cstdint>
#include <string>
#include <vector>

namespace e2kvm::app {

struct NbdToolOptions {
    bool readOnly = false;
    std::string format; // "" = probe
    std::string exportName;
    bool exportNameGiven = false;
    std::string description;
    std::vector<std::string> bitmaps; // in command-line order
    bool allocationDepth = false;
    std::string socketPath;
    std::string bindAddress;
    uint16_t port = 10809;
    bool persistent = false;
    unsigned shared = 1;
    bool fork = false;
    std::string pidFile;
    bool list = false;
    std::string tlsCreds;
    nbd::TlsMode tlsMode = nbd::TlsMode::Off;
    bool tlsModeGiven = false;
    bool tlsVerifyPeer = false;
    bool verbose = false;
    std::string file; // image (server) or host (with -L, optional)
};

// Parses argv; prints help/version and exits for -h/-V; throws std::runtime_error on errors.
NbdToolOptions parseNbdToolOptions(int argc, char** argv);

} // namespace e2kvm::app
