#pragma once
// QmpVmSource: a backup source that is a disk of a running VM, driven over its QMP monitor
// with commands QEMU 7.2 has (so it works with qemu-system, e2kvm-system and the app's --qmp).
// One transaction freezes the previous checkpoint bitmap, adds the next one and starts a
// sync=none backup job into a temporary qcow2 overlay whose backing is the disk (the point in
// time); the overlay is exported read-only, with the frozen bitmap, on a private Unix socket,
// and read through NBD. Finishing removes the export, the job, the overlay node and its file,
// then drops the old checkpoint (the point was stored) or folds the new one back into it.
// Leftovers of an interrupted run (export, job, node, bitmaps) are cleaned up by the next open.
#include "app/backup/BackupSource.h"
#include "app/backup/PrivateSocket.h"
#include "app/backup/QmpClient.h"

#include <memory>
#include <string>

namespace e2kvm::backup {

class QmpVmSource final : public BackupSource {
public:
    // `address`: "unix:PATH" or PATH of the monitor; `device`: a drive id, qdev id or node name.
    QmpVmSource(std::string address, std::string device);
    ~QmpVmSource() override;
    std::string describe() const override { return "qmp " + address_ + " " + device_; }
    bool keepsCheckpoints() const override { return true; }
    std::unique_ptr<SourceView> open(const SourcePlan& plan, const NoteSink& note) override;
    std::string baseUsed() const override { return used_; }
    void finish(bool stored) override;

private:
    struct NodeInfo;
    NodeInfo findNode();
    void cleanLeftovers(const SourcePlan& plan, const NoteSink& note, bool& stoppedOurServer);
    void release();

    std::string address_;
    std::string device_;
    std::unique_ptr<QmpClient> qmp_;
    SourcePlan plan_;
    std::string node_;
    std::string used_;
    bool baseDisabled_ = false;
    bool nextAdded_ = false;
    std::string overlayNode_, jobId_, exportId_, overlayFile_;
    PrivateSocket socket_;
    bool serverStarted_ = false, overlayAdded_ = false, jobStarted_ = false, exportAdded_ = false;
};

} // namespace e2kvm::backup
