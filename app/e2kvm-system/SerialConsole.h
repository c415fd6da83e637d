#pragma once
// SerialConsole: the host end of the guest's serial port for -serial stdio / file:PATH. Output
// goes to stdout or the file; with stdio, input is read from stdin on its own thread (a
// terminal is switched to character-at-a-time input without echo and restored at the end).
// With -nographic, Ctrl-A x quits and Ctrl-A a sends a literal Ctrl-A.
#include "app/e2kvm-system/SystemOptions.h"

#include <atomic>
#include <functional>
#include <string>
#include <termios.h>
#include <thread>

namespace e2kvm::sys {

class SerialConsole {
public:
    // Opens the output. Throws std::runtime_error ("could not open 'x': No such file or
    // directory").
    explicit SerialConsole(const SerialOptions& options);
    ~SerialConsole(); // stop()
    SerialConsole(const SerialConsole&) = delete;
    SerialConsole& operator=(const SerialConsole&) = delete;

    // Guest output (machine thread).
    void write(const char* data, size_t len);
    // Starts reading stdin (stdio only): bytes go to `input`; Ctrl-A x calls `onQuit`.
    void startInput(std::function<void(const std::string&)> input, std::function<void()> onQuit);
    void stop(); // ends the input thread, restores the terminal

private:
    void readLoop();
    std::string filterEscapes(const char* data, size_t len);

    SerialOptions options_;
    int outFd_ = -1;
    bool ownsOutFd_ = false;
    bool terminalChanged_ = false;
    termios savedTerminal_{};
    std::thread reader_;
    std::atomic<bool> stopping_{false};
    std::function<void(const std::string&)> input_;
    std::function<void()> onQuit_;
    bool escapePending_ = false;
};

} // namespace e2kvm::sys
