#pragma once
// SystemController: board identity, RAM size, drive count, virtual time and the power register
// through which the guest powers off or resets the machine (docs/machine.md, 0xF000_0000).
#include "emu/machine/MmioDevice.h"
#include "emu/machine/VirtualClock.h"

#include <cstdint>
#include <functional>

namespace e2kvm::emu {

class SystemController final : public MmioDevice {
public:
    static constexpr uint64_t kMagic = 0x4D564B324532ull; // "2E2KVM" little-endian
    enum class PowerRequest { None, PowerOff, Reset };

    SystemController(const VirtualClock& clock, uint64_t ramBytes, unsigned drives)
        : clock_(clock), ramBytes_(ramBytes), drives_(drives) {}

    // The guest's last power request since it was taken (the machine acts on it).
    PowerRequest takePowerRequest() {
        PowerRequest r = request_;
        request_ = PowerRequest::None;
        return r;
    }
    // The drive count changes when a disk is hot-plugged or unplugged (Machine::plugDisk).
    void setDrives(unsigned drives) { drives_ = drives; }
    bool powerRequested() const { return request_ != PowerRequest::None; }
    // Called when the guest writes a power request, so the CPU can stop after this bundle.
    void setOnRequest(std::function<void()> cb) { onRequest_ = std::move(cb); }

    uint64_t readRegister(uint64_t offset) override;
    void writeRegister(uint64_t offset, uint64_t value) override;
    void reset() override { request_ = PowerRequest::None; }

private:
    friend struct MachineStateFields; // saves and loads the state (MachineState.cpp)
    const VirtualClock& clock_;
    uint64_t ramBytes_;
    unsigned drives_;
    PowerRequest request_ = PowerRequest::None;
    std::function<void()> onRequest_;
};

} // namespace e2kvm::emu
