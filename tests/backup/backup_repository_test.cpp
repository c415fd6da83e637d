// BackupRepository: creation, the manifest, recovery of interrupted runs, the lock.
#include "app/backup/BackupRepository.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

using namespace e2kvm::backup;
namespace fs = std::filesystem;

namespace {

class RepositoryTest : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() /
               ("backup-repo-test-" + std::to_string(::getpid()) + "-" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(dir_);
    }
    void TearDown() override { fs::remove_all(dir_); }
    std::string dir() const { return dir_.string(); }
    void touch(const std::string& name, const std::string& text = "x") {
        std::ofstream(dir_ / name) << text;
    }
    RestorePoint point(BackupRepository& repo, PointType type) {
        RestorePoint p;
        p.number = repo.reserveNumber();
        p.file = BackupRepository::fileNameFor(p.number);
        p.type = type;
        p.time = utcNow();
        p.virtualSize = 1 << 20;
        touch(p.file);
        return p;
    }
    fs::path dir_;
};

} // namespace

TEST_F(RepositoryTest, CreatesListsAndReloads) {
    {
        BackupRepository repo(dir(), BackupRepository::Access::Write);
        EXPECT_EQ(repo.id().size(), 8u);
        EXPECT_TRUE(repo.points().empty());
        repo.append(point(repo, PointType::Full));
        repo.append(point(repo, PointType::Incremental));
    }
    BackupRepository again(dir(), BackupRepository::Access::Read);
    ASSERT_EQ(again.points().size(), 2u);
    EXPECT_EQ(again.points()[0].file, "point-0001.qcow2");
    EXPECT_EQ(again.points()[1].type, PointType::Incremental);
    EXPECT_EQ(again.chainOf(2).size(), 2u);
    EXPECT_EQ(again.checkpointNumber(again.checkpointName(17)), 17u);
    EXPECT_FALSE(again.checkpointNumber("e2kvm-backup-other-3"));
}

TEST_F(RepositoryTest, NumbersAreNeverReused) {
    uint64_t first;
    {
        BackupRepository repo(dir(), BackupRepository::Access::Write);
        first = repo.reserveNumber(); // a run that was killed before listing its point
    }
    BackupRepository repo(dir(), BackupRepository::Access::Write);
    EXPECT_EQ(repo.reserveNumber(), first + 1);
}

TEST_F(RepositoryTest, RecoveryRemovesWhatAnInterruptedRunLeft) {
    {
        BackupRepository repo(dir(), BackupRepository::Access::Write);
        repo.append(point(repo, PointType::Full));
    }
    touch("point-0002.qcow2");       // renamed, but the manifest was not written
    touch(".point-0003.qcow2.part"); // copying
    touch(".fleece-3.qcow2");        // the overlay of a QMP run
    touch("e2kvm-backup.json.tmp");  // the manifest being written
    touch("notes.txt");              // not ours: kept
    {
        BackupRepository reader(dir(), BackupRepository::Access::Read);
        EXPECT_TRUE(fs::exists(dir_ / "point-0002.qcow2")) << "reading changes nothing";
    }
    BackupRepository repo(dir(), BackupRepository::Access::Write);
    EXPECT_TRUE(fs::exists(dir_ / "point-0001.qcow2"));
    EXPECT_FALSE(fs::exists(dir_ / "point-0002.qcow2"));
    EXPECT_FALSE(fs::exists(dir_ / ".point-0003.qcow2.part"));
    EXPECT_FALSE(fs::exists(dir_ / ".fleece-3.qcow2"));
    EXPECT_FALSE(fs::exists(dir_ / "e2kvm-backup.json.tmp"));
    EXPECT_TRUE(fs::exists(dir_ / "notes.txt"));
}

TEST_F(RepositoryTest, OneWriterAtATime) {
    BackupRepository repo(dir(), BackupRepository::Access::Write);
    try {
        BackupRepository second(dir(), BackupRepository::Access::Write);
        FAIL() << "a second writer was let in";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("another e2kvm-backup"), std::string::npos);
    }
    BackupRepository reader(dir(), BackupRepository::Access::Read); // lists while it works
}

TEST_F(RepositoryTest, RefusesAForeignDirectoryAndABadManifest) {
    fs::create_directories(dir_);
    touch("vacation.jpg");
    EXPECT_THROW(BackupRepository(dir(), BackupRepository::Access::Write), std::runtime_error);
    EXPECT_THROW(BackupRepository(dir(), BackupRepository::Access::Read), std::runtime_error);
    fs::remove(dir_ / "vacation.jpg");
    touch("e2kvm-backup.json", "{\"format\": \"e2kvm-backup\", \"version\": 1, \"id\": \"ab\", "
                               "\"next-point\": 2, \"points\": [{\"point\": 1, \"file\": "
                               "\"../../etc/passwd\"}]}");
    try {
        BackupRepository repo(dir(), BackupRepository::Access::Read);
        FAIL() << "a manifest naming a file outside the directory was accepted";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("e2kvm-backup.json"), std::string::npos);
    }
    touch("e2kvm-backup.json", "{\"format\": ");
    EXPECT_THROW(BackupRepository(dir(), BackupRepository::Access::Read), std::runtime_error);
}

TEST_F(RepositoryTest, PruneRenameIsFinishedByTheNextWriter) {
    std::vector<RestorePoint> all;
    {
        BackupRepository repo(dir(), BackupRepository::Access::Write);
        for (int i = 0; i < 3; ++i) {
            repo.append(point(repo, i ? PointType::Incremental : PointType::Full));
            all.push_back(repo.points().back());
        }
    }
    // A prune that committed its manifest but was killed before the rename: simulated by
    // writing the manifest the prune writes, with the merged file still at its partial path.
    touch(".point-0002.qcow2.part.merge", "merged");
    {
        std::ifstream in(dir_ / "e2kvm-backup.json");
        std::string text((std::istreambuf_iterator<char>(in)), {});
        auto j = e2kvm::json::parseJson(text);
        auto& pts = const_cast<e2kvm::json::Json&>(*j.find("points")).asArray();
        pts.erase(pts.begin());
        pts[0].set("type", "full");
        j.set("pending-rename", e2kvm::json::Json::object({{"from", ".point-0002.qcow2.part.merge"},
                                                           {"to", "point-0002.qcow2"}}));
        std::ofstream(dir_ / "e2kvm-backup.json") << j.serialize();
    }
    BackupRepository repo(dir(), BackupRepository::Access::Write);
    ASSERT_EQ(repo.points().size(), 2u);
    EXPECT_EQ(repo.points()[0].type, PointType::Full);
    std::ifstream merged(dir_ / "point-0002.qcow2");
    std::string content((std::istreambuf_iterator<char>(merged)), {});
    EXPECT_EQ(content, "merged");
    EXPECT_FALSE(fs::exists(dir_ / "point-0001.qcow2")) << "the pruned point's file goes";
    EXPECT_FALSE(fs::exists(dir_ / ".point-0002.qcow2.part.merge"));
}

TEST(RestorePointJson, RoundTrips) {
    RestorePoint p;
    p.number = 7;
    p.file = "point-0007.qcow2";
    p.type = PointType::Incremental;
    p.time = "2026-12-06T12:00:00Z";
    p.storedBytes = 123;
    p.sha256 = "ab";
    p.checkpoint = "e2kvm-backup-x-7";
    RestorePoint q = restorePointFromJson(toJson(p));
    EXPECT_EQ(toJson(q).serialize(), toJson(p).serialize());
    auto j = toJson(p);
    j.set("type", "differential");
    EXPECT_THROW(restorePointFromJson(j), std::runtime_error);
    // Compression: kept; absent in manifests older than compressed points; only zlib or zstd.
    p.compression = "zstd";
    EXPECT_EQ(restorePointFromJson(toJson(p)).compression, "zstd");
    std::string old = toJson(p).serialize();
    const std::string member = ", \"compression\": \"zstd\"";
    ASSERT_NE(old.find(member), std::string::npos) << old;
    old.erase(old.find(member), member.size());
    EXPECT_EQ(restorePointFromJson(e2kvm::json::parseJson(old)).compression, "");
    j = toJson(p);
    j.set("compression", "lz4");
    EXPECT_THROW(restorePointFromJson(j), std::runtime_error);
}
