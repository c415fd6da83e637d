#pragma once
// FuseExportTable: the FUSE exports of a process (QMP block-export-add {type: "fuse"}), by
// export id. Each keeps its node in use while it lives; removing one unmounts it and tells the
// listeners (QMP's BLOCK_EXPORT_DELETED). Thread-safe.
#include "app/vmcore/BlockNodeTable.h"
#include "app/vmcore/FuseExport.h"

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace e2kvm::vm {

struct FuseExportRequest {
    std::string id;
    std::string nodeName;      // a node of the BlockNodeTable (by node name only, as QEMU)
    FuseExportOptions options; // discardUnmaps is the node's
};

struct FuseExportInfo {
    std::string id, nodeName, mountpoint;
    bool writable = false;
    bool growable = false;
};

class FuseExportTable {
public:
    explicit FuseExportTable(BlockNodeTable& nodes);
    ~FuseExportTable(); // unmounts every export, telling no one

    // Mounts an export. Throws std::runtime_error with QEMU's wording ("There already is a
    // FUSE export on 'X'", "Cannot export read-only node as writable", or FuseExport's).
    // The caller checks that the id is unique among all block exports.
    void add(const FuseExportRequest& request);
    bool remove(const std::string& id); // false: no such export
    void removeAll();
    bool has(const std::string& id) const;
    std::vector<FuseExportInfo> list() const; // the newest first, as QEMU lists exports

    // Told the id of every export removed. Returns a handle for removeExportListener.
    int addExportListener(std::function<void(const std::string& id)> cb);
    void removeExportListener(int handle);

private:
    struct Entry {
        FuseExportInfo info;
        std::unique_ptr<FuseExport> mount;
    };
    void forget(Entry& entry); // unmounts, frees the node, tells the listeners

    BlockNodeTable& nodes_;
    mutable std::mutex mutex_;
    std::vector<Entry> exports_; // in adding order
    std::vector<std::pair<int, std::function<void(const std::string&)>>> listeners_;
    int nextListener_ = 1;
};

} // namespace e2kvm::vm
