#pragma once
// QtestServer: QEMU's qtest protocol on a Unix socket that the test listens on (-qtest
// unix:path=SOCK): e2kvm-system connects at startup, then answers one line per command line:
// guest memory reads and writes (readb..readq, writeb..writeq, read, write, memset) on the
// board's RAM and MMIO, "endianness", and clock_step/clock_set on a virtual clock of its own
// (the CPU does not run under -accel qtest). Other commands: "FAIL Unknown command 'X'".
#include <atomic>
#include <cstdint>
#include <string>
#include <thread>

namespace e2kvm::emu {
class MachineRunner;
}

namespace e2kvm::sys {

class QtestServer {
public:
    // Connects to `path`; throws std::runtime_error ("Failed to connect to 'P': ...").
    QtestServer(const std::string& path, emu::MachineRunner& runner);
    ~QtestServer(); // closes the connection and joins the reader thread
    QtestServer(const QtestServer&) = delete;
    QtestServer& operator=(const QtestServer&) = delete;

    // The answer to one command line (without its newline), without the newline either.
    std::string answer(const std::string& line);
    int64_t clockNs() const { return clock_.load(); }

private:
    void serve();

    emu::MachineRunner& runner_;
    int fd_ = -1;
    std::atomic<int64_t> clock_{0};
    std::thread thread_;
};

} // namespace e2kvm::sys
