// BackupJob: the life cycle QEMU's clients see (events in order, verbs per status), full and
// incremental backups that hold the disk as it was when the job started, and the bitmap left
// as the bitmap mode says on success and on failure; jobs of a grouped transaction, a job that
// stops on an error until resumed, and compressed backups.
#include "JobEventLog.h"
#include "JobTestImages.h"
#include "block/job/BackupJob.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <filesystem>
#include <mutex>

namespace e2kvm::block {
namespace {

using test::EventLog;
using test::makeImage;
using test::pattern;
using test::readAll;

constexpr uint64_t kMiB = 1 << 20;

std::shared_ptr<BackupJob> startJob(BackupSpec spec, EventLog& log) {
    auto job = std::make_shared<BackupJob>(std::move(spec));
    {
        BlockDriver::ChangesPaused paused(*job->spec().source);
        job->takePointInTime(paused);
    }
    job->start(log.listener());
    return job;
}

TEST(BackupJob, FleecingRunsUntilCancelledAndReportsAsQemu) {
    test::TempDir dir;
    auto src = makeImage(dir.file("src.qcow2"), "qcow2", 4 * kMiB);
    src->write(0, pattern(kMiB, 0x11));
    auto fleece = makeImage(dir.file("fleece.qcow2"), "qcow2", 4 * kMiB, src);
    EventLog log;
    BackupSpec spec{"fl", src, fleece, BackupSync::None};
    auto job = startJob(spec, log);
    EXPECT_TRUE(job->fleecing());
    src->write(0, pattern(65536, 0x22));
    EXPECT_EQ(job->info().current, 65536u);
    EXPECT_EQ(job->info().total, 4 * kMiB);
    std::vector<uint8_t> b(16);
    fleece->read(0, b);
    EXPECT_EQ(b[0], 0x11);
    EXPECT_THROW(job->dismiss(), std::runtime_error);
    job->pause();
    ASSERT_TRUE(log.waitFor("paused", 2)); // the first was the start's
    EXPECT_TRUE(job->info().paused);
    job->resume();
    job->cancel();
    ASSERT_TRUE(log.waitFor("null"));
    EXPECT_EQ(log.joined(), "created running paused running paused running aborting CANCELLED "
                            "concluded null");
    src->write(65536, pattern(65536, 0x33)); // no interceptor left
    fleece->read(65536, b);
    EXPECT_EQ(b[0], 0x33);
}

TEST(BackupJob, VerbsThatTheStatusDoesNotAllowAreRefusedWithQemusWords) {
    test::TempDir dir;
    auto src = makeImage(dir.file("src.raw"), "raw", kMiB);
    auto dst = makeImage(dir.file("dst.qcow2"), "qcow2", kMiB);
    EventLog log;
    BackupSpec spec{"j3", src, dst, BackupSync::Full};
    spec.autoFinalize = false;
    spec.autoDismiss = false;
    auto job = startJob(spec, log);
    ASSERT_TRUE(log.waitFor("PENDING"));
    try {
        job->dismiss();
        FAIL();
    } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "Job 'j3' in state 'pending' cannot accept command verb 'dismiss'");
    }
    job->finalize();
    ASSERT_TRUE(log.waitFor("concluded"));
    EXPECT_THROW(job->pause(), std::runtime_error);
    job->dismiss();
    EXPECT_EQ(log.joined(), "created running paused running waiting pending PENDING COMPLETED "
                            "concluded null");
}

TEST(BackupJob, FullBackupHoldsTheDiskAsItWasWhenTheJobStarted) {
    test::TempDir dir;
    auto src = makeImage(dir.file("src.qcow2"), "qcow2", 8 * kMiB);
    for (uint64_t m = 0; m < 8; m += 2)
        src->write(m * kMiB, pattern(kMiB, uint8_t(0x40 + m)));
    std::vector<uint8_t> atStart = readAll(*src);
    auto dst = makeImage(dir.file("dst.qcow2"), "qcow2", 8 * kMiB);
    EventLog log;
    BackupSpec spec{"full", src, dst, BackupSync::Full};
    spec.speed = 16 * kMiB; // about half a second: the writes below land while it runs
    auto job = startJob(spec, log);
    for (uint64_t m = 0; m < 8; ++m)
        src->write(m * kMiB + 4096, pattern(8192, 0xee));
    ASSERT_TRUE(log.waitFor("null"));
    EXPECT_EQ(log.joined(), "created running paused running waiting pending COMPLETED "
                            "concluded null");
    EXPECT_EQ(readAll(*dst), atStart);
    EXPECT_EQ(job->info().current, 8 * kMiB);
}

TEST(BackupJob, IncrementalCopiesTheDirtyClustersAndClearsTheBitmapOnSuccess) {
    test::TempDir dir;
    auto src = makeImage(dir.file("src.qcow2"), "qcow2", 8 * kMiB);
    src->write(0, pattern(8 * kMiB, 0x10));
    auto bitmap = std::make_shared<DirtyBitmap>(8 * kMiB, 65536);
    bitmap->set(kMiB, 65536);
    bitmap->set(5 * kMiB, 3 * 65536);
    auto dst = makeImage(dir.file("inc.qcow2"), "qcow2", 8 * kMiB);
    EventLog log;
    BackupSpec spec{"inc", src, dst, BackupSync::Incremental, bitmap};
    auto job = startJob(spec, log);
    ASSERT_TRUE(log.waitFor("null"));
    EXPECT_EQ(job->info().total, 4 * 65536u);
    EXPECT_EQ(job->info().current, 4 * 65536u);
    EXPECT_EQ(bitmap->dirtyBytes(), 0u);
    uint64_t allocated = 0;
    for (uint64_t pos = 0; pos < dst->size();) {
        LayerExtent e = dst->layerStatus(pos, dst->size() - pos);
        if (e.kind == Allocation::Data)
            allocated += e.length;
        pos += e.length;
    }
    EXPECT_EQ(allocated, 4 * 65536u);
    std::vector<uint8_t> b(4);
    dst->read(5 * kMiB, b);
    EXPECT_EQ(b[0], 0x10);
}

TEST(BackupJob, FailedIncrementalKeepsTheBitmapAndAddsTheNewWrites) {
    for (BitmapMode mode : {BitmapMode::OnSuccess, BitmapMode::Always}) {
        test::TempDir dir;
        auto src = makeImage(dir.file("src.raw"), "raw", 4 * kMiB);
        src->write(0, pattern(4 * kMiB, 0x10));
        auto bitmap = std::make_shared<DirtyBitmap>(4 * kMiB, 65536);
        bitmap->set(0, 65536);
        bitmap->set(2 * kMiB, 65536);
        // One cluster fits on the target, the second fails.
        auto dst = std::make_shared<test::FailingImage>(4 * kMiB, 65536);
        EventLog log;
        BackupSpec spec{"bad", src, dst, BackupSync::Bitmap, bitmap, mode};
        auto job = startJob(spec, log);
        ASSERT_TRUE(log.waitFor("null"));
        EXPECT_EQ(log.joined(), "created running paused running ERROR:write aborting "
                                "COMPLETED:No space left on device concluded null");
        if (mode == BitmapMode::OnSuccess) {
            EXPECT_EQ(bitmap->dirtyBytes(), 2 * 65536u);
        } else { // "always": the copied cluster counts as backed up
            EXPECT_EQ(bitmap->dirtyBytes(), 65536u);
            EXPECT_TRUE(bitmap->test(2 * kMiB));
        }
    }
}

TEST(BackupJob, AFailingMemberOfAGroupCancelsTheOthers) {
    test::TempDir dir;
    auto a = makeImage(dir.file("a.raw"), "raw", 4 * kMiB);
    a->write(0, pattern(4 * kMiB, 0x21));
    auto b = makeImage(dir.file("b.raw"), "raw", 4 * kMiB);
    b->write(0, pattern(4 * kMiB, 0x22));
    auto goodTarget = makeImage(dir.file("ta.raw"), "raw", 4 * kMiB);
    auto badTarget = std::make_shared<test::FailingImage>(4 * kMiB, 0);
    auto group = std::make_shared<JobGroup>();
    EventLog logA, logB;
    auto jobA = std::make_shared<BackupJob>(BackupSpec{"ja", a, goodTarget, BackupSync::Full});
    auto jobB = std::make_shared<BackupJob>(BackupSpec{"jb", b, badTarget, BackupSync::Full});
    for (auto* j : {jobA.get(), jobB.get()}) {
        BlockDriver::ChangesPaused paused(*j->spec().source);
        j->takePointInTime(paused);
        j->joinGroup(group);
    }
    jobA->start(logA.listener());
    jobB->start(logB.listener());
    ASSERT_TRUE(logA.waitFor("null"));
    ASSERT_TRUE(logB.waitFor("null"));
    EXPECT_EQ(logB.joined(), "created running paused running ERROR:write aborting "
                             "COMPLETED:No space left on device concluded null");
    // The good job ends cancelled, whether it was still copying or waiting for its partner.
    std::string a_events = logA.joined();
    EXPECT_NE(a_events.find("aborting CANCELLED concluded null"), std::string::npos) << a_events;
    EXPECT_EQ(a_events.find("pending"), std::string::npos) << a_events;
}

TEST(BackupJob, GroupMembersWaitForEachOtherThenComplete) {
    test::TempDir dir;
    auto a = makeImage(dir.file("a.raw"), "raw", kMiB);
    auto b = makeImage(dir.file("b.raw"), "raw", 4 * kMiB);
    b->write(0, pattern(4 * kMiB, 0x31));
    auto ta = makeImage(dir.file("ta.raw"), "raw", kMiB);
    auto tb = makeImage(dir.file("tb.raw"), "raw", 4 * kMiB);
    auto group = std::make_shared<JobGroup>();
    EventLog logA, logB;
    auto jobA = std::make_shared<BackupJob>(BackupSpec{"ja", a, ta, BackupSync::Full});
    BackupSpec slow{"jb", b, tb, BackupSync::Full};
    slow.speed = 8 * kMiB; // about half a second
    auto jobB = std::make_shared<BackupJob>(slow);
    for (auto* j : {jobA.get(), jobB.get()}) {
        BlockDriver::ChangesPaused paused(*j->spec().source);
        j->takePointInTime(paused);
        j->joinGroup(group);
    }
    jobA->start(logA.listener());
    jobB->start(logB.listener());
    ASSERT_TRUE(logA.waitFor("waiting"));
    EXPECT_EQ(jobA->status(), JobStatus::Waiting); // B still copies
    ASSERT_TRUE(logA.waitFor("null"));
    ASSERT_TRUE(logB.waitFor("null"));
    EXPECT_EQ(logA.joined(),
              "created running paused running waiting pending COMPLETED concluded null");
    EXPECT_EQ(readAll(*tb), readAll(*b));
}

TEST(BackupJob, StopOnTargetErrorPausesUntilResumedThenCompletes) {
    test::TempDir dir;
    auto src = makeImage(dir.file("src.raw"), "raw", 2 * kMiB);
    src->write(0, pattern(2 * kMiB, 0x41));
    auto dst = std::make_shared<test::FailingImage>(2 * kMiB, 0);
    EventLog log;
    BackupSpec spec{"st", src, dst, BackupSync::Full};
    spec.onTargetError = ErrorPolicy::Stop;
    auto job = startJob(spec, log);
    ASSERT_TRUE(log.waitFor("paused", 2)); // the start's pause, then the error's
    JobInfo stopped = job->info();
    EXPECT_EQ(stopped.status, JobStatus::Paused);
    EXPECT_TRUE(stopped.paused);
    EXPECT_EQ(stopped.ioStatus, "nospace");
    dst->refill(4 * kMiB);
    job->resume();
    ASSERT_TRUE(log.waitFor("null"));
    EXPECT_EQ(log.joined(), "created running paused running ERROR:write paused running waiting "
                            "pending COMPLETED concluded null");
    EXPECT_EQ(readAll(*dst), readAll(*src));
}

TEST(BackupJob, FailedFullBackupWithBitmapModeAlwaysMarksAllItDidNotCopy) {
    test::TempDir dir;
    auto src = makeImage(dir.file("src.qcow2"), "qcow2", 4 * kMiB);
    src->write(0, pattern(65536, 0x51));
    src->write(2 * kMiB, pattern(65536, 0x52));
    auto bitmap = std::make_shared<DirtyBitmap>(4 * kMiB, 65536);
    bitmap->set(2 * kMiB, 65536);
    // The first data cluster fits; the zeroes after it do not.
    auto dst = std::make_shared<test::FailingImage>(4 * kMiB, 65536);
    EventLog log;
    BackupSpec spec{"al", src, dst, BackupSync::Full, bitmap, BitmapMode::Always};
    auto job = startJob(spec, log);
    ASSERT_TRUE(log.waitFor("null"));
    EXPECT_EQ(job->info().current, 65536u); // the copied cluster counts as progress
    EXPECT_EQ(bitmap->dirtyBytes(), 4 * kMiB - 65536);
    EXPECT_FALSE(bitmap->test(0));
}

TEST(BackupJob, CompressedBackupWritesCompressedClusters) {
    test::TempDir dir;
    auto src = makeImage(dir.file("src.raw"), "raw", 2 * kMiB);
    src->write(0, pattern(kMiB, 0x61));
    auto dst = makeImage(dir.file("dst.qcow2"), "qcow2", 2 * kMiB);
    auto raw = makeImage(dir.file("dst.raw"), "raw", 2 * kMiB);
    BackupSpec refused{"c", src, raw, BackupSync::Full};
    refused.compress = true;
    EXPECT_THROW(BackupJob{refused}, std::runtime_error);
    EventLog log;
    BackupSpec spec{"c", src, dst, BackupSync::Full};
    spec.compress = true;
    auto job = startJob(spec, log);
    ASSERT_TRUE(log.waitFor("null"));
    EXPECT_EQ(log.joined().find("COMPLETED:"), std::string::npos) << log.joined();
    EXPECT_EQ(readAll(*dst), readAll(*src));
    // Sixteen 64 KiB clusters of one byte value compress to far less than a megabyte.
    dst->flush();
    EXPECT_LT(std::filesystem::file_size(dir.file("dst.qcow2")), 512u * 1024u);
}

TEST(BackupJob, RefusesWhatQemuRefuses) {
    test::TempDir dir;
    auto src = makeImage(dir.file("a.raw"), "raw", kMiB);
    auto small = makeImage(dir.file("b.raw"), "raw", kMiB / 2);
    EXPECT_THROW(BackupJob(BackupSpec{"x", src, src, BackupSync::Full}), std::runtime_error);
    EXPECT_THROW(BackupJob(BackupSpec{"x", src, small, BackupSync::Full}), std::runtime_error);
    try {
        auto dst = makeImage(dir.file("c.raw"), "raw", kMiB);
        BackupJob j(BackupSpec{"x", src, dst, BackupSync::Incremental});
        FAIL();
    } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "must provide a valid bitmap name for 'incremental' sync mode");
    }
}

} // namespace
} // namespace e2kvm::block
