#pragma once
// IoOutput: where IoShell's text goes. qemu-io writes to four places, which part ways when
// QEMU's human monitor runs it (HMP "qemu-io DEVICE COMMAND"): its standard output
// (statistics, dumps, pattern and parsing errors), its standard error (unknown commands,
// argument counts, option errors), error_report()/warn_report() messages (standard error as
// "qemu-io: message" standalone, the monitor's reply under HMP) and qemu_printf() text (standard
// output standalone, the monitor under HMP: the format-specific part of "info"). e2kvm adds a
// detail line for failed requests (note), which qemu-io does not print.
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

namespace e2kvm::io {

class IoOutput {
public:
    virtual ~IoOutput() = default;
    // qemu-io's standard output.
    virtual void out(std::string_view text) = 0;
    // qemu-io's standard error, newline included.
    virtual void err(std::string_view text) = 0;
    // An error_report() or warn_report() message ("Block node is read-only", "warning: ..."),
    // without program name and newline.
    virtual void report(std::string_view message) = 0;
    // qemu_printf() text.
    virtual void monitor(std::string_view text) = 0;
    // e2kvm's detail of a failed request ("disk.qcow2: read past end of disk"), no newline.
    virtual void note(std::string_view message) = 0;
    // Makes everything written so far visible (before an abort, after each command).
    virtual void flush() {}

    // printf-style forms of out(), err() and monitor().
    void outf(const char* format, ...) __attribute__((format(printf, 2, 3)));
    void errf(const char* format, ...) __attribute__((format(printf, 2, 3)));
    void monitorf(const char* format, ...) __attribute__((format(printf, 2, 3)));
};

// The standalone tool's streams: out() and monitor() to `out`, err() to `err`, report() and
// note() to `err` as "PROGRAM: message" (no note when PROGRAM is qemu-io: a drop-in
// replacement prints exactly what qemu-io prints). `out` is flushed before anything goes to `err`,
// so a terminal or a merged pipe shows both in the order they were written.
class StdioOutput : public IoOutput {
public:
    StdioOutput(std::FILE* out, std::FILE* err, std::string program);
    void out(std::string_view text) override;
    void err(std::string_view text) override;
    void report(std::string_view message) override;
    void monitor(std::string_view text) override;
    void note(std::string_view message) override;
    void flush() override;

private:
    std::FILE* out_;
    std::FILE* err_;
    std::string program_;
};

} // namespace e2kvm::io

namespace e2kvm::io {

// Output held back and written later, in order, to another IoOutput: what an aio request
// prints when it completes, which qemu-io shows in its own order (see IoShell::completePending).
class RecordedOutput : public IoOutput {
public:
    void out(std::string_view text) override { add(Kind::Out, text); }
    void err(std::string_view text) override { add(Kind::Err, text); }
    void report(std::string_view message) override { add(Kind::Report, message); }
    void monitor(std::string_view text) override { add(Kind::Monitor, text); }
    void note(std::string_view message) override { add(Kind::Note, message); }
    // Writes everything recorded to `to` and forgets it.
    void replay(IoOutput& to);

private:
    enum class Kind { Out, Err, Report, Monitor, Note };
    void add(Kind kind, std::string_view text) { parts_.push_back({kind, std::string(text)}); }
    struct Part {
        Kind kind;
        std::string text;
    };
    std::vector<Part> parts_;
};

} // namespace e2kvm::io
