// Unit tests of e2kvm-img's output pieces: qemu-img's JSON layout and member order, human
// sizes, -o option lists and the "Formatting" line, zero detection.
#include "app/e2kvm-img/CommandError.h"
#include "app/e2kvm-img/CreateOptionList.h"
#include "app/e2kvm-img/QemuImgJson.h"
#include "block/HumanSize.h"

#include "block/ImageCopy.h"
#include "block/ImageOpen.h"

#include <atomic>
#include <filesystem>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>
#include <vector>

using namespace e2kvm::img;
using e2kvm::block::humanSize;
namespace json = e2kvm::json;

TEST(HumanSize, MatchesQemuImg) {
    EXPECT_EQ(humanSize(0), "0 B");
    EXPECT_EQ(humanSize(999), "999 B");
    EXPECT_EQ(humanSize(1000), "0.977 KiB");
    EXPECT_EQ(humanSize(4096), "4 KiB");
    EXPECT_EQ(humanSize(200704), "196 KiB");
    EXPECT_EQ(humanSize(2146304), "2.05 MiB");
    EXPECT_EQ(humanSize(1ULL << 30), "1 GiB");
    EXPECT_EQ(humanSize(1ULL << 40), "1 TiB");
    EXPECT_EQ(humanSize(~0ULL), "16 EiB");
}

// Member order as qemu-img 7.2 prints `info --output=json` of an overlay (observed output).
TEST(QemuImgJson, InfoMembersInQemuOrder) {
    json::Json j = json::Json::object();
    j.set("filename", "o.qcow2");
    j.set("format", "qcow2");
    j.set("dirty-flag", false);
    j.set("actual-size", 200704);
    j.set("virtual-size", 1073741824);
    j.set("cluster-size", 65536);
    j.set("backing-filename", "q.qcow2");
    j.set("full-backing-filename", "q.qcow2");
    j.set("backing-filename-format", "qcow2");
    json::Json spec = json::Json::object();
    spec.set("type", "qcow2");
    json::Json data = json::Json::object();
    data.set("compat", "1.1");
    data.set("extended-l2", false);
    data.set("lazy-refcounts", false);
    data.set("corrupt", false);
    data.set("refcount-bits", 16);
    data.set("compression-type", "zlib");
    spec.set("data", data);
    j.set("format-specific", spec);
    EXPECT_EQ(prettyJson(j), R"({
    "backing-filename-format": "qcow2",
    "virtual-size": 1073741824,
    "filename": "o.qcow2",
    "cluster-size": 65536,
    "format": "qcow2",
    "actual-size": 200704,
    "format-specific": {
        "type": "qcow2",
        "data": {
            "compat": "1.1",
            "compression-type": "zlib",
            "lazy-refcounts": false,
            "refcount-bits": 16,
            "corrupt": false,
            "extended-l2": false
        }
    },
    "full-backing-filename": "q.qcow2",
    "backing-filename": "q.qcow2",
    "dirty-flag": false
})");
    EXPECT_EQ(humanDump(data, 1), "    compat: 1.1\n"
                                  "    compression type: zlib\n"
                                  "    lazy refcounts: false\n"
                                  "    refcount bits: 16\n"
                                  "    corrupt: false\n"
                                  "    extended l2: false\n");
}

TEST(QemuImgJson, EmptyListsAndNesting) {
    json::Json bm = json::Json::object();
    bm.set("name", "b");
    bm.set("granularity", 65536);
    bm.set("flags", json::Json::array());
    json::Json list = json::Json::array();
    list.push(bm);
    EXPECT_EQ(prettyJson(list),
              "[\n    {\n        \"flags\": [\n        ],\n        \"name\": \"b\",\n"
              "        \"granularity\": 65536\n    }\n]");
    EXPECT_EQ(humanDump(list, 1), "    [0]:\n        flags:\n        name: b\n"
                                  "        granularity: 65536\n");
}

TEST(QemuImgJson, StringEscapes) {
    std::string out;
    json::appendJsonString(out, "a\"b\\c\n\t\x01/\xc3\xa9\xf0\x9f\x98\x80\xff");
    EXPECT_EQ(out, "\"a\\\"b\\\\c\\n\\t\\u0001/\\u00E9\\uD83D\\uDE00\\uFFFD\"");
}

// What qemu-img 7.2 prints for these file names (checked by hand; also compared live by
// tests/img's interop test on a file with such a name).
TEST(QemuImgJson, BrokenUtf8AsQemuWritesIt) {
    std::string out;
    json::appendJsonString(out, "a\xff"
                                "b\xc0\x80"
                                "c\xe2\x82"
                                "d\xed\xa0\x80"
                                "e");
    EXPECT_EQ(out, R"("a\uFFFDb\u0000c\uFFFDd\uFFFDe")");
    out.clear();
    json::appendJsonString(out, "A\xef\xbf\xbf"
                                "B\xef\xb7\x90"
                                "C\xf8\x88\x80\x80\x80"
                                "D\x80"
                                "E\xf4\x90\x80\x80"
                                "F\xe0\x80\x80"
                                "G\xc1\xbf"
                                "H\xf0\x9f\x98\x80"
                                "I\xfe\xff"
                                "J\xc3");
    EXPECT_EQ(
        out,
        R"("A\uFFFDB\uFFFDC\uFFFDD\uFFFDE\uFFFDF\uFFFDG\uFFFDH\uD83D\uDE00I\uFFFD\uFFFDJ\uFFFD")");
}

// A progress callback that throws (the GUI's Cancel) stops every worker; the exception comes
// out of copyImage and the copy never finishes.
TEST(ImageCopy, ThrowingProgressStopsTheCopy) {
    namespace fs = std::filesystem;
    fs::path dir = fs::temp_directory_path() / ("e2kvm-copy-stop-" + std::to_string(getpid()));
    fs::create_directories(dir);
    e2kvm::block::CreateOptions o;
    o.format = "raw";
    o.size = 64 << 20;
    o.sizeGiven = true;
    e2kvm::block::createImage((dir / "a.raw").string(), o);
    e2kvm::block::createImage((dir / "b.raw").string(), o);
    e2kvm::block::OpenOptions rw;
    rw.readOnly = false;
    auto src = e2kvm::block::openImage((dir / "a.raw").string(), rw);
    auto dst = e2kvm::block::openImage((dir / "b.raw").string(), rw);
    std::atomic<uint64_t> calls{0};
    e2kvm::block::CopySettings s;
    s.workers = 4;
    EXPECT_THROW(e2kvm::block::copyImage(*src, *dst, s,
                                         [&calls](uint64_t) {
                                             if (++calls == 2)
                                                 throw std::runtime_error("cancelled");
                                         }),
                 std::runtime_error);
    EXPECT_LT(calls.load(), 16u); // 64 MiB is 16 chunks of 4 MiB: it stopped early
    fs::remove_all(dir);
}

TEST(CreateOptionList, FormattingLineLikeQemuImg) {
    CreateOptionList o("qcow2");
    o.parse("cluster_size=4k,lazy_refcounts=on", "t.qcow2");
    o.parse("compat=0.10,backing_file=a,,b.qcow2,backing_fmt=qcow2", "t.qcow2");
    o.set("size", "1048576");
    EXPECT_EQ(o.formattingLine("t.qcow2"),
              "Formatting 't.qcow2', fmt=qcow2 cluster_size=4096 extended_l2=off "
              "compression_type=zlib size=1048576 compat=0.10 backing_file=a,,b.qcow2 "
              "backing_fmt=qcow2 lazy_refcounts=on refcount_bits=16");
    auto c = o.toCreateOptions();
    EXPECT_EQ(c.clusterSize, 4096u);
    EXPECT_TRUE(c.lazyRefcounts);
    EXPECT_EQ(c.compat, "0.10");
    EXPECT_EQ(c.backingFile, "a,b.qcow2");
    EXPECT_EQ(c.size, 1048576u);

    CreateOptionList raw("raw");
    raw.parse("preallocation=falloc", "r.img");
    raw.set("size", "512");
    EXPECT_EQ(raw.formattingLine("r.img"),
              "Formatting 'r.img', fmt=raw size=512 preallocation=falloc");
}

TEST(CreateOptionList, RejectsBadOptions) {
    CreateOptionList o("qcow2");
    EXPECT_THROW(o.parse("bogus=1", "t"), CommandFailure);
    EXPECT_THROW(o.parse("cluster_size=abc", "t"), CommandFailure);
    EXPECT_THROW(o.parse("lazy_refcounts=maybe", "t"), CommandFailure);
    EXPECT_THROW(o.parse("noequals", "t"), CommandFailure);
    // Words the format refuses pass the parse and fail checkValues (after the Formatting line).
    o.parse("preallocation=lots", "t");
    EXPECT_THROW(o.checkValues("t"), CommandFailure);
    CreateOptionList raw("raw");
    EXPECT_THROW(raw.parse("cluster_size=4k", "r"), CommandFailure);
    raw.parse("preallocation=metadata", "r");
    EXPECT_THROW(raw.checkValues("r"), CommandFailure);
}

TEST(ImageCopy, ZeroDetection) {
    std::vector<uint8_t> buf(4096 + 7, 0);
    EXPECT_TRUE(e2kvm::block::isAllZero(buf.data(), buf.size()));
    EXPECT_TRUE(e2kvm::block::isAllZero(buf.data(), 0));
    for (size_t pos : {size_t(0), size_t(63), size_t(64), size_t(4095), size_t(4102)}) {
        buf[pos] = 1;
        EXPECT_FALSE(e2kvm::block::isAllZero(buf.data(), buf.size())) << pos;
        buf[pos] = 0;
    }
}

namespace {

// A scratch directory removed at the end of the test.
struct ScratchDir {
    std::string path;
    ScratchDir() {
        char tmpl[] = "/tmp/img-unit-XXXXXX";
        path = mkdtemp(tmpl);
    }
    ~ScratchDir() { std::filesystem::remove_all(path); }
};

std::vector<uint8_t> readAll(e2kvm::block::BlockDriver& d) {
    std::vector<uint8_t> out(d.size());
    d.read(0, out);
    return out;
}

} // namespace

// copyImage through every mode, checked byte for byte (runs under the sanitizers too).
TEST(ImageCopy, CopiesRawAndQcow2InEveryMode) {
    namespace blk = e2kvm::block;
    ScratchDir dir;
    const uint64_t size = (9 << 20) + 4096 * 3;
    std::string srcPath = dir.path + "/src.raw";
    blk::CreateOptions co;
    co.size = size;
    blk::createImage(srcPath, co);
    {
        auto src = blk::openImage(srcPath, {.format = "raw", .readOnly = false});
        std::vector<uint8_t> data(300000);
        for (size_t i = 0; i < data.size(); ++i)
            data[i] = uint8_t(i * 7 + 1);
        src->write(12345, data);
        src->write(5 << 20, data);
        std::vector<uint8_t> zeros(1 << 20);
        src->write(7 << 20, zeros); // zeros stored as data
        src->write(size - 1000, std::span(data.data(), 1000));
    }
    auto src = blk::openImage(srcPath, {.format = "raw"});
    std::vector<uint8_t> expected = readAll(*src);

    struct Mode {
        const char* format;
        unsigned workers;
        bool ordered;
        uint64_t minSparse;
        bool compress;
        bool prefill; // target holds other data first (convert -n)
    };
    for (Mode m :
         {Mode{"raw", 1, false, 4096, false, false}, Mode{"raw", 4, false, 4096, false, true},
          Mode{"raw", 3, true, 0, false, false}, Mode{"qcow2", 4, true, 4096, false, false},
          Mode{"qcow2", 2, true, 65536, false, true}, Mode{"qcow2", 4, true, 4096, true, false}}) {
        std::string dstPath = dir.path + "/dst." + m.format;
        blk::CreateOptions dco;
        dco.format = m.format;
        dco.size = size;
        blk::createImage(dstPath, dco);
        auto dst = blk::openImage(dstPath, {.format = m.format, .readOnly = false});
        if (m.compress && !dst->supportsCompression())
            continue;
        if (m.prefill) {
            std::vector<uint8_t> junk(size, 0xee);
            dst->write(0, junk);
        }
        e2kvm::block::CopySettings s;
        s.workers = m.workers;
        s.orderedWrites = m.ordered;
        s.minSparse = m.minSparse;
        s.compress = m.compress;
        s.targetReadsZero = !m.prefill;
        uint64_t advanced = 0;
        e2kvm::block::copyImage(*src, *dst, s, [&advanced](uint64_t n) { advanced += n; });
        EXPECT_EQ(advanced, size);
        EXPECT_TRUE(readAll(*dst) == expected)
            << m.format << " workers=" << m.workers << " minSparse=" << m.minSparse
            << " compress=" << m.compress << " prefill=" << m.prefill;
    }
}
