#include "emu/machine/SerialPort.h"

namespace e2kvm::emu {

void SerialPort::receive(std::string_view bytes) {
    for (char c : bytes) {
        if (rx_.size() >= kRxCapacity)
            break;
        rx_.push_back(uint8_t(c));
    }
    updateLine();
}

uint64_t SerialPort::readRegister(uint64_t offset) {
    switch (offset) {
    case 0x00: {
        if (rx_.empty())
            return ~uint64_t(0);
        uint8_t c = rx_.front();
        rx_.pop_front();
        updateLine();
        return c;
    }
    case 0x08:
        return (rx_.empty() ? 0 : 1) | 2;
    case 0x10:
        return rxIrq_ ? 1 : 0;
    default:
        return 0;
    }
}

void SerialPort::writeRegister(uint64_t offset, uint64_t value) {
    if (offset == 0x00) {
        char c = char(value & 0xFF);
        if (output_)
            output_(&c, 1);
    } else if (offset == 0x10) {
        rxIrq_ = value & 1;
        updateLine();
    }
}

void SerialPort::reset() {
    // Received bytes survive a reset (they were typed for whatever runs next); the interrupt
    // enable does not.
    rxIrq_ = false;
    updateLine();
}

} // namespace e2kvm::emu
