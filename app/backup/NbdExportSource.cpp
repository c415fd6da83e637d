#include "app/backup/NbdExportSource.h"

#include "nbd/Protocol.h"

#include <algorithm>
#include <stdexcept>

namespace e2kvm::backup {

namespace {

std::string contextFor(const std::string& bitmap) {
    return "qemu:dirty-bitmap:" + bitmap;
}

} // namespace

NbdView::NbdView(const nbd::NbdUri& uri, const std::string& label, const std::string& bitmap,
                 unsigned maxReaders)
    : label_(label) {
    std::vector<std::string> contexts{"base:allocation"};
    if (!bitmap.empty())
        contexts.push_back(contextFor(bitmap));
    try {
        clients_.push_back(nbd::Client::connect(uri, contexts));
    } catch (const std::exception& e) {
        throw std::runtime_error("cannot read the NBD export " + label_ + ": " + e.what());
    }
    const auto& agreed = clients_.front()->contexts();
    allocationContext_ = agreed.count("base:allocation") > 0;
    if (!bitmap.empty() && agreed.count(contextFor(bitmap)))
        bitmapContext_ = contextFor(bitmap);
    if (clients_.front()->flags() & nbd::TfCanMultiConn) {
        for (unsigned i = 1; i < maxReaders; ++i) {
            try {
                clients_.push_back(nbd::Client::connect(uri));
            } catch (const std::exception&) {
                break; // the server takes fewer clients than it advertised: use what we have
            }
        }
    }
}

std::unique_ptr<NbdView> NbdView::openPointInTime(const nbd::NbdUri& uri, const std::string& label,
                                                  const std::string& bitmap, unsigned maxReaders) {
    auto view = std::make_unique<NbdView>(uri, label, bitmap, maxReaders);
    if (!bitmap.empty() && !view->hasBitmap())
        throw std::runtime_error(label + ": the point in time was exported without the bitmap '" +
                                 bitmap + "'");
    return view;
}

uint32_t NbdView::maxRequest() const {
    return std::max<uint32_t>(clients_.front()->blockSizes().maximum, 65536);
}

void NbdView::read(unsigned reader, uint64_t offset, std::span<uint8_t> buf) {
    nbd::Client& c = *clients_.at(reader);
    uint32_t max = maxRequest();
    while (!buf.empty()) {
        size_t n = std::min<size_t>(buf.size(), max);
        c.read(offset, buf.first(n));
        offset += n;
        buf = buf.subspan(n);
    }
}

std::vector<ByteRange> NbdView::status(const std::string& context, uint32_t flagMask,
                                       bool zeroIsSet) {
    std::vector<ByteRange> out;
    uint64_t size = this->size();
    uint64_t offset = 0;
    nbd::Client& c = *clients_.front();
    while (offset < size) {
        uint32_t ask = uint32_t(std::min<uint64_t>(size - offset, 1u << 30));
        std::vector<nbd::Extent32> ext;
        try {
            ext = c.blockStatus(context, offset, ask);
        } catch (const std::exception& e) {
            throw std::runtime_error("block status of " + label_ + " (" + context +
                                     ") failed: " + e.what());
        }
        if (ext.empty())
            throw std::runtime_error("block status of " + label_ + " (" + context +
                                     ") returned no extents at offset " + std::to_string(offset));
        for (const nbd::Extent32& e : ext) {
            if (e.length == 0 || offset >= size)
                break;
            uint64_t len = std::min<uint64_t>(e.length, size - offset);
            bool set = (e.flags & flagMask) != 0;
            bool zero = zeroIsSet ? set : !set;
            if (!out.empty() && out.back().zero == zero &&
                out.back().offset + out.back().length == offset)
                out.back().length += len;
            else
                out.push_back({offset, len, zero});
            offset += len;
        }
    }
    return out;
}

std::vector<ByteRange> NbdView::allocation() {
    if (!allocationContext_)
        return {{0, size(), false}};
    return status("base:allocation", nbd::StateZero, true);
}

std::optional<std::vector<ByteRange>> NbdView::changed() {
    if (bitmapContext_.empty())
        return std::nullopt;
    // Dirty ranges are the ones with the flag; "zero" here marks the clean ones.
    std::vector<ByteRange> all = status(bitmapContext_, nbd::StateDirty, false);
    std::vector<ByteRange> dirty;
    for (const ByteRange& r : all)
        if (!r.zero)
            dirty.push_back({r.offset, r.length, false});
    return dirty;
}

NbdExportSource::NbdExportSource(const std::string& uri, std::string bitmap,
                                 const std::string& tlsCreds)
    : text_(uri), uri_(nbd::parseNbdUri(uri)), bitmap_(std::move(bitmap)) {
    if (!tlsCreds.empty()) {
        uri_.tls = true;
        uri_.tlsCertificates = tlsCreds;
    }
}

std::string NbdExportSource::describe() const {
    return "nbd " + text_;
}

std::unique_ptr<SourceView> NbdExportSource::open(const SourcePlan& plan, const NoteSink& note) {
    std::string bitmap = plan.incremental ? bitmap_ : std::string();
    auto view = std::make_unique<NbdView>(uri_, text_, bitmap, plan.maxReaders);
    used_.clear();
    if (plan.incremental) {
        if (bitmap_.empty())
            note("taking a full point: no --bitmap names what changed in " + text_);
        else if (!view->hasBitmap())
            note("taking a full point: the export " + text_ + " does not offer the bitmap '" +
                 bitmap_ + "' (qemu:dirty-bitmap:" + bitmap_ + ")");
        else
            used_ = bitmap_;
    }
    return view;
}

} // namespace e2kvm::backup
