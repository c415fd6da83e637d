#include "app/qmp/QmpContext.h"

#include "app/qmp/QmpError.h"

#include <chrono>

namespace e2kvm::qmp {

QmpContext::QmpContext(vm::BlockNodeTable& n, vm::NbdExportService& s, QmpMachine* m,
                       vm::JobTable* j)
    : nodes(n), nbd(s), machine(m), ownJobs_(j ? nullptr : std::make_unique<vm::JobTable>(n)),
      jobs(j ? *j : *ownJobs_), fuseExports(n) {
    registerControlCommands(*this);
    registerMachineCommands(*this);
    registerBlockCommands(*this);
    registerBlockdevReopen(*this);
    registerBitmapCommands(*this);
    registerBitmapDigestCommand(*this);
    registerNbdCommands(*this);
    registerJobCommands(*this);
    registerDriveBackup(*this);
    registerMirrorCommands(*this);
    registerBlockdevCreate(*this);
    registerSnapshotJobCommands(*this);
    registerSnapshotCommands(*this);
    registerInternalSnapshotCommands(*this);
    registerBlockStatsCommands(*this);
    registerMediumCommands(*this);
    registerDeviceCommands(*this);
    registerIoThrottleCommand(*this);
    registerChainJobCommands(*this);
    registerBlockGraphCommand(*this);
    jobListener_ = jobs.addListener([this](const block::JobEvent& e) {
        // As in QEMU, a job's nodes are gone by the time its end is reported.
        closeJobNode(e);
        emitJobEvent(*this, e);
    });
    registerHmpCommands(*this);
    exportListener_ = nbd.addExportListener([this](const std::string& id) {
        emitEvent("BLOCK_EXPORT_DELETED", Json::object({{"id", id}}));
    });
    fuseExportListener_ = fuseExports.addExportListener([this](const std::string& id) {
        emitEvent("BLOCK_EXPORT_DELETED", Json::object({{"id", id}}));
    });
    if (machine) {
        machine->setEventHandler([this](const QmpMachineEvent& e) {
            switch (e.kind) {
            case QmpMachineEvent::Stop:
                emitEvent("STOP", Json());
                break;
            case QmpMachineEvent::Resume:
                emitEvent("RESUME", Json());
                break;
            case QmpMachineEvent::Reset:
                emitEvent("RESET", Json::object({{"guest", e.guest}, {"reason", e.reason}}));
                break;
            case QmpMachineEvent::Shutdown:
                emitEvent("SHUTDOWN", Json::object({{"guest", e.guest}, {"reason", e.reason}}));
                break;
            }
        });
    }
}

QmpContext::~QmpContext() {
    jobs.removeListener(jobListener_);
    nbd.removeExportListener(exportListener_);
    fuseExports.removeExportListener(fuseExportListener_);
    if (machine)
        machine->setEventHandler(nullptr);
}

void QmpContext::closeWhenJobEnds(const std::string& jobId, const std::string& nodeName) {
    std::lock_guard lock(jobNodesMutex_);
    jobNodes_.emplace(jobId, nodeName);
}

void QmpContext::takeNodeStateFrom(QmpContext& setup) {
    fileNodes = std::move(setup.fileNodes);
    readOnlyFileNodes = std::move(setup.readOnlyFileNodes);
    fileNodeUsers = std::move(setup.fileNodeUsers);
    inlineFileNodes = std::move(setup.inlineFileNodes);
    inlineChildNodes = std::move(setup.inlineChildNodes);
    takenChildPermissions = std::move(setup.takenChildPermissions);
    unsharedChildPermissions = std::move(setup.unsharedChildPermissions);
    nodeOptions = std::move(setup.nodeOptions);
    rawWindows = std::move(setup.rawWindows);
    tlsObjects = std::move(setup.tlsObjects);
    throttleGroups = std::move(setup.throttleGroups);
    iothreads = std::move(setup.iothreads);
}

void QmpContext::whenJobEnds(const std::string& jobId, std::function<void()> action) {
    std::lock_guard lock(jobNodesMutex_);
    jobEndActions_.emplace(jobId, std::move(action));
}

void QmpContext::closeJobNode(const block::JobEvent& e) {
    bool ended =
        e.kind == block::JobEvent::Completed || e.kind == block::JobEvent::Cancelled ||
        (e.kind == block::JobEvent::StatusChange &&
         (e.info.status == block::JobStatus::Concluded || e.info.status == block::JobStatus::Null));
    if (!ended)
        return;
    std::vector<std::string> toClose;
    std::vector<std::function<void()>> actions;
    {
        std::lock_guard lock(jobNodesMutex_);
        auto [firstAction, lastAction] = jobEndActions_.equal_range(e.info.id);
        for (auto it = firstAction; it != lastAction; ++it)
            actions.push_back(std::move(it->second));
        jobEndActions_.erase(firstAction, lastAction);
        auto [first, last] = jobNodes_.equal_range(e.info.id);
        for (auto it = first; it != last; ++it)
            toClose.push_back(it->second);
        jobNodes_.erase(first, last);
    }
    for (const auto& action : actions)
        action();
    // The newest first: a job's filter node before the target it was opened for.
    for (auto it = toClose.rbegin(); it != toClose.rend(); ++it) {
        try {
            nodes.remove(*it);
        } catch (const std::exception&) {
            // Still used (an NBD export added since): it stays until blockdev-del.
        }
    }
}

void QmpContext::addCommand(QmpCommand command) {
    std::string name = command.name;
    commands_[name] = std::move(command);
}

const QmpCommand* QmpContext::findCommand(const std::string& name) const {
    auto it = commands_.find(name);
    return it == commands_.end() ? nullptr : &it->second;
}

std::vector<std::string> QmpContext::commandNames() const {
    std::vector<std::string> out;
    for (const auto& [name, c] : commands_)
        out.push_back(name);
    return out;
}

Json QmpContext::execute(const std::string& name, const Json* arguments) {
    const QmpCommand* c = findCommand(name);
    if (!c)
        throw QmpError("The command " + name + " has not been found", "CommandNotFound");
    if (c->needsMachine && !machine)
        throw QmpError("No machine");
    std::lock_guard lock(commandMutex_);
    // A job whose end a client may have seen has finished its last steps (as in QEMU, where
    // they happen before the next command is read).
    jobs.waitForEndingJobs(std::chrono::seconds(5));
    return c->handler(*this, arguments);
}

void QmpContext::setEventSink(std::function<void(const std::string&, const Json&)> sink) {
    std::lock_guard lock(eventMutex_);
    if (sink)
        sinks_[0] = std::move(sink);
    else
        sinks_.erase(0);
}

int QmpContext::addEventSink(std::function<void(const std::string&, const Json&)> sink) {
    std::lock_guard lock(eventMutex_);
    sinks_[nextSink_] = std::move(sink);
    return nextSink_++;
}

void QmpContext::removeEventSink(int handle) {
    std::lock_guard lock(eventMutex_);
    sinks_.erase(handle);
}

void QmpContext::emitEvent(const std::string& event, Json data) {
    std::vector<std::function<void(const std::string&, const Json&)>> sinks;
    {
        std::lock_guard lock(eventMutex_);
        for (const auto& [h, s] : sinks_)
            sinks.push_back(s);
    }
    for (const auto& sink : sinks)
        sink(event, data);
}

void QmpContext::drainThrottleGroups(bool permanently) {
    for (const auto& [id, group] : throttleGroups) {
        if (permanently)
            group->release();
        else
            group->drain();
    }
}

void QmpContext::setOnQuit(std::function<void()> cb) {
    std::lock_guard lock(eventMutex_);
    onQuit_ = std::move(cb);
}

void QmpContext::markQuit() {
    std::lock_guard lock(eventMutex_);
    quitPending_ = true;
}

bool QmpContext::takeQuitRequest() {
    std::lock_guard lock(eventMutex_);
    bool pending = quitPending_;
    quitPending_ = false;
    return pending;
}

void QmpContext::finishQuit(const std::function<void()>& announced) {
    std::function<void()> cb;
    {
        std::lock_guard lock(eventMutex_);
        if (quit_)
            return;
        quit_ = true;
        cb = onQuit_;
    }
    // As QEMU drains the nodes on the way out: throttled requests go at once.
    drainThrottleGroups(true);
    if (machine)
        machine->quit("host-qmp-quit");
    else
        emitEvent("SHUTDOWN", Json::object({{"guest", false}, {"reason", "host-qmp-quit"}}));
    // As QEMU closes its exports on the way out: after SHUTDOWN, before the reply to quit.
    fuseExports.removeAll();
    if (announced)
        announced();
    if (cb)
        cb();
}

bool QmpContext::quitRequested() const {
    std::lock_guard lock(eventMutex_);
    return quit_;
}

} // namespace e2kvm::qmp
