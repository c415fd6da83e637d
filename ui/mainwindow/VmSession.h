#pragma once
// VmSession: one VM that has been started: its disks opened through the shared BlockNodeTable
// (so panels, NBD exports and QMP see the same images and live bitmaps), the MachineRunner
// that runs it on its own thread, and counters for the status bar. Lives on the GUI thread.
#include "ui/library/VmDefinition.h"

#include <QObject>
#include <QString>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace e2kvm::emu {
class MachineRunner;
struct MachineEvent;
class FramePublisher;
class InputSink;
} // namespace e2kvm::emu
namespace e2kvm::block {
class BlockHandle;
class WriteObserver;
} // namespace e2kvm::block
namespace e2kvm::vm {
class BlockNodeTable;
struct BlockNode;
} // namespace e2kvm::vm

namespace e2kvm::ui {

// Opens `def`'s disks in `nodes` (writable unless marked read-only), reusing nodes already open
// for the same files. Only starting the VM does this: selecting it opens nothing (the panels look
// at its disks read-only). Node names "disk0".. when free, generated otherwise. Throws with context.
std::vector<std::shared_ptr<vm::BlockNode>> openVmDisks(vm::BlockNodeTable& nodes,
                                                        const VmDefinition& def);

class VmSession : public QObject {
    Q_OBJECT
public:
    // Builds the machine (throws std::runtime_error / block::BlockError with context: missing
    // ROM, unreadable kernel, disk in use read-only...). `romPath` is the built boot ROM used for
    // BootKind::Demo.
    VmSession(const VmDefinition& def, vm::BlockNodeTable& nodes, const QString& romPath,
              QObject* parent = nullptr);
    ~VmSession() override; // force off

    const VmDefinition& definition() const { return def_; }
    void start(bool paused = false);
    void pause();
    void resume();
    void reset();
    // Quits the machine after flushing its disks and saving their bitmaps.
    void shutDown();
    // Quits the machine at once (the runner still flushes what it wrote).
    void forceOff();

    QString stateName() const; // "running", "paused", "shutdown", ...
    bool isActive() const;     // running or paused
    emu::FramePublisher& display();
    emu::InputSink& input();
    std::shared_ptr<emu::MachineRunner> runner() const { return runner_; }
    // The nodes the VM's disks were opened as (disk i of the definition is disks()[i]).
    const std::vector<std::shared_ptr<vm::BlockNode>>& disks() const { return disks_; }
    // What each disk device reads and writes through (diskHandles()[i] starts at disks()[i]):
    // QMP's qom-set DEVICE drive NODE retargets one, as in e2kvm-system.
    const std::vector<std::shared_ptr<block::BlockHandle>>& diskHandles() const {
        return handles_;
    }
    // The node disk `i`'s device uses now: disks()[i] unless QMP's qom-set moved it.
    std::string diskNodeName(size_t i) const;
    // How the VM stands in its nodes' users (BlockNodeTable::users): "vm 'NAME'".
    const std::string& user() const { return user_; }
    // Bytes the guest (or anyone) wrote to the VM's disks since the session started.
    uint64_t bytesWritten() const;
    // A second receiver of the machine's events (QMP), called on the machine thread; it must
    // not block. Replaces the previous one; empty to remove.
    void setEventListener(std::function<void(const emu::MachineEvent&)> listener);

signals:
    void stateChanged(QString state);
    void eventText(QString text); // "guest reset", "guest powered off", fault messages

private:
    void finish(); // releases the disks (whichever nodes they reach now) after the machine ended
    struct WriteCounter;
    VmDefinition def_;
    vm::BlockNodeTable& nodes_;
    std::vector<std::shared_ptr<vm::BlockNode>> disks_;
    std::vector<std::shared_ptr<block::BlockHandle>> handles_;
    std::shared_ptr<WriteCounter> counter_;
    std::shared_ptr<emu::MachineRunner> runner_;
    std::string user_;
    bool finished_ = false;
    std::mutex listenerMutex_;
    std::function<void(const emu::MachineEvent&)> listener_;
};

} // namespace e2kvm::ui
