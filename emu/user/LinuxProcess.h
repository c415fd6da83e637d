#pragma once
// LinuxProcess: runs a static E2K Linux executable under the E2K Linux user ABI: loads the
// ELF, builds the initial data/procedure/chain stacks, and serves system calls made with
// `sdisp %ctpr1, 3` + `call` (number in the callee's %dr0, arguments in %dr1..%dr6, result
// back in %dr0). Unknown system calls return -ENOSYS, a diagnostic (tagged) number too; a call
// to a trap-table entry other than 1, 3, 4 (system calls) and 6 (fast calls, -ENOSYS) is a
// fault. The null page [0, 0x1000) is not mapped. rt_sigaction installs handlers; a fault
// whose signal has one calls it (%dr0 = signal number) as a procedure that returns to the
// faulting bundle, as the kernel's delivery does; without one the process dies.
#include "emu/cpu/Cpu.h"
#include "emu/cpu/GuestMemory.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace e2kvm::emu {

// E2K Linux system call numbers (arch/e2k uapi unistd.h: i386-derived for the low numbers,
// its own from 226 on, e.g. clock_gettime 267 and exit_group 300).
enum LinuxSyscall : uint64_t {
    kSysExit = 1,
    kSysRead = 3,
    kSysWrite = 4,
    kSysGetpid = 20,
    kSysBrk = 45,
    kSysMmap = 90,
    kSysMunmap = 91,
    kSysExitGroup = 300,
    kSysClockGettime = 267,
    kSysAccessHwStacks = 254,
    kSysRtSigaction = 174,
};

// access_hw_stacks modes (arch/e2k uapi): reads and writes of the user's procedure and chain
// stacks as they are in memory when the system call is made.
enum HwStackMode : uint64_t {
    kGetChainStackOffset = 3,
    kGetChainStackSize = 4,
    kGetProcStackSize = 5,
    kReadChainStackEx = 6,
    kReadProcStackEx = 7,
    kWriteProcStackEx = 8,
    kWriteChainStackEx = 9,
};

struct ProcessResult {
    bool exited = false; // exit/exit_group called
    int exitCode = 0;    // exit status, or 128+signal after a fault
    std::string fault;   // description of the guest fault, if any
};

class LinuxProcess {
public:
    static constexpr uint64_t kRamSize = uint64_t(2) << 30;

    LinuxProcess();

    // Loads `file` (the bytes of a static ELF); argv[0] is the program name.
    void load(const std::vector<uint8_t>& file, const std::string& name,
              const std::vector<std::string>& argv);

    // Runs until exit or fault. `maxBundles` = 0: no limit.
    ProcessResult run(uint64_t maxBundles = 0);

    Cpu& cpu() { return *cpu_; }
    GuestMemory& memory() { return *mem_; }

    // Where write(1/2, ...) goes (tests capture it); default: the host fds.
    std::function<void(int fd, const uint8_t* data, size_t len)> output;

private:
    int64_t syscall(uint64_t nr, const uint64_t* args, ProcessResult& result);
    int64_t accessHwStacks(const uint64_t* args);
    void setupStack(const std::string& name, const std::vector<std::string>& argv, uint64_t entry);

    std::unique_ptr<GuestMemory> mem_;
    std::unique_ptr<Cpu> cpu_;
    uint64_t brkStart_ = 0, brk_ = 0;
    uint64_t mmapNext_ = 0;
    uint64_t sigHandlers_[65] = {}; // rt_sigaction: handler address per signal (0 default)
};

// Signal a guest exception maps to (SIGILL, SIGSEGV, SIGBUS, SIGFPE).
int signalForException(ExcNum exc);

} // namespace e2kvm::emu
