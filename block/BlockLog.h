#pragma once
// BlockLog: where the block layer's warnings go (an image whose bitmaps could not be saved, one
// that a program without bitmap support modified). By default they are printed on stderr, as
// the command-line programs want; the GUI routes them to its Log tab. Thread-safe.
#include <functional>
#include <string>

namespace e2kvm::block {

// Corruption: an image format found its metadata corrupt; the text is QEMU's report as it
// stands ("qcow2: Marking image as corrupt: ..."), printed on stderr without a prefix.
// Leak: a format could not free clusters and went on (they stay leaked, check finds them); the
// text is QEMU's ("qcow2_free_clusters failed: ..."), printed as it stands too.
enum class LogLevel { Warning, Error, Corruption, Leak };

struct LogMessage {
    LogLevel level = LogLevel::Warning;
    std::string image; // the image's file name
    std::string text;  // may span several lines, without a final newline
};

using LogSink = std::function<void(const LogMessage&)>;

// Installs a sink (null: stderr again); returns the previous one.
LogSink setLogSink(LogSink sink);
// Hands a message to the sink: "warning: IMAGE: TEXT" on stderr by default (a corruption
// report: TEXT alone).
void logMessage(LogLevel level, const std::string& image, const std::string& text);

} // namespace e2kvm::block
