#include "block/SnapshotTableText.h"

#include "block/HumanSize.h"

#include <cinttypes>
#include <cstdio>
#include <ctime>

namespace e2kvm::block {

std::string snapshotTableHeader() {
    char head[128];
    std::snprintf(head, sizeof head, "%-10s%-17s%8s%20s%13s%11s\n", "ID", "TAG", "VM SIZE", "DATE",
                  "VM CLOCK", "ICOUNT");
    return head;
}

std::string snapshotTableRow(const InternalSnapshot& s, const std::string& id) {
    char date[64] = "";
    std::time_t t = std::time_t(s.dateSec);
    std::tm tm{};
    if (localtime_r(&t, &tm))
        std::strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S", &tm);
    const uint64_t secs = s.vmClockNsec / 1000000000ull;
    char clock[64];
    std::snprintf(clock, sizeof clock, "%02d:%02d:%02d.%03d", int(secs / 3600),
                  int((secs / 60) % 60), int(secs % 60), int((s.vmClockNsec / 1000000) % 1000));
    char icount[32] = "";
    if (s.icount)
        std::snprintf(icount, sizeof icount, "%" PRId64, int64_t(*s.icount));
    char out[512];
    std::snprintf(out, sizeof out, "%-9s %-16s %8s%20s%13s%11s\n", id.c_str(), s.name.c_str(),
                  humanSize(s.vmStateSize).c_str(), date, clock, icount);
    return out;
}

} // namespace e2kvm::block
