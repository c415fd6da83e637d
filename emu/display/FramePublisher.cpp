#include "emu/display/FramePublisher.h"

#include <algorithm>
#include <cstring>

namespace e2kvm::emu {

FramePublisher::FramePublisher() = default;

int FramePublisher::subscribe(Notify notify) {
    std::lock_guard lock(mutex_);
    int id = nextId_++;
    listeners_.push_back({id, std::move(notify), {}, 0, 0, 0});
    return id;
}

void FramePublisher::unsubscribe(int id) {
    std::lock_guard lock(mutex_);
    std::erase_if(listeners_, [id](const Listener& l) { return l.id == id; });
}

FramePublisher::Buffer* FramePublisher::freeBuffer() {
    for (Buffer& b : buffers_)
        if (b.image != front_ && b.image.use_count() == 1)
            return &b;
    // One buffer being shown, one being written, one more per listener that may hold an old
    // frame; beyond that the publish is dropped.
    if (buffers_.size() < 2 + listeners_.size()) {
        buffers_.push_back({std::make_shared<FrameImage>(), {}});
        return &buffers_.back();
    }
    return nullptr;
}

void FramePublisher::publish(int width, int height, const uint32_t* pixels, size_t strideWords,
                             std::span<const Rect> dirty) {
    if (width <= 0 || height <= 0 || !pixels)
        return;
    std::vector<Notify> toNotify;
    {
        std::lock_guard lock(mutex_);
        const Rect full{0, 0, width, height};
        bool resized = !front_ || front_->width != width || front_->height != height;
        Rect changed = resized ? full : missed_;
        for (const Rect& r : dirty)
            changed = changed.united(r.clipped(width, height));
        if (changed.empty())
            return;
        Buffer* b = freeBuffer();
        if (!b) {
            missed_ = changed; // the next publish covers what this one would have shown
            return;
        }
        missed_ = {};
        FrameImage& img = *b->image;
        Rect copy = changed.united(b->stale).clipped(width, height);
        if (img.width != width || img.height != height) {
            img.width = width;
            img.height = height;
            img.pixels.assign(size_t(width) * size_t(height), 0);
            copy = full;
        }
        for (int y = copy.y; y < copy.y + copy.h; ++y)
            std::memcpy(&img.pixels[size_t(y) * size_t(width) + size_t(copy.x)],
                        pixels + size_t(y) * strideWords + size_t(copy.x),
                        size_t(copy.w) * sizeof(uint32_t));
        b->stale = {};
        for (Buffer& other : buffers_)
            if (&other != b)
                other.stale = other.stale.united(changed);
        img.sequence = ++sequence_;
        front_ = b->image;
        for (Listener& l : listeners_) {
            l.dirty = (l.width != width || l.height != height) ? full : l.dirty.united(changed);
            if (!l.notified && l.notify) {
                l.notified = true;
                toNotify.push_back(l.notify);
            }
        }
    }
    for (auto& n : toNotify)
        n();
}

std::optional<FramePublisher::Taken> FramePublisher::take(int id) {
    std::lock_guard lock(mutex_);
    for (Listener& l : listeners_) {
        if (l.id != id)
            continue;
        if (!front_ || l.seenSequence == front_->sequence)
            return std::nullopt;
        Taken t;
        t.image = front_;
        t.resized = l.width != front_->width || l.height != front_->height;
        t.dirty = t.resized ? Rect{0, 0, front_->width, front_->height} : l.dirty;
        l.width = front_->width;
        l.height = front_->height;
        l.dirty = {};
        l.seenSequence = front_->sequence;
        l.notified = false;
        return t;
    }
    return std::nullopt;
}

std::shared_ptr<const FrameImage> FramePublisher::latest() const {
    std::lock_guard lock(mutex_);
    return front_;
}

uint64_t FramePublisher::published() const {
    std::lock_guard lock(mutex_);
    return sequence_;
}

} // namespace e2kvm::emu
