#pragma once
// QmpContext: everything QMP commands act on: the process's block nodes and NBD export
// service, the FUSE exports QMP mounts, the machine (null when none runs: machine commands fail
// with "No machine"), the command table, and the state QMP itself keeps (protocol-only "file"
// nodes, TLS credential objects). A QmpServer and the GUI's --qmp option both build one.
#include "app/qmp/Json.h"
#include "app/qmp/QmpMachine.h"
#include "app/vmcore/BlockNodeTable.h"
#include "app/vmcore/FuseExportTable.h"
#include "app/vmcore/JobTable.h"
#include "app/vmcore/NbdExportService.h"
#include "block/filter/ThrottleGroup.h"
#include "nbd/TlsObjects.h"

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

namespace e2kvm::block {
class RawWindow;
}

namespace e2kvm::qmp {

class QmpContext;
using QmpHandler = std::function<Json(QmpContext& ctx, const Json* arguments)>;

struct QmpCommand {
    std::string name;
    QmpHandler handler;
    bool needsMachine = false; // "No machine" without one
};

class QmpContext {
public:
    // `jobs` null: the context keeps a job table of its own.
    QmpContext(vm::BlockNodeTable& nodes, vm::NbdExportService& nbd, QmpMachine* machine = nullptr,
               vm::JobTable* jobs = nullptr);
    ~QmpContext();
    QmpContext(const QmpContext&) = delete;
    QmpContext& operator=(const QmpContext&) = delete;

    vm::BlockNodeTable& nodes;
    vm::NbdExportService& nbd;
    QmpMachine* const machine;

private:
    std::unique_ptr<vm::JobTable> ownJobs_;

public:
    vm::JobTable& jobs; // block jobs (blockdev-backup)
    // block-export-add {type: "fuse"}: unmounted by quit (each reported) or with the context.
    vm::FuseExportTable fuseExports;

    // The command table: every command of the groups in app/qmp/commands/ is registered by
    // the constructor; embedders may add their own.
    void addCommand(QmpCommand command);
    const QmpCommand* findCommand(const std::string& name) const;
    std::vector<std::string> commandNames() const;

    // Runs a command (not qmp_capabilities, which sessions handle). Throws QmpError.
    Json execute(const std::string& name, const Json* arguments);

    // Events go to whoever listens (the QmpServer broadcasts them). Thread-safe.
    // setEventSink replaces the one default sink; servers add their own (every monitor of the
    // process gets every event, as in QEMU).
    void setEventSink(std::function<void(const std::string& event, const Json& data)> sink);
    int addEventSink(std::function<void(const std::string& event, const Json& data)> sink);
    void removeEventSink(int handle);
    void emitEvent(const std::string& event, Json data);

    // What another context learnt of the nodes and objects it made (the command line's
    // -object, -drive and -blockdev, made through a context of their own before the machine
    // exists) becomes this one's, as if its own commands had made them.
    void takeNodeStateFrom(QmpContext& setup);

    // "quit": the command only marks the request; the session, once the reply is sent, calls
    // finishQuit(), which stops the machine (or reports SHUTDOWN itself without one) and then
    // calls the embedder's callback, which ends the process or the VM.
    void setOnQuit(std::function<void()> cb);
    void markQuit();
    bool takeQuitRequest();
    // `announced` (if given) runs after SHUTDOWN is emitted and before the embedder's
    // callback: a server sends the event out there, ahead of what ending the process prints.
    void finishQuit(const std::function<void()>& announced = {});
    bool quitRequested() const;

    // A node a job's command opened for the job (drive-backup's target, a backup's filter
    // node): closed when the job concludes. Thread-safe.
    void closeWhenJobEnds(const std::string& jobId, const std::string& nodeName);
    // Something to undo when the job ends (on the thread that reports its end, before the
    // nodes above are closed). Thread-safe.
    void whenJobEnds(const std::string& jobId, std::function<void()> action);

    // Protocol nodes created by blockdev-add {driver: "file"}: node name -> file name.
    std::map<std::string, std::string> fileNodes;
    // File nodes a snapshot reopened read-only (QEMU's old active layer of an external
    // snapshot); query-named-block-nodes shows them so.
    std::set<std::string> readOnlyFileNodes;
    // Format nodes opened on a file node: format node name -> file node name.
    std::map<std::string, std::string> fileNodeUsers;
    // Names given to a format node's inline {driver: file} child (not nodes of their own
    // here; a snapshot refuses them as overlays in use, as QEMU).
    std::set<std::string> inlineFileNodes;
    // Nodes blockdev-add made of a node's inline children that carry a node-name of their
    // own: that node's name -> theirs, innermost first. They go when it goes and are not the
    // monitor's to delete (as in QEMU).
    std::map<std::string, std::vector<std::string>> inlineChildNodes;
    // blkdebug's take-child-perms: node name -> the permissions it takes on its child, which
    // no job may then unshare (a backup's copy-before-write filter unshares "write").
    std::map<std::string, std::vector<std::string>> takenChildPermissions;
    // blkdebug's unshare-child-perms: node name -> the permissions it does not share with
    // other parents of its child.
    std::map<std::string, std::vector<std::string>> unsharedChildPermissions;
    // The options blockdev-add opened each node with (node name -> its arguments, inline
    // children included): blockdev-reopen compares the new options with them.
    std::map<std::string, Json> nodeOptions;
    // The raw offset/size windows of a node's tree, by where they are in it ("" for the node
    // itself, "file." for its file child...): blockdev-reopen moves them.
    std::map<std::string, std::map<std::string, std::shared_ptr<block::RawWindow>>> rawWindows;
    // TLS objects from object-add (tls-creds-x509, authz-simple).
    nbd::TlsObjects tlsObjects;
    // throttle-group objects by id: the throttle nodes naming one share its limits.
    std::map<std::string, std::shared_ptr<block::ThrottleGroup>> throttleGroups;
    // iothread objects by id: accepted where QEMU takes them (e2kvm serves every node from
    // threads of its own, so they run nothing).
    std::set<std::string> iothreads;
    // Lets the requests that wait in throttle groups now go (QEMU drains the nodes when a job
    // is cancelled or the process ends); `permanently`: every later request too.
    void drainThrottleGroups(bool permanently = false);

private:
    std::map<std::string, QmpCommand> commands_;
    int exportListener_ = 0;
    int fuseExportListener_ = 0;
    int jobListener_ = 0;
    mutable std::mutex eventMutex_;
    std::map<int, std::function<void(const std::string&, const Json&)>> sinks_; // 0: default
    int nextSink_ = 1;
    std::function<void()> onQuit_;
    bool quit_ = false;
    bool quitPending_ = false;
    std::mutex jobNodesMutex_;
    std::multimap<std::string, std::string> jobNodes_; // job id -> nodes closed when it ends
    std::multimap<std::string, std::function<void()>> jobEndActions_; // job id -> to run then
    void closeJobNode(const block::JobEvent& e);
    // Serializes command execution across sessions and servers.
    std::mutex commandMutex_;
};

// Registration of the command groups (app/qmp/commands/*.cpp).
void registerControlCommands(QmpContext& ctx);
void registerMachineCommands(QmpContext& ctx);
void registerBlockCommands(QmpContext& ctx);
void registerBlockdevReopen(QmpContext& ctx); // commands/BlockdevReopen.cpp
void registerBitmapCommands(QmpContext& ctx);
void registerBitmapDigestCommand(QmpContext& ctx);
void registerNbdCommands(QmpContext& ctx);
void registerJobCommands(QmpContext& ctx);
void registerDriveBackup(QmpContext& ctx);
void registerMirrorCommands(QmpContext& ctx);
void registerBlockdevCreate(QmpContext& ctx);
// commands/SnapshotJobCommands.cpp: snapshot-save, snapshot-load, snapshot-delete
void registerSnapshotJobCommands(QmpContext& ctx);
void registerSnapshotCommands(QmpContext& ctx);  // commands/SnapshotCommands.cpp
void registerChainJobCommands(QmpContext& ctx);  // commands/ChainJobCommands.cpp
void registerBlockGraphCommand(QmpContext& ctx); // commands/BlockGraphCommand.cpp
// A block job event as QMP's JOB_STATUS_CHANGE, BLOCK_JOB_* event (commands/JobCommands.cpp).
void emitJobEvent(QmpContext& ctx, const block::JobEvent& event);
void registerHmpCommands(QmpContext& ctx);
// commands/InternalSnapshotCommands.cpp, commands/BlockStatsCommands.cpp
void registerInternalSnapshotCommands(QmpContext& ctx);
void registerBlockStatsCommands(QmpContext& ctx);
void registerMediumCommands(QmpContext& ctx);    // commands/MediumCommands.cpp
void registerIoThrottleCommand(QmpContext& ctx); // commands/IoThrottleCommand.cpp
void registerDeviceCommands(QmpContext& ctx);    // commands/DeviceCommands.cpp

} // namespace e2kvm::qmp
