#include "app/e2kvm-system/SerialConsole.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <stdexcept>
#include <unistd.h>

namespace e2kvm::sys {

namespace {

constexpr char kEscape = 0x01; // Ctrl-A

void writeAll(int fd, const char* data, size_t len) {
    while (len > 0) {
        ssize_t n = ::write(fd, data, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return; // the reader went away: guest output is dropped, the guest goes on
        }
        data += n;
        len -= size_t(n);
    }
}

} // namespace

SerialConsole::SerialConsole(const SerialOptions& options) : options_(options) {
    if (options_.kind == SerialKind::Stdio) {
        outFd_ = STDOUT_FILENO;
    } else if (options_.kind == SerialKind::File) {
        outFd_ = ::open(options_.path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (outFd_ < 0)
            throw std::runtime_error("-serial file:" + options_.path + ": could not open '" +
                                     options_.path + "': " + std::strerror(errno));
        ownsOutFd_ = true;
    }
}

SerialConsole::~SerialConsole() {
    stop();
    if (ownsOutFd_)
        ::close(outFd_);
}

void SerialConsole::write(const char* data, size_t len) {
    if (outFd_ >= 0)
        writeAll(outFd_, data, len);
}

void SerialConsole::startInput(std::function<void(const std::string&)> input,
                               std::function<void()> onQuit) {
    if (options_.kind != SerialKind::Stdio || reader_.joinable())
        return;
    input_ = std::move(input);
    onQuit_ = std::move(onQuit);
    if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &savedTerminal_) == 0) {
        termios raw = savedTerminal_;
        // Keys reach the guest one at a time and unechoed; Ctrl-C stays a signal (clean quit).
        raw.c_lflag &= ~tcflag_t(ICANON | ECHO | ECHONL | IEXTEN);
        raw.c_iflag &= ~tcflag_t(ICRNL | INLCR | IGNCR | IXON);
        raw.c_cc[VMIN] = 1;
        raw.c_cc[VTIME] = 0;
        if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0)
            terminalChanged_ = true;
    }
    reader_ = std::thread([this] { readLoop(); });
}

void SerialConsole::stop() {
    stopping_ = true;
    if (reader_.joinable())
        reader_.join();
    if (terminalChanged_) {
        tcsetattr(STDIN_FILENO, TCSANOW, &savedTerminal_);
        terminalChanged_ = false;
    }
}

std::string SerialConsole::filterEscapes(const char* data, size_t len) {
    if (!options_.escapeKeys)
        return std::string(data, len);
    std::string out;
    for (size_t i = 0; i < len; ++i) {
        char c = data[i];
        if (!escapePending_) {
            if (c == kEscape)
                escapePending_ = true;
            else
                out += c;
            continue;
        }
        escapePending_ = false;
        switch (c) {
        case 'x':
        case 'X':
            if (onQuit_)
                onQuit_();
            break;
        case 'a':
        case kEscape:
            out += kEscape;
            break;
        case 'h': {
            static const char help[] = "\r\nC-a h    print this help\r\n"
                                       "C-a x    exit emulator\r\n"
                                       "C-a a    send C-a\r\n";
            writeAll(STDERR_FILENO, help, sizeof help - 1);
            break;
        }
        default:
            break; // no monitor to switch to
        }
    }
    return out;
}

void SerialConsole::readLoop() {
    char buf[256];
    while (!stopping_) {
        pollfd p{STDIN_FILENO, POLLIN, 0};
        int r = ::poll(&p, 1, 100);
        if (r < 0 && errno != EINTR)
            return;
        if (r <= 0)
            continue;
        ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            return;
        }
        if (n == 0)
            return; // end of input: the guest simply gets no more bytes
        std::string bytes = filterEscapes(buf, size_t(n));
        if (!bytes.empty() && input_)
            input_(bytes);
    }
}

} // namespace e2kvm::sys
