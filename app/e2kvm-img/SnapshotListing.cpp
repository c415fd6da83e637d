#include "SnapshotListing.h"

#include "block/SnapshotTableText.h"

namespace e2kvm::img {

std::string snapshotTable(const std::vector<block::InternalSnapshot>& snapshots) {
    if (snapshots.empty())
        return "";
    std::string out = "Snapshot list:\n" + block::snapshotTableHeader();
    for (const block::InternalSnapshot& s : snapshots)
        out += block::snapshotTableRow(s, s.id);
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
