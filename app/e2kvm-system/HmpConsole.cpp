#include "app/e2kvm-system/HmpConsole.h"

#include <cerrno>
#include <poll.h>
#include <unistd.h>

namespace e2kvm::sys {

namespace {

// The monitor ends each line with "\r\n", as QEMU's does on any character device.
std::string withCarriageReturns(const std::string& text) {
    std::string out;
    out.reserve(text.size());
    for (size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '\n' && (i == 0 || text[i - 1] != '\r'))
            out += '\r';
        out += text[i];
    }
    return out;
}

} // namespace

HmpConsole::HmpConsole(int inFd, int outFd, std::string version,
                       std::function<std::string(const std::string&)> runLine,
                       std::function<bool()> quitting)
    : inFd_(inFd), outFd_(outFd), version_(std::move(version)), runLine_(std::move(runLine)),
      quitting_(std::move(quitting)) {}

HmpConsole::~HmpConsole() {
    stop();
}

void HmpConsole::start() {
    write("QEMU " + version_ + " monitor - type 'help' for more information\r\n(qemu) ");
    reader_ = std::thread([this] { readLoop(); });
}

void HmpConsole::stop() {
    stopping_ = true;
    if (reader_.joinable())
        reader_.join();
}

std::string HmpConsole::echoAfterTyping(const std::string& line, size_t previousLength) {
    std::string out;
    for (size_t i = 0; i < previousLength; ++i)
        out += "\033[D";
    return out + line + "\033[K";
}

void HmpConsole::write(const std::string& text) {
    size_t done = 0;
    while (done < text.size()) {
        ssize_t n = ::write(outFd_, text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return; // the reader went away: QEMU drops monitor output too
        done += size_t(n);
    }
}

void HmpConsole::feed(char c) {
    if (c == '\r' || c == '\n') {
        write("\r\n");
        std::string line;
        line.swap(line_);
        std::string reply = runLine_(line);
        write(withCarriageReturns(reply));
        if (quitting_()) {
            done_ = true;
            return;
        }
        write("(qemu) ");
        return;
    }
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
        return; // editing keys and escape sequences are not interpreted
    size_t before = line_.size();
    line_ += c;
    write(echoAfterTyping(line_, before));
}

void HmpConsole::readLoop() {
    char buf[256];
    while (!stopping_ && !done_) {
        pollfd p{inFd_, POLLIN, 0};
        int r = ::poll(&p, 1, 100);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            continue;
        ssize_t n = ::read(inFd_, buf, sizeof buf);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n <= 0)
            return; // end of input: the monitor just stops listening, as QEMU's does
        for (ssize_t i = 0; i < n && !done_; ++i)
            feed(buf[i]);
    }
}

} // namespace e2kvm::sys
