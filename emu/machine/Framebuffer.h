#pragma once
// Framebuffer: the linear 32-bit picture in guest RAM and its mode registers (docs/machine.md,
// 0xF000_5000). refresh() compares guest RAM with the last published copy, finds the changed
// row bands (each with the column span that changed in it) and publishes them.
#include "emu/cpu/GuestMemory.h"
#include "emu/display/FramePublisher.h"
#include "emu/machine/MmioDevice.h"

#include <cstdint>
#include <vector>

namespace e2kvm::emu {

class Framebuffer final : public MmioDevice {
public:
    static constexpr uint64_t kMaxWidth = 1920, kMaxHeight = 1080;

    // `preferredWidth` x `preferredHeight`: the mode the guest is advised to use, and the size
    // of the black picture a disabled display shows.
    Framebuffer(GuestMemory& mem, FramePublisher& publisher, int preferredWidth = 640,
                int preferredHeight = 480)
        : mem_(mem), publisher_(publisher), preferredWidth_(preferredWidth),
          preferredHeight_(preferredHeight) {}

    // Publishes what changed since the last publish (nothing if nothing changed).
    void refresh();
    bool enabled() const { return enabled_; }
    uint64_t framesPublished() const { return frames_; }

    uint64_t readRegister(uint64_t offset) override;
    void writeRegister(uint64_t offset, uint64_t value) override;
    void reset() override;

private:
    friend struct MachineStateFields; // saves and loads the state (MachineState.cpp)
    void applyMode();
    void showBlank();

    GuestMemory& mem_;
    FramePublisher& publisher_;
    int preferredWidth_, preferredHeight_;
    // Registers as written, and the mode in effect.
    uint64_t regBase_ = 0, regWidth_ = 0, regHeight_ = 0, regStride_ = 0;
    uint64_t base_ = 0, strideWords_ = 0;
    int width_ = 0, height_ = 0;
    bool enabled_ = false, rejected_ = false;
    uint64_t frames_ = 0;
    std::vector<uint32_t> shadow_; // width_ x height_, tightly packed: what was last published
    bool shadowValid_ = false;
    std::vector<Rect> dirty_;
};

} // namespace e2kvm::emu
