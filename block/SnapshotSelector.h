#pragma once
// SnapshotSelector: which internal snapshot `qemu-nbd -l` and `qemu-img convert -l` mean, as
// they spell it: "snapshot.id=ID,snapshot.name=NAME" (either or both) or a bare ID_OR_NAME,
// and loading it read-only into an open image with QEMU's rules and messages.
#include <optional>
#include <string>

namespace e2kvm::block {

class BlockDriver;

struct SnapshotSelector {
    std::optional<std::string> id;
    std::optional<std::string> name;
    std::optional<std::string> idOrName; // the bare form: an id, else a name
};

// Parses the option's argument. Throws std::invalid_argument with QEMU's message for an
// unknown key ("Invalid parameter 'x'").
SnapshotSelector parseSnapshotSelector(const std::string& text);

// Shows `image` (open read-only) as the selected snapshot; throws BlockError with QEMU's
// reason ("Can't find snapshot", "Device is not readonly", "... does not support internal
// snapshots"), to be prefixed by the caller ("Failed to load snapshot: ").
void loadSelectedSnapshot(BlockDriver& image, const SnapshotSelector& which);

} // namespace e2kvm::block
