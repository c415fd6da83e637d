#pragma once
// InterruptController: sixteen level-triggered lines with an enable mask; drives the CPU's
// single interrupt line while PENDING & ENABLE != 0 (docs/machine.md, 0xF000_1000).
#include "emu/cpu/Cpu.h"
#include "emu/machine/MmioDevice.h"

#include <cstdint>

namespace e2kvm::emu {

class InterruptController final : public MmioDevice {
public:
    enum Line : unsigned {
        kTimer = 0,
        kSerial = 1,
        kKeyboard = 2,
        kPointer = 3,
        kRtc = 4,
        kBlock0 = 8
    };

    explicit InterruptController(Cpu& cpu) : cpu_(cpu) {}

    void setLine(unsigned line, bool asserted);
    uint64_t pending() const { return pending_; }
    bool cpuLineRaised() const { return (pending_ & enable_) != 0; }

    uint64_t readRegister(uint64_t offset) override;
    void writeRegister(uint64_t offset, uint64_t value) override;
    void reset() override;

private:
    friend struct MachineStateFields; // saves and loads the state (MachineState.cpp)
    void update() { cpu_.setInterruptLine(cpuLineRaised()); }

    Cpu& cpu_;
    uint64_t pending_ = 0;
    uint64_t enable_ = 0;
};

} // namespace e2kvm::emu
