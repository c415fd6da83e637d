#pragma once
// GuestException: an E2K exception raised by guest code (illegal opcode, bounds, alignment, ...),
// carrying the real exception number (TIR.hi bit) and the channels that caused it.
#include <cstdint>
#include <stdexcept>
#include <string>

namespace e2kvm::emu {

enum class ExcNum : uint8_t {
    IllegalOpcode = 0,
    PrivAction = 1,
    IllegalInstrAddr = 7,
    WindowBounds = 9,
    UserStackBounds = 10,
    ProcStackBounds = 11,
    ChainStackBounds = 12,
    IllegalOperand = 16,
    AddrNotAligned = 19,
    InstrPageMiss = 20,
    DataPage = 29,
    Interrupt = 32,
    Div = 34,
};

const char* excName(ExcNum n);

class GuestException : public std::runtime_error {
public:
    GuestException(ExcNum num, const std::string& what, uint8_t channels = 0)
        : std::runtime_error(what), num_(num), channels_(channels) {}
    ExcNum num() const { return num_; }
    uint8_t channels() const { return channels_; } // TIR.hi "al": bit i = ALCi
private:
    ExcNum num_;
    uint8_t channels_;
};

} // namespace e2kvm::emu
