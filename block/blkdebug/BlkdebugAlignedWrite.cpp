#include "BlkdebugAlignedWrite.h"

#include "BlkdebugEvent.h"

#include <cstring>
#include <vector>

namespace e2kvm::block {

void writeAlignedThrough(Blkdebug& injector, uint64_t offset, std::span<const uint8_t> buf,
                         uint64_t align,
                         const std::function<void(uint64_t, std::span<uint8_t>)>& read,
                         const std::function<void(uint64_t, std::span<const uint8_t>)>& write) {
    const uint64_t end = offset + buf.size();
    const uint64_t start = offset - offset % align;
    const uint64_t paddedEnd = (end + align - 1) / align * align;
    const bool head = offset != start, tail = end != paddedEnd;
    Blkdebug::Tracked* request = injector.beginTracked(start, paddedEnd, head || tail);
    try {
        if (!head && !tail) {
            write(offset, buf);
        } else {
            std::vector<uint8_t> padded(size_t(paddedEnd - start));
            // QEMU reads a request within one unit at once; else the head and tail units.
            const bool oneUnit = paddedEnd - start == align;
            if (head || oneUnit) {
                if (head)
                    injector.event(BlkdebugEvent::PwritevRmwHead);
                if (oneUnit && tail)
                    injector.event(BlkdebugEvent::PwritevRmwTail);
                read(start, std::span(padded.data(), size_t(align)));
                if (head)
                    injector.event(BlkdebugEvent::PwritevRmwAfterHead);
                if (oneUnit && tail)
                    injector.event(BlkdebugEvent::PwritevRmwAfterTail);
            }
            if (tail && !oneUnit) {
                injector.event(BlkdebugEvent::PwritevRmwTail);
                read(paddedEnd - align,
                     std::span(padded.data() + (padded.size() - align), size_t(align)));
                injector.event(BlkdebugEvent::PwritevRmwAfterTail);
            }
            std::memcpy(padded.data() + (offset - start), buf.data(), buf.size());
            write(start, padded);
        }
    } catch (...) {
        injector.endTracked(request);
        throw;
    }
    injector.endTracked(request);
}

} // namespace e2kvm::block
