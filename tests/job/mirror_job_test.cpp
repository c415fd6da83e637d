// MirrorJob: the target follows the source (writes made while the job runs and while it is
// ready included), complete calls the pivot with a catch-up that copies the last writes, a
// cancel without force of a ready job completes without pivot, pause of a ready job is standby.
#include "JobEventLog.h"
#include "JobTestImages.h"
#include "block/job/MirrorJob.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace e2kvm::block {
namespace {

using test::EventLog;
using test::makeImage;
using test::pattern;
using test::readAll;
using test::TempDir;

constexpr uint64_t kSize = 4 << 20;

struct Pair {
    TempDir dir;
    std::shared_ptr<BlockDriver> source = makeImage(dir.file("s.qcow2"), "qcow2", kSize);
    std::shared_ptr<BlockDriver> target = makeImage(dir.file("t.qcow2"), "qcow2", kSize);
};

MirrorSpec specOf(Pair& p, MirrorSync sync = MirrorSync::Full) {
    MirrorSpec s;
    s.id = "m";
    s.source = p.source;
    s.target = p.target;
    s.sync = sync;
    return s;
}

TEST(MirrorJob, CopiesFollowsWritesAndPivotsOnComplete) {
    Pair p;
    p.source->write(0, pattern(1 << 20, 0x11));
    p.source->write(3 << 20, pattern(65536, 0x22));
    bool pivoted = false;
    MirrorSpec spec = specOf(p);
    spec.pivot = [&](const std::function<void(bool)>& catchUp) {
        // A write that came after the job's last look is copied by the catch-up.
        p.source->write(2 << 20, pattern(4096, 0x44));
        catchUp(false);
        pivoted = true;
    };
    auto job = std::make_shared<MirrorJob>(std::move(spec));
    EventLog ev;
    job->start(ev.listener());
    ASSERT_TRUE(ev.waitFor("READY")) << ev.joined();
    EXPECT_EQ(job->info().current, job->info().total);
    p.source->write(65536, pattern(8192, 0x33)); // while ready
    EXPECT_THROW(job->finalize(), std::runtime_error);
    job->complete();
    ASSERT_TRUE(ev.waitFor("null")) << ev.joined();
    EXPECT_TRUE(pivoted);
    EXPECT_EQ(readAll(*p.source), readAll(*p.target));
    EXPECT_EQ(ev.joined(), "created running ready READY waiting pending COMPLETED concluded null");
}

TEST(MirrorJob, TargetEqualsSourceUnderConcurrentWrites) {
    Pair p;
    p.source->write(0, pattern(2 << 20, 0x10));
    std::atomic<bool> stop{false};
    std::thread writer;
    MirrorSpec spec = specOf(p);
    spec.granularity = 4096;
    spec.bufSize = 65536;
    spec.pivot = [&](const std::function<void(bool)>& catchUp) {
        // The users stop writing the source; what they wrote last is caught up.
        stop = true;
        writer.join();
        catchUp(false);
    };
    auto job = std::make_shared<MirrorJob>(std::move(spec));
    EventLog ev;
    job->start(ev.listener());
    writer = std::thread([&] {
        uint64_t n = 0;
        while (!stop) {
            uint64_t offset = (n * 7919 * 512) % (kSize - 8192);
            p.source->write(offset, pattern(8192, uint8_t(n)));
            ++n;
        }
    });
    bool ready = ev.waitFor("READY");
    if (!ready) { // the copy could not catch up: stop the writer before failing
        stop = true;
        writer.join();
        job->cancel();
        FAIL() << ev.joined();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    job->complete();
    ASSERT_TRUE(ev.waitFor("null")) << ev.joined();
    EXPECT_EQ(readAll(*p.source), readAll(*p.target));
}

TEST(MirrorJob, SoftCancelOfReadyJobCompletesWithoutPivot) {
    Pair p;
    p.source->write(0, pattern(65536, 0x55));
    bool pivoted = false;
    MirrorSpec spec = specOf(p);
    spec.pivot = [&](const std::function<void(bool)>&) { pivoted = true; };
    auto job = std::make_shared<MirrorJob>(std::move(spec));
    EventLog ev;
    job->start(ev.listener());
    ASSERT_TRUE(ev.waitFor("READY"));
    job->pause();
    ASSERT_TRUE(ev.waitFor("standby")) << ev.joined();
    EXPECT_THROW(job->complete(), std::runtime_error); // standby: not ready
    job->resume();
    job->cancel(false);
    EXPECT_THROW(job->complete(), std::runtime_error); // cancel requested
    ASSERT_TRUE(ev.waitFor("null")) << ev.joined();
    EXPECT_FALSE(pivoted);
    EXPECT_EQ(readAll(*p.source), readAll(*p.target));
    EXPECT_NE(ev.joined().find("COMPLETED"), std::string::npos) << ev.joined();
}

TEST(MirrorJob, ForcedCancelAndCancelBeforeReadyAreCancels) {
    Pair p;
    p.source->write(0, pattern(1 << 20, 0x66));
    MirrorSpec spec = specOf(p);
    spec.speed = 4096; // stays running
    auto job = std::make_shared<MirrorJob>(std::move(spec));
    EventLog ev;
    job->start(ev.listener());
    EXPECT_THROW(job->complete(), std::runtime_error); // running: not ready
    job->cancel(false);                                // not ready: a plain cancel
    ASSERT_TRUE(ev.waitFor("null")) << ev.joined();
    EXPECT_NE(ev.joined().find("CANCELLED"), std::string::npos) << ev.joined();
}

TEST(MirrorJob, SyncNoneCopiesOnlyNewWritesAndZeroesStayUnallocated) {
    Pair p;
    p.source->write(0, pattern(65536, 0x77)); // before the job: not copied by sync=none
    auto job = std::make_shared<MirrorJob>(specOf(p, MirrorSync::None));
    EventLog ev;
    job->start(ev.listener());
    ASSERT_TRUE(ev.waitFor("READY"));
    p.source->write(1 << 20, pattern(65536, 0x78));
    p.source->writeZeroes(2 << 20, 65536);
    job->cancel(false);
    ASSERT_TRUE(ev.waitFor("null")) << ev.joined();
    std::vector<uint8_t> buf(65536);
    p.target->read(1 << 20, buf);
    EXPECT_EQ(buf, pattern(65536, 0x78));
    p.target->read(0, buf);
    EXPECT_EQ(buf, pattern(65536, 0));
    EXPECT_NE(p.target->layerStatus(2 << 20, 65536).kind, Allocation::Data);
}

TEST(MirrorJob, DifferentSizesFailTheJob) {
    TempDir dir;
    auto source = makeImage(dir.file("s.qcow2"), "qcow2", kSize);
    auto target = makeImage(dir.file("t.qcow2"), "qcow2", kSize * 2);
    MirrorSpec spec;
    spec.id = "m";
    spec.source = source;
    spec.target = target;
    auto job = std::make_shared<MirrorJob>(std::move(spec));
    EventLog ev;
    job->start(ev.listener());
    ASSERT_TRUE(ev.waitFor("null")) << ev.joined();
    EXPECT_NE(ev.joined().find("COMPLETED:Source and target image have different sizes"),
              std::string::npos)
        << ev.joined();
}

} // namespace
} // namespace e2kvm::block
