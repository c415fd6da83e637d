#pragma once
// Client: a synchronous NBD client connection (Unix, TCP, TLS) in the transmission phase:
// structured replies, meta contexts, read/write/trim/zero/flush/block status. Thread-safe
// (one request at a time). Also the negotiation-only listing used by `e2kvm-nbd -L`.
#include "nbd/NbdUri.h"
#include "nbd/Transport.h"

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

namespace e2kvm::nbd {

struct BlockSizes {
    uint32_t minimum = 1;
    uint32_t preferred = 4096;
    uint32_t maximum = 32u << 20;
};

struct ExportListing {
    std::string name;
    std::string description;
    uint64_t size = 0;
    uint16_t flags = 0;
    BlockSizes sizes;
    std::vector<std::string> contexts;
};

struct Extent32 {
    uint32_t length = 0;
    uint32_t flags = 0;
};

class Client {
public:
    // Connects, negotiates structured replies and `metaContexts`, and enters transmission
    // with NBD_OPT_GO. Throws NbdError.
    static std::unique_ptr<Client> connect(const NbdUri& uri,
                                           const std::vector<std::string>& metaContexts = {});
    // Negotiation only: LIST, then INFO and LIST_META_CONTEXT for each export, then ABORT.
    static std::vector<ExportListing> list(const NbdUri& uri);
    ~Client();

    uint64_t size() const { return size_; }
    uint16_t flags() const { return flags_; }
    const BlockSizes& blockSizes() const { return sizes_; }
    // Context name -> id for the contexts the server agreed to.
    const std::map<std::string, uint32_t>& contexts() const { return contexts_; }

    // All throw block::BlockError with the server's errno and message on request failure,
    // NbdError when the connection breaks.
    void read(uint64_t offset, std::span<uint8_t> buf);
    void write(uint64_t offset, std::span<const uint8_t> buf, bool fua = false);
    void flush();
    void trim(uint64_t offset, uint32_t length);
    void writeZeroes(uint64_t offset, uint32_t length, uint16_t cmdFlags);
    // Extents of one context from a BLOCK_STATUS reply (others are dropped).
    std::vector<Extent32> blockStatus(const std::string& context, uint64_t offset, uint32_t length,
                                      bool reqOne = false);
    void disconnect();

private:
    Client() = default;
    struct Connection;
    static std::unique_ptr<Connection> open(const NbdUri& uri);
    // Enters transmission with NBD_OPT_EXPORT_NAME (servers without NBD_OPT_GO).
    void exportName(const std::string& name);
    // Reads the reply to the request just sent (under the request lock).
    void exchangeReply(uint16_t type, uint64_t offset, uint32_t length, uint64_t cookie,
                       std::span<uint8_t> readBuf,
                       std::vector<std::pair<uint32_t, std::vector<Extent32>>>* status);
    void request(uint16_t type, uint16_t flags, uint64_t offset, uint32_t length,
                 std::span<const uint8_t> payload, std::span<uint8_t> readBuf,
                 std::vector<std::pair<uint32_t, std::vector<Extent32>>>* status);

    std::unique_ptr<Connection> conn_;
    std::mutex mutex_;
    uint64_t size_ = 0;
    uint16_t flags_ = 0;
    BlockSizes sizes_;
    bool structured_ = false;
    std::map<std::string, uint32_t> contexts_;
    uint64_t nextCookie_ = 1;
    bool closed_ = false;
    bool transmission_ = false; // negotiation is over (NBD_OPT_GO acknowledged)
};

} // namespace e2kvm::nbd
