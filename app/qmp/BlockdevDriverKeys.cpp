#include "app/qmp/BlockdevDriverKeys.h"

#include <set>
#include <vector>

namespace e2kvm::qmp {

namespace {

// One driver's options: its own keys, the children it has (their keys are checked against
// the child's driver), and whether QEMU calls it a format or a protocol in its messages.
struct DriverKeys {
    std::string name;
    bool format = false;
    std::set<std::string> keys;
    // child name -> driver assumed when the child's options do not name one ("" = unchecked:
    // QEMU probes it)
    std::map<std::string, std::string> children;
    // keys under which any sub-key is the driver's own (blkdebug's inject-error.0.event)
    std::set<std::string> lists;
};

const std::vector<DriverKeys>& drivers() {
    static const std::vector<DriverKeys> table = {
        {"qcow2",
         true,
         {"lazy-refcounts", "pass-discard-request", "pass-discard-snapshot", "pass-discard-other",
          "overlap-check", "cache-size", "l2-cache-size", "l2-cache-entry-size",
          "refcount-cache-size", "cache-clean-interval", "backing"},
         {{"file", "file"}, {"backing", ""}, {"data-file", "file"}},
         {"overlap-check", "encrypt"}},
        {"raw", true, {"offset", "size"}, {{"file", "file"}}, {}},
        {"file",
         false,
         {"filename", "aio", "aio-max-batch", "locking", "pr-manager", "drop-cache",
          "x-check-cache-dropped"},
         {},
         {}},
        {"host_device", false, {"filename", "aio", "locking"}, {}, {}},
        {"blkdebug",
         false,
         {"filename", "config", "x-image", "align", "max-transfer", "opt-write-zero",
          "max-write-zero", "opt-discard", "max-discard"},
         {{"image", "file"}},
         {"inject-error", "set-state", "take-child-perms", "unshare-child-perms"}},
        {"blkverify", false, {"filename", "x-raw", "x-image"}, {{"test", ""}, {"raw", "file"}}, {}},
        {"compress", true, {}, {{"file", "file"}}, {}},
        // QEMU's BlockdevOptionsNbd (server is a SocketAddress: type, path, host, port...).
        {"nbd", false, {"export", "x-dirty-bitmap", "reconnect-delay"}, {}, {"server"}},
        {"null-co", false, {"filename", "size", "read-zeroes", "latency-ns"}, {}, {}},
        {"throttle", true, {"throttle-group"}, {{"file", ""}}, {}},
        {"copy-on-read", true, {"bottom"}, {{"file", ""}}, {}},
    };
    return table;
}

const DriverKeys* findDriver(const std::string& name) {
    for (const DriverKeys& d : drivers())
        if (d.name == name)
            return &d;
    return nullptr;
}

// Keys every node takes, whatever its driver.
bool commonKey(const std::string& key) {
    static const std::set<std::string> common = {
        "driver",  "node-name",     "read-only",    "auto-read-only", "force-share",
        "discard", "detect-zeroes", "cache.direct", "cache.no-flush"};
    return common.count(key) != 0;
}

std::optional<UnknownDriverKey> checkNode(const std::map<std::string, std::string>& options,
                                          const std::string& driver, const std::string& prefix) {
    const DriverKeys* d = findDriver(driver);
    if (!d)
        return UnknownDriverKey{driver, "driver", prefix + "driver", true};
    std::map<std::string, std::map<std::string, std::string>> children;
    for (const auto& [key, value] : options) {
        if (commonKey(key) || d->keys.count(key))
            continue;
        const size_t dot = key.find('.');
        const std::string head = key.substr(0, dot);
        if (dot != std::string::npos && d->lists.count(head))
            continue;
        if (dot != std::string::npos && d->children.count(head)) {
            children[head][key.substr(dot + 1)] = value;
            continue;
        }
        return UnknownDriverKey{driver, key, prefix + key, false};
    }
    for (const auto& [child, sub] : children) {
        auto named = sub.find("driver");
        const std::string childDriver = named != sub.end() ? named->second : d->children.at(child);
        if (childDriver.empty())
            continue;
        if (auto unknown = checkNode(sub, childDriver, prefix + child + "."))
            return unknown;
    }
    return std::nullopt;
}

} // namespace

bool knownBlockDriver(const std::string& driver) {
    return findDriver(driver) != nullptr;
}

bool isFormatDriver(const std::string& driver) {
    const DriverKeys* d = findDriver(driver);
    return d && d->format;
}

std::string blockDriverNames() {
    std::set<std::string> names = {"copy-before-write", "snapshot-access"};
    for (const DriverKeys& d : drivers())
        names.insert(d.name);
    std::string out;
    for (const std::string& n : names)
        out += (out.empty() ? "" : " ") + n;
    return out;
}

std::optional<UnknownDriverKey> unknownDriverKey(const std::map<std::string, std::string>& options,
                                                 const std::string& defaultDriver) {
    auto driver = options.find("driver");
    return checkNode(options, driver == options.end() ? defaultDriver : driver->second, "");
}

} // namespace e2kvm::qmp
