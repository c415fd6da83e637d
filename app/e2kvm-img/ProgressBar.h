#pragma once
// ProgressBar: qemu-img's "-p" progress line "    (12.34/100%)\r" on stdout, redrawn each time
// the progress moves by more than one percent or reaches 100%, ended with a newline.
// Thread-safe.
#include <cstdint>
#include <mutex>

namespace e2kvm::img {

class ProgressBar {
public:
    // Draws "(0.00/100%)" at once when enabled.
    ProgressBar(bool enabled, uint64_t total);
    // Adds `amount` to the work done.
    void advance(uint64_t amount);
    // Sets the work done to `percent` (which may go back), drawn as `advance` would.
    void show(float percent);
    // Draws 100% (again) and ends the line.
    void finish();

private:
    void draw(float percent);

    bool enabled_;
    uint64_t total_;
    uint64_t done_ = 0;
    float lastDrawn_ = 0;
    bool finished_ = false;
    std::mutex mutex_;
};

} // namespace e2kvm::img
