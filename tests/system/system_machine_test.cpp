// SystemMachine's QMP event translation, the shutdown request and the default ROM search.
#include "app/e2kvm-system/DefaultRom.h"
#include "app/e2kvm-system/ShutdownRequest.h"
#include "app/e2kvm-system/SystemMachine.h"

#include <gtest/gtest.h>

#include <thread>

using namespace e2kvm;
using namespace e2kvm::sys;

TEST(SystemMachine, TranslatesRunnerEvents) {
    using K = qmp::QmpMachineEvent;
    K e = SystemMachine::translate({emu::MachineEvent::Shutdown, "guest-shutdown"}, "");
    EXPECT_EQ(e.kind, K::Shutdown);
    EXPECT_TRUE(e.guest);
    EXPECT_EQ(e.reason, "guest-shutdown");
    // A guest power-off keeps its reason even when the host was about to quit.
    e = SystemMachine::translate({emu::MachineEvent::Shutdown, "guest-shutdown"}, "host-ui");
    EXPECT_EQ(e.reason, "guest-shutdown");
    e = SystemMachine::translate({emu::MachineEvent::Shutdown, "host-qmp-quit"}, "");
    EXPECT_FALSE(e.guest);
    EXPECT_EQ(e.reason, "host-qmp-quit");
    e = SystemMachine::translate({emu::MachineEvent::Shutdown, "host-qmp-quit"}, "host-ui");
    EXPECT_FALSE(e.guest);
    EXPECT_EQ(e.reason, "host-ui");
    e = SystemMachine::translate({emu::MachineEvent::Reset, "guest-reset"}, "");
    EXPECT_EQ(e.kind, K::Reset);
    EXPECT_TRUE(e.guest);
    e = SystemMachine::translate({emu::MachineEvent::Reset, "host-qmp-system-reset"}, "");
    EXPECT_FALSE(e.guest);
    EXPECT_EQ(e.reason, "host-qmp-system-reset");
    EXPECT_EQ(SystemMachine::translate({emu::MachineEvent::Stop, ""}, "").kind, K::Stop);
    EXPECT_EQ(SystemMachine::translate({emu::MachineEvent::Resume, ""}, "").kind, K::Resume);
    EXPECT_EQ(SystemMachine::translate({emu::MachineEvent::Error, "bad opcode"}, "").kind, K::Stop);
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
