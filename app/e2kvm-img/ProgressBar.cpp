#include "ProgressBar.h"

#include <algorithm>
#include <cstdio>

namespace e2kvm::img {

ProgressBar::ProgressBar(bool enabled, uint64_t total) : enabled_(enabled), total_(total) {
    if (enabled_)
        draw(0);
}

void ProgressBar::draw(float percent) {
    std::printf("    (%3.2f/100%%)\r", percent);
    std::fflush(stdout);
    lastDrawn_ = percent;
}

void ProgressBar::advance(uint64_t amount) {
    if (!enabled_)
        return;
    std::lock_guard lock(mutex_);
    done_ += amount;
    // As qemu-img (in its single precision): drawn when it moved by more than one percent,
    // and whenever it is 100%.
    float percent = total_ ? float(double(done_) * 100.0 / double(total_)) : 100.0f;
    if (percent > 100.0f)
        percent = 100.0f;
    if (percent > lastDrawn_ + 1.0f || percent < lastDrawn_ - 1.0f || percent == 100.0f)
        draw(percent);
}

void ProgressBar::show(float percent) {
    if (!enabled_)
        return;
    std::lock_guard lock(mutex_);
    percent = std::min(percent, 100.0f);
    if (percent > lastDrawn_ + 1.0f || percent < lastDrawn_ - 1.0f || percent == 100.0f ||
        percent == 0.0f)
        draw(percent);
}

void ProgressBar::finish() {
    if (!enabled_)
        return;
    std::lock_guard lock(mutex_);
    if (finished_)
        return;
    finished_ = true;
    // qemu-img draws the final 100% once more before ending the line.
    draw(100.0);
    std::printf("\n");
    std::fflush(stdout);
}

} // namespace e2kvm::img
