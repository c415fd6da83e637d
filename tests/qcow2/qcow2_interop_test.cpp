// Interop with QEMU 7.2: images made or written by qemu-img / qemu-io read the same through our
// driver, and images we create or write pass `qemu-img check` and compare equal to QEMU's.
#include "TestSupport.h"
#include "block/ImageCheck.h"
#include "block/bitmap/BitmapCatalog.h"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <sstream>

using namespace e2kvm::block;
using namespace e2kvm::block::test;

namespace {

class Qcow2Interop : public ::testing::Test {
protected:
    void SetUp() override {
        if (!haveTool("qemu-img") || !haveTool("qemu-io"))
            GTEST_SKIP() << "qemu-img / qemu-io not installed";
    }
    TempDir tmp;

    void sh(const std::string& cmd) {
        std::string out;
        int rc = run(cmd + " 2>&1", &out);
        ASSERT_EQ(rc, 0) << cmd << "\n" << out;
    }
    // The image's contents as QEMU reads them.
    std::vector<uint8_t> qemuContents(const std::string& img) {
        std::string raw = img + ".qemu.raw";
        sh("qemu-img convert -O raw '" + img + "' '" + raw + "'");
        return readFile(raw);
    }
    void expectSameAsQemu(const std::string& img) {
        auto want = qemuContents(img);
        auto d = openRo(img);
        auto got = readAll(*d);
        ASSERT_EQ(got.size(), want.size());
        EXPECT_TRUE(got == want) << img << ": our read differs from qemu-img convert";
    }
    void expectQemuCheckClean(const std::string& img) {
        std::string out;
        int rc = run("qemu-img check '" + img + "' 2>&1", &out);
        EXPECT_EQ(rc, 0) << out;
    }
};

struct Op {
    enum Kind { Write, Zero, ZeroUnmap, Discard, Compressed } kind;
    uint64_t offset;
    uint64_t length;
    uint8_t pattern = 0;
};

std::string qemuIoArgs(const std::vector<Op>& ops) {
    std::ostringstream s;
    for (const Op& op : ops) {
        s << " -c '";
        switch (op.kind) {
        case Op::Write:
            s << "w -P " << int(op.pattern) << " " << op.offset << " " << op.length;
            break;
        case Op::Zero:
            s << "w -z " << op.offset << " " << op.length;
            break;
        case Op::ZeroUnmap:
            s << "w -z -u " << op.offset << " " << op.length;
            break;
        case Op::Discard:
            s << "discard " << op.offset << " " << op.length;
            break;
        case Op::Compressed:
            s << "w -c -P " << int(op.pattern) << " " << op.offset << " " << op.length;
            break;
        }
        s << "'";
    }
    return s.str();
}

void applyOurs(BlockDriver& d, const std::vector<Op>& ops) {
    for (const Op& op : ops) {
        switch (op.kind) {
        case Op::Write:
            d.write(op.offset, std::vector<uint8_t>(op.length, op.pattern));
            break;
        case Op::Zero:
            d.writeZeroes(op.offset, op.length);
            break;
        case Op::ZeroUnmap:
            d.writeZeroes(op.offset, op.length, ZeroMayUnmap);
            break;
        case Op::Discard:
            d.discard(op.offset, op.length);
            break;
        case Op::Compressed: {
            std::vector<uint8_t> data(d.clusterSize(), op.pattern);
            for (uint64_t o = op.offset; o < op.offset + op.length; o += d.clusterSize())
                d.writeCompressed(o, data);
            break;
        }
        }
    }
}

std::vector<Op> mixedOps(uint64_t cs) {
    return {
        {Op::Write, 0, 3 * cs, 0x11},
        {Op::Write, cs / 2, 512, 0x22},          // partial, in place
        {Op::Write, 5 * cs + 512, cs, 0x33},     // straddles two unallocated clusters
        {Op::Write, 9 * cs, 7 * cs, 0x44},       // a run of fresh clusters
        {Op::Zero, 10 * cs, 2 * cs, 0},          // zero flag, keep allocation
        {Op::ZeroUnmap, 12 * cs, 2 * cs, 0},     // zero flag, free
        {Op::Discard, 14 * cs, cs, 0},           // discard
        {Op::Zero, 20 * cs, 4 * cs, 0},          // zero over unallocated
        {Op::Compressed, 30 * cs, 2 * cs, 0x55}, // compressed clusters
        {Op::Write, 30 * cs + 1024, 512, 0x66},  // COW of a compressed cluster
        {Op::Write, 40 * cs - 512, 1024, 0x77},  // crosses a cluster boundary
        {Op::Discard, 1 * cs, cs, 0},
        {Op::Write, 1 * cs + 4096, 4096, 0x88}, // write into the discarded cluster
    };
}

} // namespace

TEST_F(Qcow2Interop, ReadsQemuImagesOfEveryClusterSize) {
    for (uint32_t cs : {512u, 4096u, 65536u, 2u << 20}) {
        std::string img = tmp.path("q" + std::to_string(cs) + ".qcow2");
        uint64_t size = std::max<uint64_t>(64ull * cs, 8 << 20);
        sh("qemu-img create -q -f qcow2 -o cluster_size=" + std::to_string(cs) + " '" + img + "' " +
           std::to_string(size));
        sh("qemu-io -f qcow2" + qemuIoArgs(mixedOps(cs)) + " '" + img + "'");
        expectSameAsQemu(img);
        CheckResult r = checkImage(img, "", RepairMode::None);
        EXPECT_EQ(r.corruptions, 0u);
        EXPECT_EQ(r.leaks, 0u);
    }
}

TEST_F(Qcow2Interop, ReadsCompressedConvert) {
    std::string raw = tmp.path("src.raw"), img = tmp.path("c.qcow2");
    std::vector<uint8_t> data(4 << 20);
    for (size_t i = 0; i < data.size(); ++i)
        data[i] = uint8_t((i / 1000) % 7 == 0 ? 0 : (i * 31) % 97); // compressible, not trivial
    auto noise = pattern(65536, 9);
    std::memcpy(data.data() + (1 << 20), noise.data(), noise.size()); // one incompressible cluster
    {
        std::ofstream(raw, std::ios::binary)
            .write(reinterpret_cast<const char*>(data.data()), std::streamsize(data.size()));
    }
    sh("qemu-img convert -c -O qcow2 '" + raw + "' '" + img + "'");
    auto d = openRo(img);
    EXPECT_TRUE(readAll(*d) == data);
    LayerExtent e = d->layerStatus(0, d->size());
    EXPECT_EQ(e.kind, Allocation::Data);
    EXPECT_TRUE(e.compressed);
}

TEST_F(Qcow2Interop, ReadsBackingChainAndPreallocation) {
    std::string base = tmp.path("base.qcow2"), mid = tmp.path("mid.qcow2"),
                top = tmp.path("top.qcow2");
    sh("qemu-img create -q -f qcow2 '" + base + "' 8M");
    sh("qemu-io -f qcow2 -c 'w -P 1 0 8M' '" + base + "'");
    sh("cd '" + tmp.path("") +
       "' && qemu-img create -q -f qcow2 -b base.qcow2 -F qcow2 mid.qcow2 12M");
    sh("qemu-io -f qcow2 -c 'w -P 2 65536 1000' -c 'w -z 1M 64k' -c 'discard 2M 64k' '" + mid +
       "'");
    sh("qemu-img create -q -f qcow2 -b '" + mid + "' -F qcow2 '" + top + "'");
    sh("qemu-io -f qcow2 -c 'w -P 3 100000 300000' '" + top + "'");
    expectSameAsQemu(top);
    for (const char* mode : {"metadata", "falloc", "full"}) {
        std::string p = tmp.path(std::string("p-") + mode + ".qcow2");
        sh(std::string("qemu-img create -q -f qcow2 -o preallocation=") + mode + " '" + p + "' 3M");
        sh("qemu-io -f qcow2 -c 'w -P 9 1000 70000' '" + p + "'");
        expectSameAsQemu(p);
        auto d = openRw(p);
        d->write(2 << 20, pattern(100000, 3));
        d.reset();
        expectQemuCheckClean(p);
    }
}

TEST_F(Qcow2Interop, OurWritesMatchQemuIo) {
    for (uint32_t cs : {512u, 65536u}) {
        for (bool withBacking : {false, true}) {
            std::string tag = std::to_string(cs) + (withBacking ? "b" : "");
            std::string base = tmp.path("base" + tag + ".qcow2");
            std::string ours = tmp.path("ours" + tag + ".qcow2"),
                        theirs = tmp.path("theirs" + tag + ".qcow2");
            uint64_t size = 64ull * cs + 3 * 512;
            std::string back, backOpt;
            if (withBacking) {
                sh("qemu-img create -q -f qcow2 '" + base + "' " + std::to_string(size));
                sh("qemu-io -f qcow2 -c 'w -P 0xaa 0 " + std::to_string(size) + "' '" + base + "'");
                back = base;
                backOpt = " -b '" + base + "' -F qcow2";
            }
            sh("qemu-img create -q -f qcow2 -o cluster_size=" + std::to_string(cs) + backOpt +
               " '" + theirs + "' " + std::to_string(size));
            createQcow2(ours, size, cs, back, withBacking ? "qcow2" : "");
            auto ops = mixedOps(cs);
            ops.push_back({Op::Write, size - 1024, 1024, 0x99}); // the partial last cluster
            ops.push_back({Op::Zero, size - 512, 512, 0});
            sh("qemu-io -f qcow2" + qemuIoArgs(ops) + " '" + theirs + "'");
            {
                auto d = openRw(ours);
                applyOurs(*d, ops);
            }
            expectQemuCheckClean(ours);
            std::string out;
            EXPECT_EQ(run("qemu-img compare '" + ours + "' '" + theirs + "' 2>&1", &out), 0)
                << tag << ": " << out;
            // Layer by layer too (the same clusters are allocated, zero or unallocated).
            std::string mapOurs, mapTheirs;
            run("qemu-img map --output=json '" + ours + "' | sed 's/, \"offset\": [0-9]*//'",
                &mapOurs);
            run("qemu-img map --output=json '" + theirs + "' | sed 's/, \"offset\": [0-9]*//'",
                &mapTheirs);
            EXPECT_EQ(mapOurs, mapTheirs) << tag;
        }
    }
}

TEST_F(Qcow2Interop, CreatedImagesMatchQemuImg) {
    struct Case {
        std::string qemuOpts;
        CreateOptions ours;
    };
    std::vector<Case> cases;
    auto add = [&](const std::string& opts, auto tweak) {
        CreateOptions o;
        o.format = "qcow2";
        o.size = 1ull << 30;
        o.sizeGiven = true;
        tweak(o);
        cases.push_back({opts, o});
    };
    add("", [](CreateOptions&) {});
    add("cluster_size=4096", [](CreateOptions& o) { o.clusterSize = 4096; });
    add("cluster_size=512", [](CreateOptions& o) { o.clusterSize = 512; });
    add("cluster_size=2M", [](CreateOptions& o) { o.clusterSize = 2 << 20; });
    add("compat=0.10", [](CreateOptions& o) { o.compat = "0.10"; });
    add("lazy_refcounts=on", [](CreateOptions& o) { o.lazyRefcounts = true; });
    add("refcount_bits=1", [](CreateOptions& o) { o.refcountBits = 1; });
    add("refcount_bits=64", [](CreateOptions& o) { o.refcountBits = 64; });
    add("backing_file=base.raw,backing_fmt=raw", [](CreateOptions& o) {
        o.backingFile = "base.raw";
        o.backingFormat = "raw";
    });
    sh("truncate -s 1G '" + tmp.path("base.raw") + "'");
    int i = 0;
    for (const Case& c : cases) {
        std::string q = tmp.path("q" + std::to_string(i) + ".qcow2"),
                    o = tmp.path("o" + std::to_string(i) + ".qcow2");
        ++i;
        sh("cd '" + tmp.path("") + "' && qemu-img create -q -f qcow2 " +
           (c.qemuOpts.empty() ? "" : "-o " + c.qemuOpts) + " '" + q + "' 1G");
        createImage(o, c.ours);
        expectQemuCheckClean(o);
        std::string infoQ, infoO;
        run("cd '" + tmp.path("") + "' && qemu-img info --output=json '" + q +
                "' | grep -v -e filename -e actual-size",
            &infoQ);
        run("cd '" + tmp.path("") + "' && qemu-img info --output=json '" + o +
                "' | grep -v -e filename -e actual-size",
            &infoO);
        EXPECT_EQ(infoO, infoQ) << c.qemuOpts;
        auto bq = readFile(q), bo = readFile(o);
        EXPECT_EQ(bo.size(), bq.size()) << c.qemuOpts;
        EXPECT_TRUE(bo == bq) << c.qemuOpts << ": metadata bytes differ from qemu-img create";
    }
}

TEST_F(Qcow2Interop, CreatedPreallocatedImagesPassCheck) {
    for (auto [name, mode] : {std::pair{"metadata", Preallocation::Metadata},
                              {"falloc", Preallocation::Falloc},
                              {"full", Preallocation::Full}}) {
        CreateOptions o;
        o.format = "qcow2";
        o.size = 40 << 20;
        o.sizeGiven = true;
        o.preallocation = mode;
        std::string p = tmp.path(std::string("pre-") + name + ".qcow2");
        createImage(p, o);
        expectQemuCheckClean(p);
        std::string mapQ, mapO, q = tmp.path(std::string("preq-") + name + ".qcow2");
        sh(std::string("qemu-img create -q -f qcow2 -o preallocation=") + name + " '" + q +
           "' 40M");
        run("qemu-img map --output=json '" + q + "' | sed 's/, \"offset\": [0-9]*//'", &mapQ);
        run("qemu-img map --output=json '" + p + "' | sed 's/, \"offset\": [0-9]*//'", &mapO);
        EXPECT_EQ(mapO, mapQ) << name;
    }
}

TEST_F(Qcow2Interop, CheckAgreesWithQemuOnDamagedImages) {
    std::string img = tmp.path("d.qcow2");
    sh("qemu-img create -q -f qcow2 '" + img + "' 64M");
    sh("qemu-io -f qcow2 -c 'w -P 1 0 1M' -c 'w -c -P 2 4M 128k' '" + img + "'");
    sh("truncate -s 4M '" + img + "'");
    // Leak: refcount 1 for two clusters nothing references (clusters 40 and 41).
    std::vector<uint8_t> one(4, 0);
    one[1] = 1;
    one[3] = 1;
    writeFileBytes(img, 0x20000 + 40 * 2, one);
    // Corruption: cluster 5 (data) refcount 0 -> reference 1.
    writeFileBytes(img, 0x20000 + 5 * 2, std::vector<uint8_t>(2, 0));
    auto qemu = [&](const std::string& extra) {
        std::string out;
        run("qemu-img check --output=json " + extra + " '" + img + "' 2>/dev/null", &out);
        return out;
    };
    auto field = [](const std::string& json, const std::string& key) -> int64_t {
        auto p = json.find("\"" + key + "\":");
        if (p == std::string::npos)
            return 0;
        return std::stoll(json.substr(p + key.size() + 3));
    };
    std::string j = qemu("");
    CheckResult r = checkImage(img, "qcow2", RepairMode::None);
    EXPECT_EQ(int64_t(r.leaks), field(j, "leaks"));
    EXPECT_EQ(int64_t(r.corruptions), field(j, "corruptions"));
    EXPECT_EQ(int64_t(r.allocatedClusters), field(j, "allocated-clusters"));
    EXPECT_EQ(int64_t(r.fragmentedClusters), field(j, "fragmented-clusters"));
    EXPECT_EQ(int64_t(r.compressedClusters), field(j, "compressed-clusters"));
    EXPECT_EQ(int64_t(r.totalClusters), field(j, "total-clusters"));
    EXPECT_EQ(int64_t(r.imageEndOffset), field(j, "image-end-offset"));
    EXPECT_GT(r.leaks, 0u);
    EXPECT_GT(r.corruptions, 0u);
    // Leak repair gives up (like QEMU) when the refcount structure needs a rebuild.
    CheckResult fixedLeaks = checkImage(img, "qcow2", RepairMode::Leaks);
    EXPECT_EQ(fixedLeaks.leaksFixed, 0u);
    EXPECT_GT(fixedLeaks.checkErrors, 0u);
    // Words and numbers as qemu-img prints them.
    std::string qemuMessages;
    run("qemu-img check '" + img + "' 2>&1 >/dev/null", &qemuMessages);
    std::string ours;
    for (const auto& m : r.messages)
        ours += m + "\n";
    EXPECT_EQ(ours, qemuMessages);
    CheckResult fixedAll = checkImage(img, "qcow2", RepairMode::All);
    EXPECT_GT(fixedAll.corruptionsFixed, 0u);
    expectQemuCheckClean(img);
    EXPECT_EQ(checkImage(img, "qcow2", RepairMode::None).corruptions, 0u);
    expectSameAsQemu(img);
}

TEST_F(Qcow2Interop, WritesKeepInternalSnapshots) {
    std::string img = tmp.path("snap.qcow2");
    sh("qemu-img create -q -f qcow2 '" + img + "' 8M");
    sh("qemu-io -f qcow2 -c 'w -P 1 0 1M' -c 'w -c -P 2 2M 128k' '" + img + "'");
    sh("qemu-img snapshot -c s1 '" + img + "'");
    auto before = qemuContents(img);
    {
        auto d = openRw(img);
        d->write(1000, pattern(70000, 5));         // COW of shared L2 table and data clusters
        d->write((2 << 20) + 100, pattern(10, 6)); // COW of a shared compressed cluster
        d->writeZeroes(512 << 10, 128 << 10, ZeroMayUnmap);
        d->discard(768 << 10, 64 << 10);
    }
    expectQemuCheckClean(img);
    EXPECT_EQ(checkImage(img, "qcow2", RepairMode::None).corruptions, 0u);
    expectSameAsQemu(img);
    sh("qemu-img snapshot -a s1 '" + img + "'");
    EXPECT_TRUE(qemuContents(img) == before) << "snapshot contents changed";
    expectSameAsQemu(img);
}

namespace {

// The bitmap names in the image's bitmap directory, in its order, as qemu-img info lists them.
std::string directoryOrder(const std::string& img) {
    std::string out;
    run("qemu-img info --output=json '" + img +
            "' | python3 -c \"import json,sys; print(' '.join("
            "b['name'] for b in json.load(sys.stdin)['format-specific']['data']['bitmaps']))\"",
        &out);
    return out;
}

} // namespace

// QEMU stores bitmaps that are new since the image was opened after the stored ones, newest
// first (iotest 246): bitmaps added in one session by qemu-system-x86_64 over QMP and by our
// driver must end up in the same directory order.
TEST_F(Qcow2Interop, NewBitmapsAreStoredNewestFirstAsQemuDoes) {
    if (!haveTool("qemu-system-x86_64") || !haveTool("python3"))
        GTEST_SKIP() << "qemu-system-x86_64 / python3 not installed";
    const std::string theirs = tmp.path("qemu.qcow2"), ours = tmp.path("ours.qcow2");
    for (const std::string& img : {theirs, ours})
        sh("qemu-img create -q -f qcow2 '" + img + "' 1M && qemu-img bitmap --add '" + img +
           "' Old");
    std::string qmp = "{\"execute\":\"qmp_capabilities\"}\n";
    for (const char* name : {"A", "B", "C"})
        qmp += std::string("{\"execute\":\"block-dirty-bitmap-add\",\"arguments\":{\"node\":"
                           "\"drive0\",\"name\":\"") +
               name + "\",\"persistent\":true}}\n";
    qmp += "{\"execute\":\"quit\"}\n";
    sh("printf '%s' '" + qmp +
       "' | timeout 60 qemu-system-x86_64 -nodefaults -display none -machine none -accel tcg "
       "-qmp stdio -blockdev driver=file,filename='" +
       theirs + "',node-name=f -blockdev driver=qcow2,file=f,node-name=drive0 >/dev/null");
    {
        auto d = openRw(ours);
        ASSERT_NE(d->bitmaps(), nullptr);
        for (const char* name : {"A", "B", "C"}) {
            BitmapAction add;
            add.name = name;
            std::vector<BitmapAction> actions{add};
            d->bitmaps()->apply(actions);
        }
    }
    const std::string want = directoryOrder(theirs);
    EXPECT_EQ(want, "Old C B A\n");
    EXPECT_EQ(directoryOrder(ours), want);
    expectQemuCheckClean(ours);
}
