#include "app/ioshell/IoOutput.h"

#include <cstdarg>
#include <vector>

namespace e2kvm::io {

namespace {

std::string vformat(const char* format, va_list args) {
    char small[256];
    va_list again;
    va_copy(again, args);
    int n = std::vsnprintf(small, sizeof small, format, args);
    if (n < 0) {
        va_end(again);
        return {};
    }
    if (size_t(n) < sizeof small) {
        va_end(again);
        return std::string(small, size_t(n));
    }
    std::vector<char> big(size_t(n) + 1);
    std::vsnprintf(big.data(), big.size(), format, again);
    va_end(again);
    return std::string(big.data(), size_t(n));
}

} // namespace

void IoOutput::outf(const char* format, ...) {
    va_list args;
    va_start(args, format);
    std::string text = vformat(format, args);
    va_end(args);
    out(text);
}

void IoOutput::errf(const char* format, ...) {
    va_list args;
    va_start(args, format);
    std::string text = vformat(format, args);
    va_end(args);
    err(text);
}

void IoOutput::monitorf(const char* format, ...) {
    va_list args;
    va_start(args, format);
    std::string text = vformat(format, args);
    va_end(args);
    monitor(text);
}

StdioOutput::StdioOutput(std::FILE* out, std::FILE* err, std::string program)
    : out_(out), err_(err), program_(std::move(program)) {}

void StdioOutput::out(std::string_view text) {
    std::fwrite(text.data(), 1, text.size(), out_);
}

void StdioOutput::err(std::string_view text) {
    std::fflush(out_);
    std::fwrite(text.data(), 1, text.size(), err_);
}

void StdioOutput::report(std::string_view message) {
    std::fflush(out_);
    std::fprintf(err_, "%s: %.*s\n", program_.c_str(), int(message.size()), message.data());
}

void StdioOutput::monitor(std::string_view text) {
    out(text);
}

void StdioOutput::note(std::string_view message) {
    // Installed as qemu-io, the output is qemu-io's, which has no such line.
    if (program_ != "qemu-io")
        report(message);
}

void StdioOutput::flush() {
    std::fflush(out_);
    std::fflush(err_);
}

} // namespace e2kvm::io

namespace e2kvm::io {

void RecordedOutput::replay(IoOutput& to) {
    for (const auto& part : parts_) {
        switch (part.kind) {
        case Kind::Out:
            to.out(part.text);
            break;
        case Kind::Err:
            to.err(part.text);
            break;
        case Kind::Report:
            to.report(part.text);
            break;
        case Kind::Monitor:
            to.monitor(part.text);
            break;
        case Kind::Note:
            to.note(part.text);
            break;
        }
    }
    parts_.clear();
}

} // namespace e2kvm::io
