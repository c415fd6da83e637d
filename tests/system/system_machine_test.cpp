// SystemMachine (its -name and drives, the process's observer, the host's quit reason), the
// shutdown request and the default ROM search. The event translation SystemMachine shares with
// the other QMP machines is tested in tests/qmp/runner_backed_machine_test.cpp.
#include "app/e2kvm-system/DefaultRom.h"
#include "app/e2kvm-system/ShutdownRequest.h"
#include "app/e2kvm-system/SystemMachine.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

using namespace e2kvm;
using namespace e2kvm::sys;

TEST(SystemMachine, NamesItsDrivesAndQuitsWithTheHostsReason) {
    emu::MachineConfig config;
    config.name = "from-config";
    config.ramBytes = 16 << 20;
    config.biosImage.assign(64, 0); // never runs: the runner is not started
    emu::MachineRunner runner(config);
    SystemMachine m(runner, {{"ide0-hd0", "drive0"}}, "");
    EXPECT_EQ(m.name(), ""); // no -name: query-name returns {}
    ASSERT_EQ(m.disks().size(), 1u);
    EXPECT_EQ(m.disks()[0].device, "ide0-hd0");
    EXPECT_EQ(m.disks()[0].nodeName, "drive0");
    std::vector<std::string> seen;
    m.setEventHandler([&](const qmp::QmpMachineEvent& e) {
        seen.push_back("qmp " + std::to_string(int(e.kind)) + " " + e.reason);
    });
    m.setObserver([&](const emu::MachineEvent& e) {
        seen.push_back("observer " + std::to_string(int(e.kind)) + " " + e.detail);
    });
    m.quit(shutdownReason(ShutdownCause::WindowClosed));
    EXPECT_EQ(m.status(), "shutdown");
    EXPECT_EQ(seen, (std::vector<std::string>{"qmp 3 host-ui", "observer 3 host-qmp-quit"}));
}

TEST(ShutdownRequest, FirstRequestWins) {
    ShutdownRequest r;
    EXPECT_FALSE(r.current());
    int woken = 0;
    r.setWake([&] { ++woken; });
    std::thread t([&] { r.request(ShutdownCause::Signal, "terminating on signal 15"); });
    Shutdown s = r.wait();
    t.join();
    EXPECT_EQ(s.cause, ShutdownCause::Signal);
    r.request(ShutdownCause::GuestPowerOff);
    EXPECT_EQ(r.wait().cause, ShutdownCause::Signal);
    EXPECT_EQ(r.wait().detail, "terminating on signal 15");
    EXPECT_EQ(woken, 1);
    // A wake hook set after the request runs at once.
    int late = 0;
    r.setWake([&] { ++late; });
    EXPECT_EQ(late, 1);
}

TEST(ShutdownRequest, QmpReasons) {
    EXPECT_STREQ(shutdownReason(ShutdownCause::GuestPowerOff), "guest-shutdown");
    EXPECT_STREQ(shutdownReason(ShutdownCause::QmpQuit), "host-qmp-quit");
    EXPECT_STREQ(shutdownReason(ShutdownCause::ConsoleEscape), "host-qmp-quit");
    EXPECT_STREQ(shutdownReason(ShutdownCause::WindowClosed), "host-ui");
    EXPECT_STREQ(shutdownReason(ShutdownCause::Signal), "host-signal");
}

TEST(DefaultRom, LooksInTheBuildTreeThenTheInstallTree) {
    auto c = defaultRomCandidates("/b/rel/app/e2kvm-system/e2kvm-system");
    ASSERT_GE(c.size(), 2u);
    EXPECT_EQ(c[0], "/b/rel/resources/guest/e2kvm-rom.bin");
    c = defaultRomCandidates("/usr/local/bin/e2kvm-system");
    EXPECT_EQ(c[1], "/usr/local/share/e2kvm/guest/e2kvm-rom.bin");
    // Without a known executable only absolute install locations remain.
    for (const std::string& path : defaultRomCandidates(""))
        EXPECT_EQ(path.rfind('/', 0), 0u) << path;
}
