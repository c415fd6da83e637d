#pragma once
// WorkerPool: a few threads that run one connection's requests in parallel. Threads start
// on demand up to a maximum; drain() waits until every submitted job has finished.
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace e2kvm::nbd {

class WorkerPool {
public:
    explicit WorkerPool(unsigned maxThreads);
    ~WorkerPool();
    WorkerPool(const WorkerPool&) = delete;
    WorkerPool& operator=(const WorkerPool&) = delete;

    void submit(std::function<void()> job);
    void drain();

private:
    void loop();

    unsigned maxThreads_;
    std::mutex mutex_;
    std::condition_variable wake_;
    std::condition_variable idle_;
    std::deque<std::function<void()>> jobs_;
    std::vector<std::thread> threads_;
    unsigned idleThreads_ = 0;
    unsigned running_ = 0;
    bool stopping_ = false;
};

} // namespace e2kvm::nbd
