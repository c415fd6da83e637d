#include "emu/cpu/GuestMemory.h"

#include <algorithm>
#include <cstdio>
#include <new>
#include <sys/mman.h>

namespace e2kvm::emu {

namespace {
std::string hex(uint64_t v) {
    char buf[24];
    std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
    return buf;
}
} // namespace

GuestMemory::GuestMemory(uint64_t ramSize) : size_(ramSize) {
    if (ramSize == 0 || ramSize > (uint64_t(1) << 40))
        throw std::invalid_argument("guest RAM size " + hex(ramSize) + " out of range");
    void* p = mmap(nullptr, ramSize, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        throw std::bad_alloc();
    ram_ = static_cast<uint8_t*>(p);
    codePages_.assign(((ramSize - 1) >> kPageShift) + 1, 0);
}

GuestMemory::~GuestMemory() {
    munmap(ram_, size_);
}

void GuestMemory::fault(uint64_t addr, uint64_t len, const char* what) const {
    throw GuestException(ExcNum::DataPage, std::string(what) + " of " + std::to_string(len) +
                                               " bytes at " + hex(addr) + ": no memory there");
}

uint8_t* GuestMemory::ramPointer(uint64_t addr, uint64_t len) {
    if (!inRam(addr, len))
        fault(addr, len, "access");
    return ram_ + addr;
}

uint64_t GuestMemory::loadSlow(uint64_t addr, unsigned size, uint8_t mas) {
    uint64_t v = 0;
    if (bus_ && bus_->read(addr, size, v, mas))
        return v;
    fault(addr, size, "load");
}

void GuestMemory::storeSlow(uint64_t addr, unsigned size, uint64_t value, uint8_t mas) {
    if (bus_ && bus_->write(addr, size, value, mas))
        return;
    fault(addr, size, "store");
}

void GuestMemory::write(uint64_t addr, const void* src, uint64_t len) {
    if (len == 0)
        return;
    std::memcpy(ramPointer(addr, len), src, len);
    for (uint64_t p = addr >> kPageShift; p <= (addr + len - 1) >> kPageShift; ++p)
        if (codePages_[p])
            codeDirty_ = true;
}

void GuestMemory::read(uint64_t addr, void* dst, uint64_t len) const {
    if (len == 0)
        return;
    if (!inRam(addr, len))
        fault(addr, len, "read");
    std::memcpy(dst, ram_ + addr, len);
}

void GuestMemory::fill(uint64_t addr, uint8_t byte, uint64_t len) {
    if (len == 0)
        return;
    std::memset(ramPointer(addr, len), byte, len);
    for (uint64_t p = addr >> kPageShift; p <= (addr + len - 1) >> kPageShift; ++p)
        if (codePages_[p])
            codeDirty_ = true;
}

} // namespace e2kvm::emu
