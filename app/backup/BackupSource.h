#pragma once
// BackupSource: where a backup reads a disk from (a running VM over QMP, an NBD export, an
// image file), and SourceView: one point in time of that disk being read. A source takes the
// point in time, says which data changed since the previous point's checkpoint bitmap (when it
// can), starts the next checkpoint bitmap at the same moment, and afterwards either drops the
// old checkpoint (the point was stored) or folds the new one back into it (the point failed),
// so that checkpoints never fall out of step with the points in the directory.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace e2kvm::backup {

struct ByteRange {
    uint64_t offset = 0;
    uint64_t length = 0;
    bool zero = false; // known to read as zero (need not be read)
};

class SourceView {
public:
    virtual ~SourceView() = default;
    virtual uint64_t size() const = 0;
    // How many threads may read at once; reader index i in [0, readers()) is used by one
    // thread at a time.
    virtual unsigned readers() const = 0;
    virtual void read(unsigned reader, uint64_t offset, std::span<uint8_t> buf) = 0;
    // The whole disk as sorted ranges, with the ones known to read as zero marked.
    virtual std::vector<ByteRange> allocation() = 0;
    // The ranges the base checkpoint marks as changed (sorted), if the view was opened with a
    // usable base; nullopt otherwise.
    virtual std::optional<std::vector<ByteRange>> changed() = 0;
};

struct SourcePlan {
    // An incremental point is wanted: changed() should list what changed since `base`.
    bool incremental = false;
    // The checkpoint bitmap of the previous point ("" if there is none).
    std::string base;
    // The checkpoint bitmap to start at this point in time ("" for none).
    std::string next;
    // This directory's checkpoint bitmap names: prefix + number. Leftovers of interrupted
    // runs (numbers above base's) are folded into base, older ones removed.
    std::string checkpointPrefix;
    // Prefix of the ids of temporary objects a source creates in a VM (export, job, node), so
    // that the leftovers of an interrupted run can be found; short (QEMU node names are at
    // most 31 characters).
    std::string objectPrefix;
    // Where a temporary overlay may be created if the source needs one.
    std::string overlayPath;
    unsigned maxReaders = 4;
};

// Something that wants to tell the user about a decision ("taking a full point: ...").
using NoteSink = std::function<void(const std::string&)>;

class BackupSource {
public:
    virtual ~BackupSource() = default;
    // For the manifest and messages ("qmp unix:/run/vm.sock drive0").
    virtual std::string describe() const = 0;
    // Whether this source can keep checkpoint bitmaps (plan.next is honoured).
    virtual bool keepsCheckpoints() const = 0;
    // Takes the point in time. If an incremental point was asked for and its base cannot be
    // used (missing, inconsistent), says why through `note` and opens without it (the view's
    // changed() is then nullopt). Throws std::runtime_error saying what failed; nothing of
    // the attempt is left behind then.
    virtual std::unique_ptr<SourceView> open(const SourcePlan& plan, const NoteSink& note) = 0;
    // The bitmap whose changes the view lists ("" for none): the base, or for an NBD export the
    // bitmap named on the command line.
    virtual std::string baseUsed() const = 0;
    // Releases the point in time (the view must be gone), then settles the checkpoints:
    // `stored` (the point is listed in the directory): the old checkpoints are dropped;
    // otherwise the changes recorded by `next` are folded back into base. Throws on failure;
    // whatever it could not settle is settled by the next open.
    virtual void finish(bool stored) = 0;
};

} // namespace e2kvm::backup
