#pragma once
// SerialPort: a byte-wide UART without baud rate: transmitted bytes go to a host callback,
// received bytes wait in a bounded FIFO (docs/machine.md, 0xF000_2000).
#include "emu/machine/InterruptController.h"
#include "emu/machine/MmioDevice.h"

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <string_view>

namespace e2kvm::emu {

class SerialPort final : public MmioDevice {
public:
    // Bytes beyond this many unread ones are dropped (a host pasting megabytes cannot make the
    // machine grow without bound).
    static constexpr size_t kRxCapacity = 64 * 1024;
    using Output = std::function<void(const char* data, size_t len)>;

    explicit SerialPort(InterruptController& irq) : irq_(irq) {}

    void setOutput(Output out) { output_ = std::move(out); }
    // Host side (machine thread): queue received bytes.
    void receive(std::string_view bytes);
    size_t rxPending() const { return rx_.size(); }

    uint64_t readRegister(uint64_t offset) override;
    void writeRegister(uint64_t offset, uint64_t value) override;
    void reset() override;

private:
    friend struct MachineStateFields; // saves and loads the state (MachineState.cpp)
    void updateLine() { irq_.setLine(InterruptController::kSerial, rxIrq_ && !rx_.empty()); }

    InterruptController& irq_;
    Output output_;
    std::deque<uint8_t> rx_;
    bool rxIrq_ = false;
};

} // namespace e2kvm::emu
