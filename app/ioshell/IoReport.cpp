#include "app/ioshell/IoReport.h"

#include <cstdio>
#include <ctime>

namespace e2kvm::io {

std::string humanSize(double value) {
    static const struct {
        double scale;
        const char* suffix;
    } units[] = {
        {1152921504606846976.0, " EiB"}, {1125899906842624.0, " PiB"}, {1099511627776.0, " TiB"},
        {1073741824.0, " GiB"},          {1048576.0, " MiB"},          {1024.0, " KiB"},
    };
    char buf[64];
    const char* suffix = " bytes";
    bool scaled = false;
    for (const auto& u : units) {
        if (value >= u.scale) {
            std::snprintf(buf, sizeof buf, "%.3f", value / u.scale);
            suffix = u.suffix;
            scaled = true;
            break;
        }
    }
    if (!scaled)
        std::snprintf(buf, sizeof buf, "%f", value);
    std::string text(buf);
    // qemu-io drops the first ".000" and everything after it (so "512.000000" -> "512").
    auto zeros = text.find(".000");
    if (zeros != std::string::npos)
        text.resize(zeros);
    return text + suffix;
}

std::string elapsedString(double seconds, bool fixed) {
    if (seconds < 0)
        seconds = 0;
    auto centis = (unsigned long long)(seconds * 100.0); // truncated, as qemu-io does
    unsigned long long hours = centis / 360000;
    unsigned long long mins = centis / 6000 % 60;
    unsigned long long secs = centis / 100 % 60;
    unsigned long long frac = centis % 100;
    char buf[64];
    if (fixed || hours > 0)
        std::snprintf(buf, sizeof buf, "%llu:%02llu:%02llu.%02llu", hours, mins, secs, frac);
    else if (mins > 0)
        std::snprintf(buf, sizeof buf, "%02llu:%02llu.%02llu", mins, secs, frac);
    else
        std::snprintf(buf, sizeof buf, "%02llu.%02llu", secs, frac);
    return buf;
}

double nowSeconds() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}

void printTransferReport(IoOutput& out, const char* verb, uint64_t offset, uint64_t bytes,
                         double seconds, bool machine) {
    if (seconds <= 0)
        seconds = 1e-9;
    double rate = double(bytes) / seconds;
    double opsRate = 1.0 / seconds;
    if (machine) {
        out.outf("%llu,1,%s,%.3f,%.3f\n", (unsigned long long)bytes,
                 elapsedString(seconds, true).c_str(), rate, opsRate);
        return;
    }
    out.outf("%s %llu/%llu bytes at offset %llu\n", verb, (unsigned long long)bytes,
             (unsigned long long)bytes, (unsigned long long)offset);
    out.outf("%s, 1 ops; %s sec (%s/sec and %.4f ops/sec)\n", humanSize(double(bytes)).c_str(),
             elapsedString(seconds, false).c_str(), humanSize(rate).c_str(), opsRate);
}

void printHexDump(IoOutput& out, uint64_t offset, std::span<const uint8_t> data) {
    static const char digits[] = "0123456789abcdef";
    for (size_t line = 0; line < data.size(); line += 16) {
        size_t n = data.size() - line < 16 ? data.size() - line : 16;
        char address[32];
        std::snprintf(address, sizeof address, "%08llx:  ", (unsigned long long)(offset + line));
        std::string text = address;
        for (size_t i = 0; i < n; ++i) {
            uint8_t c = data[line + i];
            text += digits[c >> 4];
            text += digits[c & 15];
            text += ' ';
        }
        text += ' ';
        for (size_t i = 0; i < n; ++i) {
            uint8_t c = data[line + i];
            // Letters and digits only, as qemu-io (isalnum in the C locale).
            bool alnum = (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
            text += alnum ? char(c) : '.';
        }
        text += '\n';
        out.out(text);
    }
}

} // namespace e2kvm::io
