#include "ui/mainwindow/VmSession.h"

#include "app/vmcore/BlockNodeTable.h"
#include "block/BlockDriver.h"
#include "block/bitmap/BitmapCatalog.h"
#include "block/graph/BlockHandle.h"
#include "emu/machine/MachineRunner.h"

#include <QMetaObject>

#include <algorithm>
#include <stdexcept>

namespace e2kvm::ui {

struct VmSession::WriteCounter : block::WriteObserver {
    std::atomic<uint64_t> bytes{0};
    void contentsChanged(uint64_t, uint64_t length) override { bytes.fetch_add(length); }
};

std::vector<std::shared_ptr<vm::BlockNode>> openVmDisks(vm::BlockNodeTable& nodes,
                                                        const VmDefinition& def) {
    std::vector<std::shared_ptr<vm::BlockNode>> out;
    for (int i = 0; i < def.disks.size(); ++i) {
        const VmDisk& d = def.disks[i];
        std::string file = d.file.toStdString();
        std::string name;
        if (!nodes.findByFile(file)) {
            std::string wanted = "disk" + std::to_string(i);
            if (!nodes.find(wanted))
                name = wanted;
        }
        out.push_back(nodes.open(file, d.format.toStdString(), d.readOnly, name));
    }
    return out;
}

VmSession::VmSession(const VmDefinition& def, vm::BlockNodeTable& nodes, const QString& romPath,
                     QObject* parent)
    : QObject(parent), def_(def), nodes_(nodes), counter_(std::make_shared<WriteCounter>()),
      user_("vm '" + def.name.toStdString() + "'") {
    if (QString p = definitionProblem(def); !p.isEmpty())
        throw std::runtime_error(QStringLiteral("VM '%1': %2").arg(def.name, p).toStdString());
    emu::MachineConfig config;
    config.name = def.name.toStdString();
    config.ramBytes = uint64_t(def.memoryMiB) << 20;
    config.displayWidth = uint32_t(def.display.width());
    config.displayHeight = uint32_t(def.display.height());
    switch (def.boot) {
    case BootKind::Demo:
        if (romPath.isEmpty())
            throw std::runtime_error("the boot ROM (e2kvm-rom.bin) was not found; build the "
                                     "resources/guest targets or set E2KVM_GUEST_DIR");
        config.biosPath = romPath.toStdString();
        break;
    case BootKind::Rom:
        config.biosPath = def.bootPath.toStdString();
        break;
    case BootKind::Kernel:
        config.kernelPath = def.bootPath.toStdString();
        break;
    }
    disks_ = openVmDisks(nodes_, def);
    for (size_t i = 0; i < disks_.size(); ++i) {
        if (!def.disks[int(i)].readOnly && disks_[i]->readOnly)
            throw std::runtime_error(disks_[i]->file + ": already open read-only as node '" +
                                     disks_[i]->name + "'; the VM needs it writable");
        bool readOnly = def.disks[int(i)].readOnly;
        handles_.push_back(std::make_shared<block::BlockHandle>(disks_[i]->image, readOnly));
        config.disks.push_back({"disk" + std::to_string(i), handles_.back(), readOnly});
    }
    runner_ = std::make_shared<emu::MachineRunner>(std::move(config));
    for (auto& d : disks_) {
        d->image->addWriteObserver(counter_);
        nodes_.setUser(d->name, user_, true);
    }
    // Called on the machine thread: only post to the GUI thread.
    runner_->setEventCallback([this](const emu::MachineEvent& ev) {
        {
            std::lock_guard lock(listenerMutex_);
            if (listener_)
                listener_(ev);
        }
        QString text;
        switch (ev.kind) {
        case emu::MachineEvent::Stop:
            text = QStringLiteral("paused");
            break;
        case emu::MachineEvent::Resume:
            text = QStringLiteral("resumed");
            break;
        case emu::MachineEvent::Reset:
            text = QStringLiteral("reset (%1)").arg(QString::fromStdString(ev.detail));
            break;
        case emu::MachineEvent::Shutdown:
            text = QStringLiteral("shut down (%1)").arg(QString::fromStdString(ev.detail));
            break;
        case emu::MachineEvent::Error:
            text = QStringLiteral("error: %1").arg(QString::fromStdString(ev.detail));
            break;
        }
        bool ended = ev.kind == emu::MachineEvent::Shutdown || ev.kind == emu::MachineEvent::Error;
        QMetaObject::invokeMethod(
            this,
            [this, text, ended] {
                emit eventText(text);
                if (ended)
                    finish();
                emit stateChanged(stateName());
            },
            Qt::QueuedConnection);
    });
}

void VmSession::setEventListener(std::function<void(const emu::MachineEvent&)> listener) {
    std::lock_guard lock(listenerMutex_);
    listener_ = std::move(listener);
}

VmSession::~VmSession() {
    if (runner_) {
        runner_->setEventCallback({});
        runner_->quit();
    }
    finish();
}

void VmSession::start(bool paused) {
    runner_->start(paused);
    emit stateChanged(stateName());
}

void VmSession::pause() {
    runner_->pause();
    emit stateChanged(stateName());
}

void VmSession::resume() {
    runner_->resume();
    emit stateChanged(stateName());
}

void VmSession::reset() {
    runner_->reset();
}

void VmSession::shutDown() {
    runner_->quit();
    for (auto& d : disks_) {
        if (d->image->readOnly())
            continue;
        d->image->flush();
        if (block::BitmapCatalog* bitmaps = d->image->bitmaps())
            bitmaps->saveForClose();
    }
    finish();
    emit stateChanged(stateName());
}

void VmSession::forceOff() {
    runner_->quit();
    finish();
    emit stateChanged(stateName());
}

void VmSession::finish() {
    if (finished_)
        return;
    finished_ = true;
    for (auto& d : disks_)
        d->image->removeWriteObserver(counter_.get());
    // QMP may have put a device on another node (a copy-before-write filter over its disk).
    for (const auto& node : nodes_.list()) {
        std::vector<std::string> users = nodes_.users(node->name);
        if (std::find(users.begin(), users.end(), user_) != users.end())
            nodes_.setUser(node->name, user_, false);
    }
}

std::string VmSession::diskNodeName(size_t i) const {
    std::shared_ptr<block::BlockDriver> current = handles_.at(i)->node();
    for (const auto& node : nodes_.list())
        if (node->image == current)
            return node->name;
    return disks_.at(i)->name;
}

QString VmSession::stateName() const {
    return QString::fromLatin1(emu::runStateName(runner_->state()));
}

bool VmSession::isActive() const {
    emu::RunState s = runner_->state();
    return s == emu::RunState::Running || s == emu::RunState::Paused ||
           s == emu::RunState::RestoreVm;
}

emu::FramePublisher& VmSession::display() {
    return runner_->display();
}
emu::InputSink& VmSession::input() {
    return runner_->input();
}
uint64_t VmSession::bytesWritten() const {
    return counter_->bytes.load();
}

} // namespace e2kvm::ui
