#pragma once
// JobEventLog: the events of one job in the job tests, as short words ("created", "READY",
// "COMPLETED:error", "ERROR:write"), and a wait for one of them.
#include "block/job/Job.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

namespace e2kvm::block::test {

class EventLog {
public:
    Job::Listener listener() {
        return [this](const JobEvent& e) {
            std::lock_guard lock(mutex_);
            std::string s;
            switch (e.kind) {
            case JobEvent::StatusChange:
                s = jobStatusName(e.info.status);
                break;
            case JobEvent::Pending:
                s = "PENDING";
                break;
            case JobEvent::Completed:
                s = e.info.error ? "COMPLETED:" + *e.info.error : "COMPLETED";
                break;
            case JobEvent::Cancelled:
                s = "CANCELLED";
                break;
            case JobEvent::IoError:
                s = e.writeError ? "ERROR:write" : "ERROR:read";
                break;
            case JobEvent::Ready:
                s = "READY";
                break;
            }
            events_.push_back(s);
            changed_.notify_all();
        };
    }
    bool waitFor(const std::string& what, long times = 1) {
        std::unique_lock lock(mutex_);
        return changed_.wait_for(lock, std::chrono::seconds(20), [&] {
            return std::count(events_.begin(), events_.end(), what) >= times;
        });
    }
    std::string joined() {
        std::lock_guard lock(mutex_);
        std::string out;
        for (auto& e : events_)
            out += (out.empty() ? "" : " ") + e;
        return out;
    }

private:
    std::mutex mutex_;
    std::condition_variable changed_;
    std::vector<std::string> events_;
};

} // namespace e2kvm::block::test
