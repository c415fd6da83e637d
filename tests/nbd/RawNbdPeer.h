#pragma once
// RawNbdPeer: a byte-level NBD client for protocol tests. It sends exactly what a test asks
// (including malformed data) and decodes the server's answers without interpretation.
// Every read has a 10 s timeout so a misbehaving server fails the test instead of hanging.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace e2kvm::nbd::test {

struct OptReply {
    uint32_t option = 0;
    uint32_t type = 0;
    std::vector<uint8_t> data;
    std::string text() const { return std::string(data.begin(), data.end()); }
};

struct Chunk {
    bool simple = false;
    uint16_t flags = 0;
    uint16_t type = 0;
    uint64_t cookie = 0;
    uint32_t error = 0; // simple replies and error chunks
    std::string message;
    std::vector<uint8_t> payload;
};

class RawNbdPeer {
public:
    explicit RawNbdPeer(const std::string& socketPath);
    ~RawNbdPeer();

    // Reads the greeting; returns the handshake flags.
    uint16_t readGreeting();
    void sendClientFlags(uint32_t flags);
    void sendRaw(const std::vector<uint8_t>& bytes);
    void sendOption(uint32_t option, const std::vector<uint8_t>& data);
    OptReply readOptReply();
    // Replies until ACK or an error (inclusive).
    std::vector<OptReply> optionUntilFinal(uint32_t option, const std::vector<uint8_t>& data);
    // Full handshake: greeting, flags, [SR], [SET_META queries], GO. Returns transmission flags.
    uint16_t negotiate(const std::string& exportName, bool structured,
                       const std::vector<std::string>& metaQueries = {});
    void sendRequest(uint16_t flags, uint16_t type, uint64_t cookie, uint64_t offset,
                     uint32_t length, const std::vector<uint8_t>& payload = {});
    // One simple reply (with `readLength` data bytes if it succeeded) or structured chunk.
    Chunk readChunk(size_t readLength = 0);
    // All chunks of one structured reply (until DONE), or the one simple reply.
    std::vector<Chunk> readReply(size_t readLength = 0);
    // True if the server closed the connection (EOF within the timeout).
    bool closedByServer();
    void readExact(void* buf, size_t len);
    int fd() const { return fd_; }

private:
    int fd_ = -1;
};

std::vector<uint8_t> infoPayload(const std::string& name, const std::vector<uint16_t>& infos);
std::vector<uint8_t> metaPayload(const std::string& name, const std::vector<std::string>& queries);
uint32_t be32(const uint8_t* p);
uint64_t be64(const uint8_t* p);

} // namespace e2kvm::nbd::test
