#include "app/backup/ImageFileSource.h"

#include "app/backup/CatalogCheckpoints.h"
#include "block/ChainStatus.h"
#include "block/ImageOpen.h"
#include "block/bitmap/BitmapCatalog.h"

#include <algorithm>
#include <stdexcept>

namespace e2kvm::backup {

namespace {

class ImageView final : public SourceView {
public:
    ImageView(std::shared_ptr<block::BlockDriver> image, std::shared_ptr<block::DirtyBitmap> base,
              unsigned readers)
        : image_(std::move(image)), base_(std::move(base)), readers_(readers) {}
    uint64_t size() const override { return image_->size(); }
    unsigned readers() const override { return readers_; }
    void read(unsigned, uint64_t offset, std::span<uint8_t> buf) override {
        image_->read(offset, buf);
    }
    std::vector<ByteRange> allocation() override {
        std::vector<ByteRange> out;
        uint64_t size = image_->size(), offset = 0;
        while (offset < size) {
            block::ChainExtent e = block::chainStatus(*image_, offset, size - offset);
            uint64_t len = std::min(e.length, size - offset);
            if (len == 0)
                throw std::runtime_error(image_->filename() + ": block status made no progress");
            bool zero = e.zero;
            if (!out.empty() && out.back().zero == zero)
                out.back().length += len;
            else
                out.push_back({offset, len, zero});
            offset += len;
        }
        return out;
    }
    std::optional<std::vector<ByteRange>> changed() override {
        if (!base_)
            return std::nullopt;
        std::vector<ByteRange> out;
        uint64_t size = std::min(image_->size(), base_->diskSize());
        for (const block::DirtyExtent& e : base_->extents(0, size, SIZE_MAX))
            if (e.dirty)
                out.push_back({e.offset, e.length, false});
        if (image_->size() > base_->diskSize()) // grew since: the new end is all new
            out.push_back({base_->diskSize(), image_->size() - base_->diskSize(), false});
        return out;
    }

private:
    std::shared_ptr<block::BlockDriver> image_;
    std::shared_ptr<block::DirtyBitmap> base_;
    unsigned readers_;
};

} // namespace

ImageFileSource::ImageFileSource(std::string path, std::string format)
    : path_(std::move(path)), format_(std::move(format)) {}

ImageFileSource::~ImageFileSource() = default;

bool ImageFileSource::keepsCheckpoints() const {
    std::string f = format_.empty() ? block::probeFormat(path_) : format_;
    return f == "qcow2";
}

std::unique_ptr<SourceView> ImageFileSource::open(const SourcePlan& plan, const NoteSink& note) {
    plan_ = plan;
    used_.clear();
    addedNext_ = false;
    block::OpenOptions o;
    o.format = format_.empty() ? block::probeFormat(path_) : format_;
    o.formatProbed = format_.empty();
    // Only a qcow2 image is written to (its checkpoint bitmaps); a raw one is only read.
    o.readOnly = o.format != "qcow2";
    // As qemu-img convert's source: no one may write or resize the disk while it is copied, so
    // a disk a running VM (QEMU's or ours) or another tool writes is refused, not copied torn.
    o.unshare = block::kPermWrite | block::kPermResize;
    try {
        image_ = block::openImage(path_, o);
    } catch (const block::BlockError& e) {
        if (!block::isImageLockConflict(e))
            throw;
        throw std::runtime_error("Could not open '" + path_ + "': " + e.what() +
                                 "\nIf a running VM uses the disk, back it up through the VM "
                                 "instead: --qmp unix:SOCKET --device NAME");
    }
    block::BitmapCatalog* cat = image_->bitmaps();
    std::shared_ptr<block::DirtyBitmap> base;
    if (cat && cat->storesBitmaps()) {
        bool usable = false;
        std::vector<block::BitmapAction> actions =
            prepareCheckpoints(*cat, plan, path_, note, usable);
        if (!plan.next.empty()) {
            block::BitmapAction a;
            a.kind = block::BitmapActionKind::Add;
            a.name = plan.next;
            a.persistent = true;
            actions.push_back(a);
        }
        if (!actions.empty())
            cat->apply(actions);
        addedNext_ = !plan.next.empty();
        if (usable && plan.incremental)
            base = std::make_shared<block::DirtyBitmap>(*cat->usable(plan.base));
    } else if (plan.incremental) {
        note("taking a full point: a " + image_->formatName() + " image (" + path_ +
             ") cannot keep a checkpoint bitmap; use qcow2 for incremental points");
    }
    if (base)
        used_ = plan.base;
    return std::make_unique<ImageView>(image_, base, std::max(1u, plan.maxReaders));
}

void ImageFileSource::finish(bool stored) {
    if (!image_)
        return;
    std::shared_ptr<block::BlockDriver> image = std::move(image_);
    block::BitmapCatalog* cat = image->bitmaps();
    if (cat && cat->storesBitmaps()) {
        auto actions = settleCheckpoints(*cat, plan_, stored, addedNext_, false);
        if (!actions.empty())
            cat->apply(actions);
        cat->saveForClose();
    }
    image->flush();
}

} // namespace e2kvm::backup
