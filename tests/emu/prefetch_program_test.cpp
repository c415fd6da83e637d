// Array prefetch programs (`fapb`): the bytes MCST's as (binutils 2.35, -mcpu=elbrus-v3) gave
// for the same sources, the text MCST's objdump prints for them, the source form
// e2kvm-objdump --source prints assembling back to the same bytes, and clear errors.
#include "emu/asm/AsmError.h"
#include "emu/asm/Assembler.h"
#include "emu/asm/BundleEncoder.h"
#include "emu/asm/PrefetchInstruction.h"

#include "HexText.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

using namespace e2kvm::emu;
using e2kvm::emu::test::bytesOf;
using e2kvm::emu::test::hexBytes;
using e2kvm::emu::test::hexWords;

namespace {

std::string errorOf(const std::string& text) {
    try {
        assembleBundleText(text);
    } catch (const AsmError& e) {
        return e.what();
    }
    return "";
}

// Each: the instruction, MCST's words (APS0 APLS0 APS1 APLS1), MCST objdump's two lines.
struct Golden {
    const char* text;
    const char* words;
    const char* left;
    const char* right;
};

const Golden kGolden[] = {
    {"fapb ct=1, dcd=0, fmt=1, mrng=8, d=0, incr=0, ind=0, asz=1, abs=0, disp=0",
     "82800020 00000000 00000000 00000000 ",
     "apb ct=1, dcd=0, fmt=1, mrng=8, d=0, incr=0, ind=0, asz=1, abs=0, disp=0x0",
     "apb dpl=0, fmt=0"},
    {"fapb ct=1, dcd=0, fmt=1, mrng=8, d=0, incr=0, ind=0, asz=1, abs=0, disp=0\n"
     "fapb dpl=1, dcd=2, fmt=3, mrng=8, d=1, incr=1, ind=1, asz=2, abs=3, disp=0x10",
     "82800020 00000000 a6809143 00000010 ",
     "apb ct=1, dcd=0, fmt=1, mrng=8, d=0, incr=0, ind=0, asz=1, abs=0, disp=0x0",
     "apb dpl=1, dcd=2, fmt=3, mrng=8, d=1, incr=1, ind=1, asz=2, abs=3, disp=0x10"},
    {"fapb dpl=1, fmt=5, disp=-1", "00000000 00000000 8a000000 ffffffff ", "apb ct=0, fmt=0",
     "apb dpl=1, dcd=0, fmt=5, mrng=0, d=0, incr=0, ind=0, asz=0, abs=0, disp=0xffffffff"},
    {"fapb ct=0, si=1, fmt=2, be=1, am=1, area=5, disp=0xfffffff0; fapb dpl=0",
     "44006500 fffffff0 00000000 00000000 ",
     "apb ct=0, dcd=0, fmt=2, mrng=0, d=0, incr=6, ind=5, asz=0, abs=0, disp=0xfffffff0",
     "apb dpl=0, fmt=0"},
    {"fapb ct=1, fmt=7, mrng=31, d=31, incr=7, ind=15, asz=7, abs=31",
     "8fffffff 00000000 00000000 00000000 ",
     "apb ct=1, dcd=0, fmt=7, mrng=31, d=31, incr=7, ind=15, asz=7, abs=31, disp=0x0",
     "apb dpl=0, fmt=0"},
    {"fapb ct=0, dcd=1, fmt=2, mrng=3, d=5, incr=2, ind=3, asz=5, abs=3, disp=7",
     "1432a3a3 00000007 00000000 00000000 ",
     "apb ct=0, dcd=1, fmt=2, mrng=3, d=5, incr=2, ind=3, asz=5, abs=3, disp=0x7",
     "apb dpl=0, fmt=0"},
};

TEST(PrefetchProgram, WordsAreMcsts) {
    for (const Golden& g : kGolden) {
        std::string text = g.text;
        for (char& c : text)
            if (c == '\n')
                c = ';';
        EXPECT_EQ(hexWords(assembleBundleText(text)), g.words) << g.text;
    }
}

TEST(PrefetchProgram, ListingIsMcstObjdumps) {
    for (const Golden& g : kGolden) {
        std::string text = g.text;
        for (char& c : text)
            if (c == '\n')
                c = ';';
        std::vector<uint8_t> bytes = bytesOf(assembleBundleText(text));
        auto halves = prefetchListing(bytes.data());
        EXPECT_EQ(halves[0], g.left) << g.text;
        EXPECT_EQ(halves[1], g.right) << g.text;
    }
}

TEST(PrefetchProgram, SourceFormAssemblesBack) {
    for (const Golden& g : kGolden) {
        std::string text = g.text;
        for (char& c : text)
            if (c == '\n')
                c = ';';
        std::vector<uint32_t> words = assembleBundleText(text);
        std::vector<uint8_t> bytes = bytesOf(words);
        EXPECT_EQ(assembleBundleText(prefetchSource(bytes.data())), words) << g.text;
    }
    // Any 16 bytes have a source form (a fapb half is fully described by its fields).
    const std::vector<uint32_t> odd = {0x7fffffff, 0x12345678, 0xc0000001, 0x0};
    std::vector<uint8_t> bytes = bytesOf(odd);
    EXPECT_EQ(assembleBundleText(prefetchSource(bytes.data())), odd);
}

// An object as the suite writes one (aau/mova.S): a label, fapb in and outside braces, after
// an 8-byte bundle (no further alignment). MCST's .text bytes for it.
TEST(PrefetchProgram, ObjectTextIsMcsts) {
    const char* const source =
        "    .text\n"
        "    nop\n"
        "aau:\n"
        "    {\n"
        "        fapb ct=1, dcd=0, fmt=1, mrng=8, d=0, incr=0, ind=0, asz=1, abs=0, disp=0\n"
        "        fapb dpl=1, dcd=2, fmt=3, mrng=8, d=1, incr=1, ind=1, asz=2, abs=3, disp=0x10\n"
        "    }\n"
        "    fapb dpl=1, fmt=5, disp=-1\n"
        "    { fapb ct=0, si=1, fmt=2, be=1, am=1, area=5, disp=0xfffffff0 ; fapb dpl=0 }\n"
        "    fapb ct=1, fmt=7, mrng=31, d=31, incr=7, ind=15, asz=7, abs=31\n";
    const std::string mcst = "00000000000000002000808200000000439180a6100000000000000000000000"
                             "0000008affffffff00650044f0ffffff0000000000000000ffffff8f00000000"
                             "0000000000000000";
    AsmObject obj = assembleObject(source, "t.s");
    ASSERT_FALSE(obj.sections.empty());
    std::string hex;
    char buf[4];
    for (uint8_t b : obj.sections[0].bytes) {
        std::snprintf(buf, sizeof buf, "%02x", b);
        hex += buf;
    }
    EXPECT_EQ(obj.sections[0].name, ".text");
    EXPECT_EQ(hex, mcst);
}

TEST(PrefetchProgram, Errors) {
    EXPECT_NE(errorOf("fapb ct=1, frob=2").find("unknown field 'frob'"), std::string::npos);
    EXPECT_NE(errorOf("fapb ct=1, dpl=1").find("exclude each other"), std::string::npos);
    EXPECT_NE(errorOf("fapb fmt=1").find("needs ct="), std::string::npos);
    EXPECT_NE(errorOf("fapb ct=1; fapb ct=0").find("written twice"), std::string::npos);
    EXPECT_NE(errorOf("fapb ct=1, fmt=1, fmt=2").find("given twice"), std::string::npos);
    EXPECT_NE(errorOf("fapb ct=1, fmt=8").find("fmt=8 does not fit 3 bits"), std::string::npos);
    EXPECT_NE(errorOf("fapb ct=1, disp=0x100000000").find("does not fit 32 bits"),
              std::string::npos);
    EXPECT_NE(errorOf("fapb ct=1, area=3").find("need si=1"), std::string::npos);
    EXPECT_NE(errorOf("fapb ct=1, si=1, ind=3").find("cannot go with si=1"), std::string::npos);
    EXPECT_NE(errorOf("fapb ct=1; addd,0 0, 1, %r0").find("cannot share a bundle"),
              std::string::npos);
}

} // namespace
