#pragma once
// BlockNodeTable: the images one process has open, by node name. The VM's disks, QMP
// (blockdev-add, bitmaps), NBD exports and the GUI panels all take their images from here, so
// each file is opened once and its dirty bitmaps live in one place. Thread-safe.
#include "block/BlockDriver.h"
#include "nbd/Export.h"

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace e2kvm::vm {

struct BlockNode {
    std::string name;   // QMP node-name ("disk0", or generated "#block123" like QEMU)
    std::string file;   // path as given
    std::string format; // "qcow2", "raw" or "null-co"
    bool readOnly = false;
    std::shared_ptr<block::BlockDriver> image;
    // QMP blockdev-add's discard and detect-zeroes, which the node's NBD exports follow
    // (QEMU's defaults: TRIM ignored, no zero detection).
    bool discardUnmap = false;
    nbd::DetectZeroes detectZeroes = nbd::DetectZeroes::Off;
    // The nodes a filter node stands over (copy-before-write: file and target), which are in
    // use by it until it is removed.
    std::vector<std::string> children;
    // When the node was created among the process's nodes (QEMU lists its nodes by that,
    // newest first); numbers come from BlockNodeTable::takeCreationNumber.
    uint64_t created = 0;
};

// Whether open() hands out the node that already has the same file open.
enum class OpenReuse {
    SameFile, // the file's node, when the request is compatible
    Never,    // an open of its own (QEMU's -drive: its image locks conflict with the other's)
};

class BlockNodeTable {
public:
    // Opens `file` (format empty = probe) as node `nodeName` (empty = generated). If the same
    // file (same canonical path) is already open, returns that node instead when the request
    // is compatible (read-only request on a writable node is fine), else throws
    // std::runtime_error ("disk.qcow2: already open read-only as node 'disk0'"). Throws
    // block::BlockError when the image cannot be opened, std::invalid_argument on a duplicate
    // or invalid node name. `forceShare` (read-only nodes only, QMP's force-share): the
    // image is opened even though another process writes it, and others may keep writing.
    std::shared_ptr<BlockNode> open(const std::string& file, const std::string& format,
                                    bool readOnly, const std::string& nodeName = {},
                                    bool forceShare = false, OpenReuse reuse = OpenReuse::SameFile);
    // Adds a node for an image that is not a file (a null-co disk) or that was opened over an
    // open node (a fleecing overlay, whose backing node is then in use by it until it is
    // removed): `file` is the name it reports; it is never matched by findByFile or reused by
    // open. An empty `nodeName` is generated. Throws std::invalid_argument on a duplicate or
    // invalid node name.
    std::shared_ptr<BlockNode> add(std::shared_ptr<block::BlockDriver> image,
                                   const std::string& file, const std::string& format,
                                   bool readOnly, const std::string& nodeName);
    std::shared_ptr<BlockNode> find(const std::string& nodeName) const;
    std::shared_ptr<BlockNode> findByFile(const std::string& file) const;
    std::vector<std::shared_ptr<BlockNode>> list() const; // in opening order
    // Whether `node` was opened over another node of the table (its backing is that node's
    // image: a point-in-time overlay, a QMP fleecing target) rather than being an image of its
    // own that a panel should offer.
    bool overlaysOpenNode(const BlockNode& node) const;

    // Closes a node (bitmaps are stored when the last user drops the image). Throws
    // std::runtime_error naming the user if `inUse(name)` says it is busy ("node 'disk0' is
    // in use by export 'disk0'"). Returns false if there is no such node.
    bool remove(const std::string& nodeName);
    // Who keeps a node busy (a VM disk, an NBD export); set by those users.
    void setUser(const std::string& nodeName, const std::string& user, bool inUse);
    std::vector<std::string> users(const std::string& nodeName) const;

    // The user an overlay added over a node stands as in that node's users().
    static std::string backingUser(const std::string& overlayNode);
    // QEMU's node-name rule: a letter, then letters, digits, '-', '.', '_'; at most 31 bytes.
    static bool validNodeName(const std::string& name);

    // The creation order every node of the process has a place in: those of this table
    // (BlockNode::created) and nodes kept outside it (QMP's protocol-only file nodes), which
    // take their number here when made and give it back when deleted.
    uint64_t noteOutsideNodeCreated(const std::string& nodeName);
    void forgetOutsideNode(const std::string& nodeName);
    uint64_t outsideNodeCreated(const std::string& nodeName) const; // 0: unknown

    // Called (on the changing thread) after open/remove so views can refresh.
    void setOnChange(std::function<void()> cb);

private:
    void notifyChange();

    struct Entry {
        std::shared_ptr<BlockNode> node;
        std::string canonical;
        std::vector<std::string> users;
    };
    mutable std::mutex mutex_;
    std::vector<Entry> entries_;
    std::function<void()> onChange_;
    unsigned nextGenerated_ = 1;
    uint64_t nextCreated_ = 1;
    std::map<std::string, uint64_t> outsideCreated_;
};

} // namespace e2kvm::vm
