#include "app/backup/QmpVmSource.h"

#include "app/backup/CatalogCheckpoints.h"
#include "app/backup/NbdExportSource.h"
#include "block/ImageOpen.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <thread>
#include <unistd.h>
#include <vector>

namespace e2kvm::backup {

using json::Json;

struct QmpVmSource::NodeInfo {
    struct Bitmap {
        std::string name;
        bool recording = false;
        bool inconsistent = false;
        bool busy = false;
    };
    std::string node;
    std::string driver;
    uint64_t virtualSize = 0;
    std::vector<Bitmap> bitmaps;
    const Bitmap* find(const std::string& name) const {
        for (const Bitmap& b : bitmaps)
            if (b.name == name)
                return &b;
        return nullptr;
    }
};

namespace {

const std::string& str(const Json& j, const char* key) {
    static const std::string empty;
    const Json* m = j.isObject() ? j.find(key) : nullptr;
    return m && m->isString() ? m->asString() : empty;
}

bool flag(const Json& j, const char* key) {
    const Json* m = j.isObject() ? j.find(key) : nullptr;
    return m && m->isBool() && m->asBool();
}

bool startsWith(const std::string& s, const std::string& prefix) {
    return !prefix.empty() && s.rfind(prefix, 0) == 0;
}

Json action(const char* type, Json data) {
    return Json::object({{"type", type}, {"data", std::move(data)}});
}

} // namespace

QmpVmSource::QmpVmSource(std::string address, std::string device)
    : address_(std::move(address)), device_(std::move(device)) {}

QmpVmSource::~QmpVmSource() {
    try {
        release();
    } catch (...) {
    }
}

QmpVmSource::NodeInfo QmpVmSource::findNode() {
    Json nodes = qmp_->execute("query-named-block-nodes");
    std::string node;
    auto isNode = [&](const std::string& name) {
        for (const Json& n : nodes.asArray())
            if (str(n, "node-name") == name)
                return true;
        return false;
    };
    if (isNode(device_)) {
        node = device_;
    } else {
        Json blocks = qmp_->execute("query-block");
        std::string known;
        for (const Json& b : blocks.asArray()) {
            const Json* inserted = b.find("inserted");
            std::string dev = str(b, "device"), qdev = str(b, "qdev");
            known += (known.empty() ? "" : ", ") + (dev.empty() ? qdev : dev);
            if ((dev == device_ && !dev.empty()) || (qdev == device_ && !qdev.empty())) {
                if (!inserted)
                    throw std::runtime_error("the VM's block device '" + device_ +
                                             "' has no medium");
                node = str(*inserted, "node-name");
            }
        }
        if (node.empty())
            throw std::runtime_error(
                "the VM has no block device or node named '" + device_ +
                "' (its block devices: " + (known.empty() ? std::string("none") : known) + ")");
    }
    NodeInfo info;
    info.node = node;
    for (const Json& n : nodes.asArray()) {
        if (str(n, "node-name") != node)
            continue;
        info.driver = str(n, "drv");
        if (const Json* image = n.find("image"))
            if (const Json* vs = image->find("virtual-size"); vs && vs->isInteger())
                info.virtualSize = vs->asUInt();
        if (const Json* bms = n.find("dirty-bitmaps"); bms && bms->isArray())
            for (const Json& b : bms->asArray())
                info.bitmaps.push_back({str(b, "name"), flag(b, "recording"),
                                        flag(b, "inconsistent"), flag(b, "busy")});
    }
    if (info.virtualSize == 0)
        throw std::runtime_error("the VM did not report the size of node '" + node + "'");
    return info;
}

void QmpVmSource::cleanLeftovers(const SourcePlan& plan, const NoteSink& note,
                                 bool& stoppedOurServer) {
    const std::string& prefix = plan.objectPrefix;
    bool found = false;
    try {
        Json exports = qmp_->execute("query-block-exports");
        for (const Json& e : exports.asArray()) {
            std::string id = str(e, "id");
            if (!startsWith(id, prefix))
                continue;
            found = true;
            try {
                qmp_->execute("block-export-del", Json::object({{"id", id}, {"mode", "hard"}}));
                qmp_->waitEvent("BLOCK_EXPORT_DELETED", Json::object({{"id", id}}),
                                std::chrono::seconds(30));
            } catch (const std::exception&) {
            }
        }
    } catch (const QmpCommandError&) {
        // A monitor without query-block-exports has no leftover exports of ours either.
    }
    Json jobs = qmp_->execute("query-block-jobs");
    for (const Json& j : jobs.asArray()) {
        std::string id = str(j, "device");
        if (!startsWith(id, prefix))
            continue;
        found = true;
        try {
            qmp_->execute("block-job-cancel", Json::object({{"device", id}, {"force", true}}));
        } catch (const QmpCommandError&) {
        }
        for (int i = 0; i < 3000; ++i) {
            bool still = false;
            Json now = qmp_->execute("query-block-jobs");
            for (const Json& k : now.asArray())
                still = still || str(k, "device") == id;
            if (!still)
                break;
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
    }
    Json nodes = qmp_->execute("query-named-block-nodes");
    for (const Json& n : nodes.asArray()) {
        std::string name = str(n, "node-name");
        if (!startsWith(name, prefix))
            continue;
        found = true;
        try {
            qmp_->execute("blockdev-del", Json::object({{"node-name", name}}));
        } catch (const QmpCommandError& e) {
            note("could not remove the leftover node '" + name + "': " + e.description());
        }
    }
    if (found) {
        note("cleaned up after an interrupted backup of " + device_);
        try {
            qmp_->execute("nbd-server-stop");
            stoppedOurServer = true;
        } catch (const QmpCommandError&) {
        }
    }
}

std::unique_ptr<SourceView> QmpVmSource::open(const SourcePlan& plan, const NoteSink& note) {
    plan_ = plan;
    used_.clear();
    baseDisabled_ = nextAdded_ = false;
    qmp_ = std::make_unique<QmpClient>(address_);
    try {
        findNode(); // the device exists
        bool stopped = false;
        cleanLeftovers(plan, note, stopped);
        // Asked again: while a leftover backup job ran, QEMU's device showed the job's
        // copy-before-write filter node on top of the disk.
        NodeInfo info = findNode();
        node_ = info.node;

        // Checkpoints: is base usable, and fold what interrupted runs recorded into it.
        const NodeInfo::Bitmap* base = plan.base.empty() ? nullptr : info.find(plan.base);
        bool usable = base && !base->inconsistent;
        if (plan.incremental) {
            if (plan.base.empty())
                note("taking a full point: the directory has no earlier point of this disk");
            else if (!base)
                note("taking a full point: the checkpoint bitmap '" + plan.base +
                     "' is missing from " + device_ + " (node '" + node_ + "')");
            else if (base->inconsistent)
                note("taking a full point: the checkpoint bitmap '" + plan.base + "' of " +
                     device_ + " is inconsistent (the VM stopped without saving it)");
        }
        auto baseNo = checkpointNumber(plan.checkpointPrefix, plan.base);
        if (usable && !base->recording)
            qmp_->execute("block-dirty-bitmap-enable",
                          Json::object({{"node", node_}, {"name", plan.base}}));
        for (const NodeInfo::Bitmap& b : info.bitmaps) {
            auto n = checkpointNumber(plan.checkpointPrefix, b.name);
            if (!n || b.name == plan.base)
                continue;
            if (usable && baseNo && *n > *baseNo && !b.inconsistent)
                qmp_->execute("block-dirty-bitmap-merge",
                              Json::object({{"node", node_},
                                            {"target", plan.base},
                                            {"bitmaps", Json::Array{Json(b.name)}}}));
            qmp_->execute("block-dirty-bitmap-remove",
                          Json::object({{"node", node_}, {"name", b.name}}));
        }
        bool incremental = plan.incremental && usable;

        // The overlay that keeps the point in time.
        overlayFile_ = plan.overlayPath;
        block::CreateOptions co;
        co.format = "qcow2";
        co.size = info.virtualSize;
        co.sizeGiven = true;
        block::createImage(overlayFile_, co);

        std::string socket = socket_.create();
        std::string suffix = std::to_string(
            checkpointNumber(plan.checkpointPrefix, plan.next).value_or(uint64_t(::getpid())));
        overlayNode_ = plan.objectPrefix + "f" + suffix;
        jobId_ = plan.objectPrefix + "j" + suffix;
        exportId_ = plan.objectPrefix + "e" + suffix;

        try {
            qmp_->execute(
                "nbd-server-start",
                Json::object(
                    {{"addr", Json::object({{"type", "unix"},
                                            {"data", Json::object({{"path", socket}})}})}}));
        } catch (const QmpCommandError& e) {
            throw std::runtime_error(
                "the VM's NBD server could not be started on a private socket (" + e.description() +
                "); if the VM already runs an NBD server, stop it (QMP nbd-server-stop) or back "
                "up from that server with --nbd");
        }
        serverStarted_ = true;
        qmp_->execute(
            "blockdev-add",
            Json::object({{"driver", "qcow2"},
                          {"node-name", overlayNode_},
                          {"file", Json::object({{"driver", "file"}, {"filename", overlayFile_}})},
                          {"backing", node_}}));
        overlayAdded_ = true;

        Json actions = Json::array();
        if (incremental)
            actions.push(action("block-dirty-bitmap-disable",
                                Json::object({{"node", node_}, {"name", plan.base}})));
        if (!plan.next.empty())
            actions.push(action("block-dirty-bitmap-add",
                                Json::object({{"node", node_},
                                              {"name", plan.next},
                                              {"persistent", info.driver == "qcow2"}})));
        actions.push(action("blockdev-backup", Json::object({{"job-id", jobId_},
                                                             {"device", node_},
                                                             {"target", overlayNode_},
                                                             {"sync", "none"}})));
        qmp_->execute("transaction", Json::object({{"actions", std::move(actions)}}));
        jobStarted_ = true;
        baseDisabled_ = incremental;
        nextAdded_ = !plan.next.empty();
        if (info.driver != "qcow2" && !plan.next.empty())
            note("the checkpoint bitmap of " + device_ + " lives only while the VM runs (a " +
                 info.driver + " disk cannot store it); after a restart the next point is full");

        Json exp = Json::object({{"type", "nbd"},
                                 {"id", exportId_},
                                 {"node-name", overlayNode_},
                                 {"name", exportId_},
                                 {"writable", false}});
        if (incremental)
            exp.set("bitmaps", Json::Array{Json(plan.base)});
        qmp_->execute("block-export-add", std::move(exp));
        exportAdded_ = true;

        nbd::NbdUri uri;
        uri.socketPath = socket;
        uri.exportName = exportId_;
        auto view =
            NbdView::openPointInTime(uri, device_ + " of the VM at " + address_,
                                     incremental ? plan.base : std::string(), plan.maxReaders);
        if (incremental)
            used_ = plan.base;
        return view;
    } catch (...) {
        try {
            finish(false);
        } catch (...) {
        }
        throw;
    }
}

void QmpVmSource::release() {
    if (!qmp_)
        return;
    std::string firstError;
    auto attempt = [&](const char* what, auto&& fn) {
        try {
            fn();
        } catch (const std::exception& e) {
            if (firstError.empty())
                firstError = std::string(what) + ": " + e.what();
        }
    };
    if (exportAdded_) {
        attempt("removing the export", [&] {
            qmp_->execute("block-export-del", Json::object({{"id", exportId_}, {"mode", "hard"}}));
            qmp_->waitEvent("BLOCK_EXPORT_DELETED", Json::object({{"id", exportId_}}),
                            std::chrono::seconds(30));
        });
        exportAdded_ = false;
    }
    if (jobStarted_) {
        attempt("ending the point in time", [&] {
            try {
                qmp_->execute("block-job-cancel",
                              Json::object({{"device", jobId_}, {"force", true}}));
            } catch (const QmpCommandError&) {
                // The job may have ended already (a failed copy-before-write).
            }
            for (int i = 0;; ++i) {
                bool still = false;
                Json now = qmp_->execute("query-block-jobs");
                for (const Json& k : now.asArray())
                    still = still || str(k, "device") == jobId_;
                if (!still)
                    break;
                if (i > 3000)
                    throw std::runtime_error("the backup job " + jobId_ + " does not end");
                std::this_thread::sleep_for(std::chrono::milliseconds(20));
            }
        });
        jobStarted_ = false;
    }
    if (overlayAdded_) {
        attempt("removing the overlay node", [&] {
            qmp_->execute("blockdev-del", Json::object({{"node-name", overlayNode_}}));
        });
        overlayAdded_ = false;
    }
    if (serverStarted_) {
        attempt("stopping the private NBD server", [&] { qmp_->execute("nbd-server-stop"); });
        serverStarted_ = false;
    }
    if (!overlayFile_.empty()) {
        ::unlink(overlayFile_.c_str());
        overlayFile_.clear();
    }
    socket_.release();
    if (!firstError.empty())
        throw std::runtime_error(firstError);
}

void QmpVmSource::finish(bool stored) {
    if (!qmp_)
        return;
    std::string firstError;
    try {
        release();
    } catch (const std::exception& e) {
        firstError = e.what();
    }
    try {
        if (stored) {
            NodeInfo info = findNode();
            for (const NodeInfo::Bitmap& b : info.bitmaps)
                if (checkpointNumber(plan_.checkpointPrefix, b.name) && b.name != plan_.next)
                    qmp_->execute("block-dirty-bitmap-remove",
                                  Json::object({{"node", node_}, {"name", b.name}}));
        } else if (nextAdded_) {
            if (baseDisabled_) {
                qmp_->execute("block-dirty-bitmap-enable",
                              Json::object({{"node", node_}, {"name", plan_.base}}));
                qmp_->execute("block-dirty-bitmap-merge",
                              Json::object({{"node", node_},
                                            {"target", plan_.base},
                                            {"bitmaps", Json::Array{Json(plan_.next)}}}));
            }
            qmp_->execute("block-dirty-bitmap-remove",
                          Json::object({{"node", node_}, {"name", plan_.next}}));
        }
    } catch (const std::exception& e) {
        if (firstError.empty())
            firstError = std::string("settling the checkpoint bitmaps: ") + e.what();
    }
    baseDisabled_ = nextAdded_ = false;
    qmp_.reset();
    if (!firstError.empty())
        throw std::runtime_error(firstError);
}

} // namespace e2kvm::backup
