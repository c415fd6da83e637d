#pragma once
// VmNodeSource: a backup source that is a disk (a node of the BlockNodeTable) of a VM running in
// this process: the GUI's "Back up now". The point in time is a point-in-time export
// (vm::PointInTimeExports: a temporary overlay kept by copy-before-write) that freezes the
// previous checkpoint bitmap and starts the next one at the same moment; it is read over NBD
// from the process's own server (started on a private Unix socket if it is not running).
#include "app/backup/BackupSource.h"
#include "app/backup/PrivateSocket.h"
#include "app/vmcore/BlockNodeTable.h"
#include "app/vmcore/NbdExportService.h"
#include "app/vmcore/PointInTimeExports.h"

#include <string>

namespace e2kvm::backup {

class VmNodeSource final : public BackupSource {
public:
    // `label` names the disk in the manifest and messages ("vm 'demo' disk0").
    VmNodeSource(vm::BlockNodeTable& nodes, vm::NbdExportService& exports,
                 vm::PointInTimeExports& points, std::string nodeName, std::string label);
    ~VmNodeSource() override;
    std::string describe() const override { return label_; }
    bool keepsCheckpoints() const override { return true; }
    std::unique_ptr<SourceView> open(const SourcePlan& plan, const NoteSink& note) override;
    std::string baseUsed() const override { return used_; }
    void finish(bool stored) override;

private:
    vm::BlockNodeTable& nodes_;
    vm::NbdExportService& exports_;
    vm::PointInTimeExports& points_;
    std::string node_, label_;
    SourcePlan plan_;
    std::string used_, exportName_;
    PrivateSocket socket_;
    bool serverStarted_ = false, exported_ = false, nextAdded_ = false, baseFrozen_ = false;
};

} // namespace e2kvm::backup
