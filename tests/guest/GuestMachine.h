#pragma once
// GuestMachine: the boot ROM and a disk on an e2k-vm Machine driven from the test thread, the
// way MachineRunner drives it in deterministic mode, but stopping at an exact virtual time so
// that frames and disk contents can be compared byte for byte.
#include "block/BlockDriver.h"
#include "emu/machine/Machine.h"

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>

namespace e2kvm::emu::test {

class GuestMachine {
public:
    GuestMachine(const std::string& romPath, std::shared_ptr<block::BlockDriver> disk,
                 uint64_t ramBytes = 64ull << 20)
        : machine_(makeConfig(romPath, std::move(disk), ramBytes)) {
        machine_.setSerialOutput([this](const char* d, size_t n) { serial_.append(d, n); });
    }

    // Runs until the virtual clock reaches `t` ns. Throws on a guest fault, a power-off or a
    // machine with nothing left to wait for.
    void runUntil(uint64_t t) {
        // Each bundle advances the clock by 1 ns, so the loop always makes progress.
        while (machine_.virtualTimeNs() < t) {
            uint64_t left = t - machine_.virtualTimeNs();
            MachineStop s = machine_.run(std::min<uint64_t>(left, 1'000'000));
            switch (s.kind) {
            case MachineStop::Budget:
            case MachineStop::GuestReset:
                break;
            case MachineStop::Idle: {
                auto deadline = machine_.nextDeadline();
                if (!deadline)
                    throw std::runtime_error("guest idles with no timer armed; serial:\n" +
                                             serial_);
                machine_.passTimeTo(std::min(*deadline, t));
                break;
            }
            case MachineStop::PowerOff:
                throw std::runtime_error("guest powered off; serial:\n" + serial_);
            case MachineStop::Fault:
                throw std::runtime_error("guest fault: " + s.detail + "\nserial:\n" + serial_);
            }
        }
    }

    Machine& machine() { return machine_; }
    const std::string& serial() const { return serial_; }

private:
    static MachineConfig makeConfig(const std::string& romPath,
                                    std::shared_ptr<block::BlockDriver> disk, uint64_t ram) {
        MachineConfig c;
        c.ramBytes = ram;
        c.biosPath = romPath;
        c.deterministic = true;
        if (disk)
            c.disks.push_back({"disk0", std::move(disk), false});
        return c;
    }

    Machine machine_;
    std::string serial_;
};

} // namespace e2kvm::emu::test
