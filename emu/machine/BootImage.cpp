#include "emu/machine/BootImage.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>

namespace e2kvm::emu {

namespace {

std::string hex(uint64_t v) {
    char buf[24];
    std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
    return buf;
}

std::vector<uint8_t> readFile(const std::string& path, uint64_t maxSize) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw std::runtime_error(path + ": cannot open");
    in.seekg(0, std::ios::end);
    std::streamoff size = in.tellg();
    if (size < 0)
        throw std::runtime_error(path + ": cannot read");
    if (uint64_t(size) > maxSize)
        throw std::runtime_error(path + ": " + std::to_string(size) + " bytes, more than the " +
                                 std::to_string(maxSize) + " allowed");
    in.seekg(0);
    std::vector<uint8_t> data(static_cast<size_t>(size));
    if (size && !in.read(reinterpret_cast<char*>(data.data()), size))
        throw std::runtime_error(path + ": read error");
    return data;
}

} // namespace

BootImage::BootImage(const MachineConfig& config) {
    if (!config.biosPath.empty()) {
        rom_ = readFile(config.biosPath, kRomSize);
        if (rom_.empty())
            throw std::runtime_error(config.biosPath + ": empty ROM image");
    } else if (!config.biosImage.empty()) {
        if (config.biosImage.size() > kRomSize)
            throw std::runtime_error("built-in ROM image larger than 1 MiB");
        rom_ = config.biosImage;
    }
    if (!config.kernelPath.empty()) {
        // A kernel must fit in RAM, so anything bigger than RAM is refused before reading.
        std::vector<uint8_t> file = readFile(config.kernelPath, config.ramBytes);
        ElfExecutable exe = readElf(file, config.kernelPath);
        if (exe.segments.empty())
            throw std::runtime_error(config.kernelPath + ": no loadable segments");
        uint64_t lowest = UINT64_MAX;
        for (size_t i = 0; i < exe.segments.size(); ++i) {
            const ElfSegment& s = exe.segments[i];
            if (s.vaddr < kRamStart || s.memSize > config.ramBytes ||
                s.vaddr > config.ramBytes - s.memSize || s.bytes.size() > s.memSize)
                throw std::runtime_error(config.kernelPath + ": segment " + std::to_string(i) +
                                         " at " + hex(s.vaddr) + " (+" + hex(s.memSize) +
                                         ") lies outside RAM [" + hex(kRamStart) + ", " +
                                         hex(config.ramBytes) + ")");
            lowest = std::min(lowest, s.vaddr);
        }
        if (exe.entry < kRamStart || exe.entry >= config.ramBytes || exe.entry % 8)
            throw std::runtime_error(config.kernelPath + ": entry point " + hex(exe.entry) +
                                     " is not an aligned RAM address");
        kernel_ = std::move(exe);
        if (rom_.empty()) {
            entry_ = kernel_->entry;
            trapBase_ = lowest;
        }
    }
    if (rom_.empty() && !kernel_)
        throw std::runtime_error("nothing to boot: give a boot ROM (-bios) or a kernel (-kernel)");
}

void BootImage::load(GuestMemory& mem) const {
    if (!rom_.empty())
        mem.write(0, rom_.data(), rom_.size());
    if (kernel_) {
        for (const ElfSegment& s : kernel_->segments) {
            mem.write(s.vaddr, s.bytes.data(), s.bytes.size());
            mem.fill(s.vaddr + s.bytes.size(), 0, s.memSize - s.bytes.size());
        }
    }
}

} // namespace e2kvm::emu
