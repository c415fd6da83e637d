// RunnerBackedMachine (the QmpMachine part shared by RunnerMachine, e2kvm-system's
// SystemMachine and the GUI's SelectedVmMachine): runner events as QMP events, the quit reason,
// the observer, no runner, events after destruction; and SelectedVmMachine's own rules. The
// runners are never started, so every handshake and event runs on the test's thread, except in
// the test of cont from prelaunch, which starts one (a ROM of zeros; its outcome does not
// matter).
#include "app/e2kvm/SelectedVmMachine.h"
#include "app/qmp/RunnerBackedMachine.h"

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
    app::SelectedVmMachine machine;
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
    app::SelectedVmMachine machine;
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
    app::SelectedVmMachine machine;
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
    app::SelectedVmMachine machine;
    qmp::QmpMachineDisk disk{"disk0", "node0", "/machine/peripheral-anon/device[0]/virtio-backend"};
    disk.qomPath = "/machine/peripheral-anon/device[0]";
    machine.setRunner(nullptr, "vm", {disk});
    EXPECT_FALSE(machine.setDiskNode("/machine/peripheral-anon/device[1]", "fl-cbw"));
    EXPECT_TRUE(machine.setDiskNode("/machine/peripheral-anon/device[0]", "fl-cbw"));
    ASSERT_EQ(machine.disks().size(), 1u);
    EXPECT_EQ(machine.disks()[0].nodeName, "fl-cbw");
    EXPECT_EQ(machine.disks()[0].device, "disk0");
}
