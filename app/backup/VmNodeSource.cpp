#include "app/backup/VmNodeSource.h"

#include "app/backup/CatalogCheckpoints.h"
#include "app/backup/NbdExportSource.h"
#include "block/bitmap/BitmapCatalog.h"
#include "nbd/NbdUri.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <unistd.h>

namespace e2kvm::backup {

VmNodeSource::VmNodeSource(vm::BlockNodeTable& nodes, vm::NbdExportService& exports,
                           vm::PointInTimeExports& points, std::string nodeName, std::string label)
    : nodes_(nodes), exports_(exports), points_(points), node_(std::move(nodeName)),
      label_(std::move(label)) {}

VmNodeSource::~VmNodeSource() {
    try {
        finish(false);
    } catch (...) {
    }
}

std::unique_ptr<SourceView> VmNodeSource::open(const SourcePlan& plan, const NoteSink& note) {
    plan_ = plan;
    used_.clear();
    nextAdded_ = baseFrozen_ = false;
    std::shared_ptr<vm::BlockNode> node = nodes_.find(node_);
    if (!node)
        throw std::runtime_error(label_ + ": the disk is not open (node '" + node_ + "')");
    try {
        block::BitmapCatalog* cat = node->image->bitmaps();
        bool usable = false;
        vm::PointInTimeRequest req;
        req.nodeName = node_;
        if (cat) {
            auto actions = prepareCheckpoints(*cat, plan, label_, note, usable);
            if (!actions.empty())
                cat->apply(actions);
            if (!cat->storesBitmaps() && !plan.next.empty())
                note("the checkpoint bitmap of " + label_ +
                     " lives only while the VM runs (a raw disk cannot store it); after a "
                     "restart the next point is full");
            req.newCheckpoint = plan.next;
        } else if (plan.incremental) {
            note("taking a full point: " + label_ + " cannot keep a checkpoint bitmap");
        }
        bool incremental = plan.incremental && usable;
        if (incremental)
            req.freeze = {plan.base};
        std::string suffix =
            std::to_string(checkpointNumber(plan.checkpointPrefix, plan.next).value_or(::getpid()));
        exportName_ = plan.objectPrefix + "e" + suffix;
        req.exportName = exportName_;
        req.description = "backup of " + label_;
        size_t slash = plan.overlayPath.rfind('/');
        req.directory = slash == std::string::npos ? "." : plan.overlayPath.substr(0, slash);

        if (!exports_.running()) {
            vm::NbdListenAddress a;
            a.unixPath = socket_.create();
            exports_.start(a);
            serverStarted_ = true;
        }
        points_.start(req);
        exported_ = true;
        nextAdded_ = !plan.next.empty() && cat;
        baseFrozen_ = incremental;

        nbd::NbdUri uri = nbd::parseNbdUri(exports_.uriFor(exportName_));
        auto view = NbdView::openPointInTime(uri, label_, incremental ? plan.base : std::string(),
                                             plan.maxReaders);
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

void VmNodeSource::finish(bool stored) {
    std::string firstError;
    if (exported_) {
        try {
            points_.stop(exportName_);
        } catch (const std::exception& e) {
            firstError = e.what();
        }
        exported_ = false;
    }
    if (serverStarted_) {
        exports_.stop();
        serverStarted_ = false;
    }
    socket_.release();
    if (std::shared_ptr<vm::BlockNode> node = nodes_.find(node_)) {
        if (block::BitmapCatalog* cat = node->image->bitmaps()) {
            try {
                auto actions = settleCheckpoints(*cat, plan_, stored, nextAdded_, baseFrozen_);
                if (!actions.empty())
                    cat->apply(actions);
            } catch (const std::exception& e) {
                if (firstError.empty())
                    firstError = std::string("settling the checkpoint bitmaps: ") + e.what();
            }
        }
    }
    nextAdded_ = baseFrozen_ = false;
    if (!firstError.empty())
        throw std::runtime_error(firstError);
}

} // namespace e2kvm::backup
