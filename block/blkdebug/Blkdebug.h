#pragma once
// Blkdebug: QEMU's blkdebug error injector, which sits between a format (qcow2, raw) and its
// file. The format tells it at which point of its work it is (BlkdebugEvent); rules fire on
// events: an inject-error rule makes later requests to the file fail with its errno (all of
// them, those of one kind, or those touching one sector; once or until another event
// activates other rules), a set-state rule moves the injector to another state (rules may be
// limited to one state), and a breakpoint (qemu-io's "break EVENT TAG") holds the request that
// raised the event until it is resumed. Thread-safe: requests from several threads may raise
// events and be checked at once; a held request blocks its thread.
#include "BlkdebugEvent.h"
#include "block/BlockError.h"

#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <list>
#include <mutex>
#include <string>
#include <vector>

namespace e2kvm::block {

struct BlkdebugRule {
    enum class Action { InjectError, SetState, Suspend };
    Action action = Action::InjectError;
    BlkdebugEvent event = BlkdebugEvent::None;
    int64_t state = 0; // the rule applies only in this state; 0: in any
    // inject-error
    int error = EIO;
    bool once = false;        // the rule goes away after failing one request
    bool immediately = false; // accepted; a failure is reported the same way either way
    int64_t offset = -1;      // fail only requests touching this byte; -1: any
    unsigned ioTypes = 0;     // bit per BlkdebugIoType; 0 means QEMU's default set
    // set-state
    int64_t newState = 0;
    // breakpoint
    std::string tag;
};

// A request failed by an inject-error rule: to its caller it is the plain errno, as a failed
// system call (its message is strerror's text), as QEMU's blkdebug returns -errno. qemu-io
// reports it with the errno alone.
class BlkdebugInjectedError : public BlockError {
public:
    explicit BlkdebugInjectedError(int errnoValue)
        : BlockError(errnoValue, std::strerror(errnoValue)) {}
};

class Blkdebug {
public:
    // `configFile` is what the rules were read from ("" if given inline), for the filename.
    explicit Blkdebug(std::vector<BlkdebugRule> rules, std::string configFile = {});
    Blkdebug(const Blkdebug&) = delete;
    Blkdebug& operator=(const Blkdebug&) = delete;
    ~Blkdebug();

    const std::string& configFile() const { return configFile_; }
    int64_t state() const;

    // The format reached `event`: applies the rules for it. Blocks while a breakpoint on it
    // holds the calling request.
    void event(BlkdebugEvent event);
    // Called before a request reaches the file: throws BlkdebugInjectedError if an active
    // inject-error rule covers it (a `once` rule is used up by that).
    void check(BlkdebugIoType type, uint64_t offset, uint64_t bytes);

    // qemu-io's break/remove_break/resume/wait_break. `addBreakpoint` returns false for an
    // unknown event name, the others false when nothing has that tag (ENOENT in qemu-io).
    bool addBreakpoint(const std::string& eventName, const std::string& tag);
    bool removeBreakpoint(const std::string& tag); // also resumes the requests it holds
    bool resume(const std::string& tag);           // the oldest held request with that tag
    bool isSuspended(const std::string& tag) const;
    // How many requests are held now (e2kvm-io waits for an aio request to complete or be held).
    size_t heldCount() const;
    // Waits until a request with `tag` is held.
    void waitSuspended(const std::string& tag) const;
    // Whether holding and resuming a request prints "blkdebug: Suspended request 'TAG'" and
    // "blkdebug: Resuming request 'TAG'" on the standard output, for every injector of the
    // process: qemu-io and qemu-system do, except under qtest. On by default.
    static void setAnnounceRequests(bool announce);
    // Whether a held request may wait: false when the only user of the image is the thread
    // that would be held (e2kvm-io running one request at a time), so that nobody could
    // resume it. A breakpoint then fails the request with EDEADLK instead of hanging.
    void setHoldingAllowed(bool allowed);
    // QEMU's align option: the smallest unit requests to the file are made in (0 or 1: any).
    // A write that does not cover whole units reads the units it only partly covers first
    // (the pwritev_rmw_* events) and runs alone against every request overlapping those units;
    // see HostFile. Set before the injector is shared.
    void setAlignment(uint64_t bytes) { alignment_ = bytes; }
    uint64_t alignment() const { return alignment_; }
    // QEMU's max-transfer, opt-write-zero and max-write-zero options (0: not given). A
    // blkdebug node splits a write-zeroes request at multiples of opt-write-zero and writes
    // the pieces shorter than it as data, as QEMU's block layer falls back when blkdebug
    // refuses them; see BlkdebugImage. Set before the injector is shared.
    struct ZeroLimits {
        uint64_t maxTransfer = 0;
        uint64_t writeZeroAlignment = 0;
        uint64_t maxWriteZeroes = 0;
    };
    void setZeroLimits(const ZeroLimits& limits) { zeroLimits_ = limits; }
    const ZeroLimits& zeroLimits() const { return zeroLimits_; }

    // The requests in flight to the file, as QEMU tracks them (with an alignment only): a
    // request waits for those it overlaps (in whole units) while either of the two must run
    // alone, unless that one is itself waiting. Begin returns a handle for end.
    struct Tracked {
        uint64_t start = 0, end = 0;
        bool serialising = false;
        bool waiting = false;
    };
    Tracked* beginTracked(uint64_t start, uint64_t end, bool serialising);
    void endTracked(Tracked* request);

private:
    struct Held {
        std::string tag;
        bool released = false;
    };
    bool resumeLocked(const std::string& tag, bool all);

    const std::string configFile_;
    mutable std::mutex mutex_;
    mutable std::condition_variable changed_;
    int64_t state_ = 1;
    std::vector<std::list<BlkdebugRule>> rules_; // per event, newest first (QEMU's order)
    // Inject-error rules activated by the last event that had some, as {event, position}.
    std::vector<std::pair<BlkdebugEvent, std::list<BlkdebugRule>::iterator>> active_;
    std::list<Held*> held_; // newest first
    bool holdingAllowed_ = true;
    uint64_t alignment_ = 0;
    ZeroLimits zeroLimits_;
    std::list<Tracked*> tracked_; // under trackedMutex_
    std::mutex trackedMutex_;
    std::condition_variable trackedChanged_;
};

} // namespace e2kvm::block
