#include "emu/machine/Machine.h"

#include "emu/asm/Disassembler.h"
#include "emu/cpu/Bundle.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstdio>
#include <stdexcept>

namespace e2kvm::emu {

namespace {

MachineConfig validated(MachineConfig c) {
    if (c.ramBytes < Machine::kMinRam || c.ramBytes > Machine::kMaxRam || c.ramBytes % 4096)
        throw std::runtime_error("RAM size " + std::to_string(c.ramBytes) +
                                 " bytes: must be a multiple of 4 KiB between 16 MiB and 3 GiB");
    if (c.disks.size() > Machine::kMaxDisks)
        throw std::runtime_error(std::to_string(c.disks.size()) + " disks: the e2k-vm board has " +
                                 std::to_string(Machine::kMaxDisks) + " block device slots");
    if (c.displayWidth < 1 || c.displayWidth > Framebuffer::kMaxWidth || c.displayHeight < 1 ||
        c.displayHeight > Framebuffer::kMaxHeight)
        throw std::runtime_error("display size " + std::to_string(c.displayWidth) + "x" +
                                 std::to_string(c.displayHeight) +
                                 ": must be between 1x1 and 1920x1080");
    for (const MachineDisk& d : c.disks)
        if (!d.image)
            throw std::runtime_error("disk '" + d.id + "' has no image");
    return c;
}

std::string hex(uint64_t v) {
    char buf[24];
    std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
    return buf;
}

} // namespace

Machine::Machine(MachineConfig config)
    : config_(validated(std::move(config))), boot_(config_), mem_(config_.ramBytes), cpu_(mem_),
      clock_(cpu_), irq_(cpu_), system_(clock_, config_.ramBytes, unsigned(config_.disks.size())),
      serial_(irq_), timer_(clock_, irq_), rtc_(clock_, config_.deterministic),
      framebuffer_(mem_, publisher_, int(config_.displayWidth), int(config_.displayHeight)),
      keyboard_(irq_), pointer_(irq_) {
    const unsigned n = unsigned(config_.disks.size());
    for (unsigned i = 0; i < n; ++i) {
        const MachineDisk& d = config_.disks[i];
        disks_[i] = std::make_unique<BlockDevice>(i, d.id, d.image, d.readOnly, mem_, irq_);
    }
    system_.setOnRequest([this] { cpu_.requestStop(); }); // act on power-off/reset at once
    bus_.attach(0, &system_);
    bus_.attach(1, &irq_);
    bus_.attach(2, &serial_);
    bus_.attach(3, &timer_);
    bus_.attach(4, &rtc_);
    bus_.attach(5, &framebuffer_);
    bus_.attach(6, &keyboard_);
    bus_.attach(7, &pointer_);
    for (unsigned i = 0; i < kMaxDisks; ++i) {
        bus_.claim(16 + i);
        bus_.attach(16 + i, disks_[i].get());
    }
    mem_.setBus(&bus_);
    reset();
}

void Machine::reset() {
    bundlesBeforeReset_ += cpu_.state().bundles;
    const uint64_t top = config_.ramBytes;
    if (ramTouched_) {
        // Private anonymous memory: dropping the pages makes them read as zero again.
        madvise(mem_.ramPointer(0, top), top, MADV_DONTNEED);
    }
    ramTouched_ = true;
    boot_.load(mem_);

    CpuState& s = cpu_.state();
    s = CpuState{};
    s.ip = boot_.entry();
    s.oscudLo = boot_.trapBase();
    s.psr = 0x1; // pm: privileged, interrupts off
    s.sbr = top;
    s.usdBase = top;
    s.usdSize = 0;
    s.pspBase = top - 2 * kStackBytes;
    s.pspSize = kStackBytes;
    s.pcspBase = top - 3 * kStackBytes;
    s.pcspSize = kStackBytes;
    s.regs[0] = top;
    s.regs[1] = diskSlots();
    cpu_.writeStateReg(0x9D, 0); // empty the TIR LIFO (a reset may interrupt a trap handler)
    cpu_.flushDecodeCache();
    mem_.takeCodeDirty();

    clock_.reset();
    irq_.reset();
    system_.reset();
    serial_.reset();
    timer_.reset();
    rtc_.reset();
    framebuffer_.reset();
    keyboard_.reset();
    pointer_.reset();
    for (auto& d : disks_)
        if (d)
            d->reset();
    nextFrameNs_ = kFramePeriodNs;
}

void Machine::checkFrame() {
    uint64_t now = clock_.now();
    if (now < nextFrameNs_)
        return;
    framebuffer_.refresh();
    nextFrameNs_ += ((now - nextFrameNs_) / kFramePeriodNs + 1) * kFramePeriodNs;
}

MachineStop Machine::run(uint64_t maxBundles) {
    const uint64_t now = clock_.now();
    uint64_t limit = std::max<uint64_t>(maxBundles, 1);
    if (auto d = timer_.deadline())
        limit = std::min(limit, *d > now ? *d - now : 1);
    limit = std::min(limit, nextFrameNs_ > now ? nextFrameNs_ - now : 1);

    StopInfo st = cpu_.run(limit);
    timer_.update();
    checkFrame();

    MachineStop out;
    switch (system_.takePowerRequest()) {
    case SystemController::PowerRequest::PowerOff:
        out.kind = MachineStop::PowerOff;
        return out;
    case SystemController::PowerRequest::Reset:
        reset();
        out.kind = MachineStop::GuestReset;
        return out;
    case SystemController::PowerRequest::None:
        break;
    }
    if (st.reason == StopReason::Exception) {
        out.kind = MachineStop::Fault;
        out.detail = describeFault(st);
    } else if (st.reason == StopReason::Wait && !irq_.cpuLineRaised()) {
        out.kind = MachineStop::Idle;
    }
    return out;
}

void Machine::passTimeTo(uint64_t t) {
    clock_.advanceTo(t);
    timer_.update();
    checkFrame();
}

void Machine::flushDisks() {
    for (auto& d : disks_)
        if (d)
            d->flush();
}

BlockDevice& Machine::disk(size_t n) {
    if (n >= kMaxDisks || !disks_[n])
        throw std::out_of_range("no disk in slot " + std::to_string(n));
    return *disks_[n];
}

unsigned Machine::diskSlots() const {
    unsigned n = 0;
    for (unsigned i = 0; i < kMaxDisks; ++i)
        if (disks_[i])
            n = i + 1;
    return n;
}

void Machine::plugDisk(unsigned slot, const MachineDisk& d) {
    if (slot >= kMaxDisks)
        throw std::runtime_error("disk slot " + std::to_string(slot) + ": the e2k-vm board has " +
                                 std::to_string(kMaxDisks) + " block device slots");
    if (disks_[slot])
        throw std::runtime_error("disk slot " + std::to_string(slot) + " is in use by '" +
                                 disks_[slot]->id() + "'");
    if (!d.image)
        throw std::runtime_error("disk '" + d.id + "' has no image");
    disks_[slot] = std::make_unique<BlockDevice>(slot, d.id, d.image, d.readOnly, mem_, irq_);
    bus_.attach(16 + slot, disks_[slot].get());
    system_.setDrives(diskSlots());
}

void Machine::unplugDisk(unsigned slot) {
    if (slot >= kMaxDisks || !disks_[slot])
        throw std::runtime_error("no disk in slot " + std::to_string(slot));
    disks_[slot]->flush();
    irq_.setLine(8 + slot, false); // a completion it raised goes with it
    bus_.attach(16 + slot, nullptr);
    disks_[slot].reset();
    system_.setDrives(diskSlots());
}

std::string Machine::describeFault(const StopInfo& st) {
    std::string text = std::string(excName(st.exc)) + " at IP " + hex(st.ip) + ": " + st.message;
    uint64_t avail = 0;
    if (const uint8_t* p = mem_.fetchPointer(st.ip, avail)) {
        RawBundle raw;
        if (unpackBundle(p, avail, raw)) {
            text += "\n  bundle: " + disassembleBundle(raw, st.ip) + "  //";
            char buf[16];
            for (uint32_t w : packBundle(raw)) {
                std::snprintf(buf, sizeof buf, " %08x", w);
                text += buf;
            }
        }
    }
    return text;
}

} // namespace e2kvm::emu
