#pragma once
// FuzzSession: runs one whole server connection over bytes from a fuzzer, against a small
// writable raw export with every metadata context published.
#include <cstddef>
#include <cstdint>
#include <vector>

namespace e2kvm::nbd::fuzz {

// Serves `input` as everything a client sends; replies are discarded.
void runSession(const uint8_t* data, size_t size);
// Client bytes for a complete handshake (structured replies, all contexts, GO "x").
std::vector<uint8_t> handshakePrefix();

} // namespace e2kvm::nbd::fuzz
