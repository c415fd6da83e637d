#include "block/SnapshotSelector.h"

#include "block/BlockDriver.h"
#include "block/BlockError.h"
#include "block/InternalSnapshots.h"

#include <cerrno>
#include <stdexcept>

namespace e2kvm::block {

SnapshotSelector parseSnapshotSelector(const std::string& text) {
    SnapshotSelector s;
    if (text.rfind("snapshot.", 0) != 0) {
        s.idOrName = text;
        return s;
    }
    // Comma-separated key=value pairs; ",," is a literal comma in a value.
    size_t pos = 0;
    while (pos <= text.size()) {
        std::string item;
        while (pos < text.size()) {
            if (text[pos] == ',' && pos + 1 < text.size() && text[pos + 1] == ',') {
                item += ',';
                pos += 2;
            } else if (text[pos] == ',') {
                break;
            } else {
                item += text[pos++];
            }
        }
        ++pos;
        if (item.empty())
            continue;
        size_t eq = item.find('=');
        std::string key = item.substr(0, eq);
        std::string value = eq == std::string::npos ? "on" : item.substr(eq + 1);
        if (key == "snapshot.id")
            s.id = value;
        else if (key == "snapshot.name")
            s.name = value;
        else
            throw std::invalid_argument("Invalid parameter '" + key + "'");
    }
    return s;
}

void loadSelectedSnapshot(BlockDriver& image, const SnapshotSelector& which) {
    InternalSnapshots* snapshots = image.snapshots();
    if (!snapshots)
        throw BlockError(ENOTSUP, "Block format '" + image.formatName() +
                                      "' used by device '' does not support internal snapshots");
    if (which.idOrName) {
        try {
            snapshots->loadSnapshotReadOnly(which.idOrName, std::nullopt);
        } catch (const BlockError& e) {
            if (e.errnoValue() != ENOENT)
                throw;
            snapshots->loadSnapshotReadOnly(std::nullopt, which.idOrName);
        }
        return;
    }
    if (!which.id && !which.name)
        throw BlockError(EINVAL, "snapshot_id and snapshot_name are both NULL");
    snapshots->loadSnapshotReadOnly(which.id, which.name);
}

} // namespace e2kvm::block
