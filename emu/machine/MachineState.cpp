#include "emu/machine/MachineState.h"

#include "emu/machine/Machine.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

namespace e2kvm::emu {

namespace {

// RAM pages and the framebuffer's picture are copied as they lie in host memory.
static_assert(std::endian::native == std::endian::little, "the format is little-endian");

constexpr uint64_t kPageBytes = uint64_t(1) << GuestMemory::kPageShift;
// The header: magic, version, payload length, payload checksum.
constexpr size_t kHeaderBytes = 8 + 4 + 8 + 8;
// QEMU's own VM state stream starts with "QEVM" (a qemu-system snapshot).
constexpr uint8_t kQemuMagic[4] = {'Q', 'E', 'V', 'M'};
constexpr size_t kMaxTirs = 19; // Cpu keeps at most this many TIR entries

// FNV-1a, 64 bits: a damaged stream is told from a good one before anything is changed.
uint64_t checksum(std::span<const uint8_t> bytes) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (uint8_t b : bytes) {
        h ^= b;
        h *= 0x100000001b3ull;
    }
    return h;
}

template <class T>
concept Scalar = std::is_integral_v<T> || std::is_enum_v<T>;

// Little-endian fields at their C++ widths (bool: one byte, 0 or 1).
class Writer {
public:
    template <Scalar T> void operator()(const T& v) {
        uint64_t x = uint64_t(v);
        for (size_t i = 0; i < sizeof(T); ++i)
            out.push_back(uint8_t(x >> (8 * i)));
    }
    template <class T, size_t N> void operator()(const T (&a)[N]) {
        for (const T& x : a)
            (*this)(x);
    }
    void bytes(const void* p, size_t n) {
        const uint8_t* b = static_cast<const uint8_t*>(p);
        out.insert(out.end(), b, b + n);
    }
    size_t begin(const char* tag) {
        bytes(tag, 4);
        size_t at = out.size();
        (*this)(uint64_t(0));
        return at;
    }
    void end(size_t at) {
        uint64_t len = out.size() - at - 8;
        for (size_t i = 0; i < 8; ++i)
            out[at + i] = uint8_t(len >> (8 * i));
    }

    std::vector<uint8_t> out;
};

class Reader {
public:
    explicit Reader(std::span<const uint8_t> in) : in_(in) {}

    template <Scalar T> void operator()(T& v) {
        const uint8_t* p = take(sizeof(T));
        uint64_t x = 0;
        for (size_t i = 0; i < sizeof(T); ++i)
            x |= uint64_t(p[i]) << (8 * i);
        if constexpr (std::is_same_v<T, bool>) {
            if (x > 1)
                fail("a flag is neither 0 nor 1");
        }
        v = T(x);
    }
    template <class T, size_t N> void operator()(T (&a)[N]) {
        for (T& x : a)
            (*this)(x);
    }
    const uint8_t* take(size_t n) {
        if (n > end_ - pos_)
            fail("truncated");
        const uint8_t* p = in_.data() + pos_;
        pos_ += n;
        return p;
    }
    void begin(const char* tag) {
        section_ = std::string(tag, 4);
        end_ = in_.size();
        const uint8_t* t = take(4);
        if (std::memcmp(t, tag, 4) != 0)
            fail("section missing (found '" + printable(t) + "')");
        uint64_t len = 0;
        (*this)(len);
        if (len > end_ - pos_)
            fail("truncated");
        end_ = pos_ + len;
    }
    void end() {
        if (pos_ != end_)
            fail("longer than its fields");
        end_ = in_.size();
    }
    [[noreturn]] void fail(const std::string& why) const {
        throw MachineStateError("machine state, section '" + section_ + "': " + why);
    }

private:
    static std::string printable(const uint8_t* t) {
        std::string s;
        for (int i = 0; i < 4; ++i)
            s += (t[i] >= 0x20 && t[i] < 0x7F) ? char(t[i]) : '?';
        return s;
    }

    std::span<const uint8_t> in_;
    size_t pos_ = 0;
    size_t end_ = in_.size();
    std::string section_ = "header";
};

// Which host pages of [base, base + pages * kPageBytes) may hold data: those the kernel has
// in memory or in swap (/proc/self/pagemap bits 63 and 62). A page never touched, or dropped by
// MADV_DONTNEED, reads as zero and is not read here (reading it would map it). Without pagemap
// (another kernel, other page size) every page may.
std::vector<bool> pagesInUse(const uint8_t* base, uint64_t pages) {
    std::vector<bool> inUse(pages, true);
    if (sysconf(_SC_PAGESIZE) != long(kPageBytes) ||
        reinterpret_cast<uintptr_t>(base) % kPageBytes != 0)
        return inUse;
    int fd = ::open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return inUse;
    const uint64_t first = reinterpret_cast<uintptr_t>(base) / kPageBytes;
    std::vector<uint64_t> entries(4096);
    for (uint64_t p = 0; p < pages;) {
        const uint64_t n = std::min<uint64_t>(entries.size(), pages - p);
        ssize_t got = ::pread(fd, entries.data(), n * 8, off_t((first + p) * 8));
        if (got != ssize_t(n * 8)) { // keep "may hold data" for the rest
            ::close(fd);
            return inUse;
        }
        for (uint64_t i = 0; i < n; ++i)
            inUse[p + i] = (entries[i] & (uint64_t(3) << 62)) != 0;
        p += n;
    }
    ::close(fd);
    return inUse;
}

bool zeroPage(const uint8_t* p) {
    uint64_t acc = 0;
    for (uint64_t i = 0; i < kPageBytes; i += 8) {
        uint64_t w;
        std::memcpy(&w, p + i, 8);
        acc |= w;
    }
    return acc == 0;
}

} // namespace

// The fields of each part, in stream order; one list serves saving (Writer) and loading
// (Reader). Everything a guest could observe later is here; host-side views (the framebuffer's
// published copy, decoded bundles) are rebuilt instead.
struct MachineStateFields {
    template <class Io> static void cpu(Io& io, CpuState& s) {
        io(s.ip);
        io(s.regs);
        io(s.wdSize), io(s.wdPsize), io(s.wdDbl);
        io(s.rbs), io(s.rsz), io(s.rcur), io(s.psz), io(s.pcur);
        io(s.preds);
        io(s.tags);
        io(s.predTags);
        io(s.ext);
        io(s.extLive), io(s.tagsLive);
        io(s.ctpr);
        io(s.lcnt), io(s.ecnt), io(s.pcnt), io(s.strmd), io(s.vlc), io(s.over);
        io(s.ilcr);
        io(s.psr), io(s.upsr);
        io(s.usdBase), io(s.usdSize), io(s.sbr);
        io(s.pspBase), io(s.pspInd), io(s.pspSize);
        io(s.pcspBase), io(s.pcspInd), io(s.pcspSize);
        io(s.oscudLo), io(s.oscudHi), io(s.osgdLo), io(s.osgdHi);
        io(s.cudLo), io(s.cudHi), io(s.gdLo), io(s.gdHi), io(s.cuir);
        ArrayAccessUnit& a = s.aau;
        io(a.aadLo), io(a.aadHi), io(a.aasti), io(a.aaind), io(a.aaincr);
        for (auto& side : a.areas)
            for (PrefetchArea& p : side)
                io(p.instr.raw), io(p.index);
        for (CpuState::DamLock& d : s.dam)
            io(d.addr), io(d.size), io(d.hit);
        io(s.damCount);
        io(s.bundles), io(s.ops);
    }
    template <class Io> static void clock(Io& io, VirtualClock& c) {
        io(c.bundlesAtReset_), io(c.skipped_);
    }
    template <class Io> static void irq(Io& io, InterruptController& c) {
        io(c.pending_), io(c.enable_);
    }
    template <class Io> static void timer(Io& io, Timer& t) {
        io(t.period_), io(t.ctrl_), io(t.deadline_), io(t.ticks_), io(t.armed_), io(t.expired_);
    }
    template <class Io> static void rtc(Io& io, Rtc& r) { io(r.startNs_); }
    template <class Io> static void framebuffer(Io& io, Framebuffer& f) {
        io(f.regBase_), io(f.regWidth_), io(f.regHeight_), io(f.regStride_);
        io(f.base_), io(f.strideWords_), io(f.width_), io(f.height_);
        io(f.enabled_), io(f.rejected_), io(f.frames_), io(f.shadowValid_);
    }
    // What the display last showed: the next refresh compares guest RAM with it, and publishes
    // (and counts a frame) only if they differ, so it is part of what the guest observes.
    static void saveShadow(Writer& w, const Framebuffer& f) {
        w(uint32_t(f.shadow_.size()));
        const bool black =
            std::all_of(f.shadow_.begin(), f.shadow_.end(), [](uint32_t p) { return p == 0; });
        w(black); // a black picture (the usual blank one) is not written out
        if (!black)
            w.bytes(f.shadow_.data(), f.shadow_.size() * 4);
    }
    static void loadShadow(Reader& r, Framebuffer& f) {
        uint32_t n = 0;
        r(n);
        const bool mode = f.width_ >= 1 && uint64_t(f.width_) <= Framebuffer::kMaxWidth &&
                          f.height_ >= 1 && uint64_t(f.height_) <= Framebuffer::kMaxHeight &&
                          f.strideWords_ >= uint64_t(f.width_) &&
                          f.strideWords_ <= (uint64_t(1) << 30) &&
                          f.mem_.inRam(f.base_, (uint64_t(f.height_) - 1) * f.strideWords_ * 4 +
                                                    uint64_t(f.width_) * 4);
        if (f.enabled_ && !mode)
            r.fail("the display mode in effect does not fit the board");
        const uint64_t picture = f.enabled_ ? uint64_t(f.width_) * uint64_t(f.height_)
                                            : uint64_t(f.preferredWidth_) * f.preferredHeight_;
        if (n != picture)
            r.fail("the shown picture has " + std::to_string(n) + " pixels, its mode " +
                   std::to_string(picture));
        bool black = false;
        r(black);
        if (black) {
            f.shadow_.assign(n, 0);
        } else {
            f.shadow_.resize(n);
            std::memcpy(f.shadow_.data(), r.take(size_t(n) * 4), size_t(n) * 4);
        }
    }
    template <class Io> static void pointer(Io& io, Pointer& p) {
        io(p.x_), io(p.y_), io(p.buttons_), io(p.changed_), io(p.irqEnable_);
    }
    template <class Io> static void disk(Io& io, BlockDevice& d) {
        io(d.sector_), io(d.count_), io(d.addr_), io(d.status_), io(d.irqEnable_);
    }
    template <class Io> static void board(Io& io, Machine& m) {
        io(m.nextFrameNs_), io(m.bundlesBeforeReset_);
    }

    static void saveTirs(Writer& w, const Cpu& cpu) {
        w(uint32_t(cpu.tirs_.size()));
        for (const TirEntry& t : cpu.tirs_)
            w(t.hi), w(t.lo);
    }
    static void loadTirs(Reader& r, Cpu& cpu) {
        uint32_t n = 0;
        r(n);
        if (n > kMaxTirs)
            r.fail(std::to_string(n) + " TIR entries (at most " + std::to_string(kMaxTirs) + ")");
        cpu.tirs_.assign(n, TirEntry{});
        for (TirEntry& t : cpu.tirs_)
            r(t.hi), r(t.lo);
        // A stop the CPU had been asked for, or a fault it was counting, belongs to the run
        // before the save.
        cpu.pendingStop_ = StopInfo{};
        cpu.nestedFaultIp_ = ~uint64_t(0);
        cpu.nestedFaults_ = 0;
    }

    // What the interpreter indexes arrays with must be in range (a state the CPU can be in).
    static void checkCpu(Reader& r, const CpuState& s) {
        const bool ok = s.wdSize <= 224 && s.wdPsize <= 224 && s.rcur <= s.rsz &&
                        2 * (s.rbs + s.rsz + 1) <= 224 && s.psz < 32 && s.pcur <= s.psz &&
                        s.damCount <= CpuState::kDamLocks;
        if (!ok)
            r.fail("register window, rotation base or DAM count out of range");
    }

    template <class Fifo> static void saveFifo(Writer& w, const Fifo& f) {
        w(uint32_t(f.size()));
        for (auto v : f)
            w(v);
    }
    template <class Fifo> static void loadFifo(Reader& r, Fifo& f, size_t capacity) {
        uint32_t n = 0;
        r(n);
        if (n > capacity)
            r.fail(std::to_string(n) + " queued entries (capacity " + std::to_string(capacity) +
                   ")");
        f.clear();
        for (uint32_t i = 0; i < n; ++i) {
            typename Fifo::value_type v{};
            r(v);
            f.push_back(v);
        }
    }

    static void shape(Writer& w, Machine& m) {
        size_t at = w.begin("MACH");
        w(m.config_.ramBytes), w(m.config_.displayWidth), w(m.config_.displayHeight);
        w(uint32_t(m.disks_.size()));
        for (const auto& d : m.disks_)
            w(bool(d));
        w.end(at);
    }
    // The saved machine's shape against `m`'s: the first difference, or "".
    static std::string shapeMismatch(Reader& r, Machine& m) {
        r.begin("MACH");
        uint64_t ram = 0;
        uint32_t width = 0, height = 0, slots = 0;
        r(ram), r(width), r(height), r(slots);
        if (slots > Machine::kMaxDisks)
            r.fail(std::to_string(slots) + " disk slots");
        std::vector<bool> present(slots);
        for (uint32_t i = 0; i < slots; ++i) {
            bool p = false;
            r(p);
            present[i] = p;
        }
        r.end();
        const MachineConfig& c = m.config_;
        if (ram != c.ramBytes)
            return "it was saved with " + std::to_string(ram >> 20) +
                   " MiB of RAM, this machine has " + std::to_string(c.ramBytes >> 20) + " MiB";
        if (width != c.displayWidth || height != c.displayHeight)
            return "it was saved with a " + std::to_string(width) + "x" + std::to_string(height) +
                   " display, this machine has " + std::to_string(c.displayWidth) + "x" +
                   std::to_string(c.displayHeight);
        auto count = [](auto begin, auto end) { return size_t(std::count(begin, end, true)); };
        size_t here = 0;
        for (const auto& d : m.disks_)
            here += d ? 1 : 0;
        bool same = slots == m.disks_.size();
        for (size_t i = 0; same && i < slots; ++i)
            same = present[i] == bool(m.disks_[i]);
        if (!same)
            return "it was saved with " + std::to_string(count(present.begin(), present.end())) +
                   " disk(s) in " + std::to_string(slots) + " slot(s), this machine has " +
                   std::to_string(here) + " in " + std::to_string(m.disks_.size());
        return "";
    }

    static void saveRam(Writer& w, Machine& m) {
        size_t at = w.begin("RAM ");
        const uint64_t pages = m.config_.ramBytes / kPageBytes;
        const uint8_t* ram = m.mem_.ramPointer(0, m.config_.ramBytes);
        size_t countAt = w.out.size();
        w(uint64_t(0));
        uint64_t stored = 0;
        const std::vector<bool> inUse = pagesInUse(ram, pages);
        for (uint64_t p = 0; p < pages; ++p) {
            const uint8_t* page = ram + p * kPageBytes;
            if (!inUse[p] || zeroPage(page))
                continue;
            w(p);
            w.bytes(page, kPageBytes);
            ++stored;
        }
        for (size_t i = 0; i < 8; ++i)
            w.out[countAt + i] = uint8_t(stored >> (8 * i));
        w.end(at);
    }
    static void loadRam(Reader& r, Machine& m) {
        r.begin("RAM ");
        const uint64_t top = m.config_.ramBytes, pages = top / kPageBytes;
        uint8_t* ram = m.mem_.ramPointer(0, top);
        madvise(ram, top, MADV_DONTNEED); // every page reads as zero again
        m.ramTouched_ = true;
        uint64_t stored = 0, previous = 0;
        r(stored);
        if (stored > pages)
            r.fail(std::to_string(stored) + " pages for " + std::to_string(pages) + " of RAM");
        for (uint64_t i = 0; i < stored; ++i) {
            uint64_t p = 0;
            r(p);
            if (p >= pages || (i > 0 && p <= previous))
                r.fail("page " + std::to_string(p) + " out of order or outside RAM");
            std::memcpy(ram + p * kPageBytes, r.take(kPageBytes), kPageBytes);
            previous = p;
        }
        r.end();
    }

    static std::vector<uint8_t> save(Machine& m) {
        Writer w;
        w.bytes(MachineState::kMagic, 8);
        w(MachineState::kVersion);
        w(uint64_t(0)); // payload length
        w(uint64_t(0)); // checksum
        shape(w, m);

        size_t at = w.begin("CPU ");
        cpu(w, m.cpu_.state());
        saveTirs(w, m.cpu_);
        w.end(at);
        saveRam(w, m);
        at = w.begin("CLCK");
        clock(w, m.clock_);
        board(w, m);
        w.end(at);
        at = w.begin("SYSC");
        w(uint8_t(m.system_.request_));
        w.end(at);
        at = w.begin("IRQC");
        irq(w, m.irq_);
        w.end(at);
        at = w.begin("SERL");
        saveFifo(w, m.serial_.rx_);
        w(m.serial_.rxIrq_);
        w.end(at);
        at = w.begin("TIMR");
        timer(w, m.timer_);
        w.end(at);
        at = w.begin("RTC ");
        rtc(w, m.rtc_);
        w.end(at);
        at = w.begin("FBUF");
        framebuffer(w, m.framebuffer_);
        saveShadow(w, m.framebuffer_);
        w.end(at);
        at = w.begin("KBD ");
        saveFifo(w, m.keyboard_.fifo_);
        w(m.keyboard_.irqEnable_);
        w.end(at);
        at = w.begin("PTR ");
        pointer(w, m.pointer_);
        w.end(at);
        at = w.begin("DISK");
        for (auto& d : m.disks_)
            if (d)
                disk(w, *d);
        w.end(at);
        at = w.begin("END ");
        w.end(at);

        const uint64_t payload = w.out.size() - kHeaderBytes;
        const uint64_t sum = checksum(std::span(w.out).subspan(kHeaderBytes));
        for (size_t i = 0; i < 8; ++i) {
            w.out[12 + i] = uint8_t(payload >> (8 * i));
            w.out[20 + i] = uint8_t(sum >> (8 * i));
        }
        return std::move(w.out);
    }

    static void checkHeader(std::span<const uint8_t> bytes) {
        if (bytes.size() >= 4 && std::memcmp(bytes.data(), kQemuMagic, 4) == 0)
            throw MachineStateError("the VM state was saved by QEMU, not by an e2k-vm machine");
        if (bytes.size() < 8 || std::memcmp(bytes.data(), MachineState::kMagic, 8) != 0)
            throw MachineStateError("the VM state is not an e2k-vm machine state (bad magic)");
        Reader r(bytes);
        r.take(8);
        uint32_t version = 0;
        uint64_t payload = 0, sum = 0;
        r(version), r(payload), r(sum);
        if (version != MachineState::kVersion)
            throw MachineStateError("e2k-vm machine state version " + std::to_string(version) +
                                    " is not supported (this build reads version " +
                                    std::to_string(MachineState::kVersion) + ")");
        if (payload != bytes.size() - kHeaderBytes)
            throw MachineStateError("e2k-vm machine state truncated or padded: " +
                                    std::to_string(bytes.size() - kHeaderBytes) + " bytes of " +
                                    std::to_string(payload));
        if (checksum(bytes.subspan(kHeaderBytes)) != sum)
            throw MachineStateError("e2k-vm machine state damaged (checksum mismatch)");
    }

    // After the checks: changes `m`.
    static void apply(Reader& r, Machine& m) {
        r.begin("CPU ");
        Cpu& c = m.cpu_;
        cpu(r, c.state());
        checkCpu(r, c.state());
        loadTirs(r, c);
        r.end();
        loadRam(r, m);
        r.begin("CLCK");
        clock(r, m.clock_);
        board(r, m);
        r.end();
        r.begin("SYSC");
        uint8_t request = 0;
        r(request);
        if (request > uint8_t(SystemController::PowerRequest::Reset))
            r.fail("power request " + std::to_string(request));
        m.system_.request_ = SystemController::PowerRequest(request);
        r.end();
        r.begin("IRQC");
        irq(r, m.irq_);
        r.end();
        r.begin("SERL");
        loadFifo(r, m.serial_.rx_, SerialPort::kRxCapacity);
        r(m.serial_.rxIrq_);
        r.end();
        r.begin("TIMR");
        timer(r, m.timer_);
        r.end();
        r.begin("RTC ");
        rtc(r, m.rtc_);
        r.end();
        r.begin("FBUF");
        Framebuffer& f = m.framebuffer_;
        framebuffer(r, f);
        loadShadow(r, f);
        r.end();
        r.begin("KBD ");
        loadFifo(r, m.keyboard_.fifo_, Keyboard::kCapacity);
        r(m.keyboard_.irqEnable_);
        r.end();
        r.begin("PTR ");
        pointer(r, m.pointer_);
        r.end();
        r.begin("DISK");
        for (auto& d : m.disks_)
            if (d)
                disk(r, *d);
        r.end();
        r.begin("END ");
        r.end();

        // Derived state, as the devices compute it.
        m.irq_.update(); // the CPU's interrupt line
        // The display shows what it showed at the save (this counts no frame).
        const int w = f.enabled_ ? f.width_ : f.preferredWidth_;
        const int h = f.enabled_ ? f.height_ : f.preferredHeight_;
        Rect all{0, 0, w, h};
        f.publisher_.publish(w, h, f.shadow_.data(), size_t(w), std::span(&all, 1));
        c.flushDecodeCache();
        m.mem_.takeCodeDirty();
    }

    static void load(Machine& m, std::span<const uint8_t> bytes) {
        checkHeader(bytes);
        Reader r(bytes);
        r.take(kHeaderBytes);
        std::string mismatch = shapeMismatch(r, m);
        if (!mismatch.empty())
            throw MachineStateError("the VM state belongs to a different machine: " + mismatch);
        try {
            apply(r, m);
        } catch (const MachineStateError& e) {
            m.reset();
            throw MachineStateError(std::string(e.what()) + " (the machine was reset)");
        }
    }
};

std::vector<uint8_t> MachineState::save(Machine& m) {
    return MachineStateFields::save(m);
}

void MachineState::load(Machine& m, std::span<const uint8_t> bytes) {
    MachineStateFields::load(m, bytes);
}

} // namespace e2kvm::emu
