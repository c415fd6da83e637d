// RunnerBackedMachine (the QmpMachine part shared by RunnerMachine, e2kvm-system's
// SystemMachine and the GUI's SelectedVmMachine): runner events as QMP events, the quit reason,
// the observer, no runner, events after destruction; and SelectedVmMachine's own rules. The
// runners are never started, so every handshake and event runs on the test's thread, except in
// the test of cont from prelaunch, which starts one (a ROM of zeros; its outcome does not
// matter).
#include "app/e2kvm/SelectedVmMachine.h"
#include "app/qmp/QmpError.h"
#include "app/qmp/RunnerBackedMachine.h"
#include "app/vmcore/BlockNodeTable.h"
#include "block/NullImage.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

using namespace e2kvm;
using K = qmp::QmpMachineEvent;

namespace {

emu::MachineConfig romConfig() {
    emu::MachineConfig c;
    c.name = "relay-test";
    c.ramBytes = 16 << 20;
    c.biosImage.assign(64, 0); // never runs: the runner is not started
    c.deterministic = true;
    return c;
}

// "STOP", "RESET guest=0 host-qmp-system-reset", ...
std::string describe(const qmp::QmpMachineEvent& e) {
    static const char* names[] = {"STOP", "RESUME", "RESET", "SHUTDOWN"};
    std::string s = names[e.kind];
    if (e.kind == K::Reset || e.kind == K::Shutdown)
        s += std::string(" guest=") + (e.guest ? "1" : "0") + " " + e.reason;
    return s;
}

// The shared part alone, with its protected seams opened for the test.
class TestMachine : public qmp::RunnerBackedMachine {
public:
    explicit TestMachine(emu::MachineRunner& runner) : RunnerBackedMachine(runner) {}
    TestMachine() = default;
    using RunnerBackedMachine::relay;
    using RunnerBackedMachine::report;
    using RunnerBackedMachine::setCurrentRunner;
    using RunnerBackedMachine::setObserver;
    std::string name() const override { return "test"; }
    std::vector<qmp::QmpMachineDisk> disks() const override { return {}; }
};

// Collects what a machine tells QMP (and, prefixed "observer:", what its observer sees).
struct EventLog {
    std::vector<std::string> lines;
    void attach(qmp::QmpMachine& m) {
        m.setEventHandler([this](const K& e) { lines.push_back(describe(e)); });
    }
};

TEST(RunnerBackedMachine, TranslatesRunnerEvents) {
    using qmp::RunnerBackedMachine;
    K e = RunnerBackedMachine::translate({emu::MachineEvent::Shutdown, "guest-shutdown"}, "");
    EXPECT_EQ(describe(e), "SHUTDOWN guest=1 guest-shutdown");
    // A guest power-off keeps its reason even when the host was about to quit.
    e = RunnerBackedMachine::translate({emu::MachineEvent::Shutdown, "guest-shutdown"}, "host-ui");
    EXPECT_EQ(describe(e), "SHUTDOWN guest=1 guest-shutdown");
    e = RunnerBackedMachine::translate({emu::MachineEvent::Shutdown, "host-qmp-quit"}, "");
    EXPECT_EQ(describe(e), "SHUTDOWN guest=0 host-qmp-quit");
    e = RunnerBackedMachine::translate({emu::MachineEvent::Shutdown, "host-qmp-quit"}, "host-ui");
    EXPECT_EQ(describe(e), "SHUTDOWN guest=0 host-ui");
    // The quit reason is only for SHUTDOWN.
    e = RunnerBackedMachine::translate({emu::MachineEvent::Reset, "guest-reset"}, "host-ui");
    EXPECT_EQ(describe(e), "RESET guest=1 guest-reset");
    e = RunnerBackedMachine::translate({emu::MachineEvent::Reset, "host-qmp-system-reset"}, "");
    EXPECT_EQ(describe(e), "RESET guest=0 host-qmp-system-reset");
    EXPECT_EQ(describe(RunnerBackedMachine::translate({emu::MachineEvent::Stop, ""}, "")), "STOP");
    EXPECT_EQ(describe(RunnerBackedMachine::translate({emu::MachineEvent::Resume, ""}, "")),
              "RESUME");
    // A fault stops the guest, as in qemu-system; its message is not a reason.
    e = RunnerBackedMachine::translate({emu::MachineEvent::Error, "guest-bad opcode"}, "");
    EXPECT_EQ(describe(e), "STOP");
    EXPECT_FALSE(e.guest);
    EXPECT_EQ(e.reason, "");
}

TEST(RunnerBackedMachine, CommandsReachTheRunnerAndItsEventsReachQmpThenTheObserver) {
    emu::MachineRunner runner(romConfig());
    TestMachine m(runner);
    EventLog log;
    log.attach(m);
    m.setObserver([&](const emu::MachineEvent& e) {
        log.lines.push_back("observer:" + std::to_string(int(e.kind)) + ":" + e.detail);
    });
    EXPECT_EQ(m.status(), "prelaunch");
    ASSERT_NE(m.screen(), nullptr); // the runner's blank first frame
    EXPECT_EQ(m.screen(), runner.display().latest());
    m.cont();
    EXPECT_EQ(m.status(), "running");
    m.stop();
    EXPECT_EQ(m.status(), "paused");
    m.stop(); // already paused: no event
    m.reset();
    EXPECT_EQ(m.status(), "paused");
    m.quit("host-signal");
    EXPECT_EQ(m.status(), "shutdown");
    m.quit("host-ui"); // already down: nothing more
    std::vector<std::string> want = {
        "RESUME",
        "observer:1:",
        "STOP",
        "observer:0:",
        "RESET guest=0 host-qmp-system-reset",
        "observer:2:host-qmp-system-reset",
        "SHUTDOWN guest=0 host-signal", // the first quit's reason, not the runner's
        "observer:3:host-qmp-quit",     // the observer sees what the runner said
    };
    EXPECT_EQ(log.lines, want);
}

TEST(RunnerBackedMachine, WithoutARunnerCommandsDoNothingAndReportsPassThrough) {
    TestMachine m;
    EventLog log;
    log.attach(m);
    EXPECT_EQ(m.status(), "prelaunch");
    m.stop();
    m.cont();
    m.reset();
    m.quit("host-qmp-quit"); // no runner: no SHUTDOWN from here
    EXPECT_EQ(m.screen(), nullptr);
    EXPECT_TRUE(log.lines.empty());
    m.report(K{K::Shutdown, false, "host-qmp-quit"});
    m.relay({emu::MachineEvent::Reset, "guest-reset"});
    EXPECT_EQ(log.lines, (std::vector<std::string>{"SHUTDOWN guest=0 host-qmp-quit",
                                                   "RESET guest=1 guest-reset"}));

    // A runner set later is the one commands go to.
    auto runner = std::make_shared<emu::MachineRunner>(romConfig());
    m.setCurrentRunner(runner);
    m.cont();
    EXPECT_EQ(runner->state(), emu::RunState::Running);
    EXPECT_EQ(m.status(), "running");
    m.setCurrentRunner(nullptr);
    EXPECT_EQ(m.status(), "prelaunch");
}

TEST(RunnerBackedMachine, EventsAfterTheHandlerIsGoneAreDropped) {
    emu::MachineRunner runner(romConfig());
    int handled = 0;
    int observed = 0;
    {
        TestMachine m(runner);
        m.setEventHandler([&](const K&) { ++handled; });
        m.setObserver([&](const emu::MachineEvent&) { ++observed; });
        m.cont();
        EXPECT_EQ(handled, 1);
        EXPECT_EQ(observed, 1);
        m.setEventHandler(nullptr);
        m.stop();
        EXPECT_EQ(handled, 1);
        EXPECT_EQ(observed, 2);
    }
    // The runner's callback outlives the machine: its SHUTDOWN reaches no one.
    runner.quit();
    EXPECT_EQ(runner.state(), emu::RunState::Shutdown);
    EXPECT_EQ(handled, 1);
    EXPECT_EQ(observed, 2);
}

// SelectedVmMachine: the GUI forwards the selected VM's events itself (machineEvent) and stops
// forwarding those of the VM it selected before.
struct SelectedVm {
    std::vector<std::shared_ptr<emu::MachineRunner>> runners;
    vm::BlockNodeTable nodes;
    app::SelectedVmMachine machine{nodes};
    EventLog log;
    SelectedVm() { log.attach(machine); }
    ~SelectedVm() {
        for (auto& r : runners)
            r->setEventCallback({});
    }
    std::shared_ptr<emu::MachineRunner> select(const std::string& name) {
        if (!runners.empty())
            runners.back()->setEventCallback({});
        auto runner = std::make_shared<emu::MachineRunner>(romConfig());
        runner->setEventCallback([this](const emu::MachineEvent& e) { machine.machineEvent(e); });
        machine.setRunner(runner, name, {{"disk0", "node0"}});
        runners.push_back(runner);
        return runner;
    }
};

TEST(SelectedVmMachine, WithNoVmQuitStillReportsShutdownOnce) {
    SelectedVm s;
    EXPECT_EQ(s.machine.name(), "e2kvm");
    EXPECT_EQ(s.machine.status(), "prelaunch");
    EXPECT_TRUE(s.machine.disks().empty());
    s.machine.quit("host-qmp-quit");
    s.machine.quit("host-qmp-quit");
    EXPECT_EQ(s.log.lines, (std::vector<std::string>{"SHUTDOWN guest=0 host-qmp-quit"}));
}

TEST(SelectedVmMachine, ReportsTheSelectedVmsEventsAndOneShutdownPerRun) {
    SelectedVm s;
    s.select("");
    EXPECT_EQ(s.machine.name(), "e2kvm"); // unnamed VM
    auto vm = s.select("Demo");
    EXPECT_EQ(s.machine.name(), "Demo");
    ASSERT_EQ(s.machine.disks().size(), 1u);
    EXPECT_EQ(s.machine.disks()[0].nodeName, "node0");
    s.machine.cont();
    s.machine.machineEvent({emu::MachineEvent::Error, "bad opcode"}); // STOP, as qemu-system
    s.machine.quit("host-qmp-quit"); // the runner's SHUTDOWN; quit adds none
    EXPECT_EQ(vm->state(), emu::RunState::Shutdown);
    s.machine.machineEvent({emu::MachineEvent::Shutdown, "guest-shutdown"}); // a second: dropped
    s.machine.quit("host-qmp-quit");
    EXPECT_EQ(s.log.lines,
              (std::vector<std::string>{"RESUME", "STOP", "SHUTDOWN guest=0 host-qmp-quit"}));

    // Selecting another VM: its shutdown is reported again, with the guest's reason.
    s.log.lines.clear();
    s.select("Other");
    s.machine.machineEvent({emu::MachineEvent::Shutdown, "guest-shutdown"});
    s.machine.quit("host-qmp-quit"); // the guest's SHUTDOWN was the one
    EXPECT_EQ(s.log.lines, (std::vector<std::string>{"SHUTDOWN guest=1 guest-shutdown"}));

    // A reset runs the VM again: its next shutdown is reported too.
    s.log.lines.clear();
    s.select("Third");
    s.machine.machineEvent({emu::MachineEvent::Shutdown, "guest-shutdown"});
    s.machine.machineEvent({emu::MachineEvent::Reset, "host-qmp-system-reset"});
    s.machine.machineEvent({emu::MachineEvent::Shutdown, "guest-shutdown"});
    EXPECT_EQ(s.log.lines, (std::vector<std::string>{"SHUTDOWN guest=1 guest-shutdown",
                                                     "RESET guest=0 host-qmp-system-reset",
                                                     "SHUTDOWN guest=1 guest-shutdown"}));
}

TEST(SelectedVmMachine, ContWithNoVmStartsTheSelectedVm) {
    // As the GUI does it: the starter queues "Run" elsewhere; that selects the new VM's runner
    // (still in prelaunch) and then starts it. cont returns once the VM has left prelaunch.
    vm::BlockNodeTable nodes;
    app::SelectedVmMachine machine(nodes);
    machine.cont(); // no starter: nothing happens
    EXPECT_EQ(machine.status(), "prelaunch");

    std::shared_ptr<emu::MachineRunner> runner;
    std::thread gui;
    std::atomic<int> starts{0};
    machine.setStarter([&] {
        ++starts;
        gui = std::thread([&] {
            runner = std::make_shared<emu::MachineRunner>(romConfig());
            machine.setRunner(runner, "Demo", {});
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
            runner->start(false);
        });
    });
    machine.cont();
    EXPECT_EQ(starts, 1);
    EXPECT_NE(machine.status(), "prelaunch");
    gui.join();
    machine.cont(); // a VM runs now: cont goes to it, not to the starter
    EXPECT_EQ(starts, 1);
    runner->quit();
}

TEST(SelectedVmMachine, ContGivesUpWhenTheVmDoesNotStart) {
    vm::BlockNodeTable nodes;
    app::SelectedVmMachine machine(nodes);
    int starts = 0;
    machine.setStarter([&] { ++starts; }, std::chrono::milliseconds(50));
    auto before = std::chrono::steady_clock::now();
    machine.cont();
    EXPECT_EQ(starts, 1);
    EXPECT_GE(std::chrono::steady_clock::now() - before, std::chrono::milliseconds(50));
    EXPECT_EQ(machine.status(), "prelaunch");
}

} // namespace

// qom-set moves the selected VM's device onto another node: disks() says so from then on, and
// a device the VM does not have is refused.
TEST(SelectedVmMachine, SetDiskNodeFollowsTheDeviceOfTheSelectedVm) {
    vm::BlockNodeTable nodes;
    app::SelectedVmMachine machine(nodes);
    qmp::QmpMachineDisk disk{"disk0", "node0", "/machine/peripheral-anon/device[0]/virtio-backend"};
    disk.qomPath = "/machine/peripheral-anon/device[0]";
    machine.setRunner(nullptr, "vm", {disk});
    EXPECT_FALSE(machine.setDiskNode("/machine/peripheral-anon/device[1]", "fl-cbw"));
    EXPECT_TRUE(machine.setDiskNode("/machine/peripheral-anon/device[0]", "fl-cbw"));
    ASSERT_EQ(machine.disks().size(), 1u);
    EXPECT_EQ(machine.disks()[0].nodeName, "fl-cbw");
    EXPECT_EQ(machine.disks()[0].device, "disk0");
}

namespace {

// The VM's own disk as the GUI passes it: an anonymous virtio-blk device in slot 0.
qmp::QmpMachineDisk vmDisk() {
    qmp::QmpMachineDisk disk{"disk0", "node0", "/machine/peripheral-anon/device[0]/virtio-backend"};
    disk.qomPath = "/machine/peripheral-anon/device[0]";
    disk.user = "vm 'Demo'";
    return disk;
}

void addNullNode(vm::BlockNodeTable& nodes, const std::string& name) {
    block::NullOptions options;
    options.size = 1 << 20;
    nodes.add(std::make_shared<block::NullImage>("null-co://", options), "null-co://", "null-co",
              false, name);
}

// The message device_add / device_del fail with ("" if they do not).
template <typename F> std::string failure(F&& f) {
    try {
        f();
    } catch (const std::exception& e) {
        return e.what();
    }
    return "";
}

const qmp::QmpMachineDisk* diskOf(const std::vector<qmp::QmpMachineDisk>& disks,
                                  const std::string& qomPath) {
    for (const qmp::QmpMachineDisk& d : disks)
        if (d.qomPath == qomPath)
            return &d;
    return nullptr;
}

// A machine with the VM's own disk in slot 0 (a null image of 1 MiB).
emu::MachineConfig romConfigWithDisk() {
    emu::MachineConfig c = romConfig();
    block::NullOptions options;
    options.size = 1 << 20;
    auto image = std::make_shared<block::NullImage>("null-co://", options);
    c.disks.push_back({"disk0", std::make_shared<block::BlockHandle>(image, false), false});
    return c;
}

} // namespace

// device_add plugs a node into the selected VM's run (the runner is not started: plugging runs
// on the test's thread), with e2kvm-system's checks and messages; device_del unplugs it.
TEST(SelectedVmMachine, DeviceAddAndDelOnTheSelectedRun) {
    vm::BlockNodeTable nodes;
    addNullNode(nodes, "hd0");
    app::SelectedVmMachine machine(nodes);
    auto runner = std::make_shared<emu::MachineRunner>(romConfigWithDisk());
    machine.setRunner(runner, "Demo", {vmDisk()});

    machine.addDevice("driver=virtio-scsi,id=scsi0");
    machine.addDevice("driver=scsi-hd,id=sd0,drive=hd0");
    auto disks = machine.disks();
    ASSERT_EQ(disks.size(), 2u);
    const qmp::QmpMachineDisk* sd0 = diskOf(disks, "/machine/peripheral/sd0");
    ASSERT_NE(sd0, nullptr);
    EXPECT_EQ(sd0->qdev, "sd0");
    EXPECT_EQ(sd0->nodeName, "hd0");
    EXPECT_EQ(nodes.users("hd0"), std::vector<std::string>{"device 'sd0'"});

    EXPECT_EQ(failure([&] { machine.addDevice("driver=scsi-hd,id=sd0,drive=hd0"); }),
              "Duplicate device ID 'sd0'");
    EXPECT_EQ(failure([&] { machine.addDevice("driver=virtio-blk-pci,id=v,drive=nonode"); }),
              "Property 'virtio-blk-device.drive' can't find value 'nonode'");
    EXPECT_EQ(failure([&] { machine.addDevice("driver=virtio-blk-pci,id=v,drive=disk0"); }),
              "Property 'virtio-blk-pci.drive' can't take value 'disk0', it's in use");
    EXPECT_EQ(failure([&] { machine.addDevice("driver=foo"); }),
              "'foo' is not a valid device model name");

    auto deleted = machine.deleteDevice("sd0");
    ASSERT_EQ(deleted.size(), 1u);
    EXPECT_EQ(deleted[0].id, "sd0");
    EXPECT_EQ(deleted[0].path, "/machine/peripheral/sd0");
    EXPECT_TRUE(nodes.users("hd0").empty());
    EXPECT_EQ(machine.disks().size(), 1u);
    EXPECT_EQ(failure([&] { machine.deleteDevice("sd0"); }), "Device 'sd0' not found");

    // An anonymous device is numbered after the VM's own disk.
    machine.addDevice("driver=virtio-blk-pci,drive=hd0");
    EXPECT_NE(diskOf(machine.disks(), "/machine/peripheral-anon/device[1]"), nullptr);

    // The VM's own disk can be unplugged too; its slot is then free for another device.
    deleted = machine.deleteDevice("/machine/peripheral-anon/device[0]");
    ASSERT_EQ(deleted.size(), 2u);
    EXPECT_EQ(deleted[1].path, "/machine/peripheral-anon/device[0]");
    EXPECT_EQ(diskOf(machine.disks(), "/machine/peripheral-anon/device[0]"), nullptr);
    runner->quit();
}

// The devices go with the run they were plugged into: they stay with it while another VM is
// selected, and let go of their nodes when it ends. Without a VM device_add is refused.
TEST(SelectedVmMachine, HotPluggedDevicesBelongToTheirRun) {
    vm::BlockNodeTable nodes;
    addNullNode(nodes, "hd0");
    app::SelectedVmMachine machine(nodes);
    EXPECT_EQ(failure([&] { machine.addDevice("driver=virtio-blk-pci,id=v0,drive=hd0"); }),
              "device_add: no VM runs (the selected VM is not started; cont starts it)");
    EXPECT_EQ(failure([&] { machine.deleteDevice("v0"); }), "Device 'v0' not found");

    auto first = std::make_shared<emu::MachineRunner>(romConfig());
    auto second = std::make_shared<emu::MachineRunner>(romConfig());
    machine.setRunner(first, "Demo", {vmDisk()});
    machine.addDevice("driver=virtio-blk-pci,id=v0,drive=hd0");
    machine.setRunner(second, "Other", {vmDisk()});
    EXPECT_EQ(machine.disks().size(), 1u);
    EXPECT_EQ(failure([&] { machine.deleteDevice("v0"); }), "Device 'v0' not found");
    EXPECT_EQ(nodes.users("hd0"), std::vector<std::string>{"device 'v0'"});
    machine.setRunner(first, "Demo", {vmDisk()});
    EXPECT_NE(diskOf(machine.disks(), "/machine/peripheral/v0"), nullptr);

    first->quit();
    machine.endRun(first.get());
    EXPECT_TRUE(nodes.users("hd0").empty());
    EXPECT_EQ(diskOf(machine.disks(), "/machine/peripheral/v0"), nullptr);
    EXPECT_EQ(failure([&] { machine.addDevice("driver=virtio-blk-pci,id=v1,drive=hd0"); }),
              "device_add: VM 'Demo' has stopped");
    machine.endRun(first.get()); // idempotent
    EXPECT_TRUE(nodes.remove("hd0"));
    second->quit();
}
