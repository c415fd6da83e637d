#pragma once
// FramePublisher: the display seam between a machine and its viewers. The machine thread
// publishes frames with dirty rectangles; any number of listeners take the newest one when they
// are ready. Buffers are recycled (double-buffered per idle listener) and a listener that falls
// behind gets the newest frame with the union of everything it missed: frames are dropped,
// never queued.
#include "emu/display/Frame.h"

#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <vector>

namespace e2kvm::emu {

class FramePublisher {
public:
    // Called on the publishing thread after each publish that a listener has not yet seen;
    // it must not block (typically it posts an event to the listener's own thread).
    using Notify = std::function<void()>;

    struct Taken {
        std::shared_ptr<const FrameImage> image;
        Rect dirty;           // what changed since this listener's previous take
        bool resized = false; // size differs from the previous take (or first take)
    };

    FramePublisher();

    int subscribe(Notify notify); // returns a listener id
    void unsubscribe(int id);

    // Machine side. `pixels` has `height` rows of `strideWords` 32-bit words. Only the dirty
    // rectangles are copied (plus whatever the recycled buffer missed). An empty `dirty` list
    // with an unchanged size publishes nothing.
    void publish(int width, int height, const uint32_t* pixels, size_t strideWords,
                 std::span<const Rect> dirty);

    // Listener side (any thread): the newest frame if there is one this listener has not
    // taken, with the union of dirty regions since its last take.
    std::optional<Taken> take(int id);
    // The newest frame regardless of what was taken (screendump, thumbnails); may be null.
    std::shared_ptr<const FrameImage> latest() const;

    uint64_t published() const;

private:
    struct Buffer {
        std::shared_ptr<FrameImage> image;
        Rect stale; // region changed since this buffer was last written
    };
    struct Listener {
        int id;
        Notify notify;
        Rect dirty;
        uint64_t seenSequence = 0;
        int width = 0, height = 0;
        bool notified = false; // told about a frame it has not taken yet
    };
    Buffer* freeBuffer();

    mutable std::mutex mutex_;
    std::vector<Buffer> buffers_;
    std::shared_ptr<FrameImage> front_;
    std::vector<Listener> listeners_;
    Rect missed_; // changes of dropped publishes
    uint64_t sequence_ = 0;
    int nextId_ = 1;
};

} // namespace e2kvm::emu
