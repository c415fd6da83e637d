#pragma once
// GuestMemory: the guest's physical address space as the CPU sees it: one RAM block at
// [0, ramSize) with bounds-checked access, plus an optional MMIO bus for everything else.
// Tracks which RAM pages hold decoded code so that writes to them invalidate the CPU's cache.
#include "emu/cpu/GuestException.h"

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace e2kvm::emu {

// Devices plug in here (the machine decides the address map). Return false = no device.
class MmioBus {
public:
    virtual ~MmioBus() = default;
    virtual bool read(uint64_t addr, unsigned size, uint64_t& value, uint8_t mas) = 0;
    virtual bool write(uint64_t addr, unsigned size, uint64_t value, uint8_t mas) = 0;
};

class GuestMemory {
public:
    explicit GuestMemory(uint64_t ramSize); // reserved lazily (untouched pages cost nothing)
    ~GuestMemory();
    GuestMemory(const GuestMemory&) = delete;
    GuestMemory& operator=(const GuestMemory&) = delete;

    uint64_t ramSize() const { return size_; }
    void setBus(MmioBus* bus) { bus_ = bus; }

    // [0, lowGuard) is not accessible (user mode: the null page), the rest of [0, size) is RAM.
    bool inRam(uint64_t addr, uint64_t len) const {
        return addr - low_ <= size_ - low_ && len <= size_ - addr;
    }
    void setLowGuard(uint64_t bytes) { low_ = bytes; }
    uint64_t ramLow() const { return low_; } // the low guard: RAM below it faults
    // Host pointer to guest RAM [addr, addr+len); throws DataPage if outside RAM.
    uint8_t* ramPointer(uint64_t addr, uint64_t len);

    // Data accesses of 1, 2, 4 or 8 bytes (little-endian). Outside RAM they go to the bus;
    // no device -> DataPage.
    uint64_t load(uint64_t addr, unsigned size, uint8_t mas = 0) {
        if (inRam(addr, size)) [[likely]] {
            const uint8_t* p = ram_ + addr;
            switch (size) {
            case 1:
                return *p;
            case 2: {
                uint16_t v;
                std::memcpy(&v, p, 2);
                return v;
            }
            case 4: {
                uint32_t v;
                std::memcpy(&v, p, 4);
                return v;
            }
            default: {
                uint64_t v;
                std::memcpy(&v, p, 8);
                return v;
            }
            }
        }
        return loadSlow(addr, size, mas);
    }
    void store(uint64_t addr, unsigned size, uint64_t value, uint8_t mas = 0) {
        if (inRam(addr, size)) [[likely]] {
            uint8_t* p = ram_ + addr;
            switch (size) {
            case 1:
                *p = uint8_t(value);
                break;
            case 2: {
                uint16_t v = uint16_t(value);
                std::memcpy(p, &v, 2);
                break;
            }
            case 4: {
                uint32_t v = uint32_t(value);
                std::memcpy(p, &v, 4);
                break;
            }
            default:
                std::memcpy(p, &value, 8);
            }
            if (codePages_[addr >> kPageShift] | codePages_[(addr + size - 1) >> kPageShift])
                [[unlikely]]
                codeDirty_ = true;
            return;
        }
        storeSlow(addr, size, value, mas);
    }
    // Aligned 8-byte RAM load; false (v untouched) when misaligned or outside RAM.
    bool loadRam8(uint64_t addr, uint64_t& v) const {
        if ((addr & 7) || !inRam(addr, 8))
            return false;
        std::memcpy(&v, ram_ + addr, 8);
        return true;
    }
    // Can a store of `size` bytes at addr succeed? (checked before a bundle commits)
    bool storable(uint64_t addr, unsigned size) const { return inRam(addr, size) || bus_; }

    // Host-side copies (loader, system calls); mark code pages dirty like guest stores.
    void write(uint64_t addr, const void* src, uint64_t len);
    void read(uint64_t addr, void* dst, uint64_t len) const;
    void fill(uint64_t addr, uint8_t byte, uint64_t len);

    // Code tracking for the decoded-bundle cache.
    void markCode(uint64_t addr) { codePages_[addr >> kPageShift] = 1; }
    bool takeCodeDirty() {
        bool d = codeDirty_;
        if (d) {
            codeDirty_ = false;
            std::fill(codePages_.begin(), codePages_.end(), 0);
        }
        return d;
    }
    // One byte per RAM page, nonzero when it holds decoded code (for host code that stores:
    // it leaves such stores to store()). The array stays where it is for this object's life.
    const uint8_t* codePageMarks() const { return codePages_.data(); }
    // RAM at guest address 0 (for host code that checked its addresses with inRam).
    const uint8_t* ramBase() const { return ram_; }
    const uint8_t* fetchPointer(uint64_t addr, uint64_t& avail) const {
        if (addr >= size_ || addr < low_)
            return nullptr;
        avail = size_ - addr;
        return ram_ + addr;
    }

    static constexpr unsigned kPageShift = 12;

private:
    uint64_t loadSlow(uint64_t addr, unsigned size, uint8_t mas);
    void storeSlow(uint64_t addr, unsigned size, uint64_t value, uint8_t mas);
    [[noreturn]] void fault(uint64_t addr, uint64_t len, const char* what) const;

    uint8_t* ram_ = nullptr;
    uint64_t size_ = 0;
    uint64_t low_ = 0;
    MmioBus* bus_ = nullptr;
    std::vector<uint8_t> codePages_;
    bool codeDirty_ = false;
};

} // namespace e2kvm::emu
