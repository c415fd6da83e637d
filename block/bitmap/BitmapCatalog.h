#pragma once
// BitmapCatalog: the named dirty bitmaps of one open image as every layer above the format sees
// them (NBD -B, e2kvm-img bitmap, later QMP and the GUI). Changes come as a batch of actions
// applied all-or-nothing; enabled bitmaps record every write to the image. Formats that keep
// bitmaps in the image file (qcow2) give the catalog a BitmapStore and save it on close.
#include "block/bitmap/DirtyBitmap.h"

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace e2kvm::block {

class BlockDriver;
class DirtyBitmapRecorder;

struct NamedBitmap {
    std::string name;
    uint64_t granularity = 0;
    bool enabled = false;                // records writes ("auto" in qcow2)
    bool persistent = false;             // saved in the image file on close
    bool inconsistent = false;           // not saved correctly last time: only removal is allowed
    std::shared_ptr<DirtyBitmap> bitmap; // null when inconsistent
};

enum class BitmapActionKind { Add, Remove, Clear, Enable, Disable, Merge };

struct BitmapAction {
    BitmapActionKind kind = BitmapActionKind::Add;
    std::string name;
    uint64_t granularity = 0;                        // Add: 0 = the image's default
    bool disabled = false;                           // Add: created disabled
    bool persistent = true;                          // Add
    std::string source;                              // Merge: a bitmap of this catalog ...
    std::shared_ptr<const DirtyBitmap> sourceBitmap; // ... or one from another image
    std::string sourceLabel; // Merge from another image: its name for messages
};

// What a format that saves bitmaps in the image file provides.
class BitmapStore {
public:
    virtual ~BitmapStore() = default;
    // Granularity of a bitmap added without one.
    virtual uint64_t defaultGranularity() const = 0;
    // Throws BlockError if a bitmap `name` of this granularity cannot be saved.
    virtual void checkCanStore(const std::string& name, uint64_t granularity,
                               std::span<const NamedBitmap> existing) const = 0;
    // Saves the bitmaps now as on close, reporting failures (closing saves again only if
    // something changed meanwhile).
    virtual void saveForClose() = 0;
};

class BitmapCatalog {
public:
    // `store` may be null (bitmaps live only in memory). `loaded`: bitmaps found in the image.
    // `writable`: the image is open read-write (read-only images allow no changes).
    BitmapCatalog(BlockDriver& image, BitmapStore* store, std::vector<NamedBitmap> loaded,
                  bool writable);
    ~BitmapCatalog();
    BitmapCatalog(const BitmapCatalog&) = delete;
    BitmapCatalog& operator=(const BitmapCatalog&) = delete;

    std::vector<NamedBitmap> list() const;
    std::optional<NamedBitmap> find(const std::string& name) const;
    // The bitmap to read (export, merge source). BlockError ENOENT if there is none, EINVAL with
    // what to do about it if it is inconsistent.
    std::shared_ptr<DirtyBitmap> usable(const std::string& name) const;
    // Applies the actions in order, all or none (BlockError naming the failing one).
    void apply(std::span<const BitmapAction> actions);
    // The image was resized: resizes every bitmap (new granules clean).
    void resize(uint64_t newDiskSize);
    // True when bitmaps can be kept in the image file (persistent); false for formats whose
    // bitmaps live only in memory while the image is open (raw, null-co).
    bool storesBitmaps() const { return store_ != nullptr; }
    // Counts changes to the catalog (not to bitmap contents).
    uint64_t generation() const;
    // Saves persistent bitmaps into the image now, as closing it would, so that a tool can
    // report failures; call it last, just before the image is closed.
    void saveForClose();

    // The message for an inconsistent bitmap, naming the file.
    static std::string inconsistentMessage(const std::string& file, const std::string& name);

private:
    void attachRecorders();

    BlockDriver& image_;
    BitmapStore* store_;
    bool writable_;
    mutable std::mutex mutex_;
    std::vector<NamedBitmap> bitmaps_;
    std::vector<std::shared_ptr<DirtyBitmapRecorder>> recorders_;
    uint64_t generation_ = 0;
};

} // namespace e2kvm::block
