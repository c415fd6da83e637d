#pragma once
// IoShell: runs qemu-io style commands ("read -P 0xab 0 4k", "write -z -u 1M 64k", "map",
// ...) against one open image, printing exactly what qemu-io 7.2 prints, to an IoOutput the
// caller chooses (the terminal for e2kvm-io, the QMP server's streams and reply for HMP
// "qemu-io"). The image may be shared with other users (a VM's disk node): the shell only holds
// a reference to it. For e2kvm-io the shell may also start without an image and open, close and
// reopen images itself (open, close, reopen).
#include "app/ioshell/IoOpen.h"
#include "app/ioshell/IoOutput.h"
#include "app/ioshell/IoPendingRequest.h"
#include "block/BlockDriver.h"
#include "block/ImageOptions.h"

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace e2kvm::io {

class IoShell {
public:
    struct Options {
        // Discards and write -z -u really deallocate (qemu-io -d unmap); otherwise discard
        // requests are accepted and ignored, as qemu-io does by default.
        bool discardUnmap = true; // qemu-io discards by default; -d ignore turns it off
        // QEMU's detect-zeroes (set by reopen -o detect-zeroes=...): the shell's writes of
        // buffers that hold only zeros become write-zeroes requests, with Unmap ones that may
        // deallocate (if discards do).
        enum class ZeroDetection { Off, On, Unmap };
        ZeroDetection detectZeroes = ZeroDetection::Off;
        // Every write is flushed before it completes (qemu-io's default cache mode).
        bool writethrough = true;
        // Flush requests are ignored (cache mode "unsafe").
        bool ignoreFlush = false;
        // Commands that write fail as on a read-only image even if the image is writable (a
        // node a QMP user opened read-only).
        bool readOnly = false;
        // Whether "quit" exists: QEMU's monitor runs qemu-io commands without it.
        bool quitCommand = true;
        // The shell is the image's only user and runs one request at a time (e2kvm-io): no
        // request can be held at a breakpoint while it waits, so wait_break returns at once
        // instead of waiting forever (qemu-io would wait for its aio requests).
        bool soleUser = false;
        // Whether "open" and "close" exist (e2kvm-io; QEMU's monitor has neither) and "reopen"
        // opens the image again with the request it was opened with.
        bool fileCommands = false;
        // e2kvm-io's --image-opts: "open" takes an option string instead of a file name.
        bool imageOpts = false;
    };
    // `output` must outlive the shell. `image` may be null (no file open) if fileCommands.
    IoShell(std::shared_ptr<block::BlockDriver> image, Options options, IoOutput& output);
    ~IoShell();
    IoShell(const IoShell&) = delete;
    IoShell& operator=(const IoShell&) = delete;

    // How the image given to the constructor was opened, for "reopen" (fileCommands only).
    void setOpenRequest(IoOpenRequest request) { openRequest_ = std::move(request); }

    // Runs one command line. Returns false when the command asks to stop (quit).
    bool runLine(const std::string& line);
    // Whether any command so far failed (the exit status is 1 then).
    bool anyFailed() const { return anyFailed_; }
    // Flushes the image and drops the shell's reference to it (the image closes if nobody
    // else holds it); throws BlockError if the flush fails. Destroying the shell without
    // close() just drops the reference.
    void close();
    // Runs the aio requests submitted so far, in order, and prints what each prints when it
    // completes, last one first as qemu-io does. qemu-io's requests complete when its event
    // loop waits for them (aio_flush, close, exit); until then other commands do not see them.
    void completePending();

private:
    // The backing node's discard and detect-zeroes as reopen -o backing.* set them (QEMU's
    // backing node inherits qemu-io's discard=unmap). Only checked and kept: the shell writes
    // to its top image only.
    bool backingDiscardUnmap_ = true;
    Options::ZeroDetection backingDetectZeroes_ = Options::ZeroDetection::Off;
    struct Command;
    using Args = std::vector<std::string>;
    const Command* findCommand(const std::string& name) const;
    bool available(const Command& c) const;
    static const std::vector<Command>& commands();
    void printUsage(const Command& cmd, const std::string& typedName);

    bool cmdRead(const Command& cmd, Args& args);
    bool cmdWrite(const Command& cmd, Args& args);
    bool cmdDiscard(const Command& cmd, Args& args);
    bool cmdFlush(const Command& cmd, Args& args);
    bool cmdMap(const Command& cmd, Args& args);
    bool cmdInfo(const Command& cmd, Args& args);
    bool cmdLength(const Command& cmd, Args& args);
    bool cmdHelp(const Command& cmd, Args& args);
    bool cmdAbort(const Command& cmd, Args& args);
    bool cmdDump(const Command& cmd, Args& args);
    bool cmdBreak(const Command& cmd, Args& args);
    bool cmdRemoveBreak(const Command& cmd, Args& args);
    bool cmdResume(const Command& cmd, Args& args);
    bool cmdWaitBreak(const Command& cmd, Args& args);
    // IoShellVector.cpp: requests over several buffers, and the asynchronous ones.
    bool cmdReadv(const Command& cmd, Args& args);
    bool cmdWritev(const Command& cmd, Args& args);
    bool cmdAioRead(const Command& cmd, Args& args);
    bool cmdAioWrite(const Command& cmd, Args& args);
    bool cmdAioFlush(const Command& cmd, Args& args);
    // IoShellImage.cpp: the image as a whole.
    bool cmdOpen(const Command& cmd, Args& args);
    bool cmdClose(const Command& cmd, Args& args);
    bool cmdReopen(const Command& cmd, Args& args);
    bool cmdTruncate(const Command& cmd, Args& args);
    bool cmdAlloc(const Command& cmd, Args& args);
    bool cmdSigraise(const Command& cmd, Args& args);
    bool cmdSleep(const Command& cmd, Args& args);

    // The arguments of readv and aio_read.
    struct VectorRead {
        uint64_t offset = 0, count = 0;
        std::optional<uint8_t> pattern;
        bool quiet = false, dump = false, machine = false;
    };
    std::optional<VectorRead> parseVectorRead(const Command& cmd, Args& args, bool aio,
                                              bool* invalid);
    struct VectorWrite {
        uint64_t offset = 0, count = 0;
        uint8_t pattern = 0xcd;
        bool quiet = false, machine = false, fua = false, unmap = false, zeroes = false;
    };
    // writev and aio_write take [-Cfq] [-P pattern] off len [len...]; aio_write also -i (an
    // invalid request, only announced: `invalid` is set), -z (zeroes, one length) and -u
    // (unmap, with -z). Prints the usage or qemu-io's message and returns nothing when wrong.
    std::optional<VectorWrite> parseVectorWrite(const Command& cmd, Args& args, bool aio,
                                                bool* invalid);
    // Parses the lengths of readv/writev/aio_* (each and their sum at most QEMU's largest
    // request); prints qemu-io's message and returns nothing if one is wrong.
    std::optional<uint64_t> parseLengths(const Args& args, int first);
    // One read of `count` bytes at `offset`, printed as readv prints it; `op` names a failure.
    // Returns false if it failed or the pattern did not match.
    bool vectorRead(IoOutput& out, const char* op, uint64_t offset, uint64_t count,
                    std::optional<uint8_t> pattern, bool quiet, bool dump, bool machine);
    // Queues an aio request (see IoPendingRequest).
    void submit(std::function<void(IoOutput&)> request);
    // Whether an aio request started at submission is still running (held, or waiting).
    bool requestsRunning() const;
    // Opens `request` as the shell's image, printing qemu-io's messages on failure.
    bool openWith(const IoOpenRequest& request, bool quietFailure = false);

    // Range check as QEMU's block layer does it (EIO past the end of the disk).
    bool inRange(uint64_t offset, uint64_t length) const;
    // A data write of the shell's, zero detection applied.
    void writeData(uint64_t offset, std::span<const uint8_t> buf, bool fua);
    // reopen's discard and detect-zeroes for one node (`prefix` "" or "backing."), taken out
    // of `options` and checked as QEMU does against the node's current discard mode. False
    // (reported) if a value is refused.
    bool takeZeroOptions(block::DriverOptions& options, const std::string& prefix,
                         bool& discardUnmap, Options::ZeroDetection& detectZeroes);
    bool readOnly() const { return options_.readOnly || image_->readOnly(); }
    // Prints "<op> failed: <strerror>" on the standard output and the detail as a note.
    void reportFailure(const char* op, int errnoValue, const std::string& detail);

    std::shared_ptr<block::BlockDriver> image_;
    Options options_;
    IoOutput* out_;
    std::vector<std::unique_ptr<IoPendingRequest>> pending_; // submitted aio requests
    std::atomic<uint64_t> completions_{0}; // aio requests started at submission that completed
    std::optional<IoOpenRequest> openRequest_;
    bool anyFailed_ = false;
    bool quit_ = false;
};

} // namespace e2kvm::io
