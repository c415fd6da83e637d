// The ssh driver's options (block/ssh/SshOptions): QEMU's current and older option names, the
// checks and words QEMU has for them (iotest 162: a port that is no number), ssh:// URLs, and
// the name the opened image gets.
#include "block/BlockError.h"
#include "block/ImageOpen.h"
#include "block/ssh/SshOptions.h"

#include <gtest/gtest.h>

using namespace e2kvm::block;
using namespace e2kvm::block::ssh;

namespace {

std::string errorOf(const DriverOptions& options) {
    try {
        sshTargetFromOptions(options);
    } catch (const BlockError& e) {
        return e.what();
    }
    return "";
}

TEST(SshOptions, OlderNamesBecomeTheServer) {
    const SshTarget t =
        sshTargetFromOptions({{"host", "localhost"}, {"port", "0"}, {"path", "/foo"}});
    EXPECT_EQ(t.host, "localhost");
    EXPECT_EQ(t.port, "0");
    EXPECT_EQ(t.path, "/foo");
    EXPECT_EQ(t.hostKeyCheck, HostKeyCheckMode::KnownHosts);
    EXPECT_EQ(sshTargetFromOptions({{"host", "h"}, {"path", "/p"}}).port, "22");
}

TEST(SshOptions, PortMustBeANumber) {
    EXPECT_EQ(errorOf({{"host", "localhost"}, {"port", "0.42"}, {"path", "/foo"}}),
              "Parameter 'port' expects a number");
    EXPECT_EQ(errorOf({{"port", "22"}, {"path", "/foo"}}), "port may not be used without host");
}

TEST(SshOptions, CurrentNames) {
    const SshTarget t = sshTargetFromOptions({{"server.host", "10.0.0.1"},
                                              {"server.port", "2222"},
                                              {"path", "/img"},
                                              {"user", "me"},
                                              {"host-key-check.mode", "hash"},
                                              {"host-key-check.type", "sha256"},
                                              {"host-key-check.hash", "ab:cd"}});
    EXPECT_EQ(t.host, "10.0.0.1");
    EXPECT_EQ(t.port, "2222");
    EXPECT_EQ(t.user, "me");
    EXPECT_EQ(t.hostKeyCheck, HostKeyCheckMode::Hash);
    EXPECT_EQ(t.hashType, "sha256");
    EXPECT_EQ(t.hash, "ab:cd");
    EXPECT_EQ(errorOf({{"path", "/img"}}), "Parameter 'server' is missing");
    EXPECT_EQ(errorOf({{"server.host", "h"}, {"path", "/img"}}),
              "Parameter 'server.port' is missing");
    EXPECT_EQ(errorOf({{"server.host", "h"}, {"server.port", "22"}}),
              "Parameter 'path' is missing");
    EXPECT_EQ(errorOf({{"server.host", "h"},
                       {"server.port", "22"},
                       {"path", "/p"},
                       {"host-key-check.mode", "maybe"}}),
              "Parameter 'host-key-check.mode' does not accept value 'maybe'");
}

TEST(SshOptions, OlderHostKeyCheck) {
    EXPECT_EQ(sshTargetFromOptions({{"host", "h"}, {"path", "/p"}, {"host_key_check", "no"}})
                  .hostKeyCheck,
              HostKeyCheckMode::None);
    const SshTarget t =
        sshTargetFromOptions({{"host", "h"}, {"path", "/p"}, {"host_key_check", "md5:0011"}});
    EXPECT_EQ(t.hostKeyCheck, HostKeyCheckMode::Hash);
    EXPECT_EQ(t.hashType, "md5");
    EXPECT_EQ(t.hash, "0011");
    EXPECT_EQ(errorOf({{"host", "h"}, {"path", "/p"}, {"host_key_check", "sometimes"}}),
              "unknown host_key_check setting (sometimes)");
}

TEST(SshOptions, Urls) {
    SshTarget t = sshTargetFromUrl("ssh://alice@example.org:2200/srv/disk%20one.img");
    EXPECT_EQ(t.user, "alice");
    EXPECT_EQ(t.host, "example.org");
    EXPECT_EQ(t.port, "2200");
    EXPECT_EQ(t.path, "/srv/disk one.img");
    t = sshTargetFromUrl("ssh://[::1]/d.img?host_key_check=no&other=1");
    EXPECT_EQ(t.host, "::1");
    EXPECT_EQ(t.port, "22");
    EXPECT_EQ(t.hostKeyCheck, HostKeyCheckMode::None);
    EXPECT_EQ(sshImageName(t, "bob"), "ssh://bob@::1:22/d.img?host_key_check=no");
    EXPECT_EQ(sshImageName(sshTargetFromUrl("ssh://h:23/x"), "root"), "ssh://root@h:23/x");
    try {
        sshTargetFromUrl("ssh://host");
        FAIL() << "a URL without a path accepted";
    } catch (const BlockError& e) {
        EXPECT_STREQ(e.what(), "missing remote path in URI");
    }
    try {
        sshTargetFromUrl("ssh:///x");
        FAIL() << "a URL without a host accepted";
    } catch (const BlockError& e) {
        EXPECT_STREQ(e.what(), "missing hostname in URI");
    }
}

TEST(SshOptions, RefusedConnectionReadsAsQemus) {
    // Nothing listens on port 0: QEMU's words for it (iotest 162).
    OpenOptions open;
    try {
        openImageFromOptions(
            {{"driver", "ssh"}, {"host", "localhost"}, {"port", "0"}, {"path", "/foo"}}, open);
        FAIL() << "port 0 connected";
    } catch (const BlockError& e) {
        EXPECT_STREQ(e.what(), "Failed to connect to 'localhost:0': Connection refused");
    }
}

} // namespace
