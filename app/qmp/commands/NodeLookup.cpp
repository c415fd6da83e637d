#include "app/qmp/commands/NodeLookup.h"

#include "app/qmp/QmpError.h"
#include "app/qmp/commands/NodeFilename.h"
#include "block/ImageDescription.h"
#include "block/filter/CopyBeforeWriteFilter.h"

#include <algorithm>
#include <vector>

namespace e2kvm::qmp {

std::shared_ptr<vm::BlockNode> lookupNode(QmpContext& ctx, const std::string& name) {
    std::shared_ptr<vm::BlockNode> node;
    if (ctx.machine) // a drive id first, as QEMU: after a snapshot the drive is on the overlay
        for (const QmpMachineDisk& d : ctx.machine->disks())
            if (d.device == name && !d.nodeName.empty())
                node = ctx.nodes.find(d.nodeName);
    if (!node)
        node = ctx.nodes.find(name);
    if (!node)
        throw QmpError("Cannot find device='" + name + "' nor node-name='" + name + "'");
    return node;
}

block::BitmapCatalog& bitmapCatalog(const vm::BlockNode& node) {
    block::BitmapCatalog* c = node.image->bitmaps();
    if (!c)
        throw QmpError("Node '" + node.name + "' (" + node.format +
                       ") does not support dirty bitmaps");
    return *c;
}

std::string blockMessage(const vm::BlockNode& node, const std::exception& e) {
    std::string m = e.what();
    std::string prefix = node.image->filename() + ": ";
    if (m.rfind(prefix, 0) == 0)
        m.erase(0, prefix.size());
    return m;
}

namespace {

// The qcow2 part of ImageInfo's format-specific data, as QEMU reports it for an open image
// (the header's compat, features and bitmaps; not the options it was opened with).
Json qcow2FormatData(const block::Qcow2Description& q) {
    Json d = Json::object({{"compat", q.compat}});
    if (q.dataFile)
        d.set("data-file", *q.dataFile);
    if (q.externalDataFile)
        d.set("data-file-raw", q.dataFileRaw);
    if (q.compat != "0.10") {
        d.set("extended-l2", q.extendedL2);
        d.set("lazy-refcounts", q.lazyRefcounts);
        d.set("corrupt", q.corrupt);
    }
    d.set("refcount-bits", q.refcountBits);
    if (!q.bitmaps.empty()) {
        Json list = Json::array();
        for (const block::BitmapDescription& b : q.bitmaps) {
            Json flags = Json::array();
            for (const std::string& f : b.flags)
                flags.push(f);
            list.push(Json::object(
                {{"name", b.name}, {"granularity", b.granularity}, {"flags", std::move(flags)}}));
        }
        d.set("bitmaps", std::move(list));
    }
    d.set("compression-type", q.compressionType.empty() ? "zlib" : q.compressionType);
    return d;
}

} // namespace

Json snapshotInfo(const block::InternalSnapshot& s) {
    Json j = Json::object({{"id", s.id},
                           {"name", s.name},
                           {"vm-state-size", s.vmStateSize},
                           {"date-sec", uint64_t(s.dateSec)},
                           {"date-nsec", uint64_t(s.dateNsec)},
                           {"vm-clock-sec", s.vmClockNsec / 1000000000ull},
                           {"vm-clock-nsec", s.vmClockNsec % 1000000000ull}});
    if (s.icount)
        j.set("icount", *s.icount);
    return j;
}

namespace {

// The format a layer shows: its node's driver when it is a node of the table (a file node
// read as a backing is "file"), else the image's own.
std::string formatOfLayer(QmpContext& ctx, const block::BlockDriver& img) {
    for (const auto& node : ctx.nodes.list())
        if (node->image.get() == &img)
            return node->format;
    return img.formatName();
}

// ImageInfo of a layer, with its backing chain (backing-image) as QEMU's query-block gives it.
Json imageInfo(QmpContext& ctx, const block::BlockDriver& img, const std::string& filename,
               const std::string& format, int depth) {
    Json image =
        Json::object({{"virtual-size", img.size()}, {"filename", filename}, {"format", format}});
    if (img.clusterSize())
        image.set("cluster-size", img.clusterSize());
    image.set("actual-size", img.allocatedBytes());
    image.set("dirty-flag", false);
    block::ImageDescription desc;
    img.describe(desc);
    if (!desc.snapshots.empty()) {
        Json list = Json::array();
        for (const block::InternalSnapshot& s : desc.snapshots)
            list.push(snapshotInfo(s));
        image.set("snapshots", std::move(list));
    }
    if (desc.qcow2)
        image.set("format-specific",
                  Json::object({{"type", "qcow2"}, {"data", qcow2FormatData(*desc.qcow2)}}));
    if (!desc.backingFilename.empty()) {
        image.set("backing-filename", desc.backingFilename);
        image.set("full-backing-filename", desc.fullBackingFilename);
        if (!desc.backingFormat.empty())
            image.set("backing-filename-format", desc.backingFormat);
    }
    if (const block::BlockDriver* b = img.backing(); b && depth < 1000)
        image.set("backing-image", imageInfo(ctx, *b, refreshedFilename(*b, b->filename()),
                                             formatOfLayer(ctx, *b), depth + 1));
    return image;
}

} // namespace

Json blockDeviceInfo(QmpContext& ctx, const vm::BlockNode& node) {
    block::BlockDriver& img = *node.image;
    std::string filename = refreshedFilename(img, node.file);
    Json image = imageInfo(ctx, img, filename, node.format, 0);
    int depth = 0;
    for (block::BlockDriver* b = img.backing(); b && depth < 1000; b = b->backing())
        ++depth;
    Json info = Json::object();
    info.set("file", filename);
    info.set("node-name", node.name);
    info.set("ro", node.readOnly);
    info.set("drv", node.format);
    if (img.backing())
        info.set("backing_file", img.backing()->filename());
    info.set("backing_file_depth", depth);
    info.set("encrypted", false);
    info.set("detect_zeroes", node.detectZeroes == nbd::DetectZeroes::On      ? "on"
                              : node.detectZeroes == nbd::DetectZeroes::Unmap ? "unmap"
                                                                              : "off");
    for (const char* k : {"bps", "bps_rd", "bps_wr", "iops", "iops_rd", "iops_wr"})
        info.set(k, 0);
    info.set("write_threshold", 0);
    info.set("image", image);
    info.set("cache", Json::object({{"writeback", true}, {"direct", false}, {"no-flush", false}}));
    // As QEMU: listed only when the node has bitmaps. Its anonymous ones come first: what a
    // copy-before-write filter keeps (the readable and the touched clusters), and on a backup's
    // source the clusters still to copy and the bitmap recording since the point in time.
    Json list = Json::array();
    auto anonymous = [&](uint64_t count, uint64_t granularity, bool recording) {
        list.push(Json::object({{"busy", false},
                                {"count", count},
                                {"granularity", granularity},
                                {"persistent", false},
                                {"recording", recording}}));
    };
    if (auto* cbw = dynamic_cast<const block::CopyBeforeWriteFilter*>(&img)) {
        anonymous(cbw->readable().dirtyBytes(), cbw->readable().granularity(), false);
        anonymous(cbw->touched().dirtyBytes(), cbw->touched().granularity(), false);
    }
    std::vector<vm::BackupBitmaps> backups = ctx.jobs.backupBitmaps(node.name);
    for (const vm::BackupBitmaps& b : backups) {
        if (b.copy)
            anonymous(b.copy->remainingBytes(), b.copy->clusterSize(), false);
        if (b.recording)
            anonymous(b.recording->dirtyBytes(), b.recording->granularity(), true);
    }
    block::BitmapCatalog* c = img.bitmaps();
    if (c) {
        // Newest first, as QEMU lists a node's bitmaps (each one added goes to the front; those
        // an image brings are added in its order when it opens).
        std::vector<block::NamedBitmap> named = c->list();
        std::reverse(named.begin(), named.end());
        for (const block::NamedBitmap& b : named) {
            bool busy = !ctx.nbd.exportsUsingBitmap(node.name, b.name).empty() ||
                        ctx.jobs.bitmapBusy(node.name, b.name);
            uint64_t count = b.bitmap ? b.bitmap->dirtyBytes() : 0;
            // A backup's bitmap shows what it took until the backup ends (QEMU freezes it and
            // lets an anonymous successor record).
            for (const vm::BackupBitmaps& k : backups)
                if (k.bitmapName == b.name && k.taken)
                    count = k.taken->dirtyBytes();
            Json d = Json::object();
            d.set("name", b.name);
            d.set("count", count);
            d.set("granularity", b.granularity);
            d.set("recording", b.enabled && !b.inconsistent);
            d.set("busy", busy);
            d.set("persistent", b.persistent);
            if (b.inconsistent)
                d.set("inconsistent", true);
            list.push(std::move(d));
        }
    }
    if (!list.asArray().empty())
        info.set("dirty-bitmaps", std::move(list));
    return info;
}

void refuseIfJobBusy(QmpContext& ctx, const std::string& nodeName, const std::string& shown) {
    const std::string busy = ctx.jobs.nodeBusyWith(nodeName);
    if (!busy.empty())
        throw QmpError("Node '" + shown +
                       "' is busy: block device is in use by block job: " + busy);
}

} // namespace e2kvm::qmp
