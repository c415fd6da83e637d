#pragma once
// HmpConsole: QEMU's human monitor on the process's stdin/stdout (-monitor stdio). It prints
// QEMU's greeting and "(qemu) " prompt, echoes what is typed as QEMU's line editor does on a
// terminal (the whole line again after moving the cursor back, then "erase to end of line"),
// and runs each line with `runLine` (QMP's human-monitor-command); every "\n" it writes is
// "\r\n". Enter is '\r' or '\n'. After a line that asks to end the process (`quitting()`
// true), no prompt follows.
#include <atomic>
#include <functional>
#include <string>
#include <thread>

namespace e2kvm::sys {

class HmpConsole {
public:
    // runLine: one command line to the monitor's text (already "\r\n"-terminated).
    HmpConsole(int inFd, int outFd, std::string version,
               std::function<std::string(const std::string&)> runLine,
               std::function<bool()> quitting);
    ~HmpConsole(); // stop()
    HmpConsole(const HmpConsole&) = delete;
    HmpConsole& operator=(const HmpConsole&) = delete;

    void start(); // greeting, prompt, then a thread reading the input
    void stop();

    // What the line editor shows for `line` after the byte at `line.size() - 1` was typed
    // when `previousLength` characters were on the line (tests use it).
    static std::string echoAfterTyping(const std::string& line, size_t previousLength);

private:
    void readLoop();
    void feed(char c);
    void write(const std::string& text);

    int inFd_, outFd_;
    std::string version_;
    std::function<std::string(const std::string&)> runLine_;
    std::function<bool()> quitting_;
    std::string line_;
    std::thread reader_;
    std::atomic<bool> stopping_{false};
    bool done_ = false; // quit was run: nothing more is read or printed
};

} // namespace e2kvm::sys
