#pragma once
// ServerConnection: one client of the NBD server, from the greeting through option
// negotiation (fixed newstyle, STARTTLS, INFO/GO, meta contexts) to the transmission phase,
// where requests run in parallel on a small worker pool and each reply is written whole.
#include "nbd/Export.h"
#include "nbd/MetaContexts.h"
#include "nbd/Transport.h"
#include "nbd/WorkerPool.h"

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace e2kvm::nbd {

enum class TlsMode { Off, Allowed, Required };

// What a connection needs from its server.
struct ConnectionEnvironment {
    std::function<std::shared_ptr<Export>(const std::string& name)> findExport;
    std::function<std::vector<std::shared_ptr<Export>>()> listExports;
    TlsMode tlsMode = TlsMode::Off;
    // Runs the TLS handshake over the connection's socket and returns the new transport.
    std::function<std::unique_ptr<Transport>()> startTls;
    bool multiConn = false;
    unsigned workers = 4;
    std::function<void(const std::string&)> log; // may be empty
};

class ServerConnection {
public:
    ServerConnection(std::unique_ptr<Transport> transport, ConnectionEnvironment env);
    ~ServerConnection();
    // Serves the client until it disconnects or breaks the protocol. Never throws.
    void run();
    // Ends the connection from another thread (server stop, export removed).
    void shutdown();
    // The export chosen by the client (empty during negotiation).
    std::shared_ptr<Export> currentExport() const;

private:
    struct Request {
        uint16_t flags = 0;
        uint16_t type = 0;
        uint64_t cookie = 0;
        uint64_t offset = 0;
        uint32_t length = 0;
        std::vector<uint8_t> payload;
    };
    struct OptionReject {
        uint32_t reply;
        std::string message;
    };

    // Negotiation; returns false when the client ended it without choosing an export.
    bool negotiate();
    void sendOptionReply(uint32_t option, uint32_t type, const uint8_t* data, size_t len);
    void sendOptionError(uint32_t option, const OptionReject& reject);
    void handleInfoOrGo(uint32_t option, const std::vector<uint8_t>& data, bool& done);
    void handleMetaContext(uint32_t option, const std::vector<uint8_t>& data);
    void handleList(const std::vector<uint8_t>& data);
    void handleExportName(const std::vector<uint8_t>& data);

    void transmit();
    // Waits for room in the in-flight budget; true when no other request is in flight.
    bool acquireBudget(uint64_t bytes);
    void releaseBudget(uint64_t bytes);
    void process(Request& req);
    // Why a request may not run: the wire error it gets and the message; error 0 lets it run.
    struct Rejection {
        uint32_t error = 0;
        std::string message;
    };
    Rejection validate(const Request& req) const;
    void doRead(Request& req);
    // detect-zeroes: this WRITE's payload is all zeros and goes in as a zero write.
    bool writesAsZeroes(const Request& req) const;
    void doBlockStatus(const Request& req);
    void sendSimple(uint64_t cookie, uint32_t error);
    void sendError(uint64_t cookie, uint32_t error, const std::string& message);
    void writeReply(const iovec* iov, int count);
    void log(const std::string& message) const;

    std::unique_ptr<Transport> transport_;
    std::mutex transportMutex_; // guards replacing transport_ against shutdown()
    ConnectionEnvironment env_;
    std::atomic<bool> closing_{false};

    bool noZeroes_ = false;
    bool structuredReply_ = false;
    bool tlsActive_ = false;
    std::string metaExport_;
    std::vector<MetaContext> meta_;
    bool metaSet_ = false;
    std::shared_ptr<Export> export_;
    mutable std::mutex exportMutex_;

    std::mutex writeMutex_;
    std::mutex budgetMutex_;
    std::condition_variable budgetFreed_;
    unsigned inFlight_ = 0;
    uint64_t inFlightBytes_ = 0;
};

} // namespace e2kvm::nbd
