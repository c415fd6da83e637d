#pragma once
// BlockDevice: a 512-byte-sector disk controller with DMA into guest RAM (docs/machine.md,
// 0xF001_0000 + n * 0x1000). Commands run synchronously through block::BlockDriver, so every
// write observer (dirty bitmaps) sees guest writes. Guest misuse only sets STATUS.
#include "block/BlockDriver.h"
#include "emu/cpu/GuestMemory.h"
#include "emu/machine/InterruptController.h"
#include "emu/machine/MmioDevice.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace e2kvm::emu {

class BlockDevice final : public MmioDevice {
public:
    static constexpr uint64_t kSectorSize = 512;
    static constexpr uint64_t kMaxSectorsPerCommand = 2048;
    enum Command : uint64_t { kRead = 1, kWrite = 2, kFlush = 3, kDiscard = 4, kWriteZeroes = 5 };
    enum Status : uint64_t {
        kOk = 0,
        kBadCommand = 1,
        kBadRange = 2,
        kBadDma = 3,
        kIoError = 4,
        kReadOnly = 5,
        kNeverRun = 0xFF,
    };

    BlockDevice(unsigned index, std::string id, std::shared_ptr<block::BlockDriver> image,
                bool readOnly, GuestMemory& mem, InterruptController& irq);

    block::BlockDriver& image() { return *image_; }
    const std::string& id() const { return id_; }
    // The message of the last block-layer error (STATUS 4), for diagnostics.
    const std::string& lastError() const { return lastError_; }
    void flush(); // host side (quit); errors are reported in lastError()

    uint64_t readRegister(uint64_t offset) override;
    void writeRegister(uint64_t offset, uint64_t value) override;
    void reset() override;

private:
    friend struct MachineStateFields; // saves and loads the state (MachineState.cpp)
    uint64_t execute(uint64_t cmd);

    unsigned index_;
    std::string id_;
    std::shared_ptr<block::BlockDriver> image_;
    bool readOnly_;
    GuestMemory& mem_;
    InterruptController& irq_;
    uint64_t sector_ = 0, count_ = 0, addr_ = 0, status_ = kNeverRun;
    bool irqEnable_ = false;
    std::vector<uint8_t> bounce_;
    std::string lastError_;
};

} // namespace e2kvm::emu
