#include "block/bitmap/BitmapCatalog.h"

#include "block/BlockDriver.h"
#include "block/BlockError.h"
#include "block/bitmap/DirtyBitmapRecorder.h"

#include <algorithm>

namespace e2kvm::block {

namespace {

std::string quoted(const std::string& name) {
    return "'" + name + "'";
}

NamedBitmap* findIn(std::vector<NamedBitmap>& v, const std::string& name) {
    for (auto& b : v)
        if (b.name == name)
            return &b;
    return nullptr;
}

bool validGranularity(uint64_t g) {
    return g >= DirtyBitmap::kMinGranularity && g <= DirtyBitmap::kMaxGranularity &&
           (g & (g - 1)) == 0;
}

} // namespace

BitmapCatalog::BitmapCatalog(BlockDriver& image, BitmapStore* store,
                             std::vector<NamedBitmap> loaded, bool writable)
    : image_(image), store_(store), writable_(writable), bitmaps_(std::move(loaded)) {
    attachRecorders();
}

BitmapCatalog::~BitmapCatalog() {
    for (const auto& r : recorders_)
        image_.removeWriteObserver(r.get());
}

std::string BitmapCatalog::inconsistentMessage(const std::string& file, const std::string& name) {
    return "Bitmap " + quoted(name) +
           " is inconsistent (the image was not closed cleanly); take a full backup, then "
           "remove it with `e2kvm-img bitmap --remove " +
           file + " " + name + "` and add a new one";
}

std::vector<NamedBitmap> BitmapCatalog::list() const {
    std::lock_guard lock(mutex_);
    return bitmaps_;
}

std::optional<NamedBitmap> BitmapCatalog::find(const std::string& name) const {
    std::lock_guard lock(mutex_);
    for (const auto& b : bitmaps_)
        if (b.name == name)
            return b;
    return std::nullopt;
}

std::shared_ptr<DirtyBitmap> BitmapCatalog::usable(const std::string& name) const {
    std::optional<NamedBitmap> b = find(name);
    if (!b)
        throwError(ENOENT, image_.filename(), "Dirty bitmap " + quoted(name) + " not found");
    if (b->inconsistent || !b->bitmap)
        throwError(EINVAL, image_.filename(), inconsistentMessage(image_.filename(), name));
    return b->bitmap;
}

uint64_t BitmapCatalog::generation() const {
    std::lock_guard lock(mutex_);
    return generation_;
}

void BitmapCatalog::apply(std::span<const BitmapAction> actions) {
    if (actions.empty())
        return;
    if (!writable_)
        throwError(EPERM, image_.filename(), "cannot change bitmaps: image is opened read-only");
    std::lock_guard lock(mutex_);
    // Work on a copy of the list; changes to bitmap contents (clear, merge) are collected and
    // done once every action has been checked, so a failing batch changes nothing.
    std::vector<NamedBitmap> next = bitmaps_;
    struct ContentChange {
        std::shared_ptr<DirtyBitmap> target;
        std::shared_ptr<const DirtyBitmap> source; // null: clear
    };
    std::vector<ContentChange> changes;
    const uint64_t diskSize = image_.size();
    for (const BitmapAction& a : actions) {
        NamedBitmap* b = findIn(next, a.name);
        auto requireUsable = [&](const NamedBitmap* x, const std::string& name) {
            if (!x)
                throwError(ENOENT, image_.filename(),
                           "Dirty bitmap " + quoted(name) + " not found");
            if (x->inconsistent || !x->bitmap)
                throwError(EINVAL, image_.filename(), inconsistentMessage(image_.filename(), name));
        };
        switch (a.kind) {
        case BitmapActionKind::Add: {
            if (b)
                throwError(EEXIST, image_.filename(), "Bitmap already exists: " + a.name);
            uint64_t g =
                a.granularity ? a.granularity : (store_ ? store_->defaultGranularity() : 65536);
            if (!validGranularity(g))
                throwError(EINVAL, image_.filename(),
                           "Granularity must be power of 2 between 512 and 2147483648");
            if (a.name.empty())
                throwError(EINVAL, image_.filename(), "Bitmap name must not be empty");
            if (a.persistent) {
                if (!store_)
                    throwError(ENOTSUP, image_.filename(),
                               "Cannot store dirty bitmaps in " + image_.formatName() + " images");
                store_->checkCanStore(a.name, g, next);
            }
            NamedBitmap n;
            n.name = a.name;
            n.granularity = g;
            n.enabled = !a.disabled;
            n.persistent = a.persistent;
            n.bitmap = std::make_shared<DirtyBitmap>(diskSize, g);
            next.push_back(std::move(n));
            break;
        }
        case BitmapActionKind::Remove:
            if (!b)
                throwError(ENOENT, image_.filename(),
                           "Dirty bitmap " + quoted(a.name) + " not found");
            std::erase_if(next, [&](const NamedBitmap& x) { return x.name == a.name; });
            break;
        case BitmapActionKind::Clear:
            requireUsable(b, a.name);
            changes.push_back({b->bitmap, nullptr});
            break;
        case BitmapActionKind::Enable:
        case BitmapActionKind::Disable:
            requireUsable(b, a.name);
            b->enabled = a.kind == BitmapActionKind::Enable;
            break;
        case BitmapActionKind::Merge: {
            requireUsable(b, a.name);
            std::shared_ptr<const DirtyBitmap> src = a.sourceBitmap;
            std::string label = a.sourceLabel.empty() ? a.source : a.sourceLabel;
            if (!src) {
                NamedBitmap* s = findIn(next, a.source);
                requireUsable(s, a.source);
                src = s->bitmap;
            }
            if (src->diskSize() != b->bitmap->diskSize())
                throwError(EINVAL, image_.filename(),
                           "Bitmaps are incompatible: " + quoted(label) + " covers " +
                               std::to_string(src->diskSize()) + " bytes, " + quoted(a.name) +
                               " covers " + std::to_string(b->bitmap->diskSize()));
            changes.push_back({b->bitmap, src});
            break;
        }
        }
    }
    // Contents: a bitmap merged into itself or cleared and merged keeps the batch's order.
    for (const ContentChange& c : changes) {
        if (!c.source)
            c.target->clear();
        else if (c.source.get() != c.target.get())
            c.target->merge(*c.source);
    }
    bitmaps_ = std::move(next);
    ++generation_;
    attachRecorders();
}

void BitmapCatalog::saveForClose() {
    if (store_)
        store_->saveForClose();
}

void BitmapCatalog::resize(uint64_t newDiskSize) {
    std::lock_guard lock(mutex_);
    for (auto& b : bitmaps_)
        if (b.bitmap && b.bitmap->diskSize() != newDiskSize)
            b.bitmap->resize(newDiskSize);
}

// Keeps the recorders of bitmaps that stay (so no write is missed), adds the new ones first
// and only then removes the ones of removed bitmaps. mutex_ held (or in the constructor).
void BitmapCatalog::attachRecorders() {
    std::vector<std::shared_ptr<DirtyBitmapRecorder>> kept;
    for (const auto& b : bitmaps_) {
        if (!b.bitmap)
            continue;
        auto it = std::find_if(recorders_.begin(), recorders_.end(),
                               [&](const auto& r) { return r->bitmap() == b.bitmap; });
        if (it != recorders_.end()) {
            (*it)->setEnabled(b.enabled);
            kept.push_back(*it);
            continue;
        }
        auto r = std::make_shared<DirtyBitmapRecorder>(b.bitmap, b.enabled);
        image_.addWriteObserver(r);
        kept.push_back(std::move(r));
    }
    for (const auto& r : recorders_)
        if (std::find(kept.begin(), kept.end(), r) == kept.end())
            image_.removeWriteObserver(r.get());
    recorders_ = std::move(kept);
}

} // namespace e2kvm::block
