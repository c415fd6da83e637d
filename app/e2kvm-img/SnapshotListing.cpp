#include "SnapshotListing.h"

#include "HumanSize.h"

#include <cinttypes>
#include <cstdio>
#include <ctime>

namespace e2kvm::img {

namespace {

std::string line(const block::InternalSnapshot& s) {
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
    std::snprintf(out, sizeof out, "%-9s %-16s %8s%20s%13s%11s\n", s.id.c_str(), s.name.c_str(),
                  humanSize(s.vmStateSize).c_str(), date, clock, icount);
    return out;
}

} // namespace

std::string snapshotTable(const std::vector<block::InternalSnapshot>& snapshots) {
    if (snapshots.empty())
        return "";
    char head[128];
    std::snprintf(head, sizeof head, "%-10s%-17s%8s%20s%13s%11s\n", "ID", "TAG", "VM SIZE", "DATE",
                  "VM CLOCK", "ICOUNT");
    std::string out = std::string("Snapshot list:\n") + head;
    for (const block::InternalSnapshot& s : snapshots)
        out += line(s);
    return out;
}

json::Json snapshotsJson(const std::vector<block::InternalSnapshot>& snapshots) {
    json::Json list = json::Json::array();
    for (const block::InternalSnapshot& s : snapshots) {
        json::Json j = json::Json::object(); // QEMU's SnapshotInfo member order
        j.set("id", s.id);
        j.set("name", s.name);
        j.set("vm-state-size", s.vmStateSize);
        j.set("date-sec", uint64_t(s.dateSec));
        j.set("date-nsec", uint64_t(s.dateNsec));
        j.set("vm-clock-sec", s.vmClockNsec / 1000000000ull);
        j.set("vm-clock-nsec", s.vmClockNsec % 1000000000ull);
        if (s.icount)
            j.set("icount", *s.icount);
        list.push(std::move(j));
    }
    return list;
}

} // namespace e2kvm::img
