#include "nbd/WorkerPool.h"

namespace e2kvm::nbd {

WorkerPool::WorkerPool(unsigned maxThreads) : maxThreads_(maxThreads ? maxThreads : 1) {}

WorkerPool::~WorkerPool() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    for (auto& t : threads_)
        t.join();
}

void WorkerPool::submit(std::function<void()> job) {
    std::lock_guard lock(mutex_);
    jobs_.push_back(std::move(job));
    if (idleThreads_ < jobs_.size() && threads_.size() < maxThreads_)
        threads_.emplace_back([this] { loop(); });
    else
        wake_.notify_one();
}

void WorkerPool::drain() {
    std::unique_lock lock(mutex_);
    idle_.wait(lock, [this] { return jobs_.empty() && running_ == 0; });
}

void WorkerPool::loop() {
    std::unique_lock lock(mutex_);
    for (;;) {
        ++idleThreads_;
        wake_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
        --idleThreads_;
        if (jobs_.empty())
            return; // stopping
        auto job = std::move(jobs_.front());
        jobs_.pop_front();
        ++running_;
        lock.unlock();
        job();
        lock.lock();
        --running_;
        if (jobs_.empty() && running_ == 0)
            idle_.notify_all();
    }
}

} // namespace e2kvm::nbd
