// e2kvm-img info: what an image is (format, sizes, backing file, format details), for one
// image or its whole backing chain, in qemu-img's human or JSON layout.
#include "CommandError.h"
#include "CommandOptions.h"
#include "Commands.h"
#include "ImageOpening.h"
#include "QemuImgJson.h"
#include "SnapshotListing.h"
#include "block/HumanSize.h"
#include "block/ImageOpen.h"
#include "block/JsonFilename.h"
#include "block/ssh/SshImage.h"
#include "nbd/NbdImage.h"

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <set>

namespace e2kvm::img {

namespace {

struct LayerInfo {
    json::Json json = json::Json::object();
    json::Json formatData; // null unless the format has specific information
    bool hasFormatData = false;
    block::ImageDescription desc;
    std::string format;
    uint64_t virtualSize = 0, actualSize = 0;
    bool remote = false;      // an NBD export: no disk size, no dirty flag (QEMU cannot tell)
    bool sizeUnknown = false; // no disk size (an NBD export, or across blkdebug)
    std::string filename;     // the name QEMU prints (canonical for NBD)
    uint32_t clusterSize = 0;
    std::string nextPath, nextFormat; // the backing file to describe next, if any
};

json::Json qcow2Data(const block::Qcow2Description& q) {
    json::Json d = json::Json::object();
    bool v3 = q.compat != "0.10";
    d.set("compat", q.compat);
    if (q.dataFile)
        d.set("data-file", *q.dataFile);
    if (q.externalDataFile)
        d.set("data-file-raw", q.dataFileRaw);
    if (v3) {
        d.set("extended-l2", q.extendedL2);
        d.set("lazy-refcounts", q.lazyRefcounts);
        d.set("corrupt", q.corrupt);
    }
    d.set("refcount-bits", q.refcountBits);
    if (!q.bitmaps.empty()) {
        json::Json list = json::Json::array();
        for (const block::BitmapDescription& b : q.bitmaps) {
            json::Json bm = json::Json::object();
            bm.set("name", b.name);
            bm.set("granularity", b.granularity);
            json::Json flags = json::Json::array();
            for (const std::string& f : b.flags)
                flags.push(f);
            bm.set("flags", std::move(flags));
            list.push(std::move(bm));
        }
        d.set("bitmaps", std::move(list));
    }
    d.set("compression-type", q.compressionType.empty() ? "zlib" : q.compressionType);
    return d;
}

// Fields in the order of QEMU's ImageInfo schema (the printer reorders them as QEMU does).
LayerInfo describeLayer(const std::string& path, const std::string& format, bool imageOpts,
                        bool forceShare) {
    OpenRequest req;
    req.format = format;
    req.imageOpts = imageOpts;
    req.forceShare = forceShare;
    req.metadataOnly = true;
    req.openBacking = false;
    req.openDataFile = false;
    std::unique_ptr<block::BlockDriver> image = openForCommand(path, req);
    LayerInfo info;
    block::ImageDescription& desc = info.desc;
    image->describe(desc);
    info.format = image->formatName();
    info.virtualSize = image->size();
    info.actualSize = image->allocatedBytes();
    info.clusterSize = image->clusterSize();
    info.remote = dynamic_cast<const nbd::NbdImage*>(image.get()) != nullptr;
    // A file on another machine (ssh, an NBD export) has no host size QEMU can tell, whatever
    // format is on it: the image asks its file node.
    info.sizeUnknown = info.remote || !image->allocatedBytesKnown();
    // Option strings, json:, file: and protocol names (a qcow2 image inside an NBD export, a
    // file over ssh) print as the name the opened image has, as qemu-img.
    const bool optionsName = imageOpts || block::isJsonFilename(path) ||
                             path.rfind("file:", 0) == 0 || isProtocolName(path) ||
                             block::ssh::isSshUrl(path);
    info.filename = info.remote || optionsName ? image->filename() : path;
    json::Json& j = info.json;
    j.set("filename", info.filename);
    j.set("format", image->formatName());
    if (!info.remote) {
        j.set("dirty-flag", desc.dirtyFlag);
        if (!info.sizeUnknown)
            j.set("actual-size", image->allocatedBytes());
    }
    j.set("virtual-size", image->size());
    if (image->clusterSize())
        j.set("cluster-size", image->clusterSize());
    if (!desc.backingFilename.empty()) {
        std::string full = desc.fullBackingFilename.empty()
                               ? block::resolveBackingPath(optionsName ? info.filename : path,
                                                           desc.backingFilename)
                               : desc.fullBackingFilename;
        j.set("backing-filename", desc.backingFilename);
        if (!full.empty()) // QEMU leaves out what it cannot determine
            j.set("full-backing-filename", full);
        if (!desc.backingFormat.empty())
            j.set("backing-filename-format", desc.backingFormat);
        info.nextPath = full;
        info.nextFormat = desc.backingFormat;
    }
    if (!desc.snapshots.empty())
        j.set("snapshots", snapshotsJson(desc.snapshots));
    if (desc.qcow2) {
        info.formatData = qcow2Data(*desc.qcow2);
        info.hasFormatData = true;
        json::Json spec = json::Json::object();
        spec.set("type", image->formatName());
        spec.set("data", info.formatData);
        j.set("format-specific", std::move(spec));
    }
    return info;
}

std::string humanText(const LayerInfo& info) {
    const std::string& filename = info.filename;
    const block::ImageDescription& desc = info.desc;
    const std::string& fullBacking = info.nextPath;
    uint64_t virtualSize = info.virtualSize;
    std::string out;
    char buf[256];
    out += "image: " + filename + "\n";
    out += "file format: " + info.format + "\n";
    std::snprintf(buf, sizeof buf, "virtual size: %s (%llu bytes)\n",
                  block::humanSize(virtualSize).c_str(), (unsigned long long)virtualSize);
    out += buf;
    out += "disk size: " + (info.sizeUnknown ? "unavailable" : block::humanSize(info.actualSize)) +
           "\n";
    if (info.clusterSize)
        out += "cluster_size: " + std::to_string(info.clusterSize) + "\n";
    if (desc.dirtyFlag)
        out += "cleanly shut down: no\n";
    if (!desc.backingFilename.empty()) {
        out += "backing file: " + desc.backingFilename;
        if (fullBacking.empty())
            out += " (cannot determine actual path)";
        else if (fullBacking != desc.backingFilename)
            out += " (actual path: " + fullBacking + ")";
        out += "\n";
        if (!desc.backingFormat.empty())
            out += "backing file format: " + desc.backingFormat + "\n";
    }
    out += snapshotTable(desc.snapshots);
    if (info.hasFormatData) {
        out += "Format specific information:\n";
        out += humanDump(info.formatData, 1);
    }
    return out;
}

std::string canonicalPath(const std::string& path) {
    char* real = ::realpath(path.c_str(), nullptr);
    if (!real)
        return path;
    std::string out = real;
    std::free(real);
    return out;
}

} // namespace

int runInfo(int argc, char** argv) {
    enum { OptOutput = 256, OptBackingChain, OptImageOpts };
    CommandOptions opts(argc, argv, "f:U",
                        {{"output", required_argument, nullptr, OptOutput},
                         {"image-opts", no_argument, nullptr, OptImageOpts},
                         {"backing-chain", no_argument, nullptr, OptBackingChain},
                         {"force-share", no_argument, nullptr, 'U'}});
    std::string format;
    bool forceShare = false;
    OutputFormat output = OutputFormat::Human;
    bool chain = false, imageOpts = false;
    for (int c; (c = opts.next()) != -1;) {
        switch (c) {
        case 'f':
            format = opts.arg();
            break;
        case OptImageOpts:
            imageOpts = true;
            break;
        case 'U':
            forceShare = true;
            break;
        case OptOutput:
            output = parseOutputFormat(opts.arg());
            break;
        case OptBackingChain:
            chain = true;
            break;
        default:
            break;
        }
    }
    std::vector<std::string> args = opts.positional();
    if (args.size() != 1)
        throw UsageError("Expecting one image file name");

    std::vector<std::string> texts;
    std::vector<json::Json> jsons;
    std::set<std::string> seen;
    std::string path = args[0];
    for (;;) {
        std::string real = imageOpts ? path : canonicalPath(path);
        if (!seen.insert(real).second)
            throw CommandFailure("Backing file '" + path + "' creates an infinite loop.");
        LayerInfo info = describeLayer(path, format, imageOpts, forceShare);
        imageOpts = false; // backing files are named by file name
        texts.push_back(humanText(info));
        std::string next = info.nextPath, nextFormat = info.nextFormat;
        jsons.push_back(std::move(info.json));
        if (chain && next.empty() && !info.desc.backingFilename.empty())
            throw CommandFailure("Could not determine absolute backing filename, but backing "
                                 "filename '" +
                                 info.desc.backingFilename + "' present");
        if (!chain || next.empty())
            break;
        path = next;
        format = nextFormat;
    }

    if (output == OutputFormat::Json) {
        if (chain) {
            json::Json list = json::Json::array();
            for (json::Json& j : jsons)
                list.push(std::move(j));
            std::printf("%s\n", prettyJson(list).c_str());
        } else {
            std::printf("%s\n", prettyJson(jsons.front()).c_str());
        }
    } else {
        for (size_t i = 0; i < texts.size(); ++i)
            std::printf("%s%s", i ? "\n" : "", texts[i].c_str());
    }
    return 0;
}

} // namespace e2kvm::img
