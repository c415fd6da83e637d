// The copy engine's range arithmetic and the checkpoint bookkeeping of a BitmapCatalog.
#include "app/backup/CatalogCheckpoints.h"
#include "app/backup/PointCopy.h"
#include "block/ImageOpen.h"
#include "block/bitmap/BitmapCatalog.h"

#include <cstdio>
#include <unistd.h>

#include <gtest/gtest.h>

using namespace e2kvm::backup;

namespace {

std::string show(const std::vector<ByteRange>& rs) {
    std::string s;
    for (const ByteRange& r : rs)
        s += std::to_string(r.offset) + "+" + std::to_string(r.length) + (r.zero ? "z " : " ");
    return s;
}

std::string show(const std::vector<e2kvm::block::BitmapAction>& as) {
    using K = e2kvm::block::BitmapActionKind;
    std::string s;
    for (const auto& a : as) {
        const char* k = a.kind == K::Add       ? "add"
                        : a.kind == K::Remove  ? "remove"
                        : a.kind == K::Enable  ? "enable"
                        : a.kind == K::Disable ? "disable"
                        : a.kind == K::Merge   ? "merge"
                                               : "clear";
        s += std::string(k) + " " + a.name + (a.source.empty() ? "" : "<-" + a.source) + "; ";
    }
    return s;
}

} // namespace

TEST(PointCopy, IntersectSplitsChangedRangesAtZeroRuns) {
    std::vector<ByteRange> alloc{{0, 100, false}, {100, 50, true}, {150, 50, false}};
    EXPECT_EQ(show(intersect({{90, 70, false}}, alloc)), "90+10 100+50z 150+10 ");
    EXPECT_EQ(show(intersect({{0, 10, false}, {160, 40, false}}, alloc)), "0+10 160+40 ");
    EXPECT_EQ(show(intersect({{190, 30, false}}, alloc)), "190+10 200+20 ")
        << "past the known allocation: data";
    EXPECT_EQ(show(intersect({}, alloc)), "");
}

TEST(CatalogCheckpoints, NumbersOnlyWithTheDirectoryPrefix) {
    EXPECT_EQ(checkpointNumber("e2kvm-backup-ab-", "e2kvm-backup-ab-12"), 12u);
    EXPECT_FALSE(checkpointNumber("e2kvm-backup-ab-", "e2kvm-backup-cd-12"));
    EXPECT_FALSE(checkpointNumber("e2kvm-backup-ab-", "e2kvm-backup-ab-"));
    EXPECT_FALSE(checkpointNumber("e2kvm-backup-ab-", "e2kvm-backup-ab-1x"));
}

TEST(CatalogCheckpoints, LeftoversFoldIntoBaseAndOldOnesGo) {
    namespace b = e2kvm::block;
    std::string path = "/tmp/catalog-checkpoints-" + std::to_string(::getpid()) + ".qcow2";
    b::CreateOptions co;
    co.format = "qcow2";
    co.size = 1 << 20;
    co.sizeGiven = true;
    b::createImage(path, co);
    b::OpenOptions oo;
    oo.format = "qcow2";
    oo.readOnly = false;
    auto image = b::openImage(path, oo);
    auto add = [&](const std::string& name, bool disabled) {
        b::BitmapAction a;
        a.kind = b::BitmapActionKind::Add;
        a.name = name;
        a.disabled = disabled;
        image->bitmaps()->apply(std::vector<b::BitmapAction>{a});
    };
    const std::string p = "e2kvm-backup-ab-";
    add(p + "1", false);
    add(p + "2", true);  // base, frozen by a run that was killed
    add(p + "3", false); // that run's next checkpoint
    add("user", false);  // not ours
    SourcePlan plan;
    plan.incremental = true;
    plan.base = p + "2";
    plan.next = p + "4";
    plan.checkpointPrefix = p;
    std::vector<std::string> notes;
    bool usable = false;
    auto actions = prepareCheckpoints(
        *image->bitmaps(), plan, "disk", [&](const std::string& n) { notes.push_back(n); }, usable);
    EXPECT_TRUE(usable);
    EXPECT_TRUE(notes.empty());
    EXPECT_EQ(show(actions), "enable " + p + "2; remove " + p + "1; merge " + p + "2<-" + p +
                                 "3; remove " + p + "3; ");
    image->bitmaps()->apply(actions);

    plan.base = p + "9"; // missing: a full point, and every old checkpoint goes
    actions = prepareCheckpoints(
        *image->bitmaps(), plan, "disk", [&](const std::string& n) { notes.push_back(n); }, usable);
    EXPECT_FALSE(usable);
    ASSERT_EQ(notes.size(), 1u);
    EXPECT_NE(notes[0].find("is missing from disk"), std::string::npos) << notes[0];
    EXPECT_EQ(show(actions), "remove " + p + "2; ");

    plan.base = p + "2";
    add(p + "4", false);
    EXPECT_EQ(show(settleCheckpoints(*image->bitmaps(), plan, false, true, true)),
              "enable " + p + "2; merge " + p + "2<-" + p + "4; remove " + p + "4; ");
    EXPECT_EQ(show(settleCheckpoints(*image->bitmaps(), plan, true, true, true)),
              "remove " + p + "2; ");
    image.reset();
    std::remove(path.c_str());
}
