// The blkdebug injector: its rules (QEMU's semantics: activation by event, once, sector,
// iotype, states), breakpoints, config files, and its place under the qcow2 and raw formats.
#include "block/ImageOpen.h"
#include "block/ImageOptions.h"
#include "block/blkdebug/Blkdebug.h"
#include "block/blkdebug/BlkdebugConfig.h"
#include "tests/lib/ProcessScratchDir.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>
#include <unistd.h>
#include <vector>

using namespace e2kvm::block;

namespace {

std::string tempPath(const char* name) {
    static e2kvm::test::ProcessScratchDir scratch("e2kvm-blkdebug-test-");
    return scratch.path(name);
}

std::string writeConfig(const char* name, const std::string& text) {
    std::string path = tempPath(name);
    std::ofstream(path) << text;
    return path;
}

BlkdebugRule inject(BlkdebugEvent event, int error) {
    BlkdebugRule r;
    r.event = event;
    r.error = error;
    return r;
}

// The errno a check fails with, or 0.
int failure(Blkdebug& b, BlkdebugIoType type, uint64_t offset, uint64_t bytes) {
    try {
        b.check(type, offset, bytes);
        return 0;
    } catch (const BlkdebugInjectedError& e) {
        return e.errnoValue();
    }
}

} // namespace

TEST(Blkdebug, EventNamesAreQemus) {
    EXPECT_EQ(blkdebugEventName(BlkdebugEvent::L2AllocWrite), "l2_alloc_write");
    EXPECT_EQ(blkdebugEventName(BlkdebugEvent::RefblockAllocSwitchTable),
              "refblock_alloc_switch_table");
    EXPECT_EQ(blkdebugEventName(BlkdebugEvent::None), "none");
    EXPECT_EQ(blkdebugEventByName("cluster_alloc_space"), BlkdebugEvent::ClusterAllocSpace);
    EXPECT_FALSE(blkdebugEventByName("l2_alloc.write").has_value());
    for (int i = 0; i < int(BlkdebugEvent::Count); ++i)
        EXPECT_EQ(blkdebugEventByName(blkdebugEventName(BlkdebugEvent(i))), BlkdebugEvent(i));
}

TEST(Blkdebug, RuleActsOnlyAfterItsEventAndStaysWithoutOnce) {
    Blkdebug b({inject(BlkdebugEvent::L2Load, ENOSPC)});
    EXPECT_EQ(failure(b, BlkdebugIoType::Write, 0, 512), 0);
    b.event(BlkdebugEvent::L1Update);
    EXPECT_EQ(failure(b, BlkdebugIoType::Write, 0, 512), 0);
    b.event(BlkdebugEvent::L2Load);
    EXPECT_EQ(failure(b, BlkdebugIoType::Read, 0, 512), ENOSPC);
    EXPECT_EQ(failure(b, BlkdebugIoType::Flush, 0, 0), ENOSPC);
    // Block status is not in the default set.
    EXPECT_EQ(failure(b, BlkdebugIoType::BlockStatus, 0, 512), 0);
    // An event without inject-error rules leaves the active ones active.
    b.event(BlkdebugEvent::L1Update);
    EXPECT_EQ(failure(b, BlkdebugIoType::Write, 0, 512), ENOSPC);
}

TEST(Blkdebug, OnceFailsOneRequest) {
    auto r = inject(BlkdebugEvent::WriteAio, EIO);
    r.once = true;
    Blkdebug b({r});
    b.event(BlkdebugEvent::WriteAio);
    EXPECT_EQ(failure(b, BlkdebugIoType::Write, 0, 512), EIO);
    EXPECT_EQ(failure(b, BlkdebugIoType::Write, 0, 512), 0);
    b.event(BlkdebugEvent::WriteAio); // the rule is gone
    EXPECT_EQ(failure(b, BlkdebugIoType::Write, 0, 512), 0);
}

TEST(Blkdebug, SectorAndIoTypeLimitTheRequests) {
    auto r = inject(BlkdebugEvent::None, EIO);
    r.offset = 8 * 512;
    r.ioTypes = 1u << unsigned(BlkdebugIoType::Read);
    Blkdebug b({r});
    b.event(BlkdebugEvent::None);
    EXPECT_EQ(failure(b, BlkdebugIoType::Read, 0, 4096), 0);
    EXPECT_EQ(failure(b, BlkdebugIoType::Read, 4096, 512), EIO);
    EXPECT_EQ(failure(b, BlkdebugIoType::Read, 0, 4097), EIO);
    EXPECT_EQ(failure(b, BlkdebugIoType::Write, 4096, 512), 0);
    EXPECT_EQ(failure(b, BlkdebugIoType::Flush, 0, 0), 0); // no bytes: no sector matches
}

TEST(Blkdebug, StatesGateRules) {
    BlkdebugRule toTwo;
    toTwo.action = BlkdebugRule::Action::SetState;
    toTwo.event = BlkdebugEvent::FlushToDisk;
    toTwo.state = 1;
    toTwo.newState = 2;
    auto r = inject(BlkdebugEvent::ReadAio, EIO);
    r.state = 2;
    r.once = true;
    Blkdebug b({toTwo, r});
    EXPECT_EQ(b.state(), 1);
    b.event(BlkdebugEvent::ReadAio);
    EXPECT_EQ(failure(b, BlkdebugIoType::Read, 0, 512), 0);
    b.event(BlkdebugEvent::FlushToDisk);
    EXPECT_EQ(b.state(), 2);
    b.event(BlkdebugEvent::ReadAio);
    EXPECT_EQ(failure(b, BlkdebugIoType::Read, 0, 512), EIO);
    EXPECT_EQ(failure(b, BlkdebugIoType::Read, 0, 512), 0);
}

TEST(Blkdebug, BreakpointHoldsTheRequestUntilResumed) {
    Blkdebug::setAnnounceRequests(false);
    Blkdebug b({});
    EXPECT_FALSE(b.addBreakpoint("no_such_event", "A"));
    ASSERT_TRUE(b.addBreakpoint("write_aio", "A"));
    std::atomic<bool> done{false};
    std::thread request([&] {
        b.event(BlkdebugEvent::WriteAio);
        done = true;
    });
    b.waitSuspended("A");
    EXPECT_TRUE(b.isSuspended("A"));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    EXPECT_FALSE(done.load());
    EXPECT_FALSE(b.resume("B"));
    EXPECT_TRUE(b.resume("A"));
    request.join();
    EXPECT_TRUE(done.load());
    EXPECT_FALSE(b.isSuspended("A"));
    // The breakpoint was used up; remove_break of a breakpoint never hit removes it.
    b.event(BlkdebugEvent::WriteAio);
    ASSERT_TRUE(b.addBreakpoint("read_aio", "C"));
    EXPECT_TRUE(b.removeBreakpoint("C"));
    EXPECT_FALSE(b.removeBreakpoint("C"));
    b.event(BlkdebugEvent::ReadAio);
}

TEST(BlkdebugConfig, FileAndInlineRules) {
    std::string conf = writeConfig("rules.conf", "# comment\n\n[inject-error]\n"
                                                 "event = \"l2_load\"\nerrno = \"28\"\n"
                                                 "once =\"on\"\n"
                                                 "[set-state]\nevent = \"l1_update\"\n"
                                                 "state = \"1\"\nnew_state = \"3\"\n");
    auto b = makeBlkdebug(conf, {{"inject-error.0.event", "read_aio"},
                                 {"inject-error.0.state", "3"},
                                 {"inject-error.0.iotype", "read"}});
    b->event(BlkdebugEvent::L2Load);
    EXPECT_EQ(failure(*b, BlkdebugIoType::Write, 0, 1), ENOSPC);
    EXPECT_EQ(failure(*b, BlkdebugIoType::Write, 0, 1), 0);
    b->event(BlkdebugEvent::L1Update);
    EXPECT_EQ(b->state(), 3);
    b->event(BlkdebugEvent::ReadAio);
    EXPECT_EQ(failure(*b, BlkdebugIoType::Write, 0, 1), 0);
    EXPECT_EQ(failure(*b, BlkdebugIoType::Read, 0, 1), EIO);
}

TEST(BlkdebugConfig, Errors) {
    try {
        makeBlkdebug(tempPath("missing.conf"), {});
        FAIL();
    } catch (const BlockError& e) {
        EXPECT_STREQ(e.what(), "Could not read blkdebug config file: No such file or directory");
    }
    EXPECT_THROW(makeBlkdebug({}, {{"inject-error.0.errno", "5"}}), BlockError);
    EXPECT_THROW(makeBlkdebug({}, {{"inject-error.0.event", "nope"}}), BlockError);
    EXPECT_THROW(makeBlkdebug({}, {{"set-state.0.event", "none"}, {"set-state.0.errno", "5"}}),
                 BlockError);
    EXPECT_THROW(makeBlkdebug(writeConfig("bad.conf", "[inject-error]\nevent l2_load\n"), {}),
                 BlockError);
    EXPECT_THROW(makeBlkdebug(writeConfig("group.conf", "[other]\n"), {}), BlockError);
}

TEST(BlkdebugConfig, Names) {
    auto n = parseBlkdebugName("blkdebug:/c.conf:/img/t.qcow2");
    ASSERT_TRUE(n.has_value());
    EXPECT_EQ(n->configFile, "/c.conf");
    EXPECT_EQ(n->image, "/img/t.qcow2");
    n = parseBlkdebugName("blkdebug::t.raw");
    ASSERT_TRUE(n.has_value());
    EXPECT_EQ(n->configFile, "");
    EXPECT_EQ(n->image, "t.raw");
    EXPECT_FALSE(parseBlkdebugName("t.raw").has_value());
    EXPECT_THROW(parseBlkdebugName("blkdebug:t.raw"), BlockError);
}

// Under qcow2: loading an L2 table raises l2_load, and the injected errno fails the read.
TEST(BlkdebugImage, Qcow2L2LoadFailsTheRead) {
    std::string img = tempPath("l2.qcow2");
    CreateOptions create;
    create.format = "qcow2";
    create.size = 4 << 20;
    createImage(img, create);
    {
        OpenOptions o;
        o.format = "qcow2";
        o.readOnly = false;
        auto image = openImage(img, o);
        std::vector<uint8_t> data(65536, 0x5a);
        image->write(0, data);
        image->flush();
    }
    std::string conf = writeConfig("l2.conf", "[inject-error]\nevent = \"l2_load\"\n"
                                              "errno = \"5\"\nonce = \"on\"\n");
    OpenOptions o;
    o.format = "qcow2";
    auto image = openImage("blkdebug:" + conf + ":" + img, o);
    EXPECT_EQ(image->filename(), "blkdebug:" + conf + ":" + img);
    ASSERT_NE(image->blkdebug(), nullptr);
    std::vector<uint8_t> buf(4096);
    try {
        image->read(0, buf);
        FAIL() << "the read should fail";
    } catch (const BlkdebugInjectedError& e) {
        EXPECT_EQ(e.errnoValue(), EIO);
    }
    image->read(0, buf); // once: the second load succeeds
    EXPECT_EQ(buf[0], 0x5a);
}

// driver=raw,file.driver=blkdebug,...: inline rules; the write fails with the given errno.
TEST(BlkdebugImage, RawOverBlkdebugFromImageOptions) {
    std::string img = tempPath("w.raw");
    CreateOptions create;
    create.size = 1 << 20;
    createImage(img, create);
    OpenOptions o;
    o.readOnly = false;
    auto image = openImageFromOptions(
        parseImageOptions("driver=raw,file.driver=blkdebug,file.image.filename=" + img +
                          ",file.inject-error.0.event=write_aio,file.inject-error.0.errno=28"),
        o);
    std::vector<uint8_t> buf(512, 1);
    image->read(0, buf);
    try {
        image->write(0, buf);
        FAIL() << "the write should fail";
    } catch (const BlkdebugInjectedError& e) {
        EXPECT_EQ(e.errnoValue(), ENOSPC);
    }
    // driver=blkdebug as the image itself, over a file.
    auto node = openImageFromOptions(
        parseImageOptions("driver=blkdebug,image.filename=" + img +
                          ",inject-error.0.event=none,inject-error.0.iotype=read"),
        o);
    EXPECT_EQ(node->formatName(), "blkdebug");
    EXPECT_THROW(node->read(0, buf), BlkdebugInjectedError);
    node->write(0, buf);
}

// A user that runs one request at a time cannot resume its own held request: it fails instead.
TEST(Blkdebug, BreakpointWithoutResumerFailsTheRequest) {
    Blkdebug::setAnnounceRequests(false);
    Blkdebug b({});
    b.setHoldingAllowed(false);
    ASSERT_TRUE(b.addBreakpoint("write_aio", "A"));
    try {
        b.event(BlkdebugEvent::WriteAio);
        FAIL() << "the held request should fail";
    } catch (const BlockError& e) {
        EXPECT_EQ(e.errnoValue(), EDEADLK);
    }
    EXPECT_FALSE(b.isSuspended("A"));
    b.event(BlkdebugEvent::WriteAio); // the breakpoint was used up
}
