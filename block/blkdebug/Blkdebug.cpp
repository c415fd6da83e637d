#include "Blkdebug.h"

#include <algorithm>
#include <atomic>
#include <cstdio>

namespace e2kvm::block {

namespace {

std::atomic<bool> gAnnounce{true};

constexpr unsigned bit(BlkdebugIoType t) {
    return 1u << unsigned(t);
}

// QEMU's default for a rule without iotype: everything but block status.
constexpr unsigned kDefaultIoTypes = bit(BlkdebugIoType::Read) | bit(BlkdebugIoType::Write) |
                                     bit(BlkdebugIoType::WriteZeroes) |
                                     bit(BlkdebugIoType::Discard) | bit(BlkdebugIoType::Flush);

void announce(const char* what, const std::string& tag) {
    if (!gAnnounce.load(std::memory_order_relaxed))
        return;
    std::printf("blkdebug: %s request '%s'\n", what, tag.c_str());
    std::fflush(stdout);
}

} // namespace

void Blkdebug::setAnnounceRequests(bool on) {
    gAnnounce.store(on, std::memory_order_relaxed);
}

Blkdebug::Blkdebug(std::vector<BlkdebugRule> rules, std::string configFile)
    : configFile_(std::move(configFile)), rules_(size_t(BlkdebugEvent::Count)) {
    for (auto& r : rules) {
        if (r.action == BlkdebugRule::Action::InjectError && r.ioTypes == 0)
            r.ioTypes = kDefaultIoTypes;
        rules_[size_t(r.event)].push_front(std::move(r));
    }
}

Blkdebug::~Blkdebug() {
    std::lock_guard lock(mutex_);
    for (Held* h : held_)
        h->released = true;
    held_.clear();
    changed_.notify_all();
}

int64_t Blkdebug::state() const {
    std::lock_guard lock(mutex_);
    return state_;
}

void Blkdebug::event(BlkdebugEvent ev) {
    std::unique_lock lock(mutex_);
    auto& list = rules_[size_t(ev)];
    int64_t newState = state_;
    bool injectSeen = false;
    std::vector<Held> mine; // stable: reserved below, pointers go into held_
    mine.reserve(list.size());
    for (auto it = list.begin(); it != list.end();) {
        BlkdebugRule& rule = *it;
        if (rule.state != 0 && rule.state != state_) {
            ++it;
            continue;
        }
        switch (rule.action) {
        case BlkdebugRule::Action::InjectError:
            if (!injectSeen) {
                active_.clear();
                injectSeen = true;
            }
            active_.insert(active_.begin(), {ev, it});
            ++it;
            break;
        case BlkdebugRule::Action::SetState:
            newState = rule.newState;
            ++it;
            break;
        case BlkdebugRule::Action::Suspend:
            mine.push_back(Held{rule.tag, false});
            held_.push_front(&mine.back());
            announce("Suspended", rule.tag);
            it = list.erase(it);
            break;
        }
    }
    state_ = newState;
    if (mine.empty())
        return;
    if (!holdingAllowed_) {
        for (const Held& h : mine)
            held_.remove_if([&](const Held* p) { return p == &h; });
        throw BlockError(EDEADLK, "blkdebug: request held at a breakpoint that nothing can "
                                  "resume (a single-request user)");
    }
    changed_.notify_all();
    changed_.wait(lock, [&] {
        return std::all_of(mine.begin(), mine.end(), [](const Held& h) { return h.released; });
    });
}

void Blkdebug::check(BlkdebugIoType type, uint64_t offset, uint64_t bytes) {
    std::lock_guard lock(mutex_);
    for (auto a = active_.begin(); a != active_.end(); ++a) {
        const BlkdebugRule& rule = *a->second;
        const bool covers = rule.offset < 0 || (bytes && uint64_t(rule.offset) >= offset &&
                                                uint64_t(rule.offset) - offset < bytes);
        if (!covers || !(rule.ioTypes & bit(type)))
            continue;
        const int error = rule.error;
        if (error == 0)
            return;
        if (rule.once) {
            rules_[size_t(a->first)].erase(a->second);
            active_.erase(a);
        }
        throw BlkdebugInjectedError(error);
    }
}

void Blkdebug::setHoldingAllowed(bool allowed) {
    std::lock_guard lock(mutex_);
    holdingAllowed_ = allowed;
}

bool Blkdebug::addBreakpoint(const std::string& eventName, const std::string& tag) {
    auto ev = blkdebugEventByName(eventName);
    if (!ev)
        return false;
    BlkdebugRule rule;
    rule.action = BlkdebugRule::Action::Suspend;
    rule.event = *ev;
    rule.tag = tag;
    std::lock_guard lock(mutex_);
    rules_[size_t(*ev)].push_front(std::move(rule));
    return true;
}

bool Blkdebug::resumeLocked(const std::string& tag, bool all) {
    bool any = false;
    // Oldest first, as QEMU walks its list (newest inserted at the head) from the head: it
    // resumes the newest. Keep its order.
    for (auto it = held_.begin(); it != held_.end();) {
        if ((*it)->tag != tag) {
            ++it;
            continue;
        }
        announce("Resuming", tag);
        (*it)->released = true;
        it = held_.erase(it);
        any = true;
        if (!all)
            break;
    }
    if (any)
        changed_.notify_all();
    return any;
}

bool Blkdebug::removeBreakpoint(const std::string& tag) {
    std::lock_guard lock(mutex_);
    bool any = false;
    for (auto& list : rules_)
        for (auto it = list.begin(); it != list.end();) {
            if (it->action == BlkdebugRule::Action::Suspend && it->tag == tag) {
                it = list.erase(it);
                any = true;
            } else {
                ++it;
            }
        }
    if (resumeLocked(tag, true))
        any = true;
    return any;
}

bool Blkdebug::resume(const std::string& tag) {
    std::lock_guard lock(mutex_);
    return resumeLocked(tag, false);
}

bool Blkdebug::isSuspended(const std::string& tag) const {
    std::lock_guard lock(mutex_);
    return std::any_of(held_.begin(), held_.end(), [&](const Held* h) { return h->tag == tag; });
}

size_t Blkdebug::heldCount() const {
    std::lock_guard lock(mutex_);
    return held_.size();
}

void Blkdebug::waitSuspended(const std::string& tag) const {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] {
        return std::any_of(held_.begin(), held_.end(),
                           [&](const Held* h) { return h->tag == tag; });
    });
}

Blkdebug::Tracked* Blkdebug::beginTracked(uint64_t start, uint64_t end, bool serialising) {
    auto* self = new Tracked{start, end, serialising, false};
    std::unique_lock lock(trackedMutex_);
    tracked_.push_back(self);
    auto blocker = [&] {
        for (const Tracked* other : tracked_)
            if (other != self && (other->serialising || serialising) && !other->waiting &&
                other->start < end && start < other->end)
                return true;
        return false;
    };
    while (blocker()) {
        self->waiting = true;
        trackedChanged_.wait(lock);
        self->waiting = false;
    }
    return self;
}

void Blkdebug::endTracked(Tracked* request) {
    {
        std::lock_guard lock(trackedMutex_);
        tracked_.remove(request);
    }
    delete request;
    trackedChanged_.notify_all();
}

} // namespace e2kvm::block
