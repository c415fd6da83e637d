#include "emu/machine/BlockDevice.h"

#include <exception>
#include <span>

namespace e2kvm::emu {

BlockDevice::BlockDevice(unsigned index, std::string id, std::shared_ptr<block::BlockDriver> image,
                         bool readOnly, GuestMemory& mem, InterruptController& irq)
    : index_(index), id_(std::move(id)), image_(std::move(image)),
      readOnly_(readOnly || image_->readOnly()), mem_(mem), irq_(irq) {}

uint64_t BlockDevice::execute(uint64_t cmd) {
    if (cmd < kRead || cmd > kWriteZeroes)
        return kBadCommand;
    const uint64_t capacity = image_->size() / kSectorSize;
    if (cmd != kFlush) {
        if (count_ < 1 || count_ > kMaxSectorsPerCommand || sector_ > capacity ||
            count_ > capacity - sector_)
            return kBadRange;
    }
    const uint64_t offset = sector_ * kSectorSize, length = count_ * kSectorSize;
    if ((cmd == kRead || cmd == kWrite) && !mem_.inRam(addr_, length))
        return kBadDma;
    if (cmd != kRead && cmd != kFlush && readOnly_)
        return kReadOnly;
    try {
        switch (cmd) {
        case kRead:
            // Through a bounce buffer so that GuestMemory notices code being overwritten.
            bounce_.resize(length);
            image_->read(offset, bounce_);
            mem_.write(addr_, bounce_.data(), length);
            break;
        case kWrite:
            image_->write(offset, std::span<const uint8_t>(mem_.ramPointer(addr_, length), length));
            break;
        case kFlush:
            image_->flush();
            break;
        case kDiscard:
            image_->discard(offset, length);
            break;
        case kWriteZeroes:
            image_->writeZeroes(offset, length, block::ZeroMayUnmap);
            break;
        }
    } catch (const std::exception& e) {
        lastError_ = e.what();
        return kIoError;
    }
    return kOk;
}

void BlockDevice::flush() {
    try {
        if (!readOnly_)
            image_->flush();
    } catch (const std::exception& e) {
        lastError_ = e.what();
    }
}

uint64_t BlockDevice::readRegister(uint64_t offset) {
    switch (offset) {
    case 0x00:
        return image_->size() / kSectorSize;
    case 0x08:
        return sector_;
    case 0x10:
        return count_;
    case 0x18:
        return addr_;
    case 0x28:
        return status_;
    case 0x30:
        return irqEnable_ ? 1 : 0;
    case 0x40:
        return (readOnly_ ? 1 : 0) | 2;
    default:
        return 0;
    }
}

void BlockDevice::writeRegister(uint64_t offset, uint64_t value) {
    switch (offset) {
    case 0x08:
        sector_ = value;
        break;
    case 0x10:
        count_ = value;
        break;
    case 0x18:
        addr_ = value;
        break;
    case 0x20:
        status_ = execute(value);
        if (irqEnable_)
            irq_.setLine(InterruptController::kBlock0 + index_, true);
        break;
    case 0x30:
        irqEnable_ = value & 1;
        break;
    case 0x38:
        irq_.setLine(InterruptController::kBlock0 + index_, false);
        break;
    default:
        break;
    }
}

void BlockDevice::reset() {
    sector_ = count_ = addr_ = 0;
    status_ = kNeverRun;
    irqEnable_ = false;
    irq_.setLine(InterruptController::kBlock0 + index_, false);
}

} // namespace e2kvm::emu
