// QMP blockdev-reopen: a list of node option sets, applied as one transaction. Each set is
// compared with the options blockdev-add opened the node with (QEMU resets every option the
// new set leaves out): what the node's driver can change changes (a raw window's offset and
// size, the node's discard and detect-zeroes, qcow2's cache and discard tuning, which e2kvm
// does not use), anything else fails with QEMU's words. Children: the current one by name or
// by its options, or a replacement file node presenting the same bytes (a raw node over the
// same host file, the host file's own node); a qcow2 node's backing may become another node
// or none.
#include "app/qmp/QmpArgs.h"
#include "app/qmp/QmpContext.h"
#include "app/qmp/QmpError.h"
#include "app/qmp/commands/NodeLookup.h"
#include "block/BlockError.h"
#include "block/filter/RawWindow.h"
#include "block/qcow2/Qcow2Driver.h"

#include <sys/stat.h>

#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace e2kvm::qmp {

namespace {

// One change of the transaction: `apply` makes it, `undo` takes it back if a later one fails.
struct ReopenStep {
    std::function<void()> apply;
    std::function<void()> undo;
};

// The options a driver lets a reopen change or reset (QEMU's mutable options of raw and
// qcow2), besides the ones every node has.
bool mutableOption(const std::string& driver, const std::string& key) {
    static const std::set<std::string> common = {"read-only", "auto-read-only", "detect-zeroes",
                                                 "discard", "cache"};
    static const std::set<std::string> raw = {"offset", "size"};
    static const std::set<std::string> qcow2 = {"lazy-refcounts",        "pass-discard-request",
                                                "pass-discard-snapshot", "pass-discard-other",
                                                "overlap-check",         "cache-size",
                                                "l2-cache-size",         "l2-cache-entry-size",
                                                "refcount-cache-size",   "cache-clean-interval"};
    if (common.count(key))
        return true;
    if (driver == "raw")
        return raw.count(key) != 0;
    if (driver == "qcow2")
        return qcow2.count(key) != 0;
    return false;
}

bool childKey(const std::string& key) {
    return key == "file" || key == "backing" || key == "image" || key == "test" || key == "raw" ||
           key == "data-file";
}

std::string stringOf(const Json* v) {
    return v && v->isString() ? v->asString() : std::string();
}

// The name of the node a BlockdevRef stands for: a reference, or the node-name of inline
// options (empty for an unnamed inline child).
std::string refName(const Json* ref) {
    if (!ref)
        return {};
    if (ref->isString())
        return ref->asString();
    if (ref->isObject())
        return stringOf(ref->find("node-name"));
    return {};
}

bool sameHostFile(const std::string& a, const std::string& b) {
    struct stat sa {
    }, sb{};
    return ::stat(a.c_str(), &sa) == 0 && ::stat(b.c_str(), &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

class ReopenPlan {
public:
    explicit ReopenPlan(QmpContext& ctx) : ctx_(ctx) {}

    // What the schema checks of every set before any is looked at; `where`: the set's place
    // in the command ("options[0]").
    static void checkSchema(const Json& options, const std::string& where) {
        if (!options.isObject())
            throw QmpError("Invalid parameter type for '" + where + "', expected: object");
        const std::string driver = stringOf(options.find("driver"));
        if (!options.find("driver"))
            throw QmpError("Parameter '" + where + ".driver' is missing");
        // The schema's mandatory child.
        if ((driver == "raw" || driver == "qcow2") && !options.find("file"))
            throw QmpError("Parameter '" + where + ".file' is missing");
    }

    void addNode(const Json& options) {
        const Json* nameValue = options.find("node-name");
        if (!nameValue)
            throw QmpError("node-name not specified");
        const std::string name = stringOf(nameValue);
        if (!ctx_.nodes.find(name) && !ctx_.fileNodes.count(name))
            throw QmpError("Failed to find node with node-name='" + name + "'");
        if (!reopened_.insert(name).second)
            throw QmpError("Node '" + name + "' is already in the reopen queue");
        Json old = currentOptions(name);
        compare(name, old, options, "");
        const bool known = ctx_.nodeOptions.count(name) != 0;
        steps_.push_back({[this, name, options] { ctx_.nodeOptions[name] = options; },
                          [this, name, old, known] {
                              if (known)
                                  ctx_.nodeOptions[name] = old;
                              else
                                  ctx_.nodeOptions.erase(name);
                          }});
    }

    // Applies the steps in order; on a failure takes back the ones applied and rethrows.
    void commit() {
        size_t done = 0;
        try {
            for (; done < steps_.size(); ++done)
                steps_[done].apply();
        } catch (...) {
            while (done-- > 0)
                if (steps_[done].undo)
                    steps_[done].undo();
            throw;
        }
    }

private:
    Json currentOptions(const std::string& name) {
        auto it = ctx_.nodeOptions.find(name);
        if (it != ctx_.nodeOptions.end())
            return it->second;
        // A node of the command line's -drive: its driver and name are all there is to keep.
        Json old = Json::object();
        if (auto node = ctx_.nodes.find(name))
            old.set("driver", node->format);
        else
            old.set("driver", "file");
        old.set("node-name", name);
        return old;
    }

    // Compares the options `now` of node `top` at `path` ("" itself, "file." its file child)
    // with `old`, and plans the changes.
    void compare(const std::string& top, const Json& old, const Json& now,
                 const std::string& path) {
        const std::string driver = stringOf(old.find("driver"));
        if (stringOf(now.find("driver")) != driver)
            throw QmpError("Cannot change the option 'driver'");
        if (const Json* name = now.find("node-name");
            name && refName(name) != refName(old.find("node-name")))
            throw QmpError("Cannot change the option 'node-name'");
        std::set<std::string> keys;
        for (const auto& [k, v] : old.asObject())
            keys.insert(k);
        for (const auto& [k, v] : now.asObject())
            keys.insert(k);
        // A qcow2 node's backing must be given when it has one (or its header names one), even
        // if it was opened without the option.
        if (path.empty() && driver == "qcow2" && !keys.count("backing"))
            compareChild(top, old, "backing", nullptr, nullptr, path);
        for (const std::string& key : keys) {
            if (key == "driver" || key == "node-name")
                continue;
            const Json* before = old.find(key);
            const Json* after = now.find(key);
            if (childKey(key)) {
                compareChild(top, old, key, before, after, path);
                continue;
            }
            if (before && after && *before == *after)
                continue;
            if (!mutableOption(driver, key)) {
                if (!after)
                    throw QmpError("Option '" + key + "' cannot be reset to its default value");
                throw QmpError("Cannot change the option '" + key + "'");
            }
        }
        planWindow(top, old, now, path);
        if (path.empty())
            planNodeOptions(top, now);
    }

    void compareChild(const std::string& top, const Json& parent, const std::string& key,
                      const Json* before, const Json* after, const std::string& path) {
        const std::string nodeName = refName(parent.find("node-name"));
        if (key == "backing") {
            if (!after) {
                if (before && !before->isNull())
                    throw QmpError("backing is missing for '" + nodeName + "'");
                // (Left out, the backing file the image's header names would be opened.)
                if (auto node = ctx_.nodes.find(nodeName);
                    node && (node->image->backing() || namesBackingFile(*node->image)))
                    throw QmpError("backing is missing for '" + nodeName + "'");
                return;
            }
            const bool hadNone = !before || before->isNull();
            if (after->isNull() && hadNone)
                return;
            if (before && after->isString() && refName(before) == after->asString())
                return;
            if (after->isObject() && before && before->isObject()) {
                compare(top, *before, *after, path + key + ".");
                return;
            }
            if (path.empty() && (after->isNull() || after->isString())) {
                planBackingChange(top, after->isNull() ? std::string() : after->asString());
                return;
            }
            throw QmpError("e2kvm cannot change the backing file of node '" + nodeName +
                           "' by blockdev-reopen");
        }
        if (after && !before)
            throw QmpError("Cannot change the option '" + key + "'"); // a child it had not
        if (!after || !before)
            return; // left out: the child keeps its options (as for an unchanged child)
        if (after->isNull())
            throw QmpError("Invalid parameter type for '" + key + "', expected: object");
        if (after->isString()) {
            if (refName(before) == after->asString())
                return;
            if (key != "file" || !path.empty())
                throw QmpError("Cannot change the option '" + key + "'");
            planFileReplacement(top, before, after->asString());
            return;
        }
        if (!after->isObject())
            throw QmpError("Invalid parameter type for '" + key + "', expected: object");
        if (before->isString()) {
            // New options for the node a reference names: that node is reopened with them.
            const std::string child = before->asString();
            Json named = *after;
            if (!named.find("node-name"))
                named.set("node-name", child);
            if (refName(&named) != child)
                throw QmpError("Cannot change the option 'node-name'");
            compare(child, currentOptions(child), named, "");
            return;
        }
        compare(top, *before, *after, path + key + ".");
    }

    static bool namesBackingFile(const block::BlockDriver& image) {
        block::ImageDescription d;
        image.describe(d);
        return !d.fullBackingFilename.empty() || !d.backingFilename.empty();
    }

    // The qcow2 node `top` gets node `backing` (empty: none) as its backing file, as QEMU's
    // reopen replaces the backing child: not a link a stream or commit holds, not one that
    // closes a loop; the node the old backing was stays open (it is a node of its own).
    void planBackingChange(const std::string& top, const std::string& backing) {
        auto node = ctx_.nodes.find(top);
        auto layer =
            node ? std::dynamic_pointer_cast<block::qcow2::Qcow2Driver>(node->image) : nullptr;
        if (!layer)
            throw QmpError("e2kvm cannot change the backing file of node '" + top +
                           "' by blockdev-reopen");
        std::shared_ptr<vm::BlockNode> next;
        if (!backing.empty()) {
            next = ctx_.nodes.find(backing);
            if (!next)
                throw QmpError("Cannot find device='' nor node-name='" + backing + "'");
        }
        std::shared_ptr<block::BlockDriver> oldImage = layer->backingImage();
        std::shared_ptr<vm::BlockNode> oldNode;
        for (const auto& n : ctx_.nodes.list())
            if (oldImage && n->image == oldImage)
                oldNode = n;
        if (next && oldNode == next)
            return; // the same child
        const std::string busy = ctx_.jobs.nodeBusyWith(top);
        if (oldImage && (busy == "stream" || busy == "commit"))
            throw QmpError("Cannot change frozen 'backing' link from '" + top + "' to '" +
                           (oldNode ? oldNode->name : std::string()) + "'");
        if (next)
            for (const block::BlockDriver* l = next->image.get(); l; l = l->backing())
                if (l == layer.get())
                    throw QmpError("Making '" + backing + "' a backing child of '" + top +
                                   "' would create a cycle");
        const std::string user = vm::BlockNodeTable::backingUser(top);
        const std::string oldName = oldNode ? oldNode->name : std::string();
        auto relink = [this, layer, user](const std::shared_ptr<block::BlockDriver>& image,
                                          const std::string& from, const std::string& to) {
            layer->replaceBacking(image);
            if (!from.empty())
                ctx_.nodes.setUser(from, user, false);
            if (!to.empty())
                ctx_.nodes.setUser(to, user, true);
        };
        std::shared_ptr<block::BlockDriver> newImage = next ? next->image : nullptr;
        steps_.push_back(
            {[relink, newImage, oldName, backing] { relink(newImage, oldName, backing); },
             [relink, oldImage, oldName, backing] { relink(oldImage, backing, oldName); }});
    }

    // A raw window whose offset or size changes is moved.
    void planWindow(const std::string& top, const Json& old, const Json& now,
                    const std::string& path) {
        if (stringOf(old.find("driver")) != "raw")
            return;
        auto optional = [](const Json& o, const char* key) -> std::optional<uint64_t> {
            const Json* v = o.find(key);
            if (!v)
                return std::nullopt;
            if (v->isString())
                return block::RawWindow::byteSize(key, v->asString());
            if (!v->isInteger() || v->asInt() < 0)
                throw QmpError(std::string("Parameter '") + key + "' expects a size");
            return v->asUInt();
        };
        std::optional<uint64_t> oldOffset, oldSize, newOffset, newSize;
        try {
            oldOffset = optional(old, "offset");
            oldSize = optional(old, "size");
            newOffset = optional(now, "offset");
            newSize = optional(now, "size");
        } catch (const block::BlockError& e) {
            throw QmpError(e.what());
        }
        if (oldOffset == newOffset && oldSize == newSize)
            return;
        std::shared_ptr<block::RawWindow> window;
        if (auto node = ctx_.rawWindows.find(top); node != ctx_.rawWindows.end())
            if (auto w = node->second.find(path); w != node->second.end())
                window = w->second;
        if (!window)
            throw QmpError("e2kvm cannot add an offset or size to raw node '" + top +
                           "' by blockdev-reopen");
        steps_.push_back(
            {[window, newOffset, newSize] {
                 try {
                     window->reposition(newOffset.value_or(0), newSize);
                 } catch (const block::BlockError& e) {
                     throw QmpError(e.what());
                 }
             },
             [window, oldOffset, oldSize] { window->reposition(oldOffset.value_or(0), oldSize); }});
    }

    // The node's own options NBD exports follow.
    void planNodeOptions(const std::string& name, const Json& now) {
        auto node = ctx_.nodes.find(name);
        if (!node)
            return;
        const Json* readOnly = now.find("read-only");
        const bool wantReadOnly = readOnly && readOnly->isBool() && readOnly->asBool();
        if (wantReadOnly != node->readOnly)
            throw QmpError("e2kvm cannot switch node '" + name +
                           "' between read-only and read-write by blockdev-reopen");
        const std::string discard = stringOf(now.find("discard"));
        const bool unmap = discard == "unmap" || discard == "on";
        const std::string zeroes = stringOf(now.find("detect-zeroes"));
        const nbd::DetectZeroes detect = zeroes == "on"      ? nbd::DetectZeroes::On
                                         : zeroes == "unmap" ? nbd::DetectZeroes::Unmap
                                                             : nbd::DetectZeroes::Off;
        if (detect == nbd::DetectZeroes::Unmap && !unmap)
            throw QmpError("setting detect-zeroes to unmap is not allowed without setting "
                           "discard operation to unmap");
        const bool oldUnmap = node->discardUnmap;
        const nbd::DetectZeroes oldDetect = node->detectZeroes;
        steps_.push_back({[node, unmap, detect] {
                              node->discardUnmap = unmap;
                              node->detectZeroes = detect;
                          },
                          [node, oldUnmap, oldDetect] {
                              node->discardUnmap = oldUnmap;
                              node->detectZeroes = oldDetect;
                          }});
    }

    // The host file a node presents unchanged (a file node, or raw without a window over
    // one), or empty.
    std::string plainHostFile(const std::string& name) {
        if (auto file = ctx_.fileNodes.find(name); file != ctx_.fileNodes.end())
            return file->second;
        auto node = ctx_.nodes.find(name);
        if (!node || node->format != "raw" || ctx_.rawWindows.count(name))
            return {};
        return node->file;
    }

    // `top`'s file child becomes the node `replacement`: e2kvm's format drivers keep their
    // open file, so the new child must present the same bytes the old one did.
    void planFileReplacement(const std::string& top, const Json* before,
                             const std::string& replacement) {
        if (replacement == top)
            throw QmpError("Making '" + top + "' a file child of '" + top +
                           "' would create a cycle");
        if (!ctx_.nodes.find(replacement) && !ctx_.fileNodes.count(replacement))
            throw QmpError("Cannot find device='" + replacement + "' nor node-name='" +
                           replacement + "'");
        auto node = ctx_.nodes.find(top);
        std::string current;
        if (node)
            current = node->file;
        const std::string beforeName = refName(before);
        if (!beforeName.empty() && !plainHostFile(beforeName).empty())
            current = plainHostFile(beforeName);
        const std::string target = plainHostFile(replacement);
        if (!node || target.empty() || !sameHostFile(target, current))
            throw QmpError("e2kvm cannot make '" + replacement + "' the file child of '" + top +
                           "': it does not present the bytes of the current file child");
        const std::string user = "node '" + top + "'";
        const bool wasFileNode = ctx_.fileNodeUsers.count(top) != 0;
        const std::string oldFileNode = wasFileNode ? ctx_.fileNodeUsers[top] : std::string();
        const bool toFileNode = ctx_.fileNodes.count(replacement) != 0;
        steps_.push_back({[this, top, replacement, toFileNode, user] {
                              ctx_.fileNodeUsers.erase(top);
                              if (toFileNode)
                                  ctx_.fileNodeUsers[top] = replacement;
                              else
                                  ctx_.nodes.setUser(replacement, user, true);
                          },
                          [this, top, replacement, toFileNode, user, wasFileNode, oldFileNode] {
                              if (!toFileNode)
                                  ctx_.nodes.setUser(replacement, user, false);
                              ctx_.fileNodeUsers.erase(top);
                              if (wasFileNode)
                                  ctx_.fileNodeUsers[top] = oldFileNode;
                          }});
        if (ctx_.nodes.find(beforeName))
            steps_.push_back(
                {[this, beforeName, user] { ctx_.nodes.setUser(beforeName, user, false); },
                 [this, beforeName, user] { ctx_.nodes.setUser(beforeName, user, true); }});
    }

    QmpContext& ctx_;
    std::set<std::string> reopened_;
    std::vector<ReopenStep> steps_;
};

Json blockdevReopen(QmpContext& ctx, const Json* args) {
    QmpArgs a(args);
    const Json& list = a.require("options");
    if (!list.isArray())
        a.typeError("options", "array");
    a.finish();
    ReopenPlan plan(ctx);
    size_t index = 0;
    for (const Json& options : list.asArray())
        ReopenPlan::checkSchema(options, "options[" + std::to_string(index++) + "]");
    for (const Json& options : list.asArray())
        plan.addNode(options);
    plan.commit();
    return Json::object();
}

} // namespace

void registerBlockdevReopen(QmpContext& ctx) {
    ctx.addCommand({"blockdev-reopen", blockdevReopen});
}

} // namespace e2kvm::qmp
