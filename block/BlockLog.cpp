#include "BlockLog.h"

#include <cstdio>
#include <mutex>

namespace e2kvm::block {

namespace {
std::mutex sinkMutex;
LogSink currentSink;
} // namespace

LogSink setLogSink(LogSink sink) {
    std::lock_guard lock(sinkMutex);
    LogSink previous = std::move(currentSink);
    currentSink = std::move(sink);
    return previous;
}

void logMessage(LogLevel level, const std::string& image, const std::string& text) {
    LogSink sink;
    {
        std::lock_guard lock(sinkMutex);
        sink = currentSink;
    }
    LogMessage m{level, image, text};
    if (sink) {
        sink(m);
        return;
    }
    if (level == LogLevel::Corruption || level == LogLevel::Leak) {
        std::fprintf(stderr, "%s\n", text.c_str());
        return;
    }
    std::fprintf(stderr, "%s: %s: %s\n", level == LogLevel::Error ? "error" : "warning",
                 image.c_str(), text.c_str());
}

} // namespace e2kvm::block
