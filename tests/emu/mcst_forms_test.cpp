// Operand forms of MCST's as that the qemu-e2k-tests suite uses, checked against the bytes
// MCST's as (binutils 2.35, -mcpu=elbrus-v3) gave for the same sources: a %pred and a %pcnt
// condition on one operation ("? %pred0, %pcnt0"), "[ expr ]" as src2, explicit literal
// formats and places ("_f16s,_lts0lo 0x7fff", which the disassembler prints where needed),
// and relocations listed in the order of the words they patch.
#include "emu/asm/AsmError.h"
#include "emu/asm/Assembler.h"
#include "emu/asm/BundleEncoder.h"
#include "emu/asm/Disassembler.h"
#include "emu/cpu/Bundle.h"

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

const char* const kConditionsAndBrackets =
    "    .text\n"
    "    { addd,0 0, 0, %r1 ? %pcnt1, %pred4 ; addd,1 0, 0, %r2 ? %pred2, %pcnt3 }\n"
    "    { addd,3 0, 0, %r1 ? %pcnt1, %pred4 ; addd,1 0, 0, %r2 ? %pred2, %pcnt3; "
    "addd,0 0, 0, %r3 ? %pcnt1 }\n"
    "    {\n"
    "        loop_mode\n"
    "        addd,0 0, 0, %empty ? %pred0, %pcnt0\n"
    "    }\n"
    "    { addd,0 0, 0, %r1 ? ~%pred3, %pcnt5 }\n"
    "    { addd,0 0, 0, %r1 ? %pred3 ; addd,1 0, 0, %r2 ? %pred3, %pcnt2 }\n"
    "    { ldd,0 %r2, %r3, %r0 ? %pred1, %pcnt1 }\n"
    "    {\n"
    "        ldd,0 0, [ buffer + 0 ], %r0\n"
    "        ldd,2 0, [ buffer + 8 ], %r1\n"
    "    }\n"
    "    { ldd,0 %r2, [ 8 ], %r0 }\n"
    "    { ldd,0 %r2, [ %r3 ], %r0 }\n"
    "    { addd,0 0, [ buffer + 16 ], %r0 }\n"
    "    .data\n"
    "buffer: .quad 0\n";

// MCST's .text for the source above.
const char* const kConditionsAndBracketsText =
    "2200020c81c0c01182c0c0110000000043086208410464043300032c83c0c011"
    "82c0c01181c0c0110000000000004104430862084144644411040104dfc0c011"
    "00000000400460041100010481c0c011000000004504e3041200010c81c0c011"
    "82c0c0114208630c110001048083826700000000410461043200001480dcc067"
    "81dec06700000000000000000800000000000000000000000100000480c88267"
    "01000004808382671100000480dcc0110000000010000000";

const char* const kExplicitLiterals =
    "    .text\n"
    "    addd,0 0, _f16s,_lts0lo 0x7fff, %r1\n"
    "    addd,0 0, _f16s,_lts0hi 0x7fff, %r2\n"
    "    addd,0 0, _f16s, _lts1lo 0xffff, %r3\n"
    "    adds,0 0, _f16s,_lts1hi 3, %r4\n"
    "    addd,0 0, _f32s,_lts2 0x80000000, %r5\n"
    "    addd,0 0, _f32s,_lts3 0xffffffff, %r6\n"
    "    addd,0 0, _f64,_lts1 0xffffffffffffffff, %r7\n"
    "    addd,0 0, _f64,_lts2 0x1122334455667788, %r8\n"
    "    addd,0 0, _f16s 0x7fff, %r9\n"
    "    addd,0 0, _f32s 5, %r10\n"
    "    addd,0 0, _f64 5, %r11\n"
    "    addd,0 0, _f16s,_lts0lo (1+2), %r12\n"
    "    { addd,0 0, _f16s,_lts0lo 0x7fff, %r1; addd,1 0, 0x7fff, %r2 }\n"
    "    { addd,0 0, _f32s,_lts0 5, %r1; addd,1 0, 0x12345, %r2 }\n"
    "    addd,0 0, _f32s,_lts3 sym, %r1\n"
    "    addd,0 0, _f64,_lts0 sym, %r1\n"
    "    addd,0 0, _f32s sym+4, %r1\n";

// MCST's .text for the source above.
const char* const kExplicitLiteralsText =
    "1100000481d0c01100000000ff7f00001100000482d4c011000000000000ff7f"
    "1100000483d1c011ffff0000000000001100000484d5c0100000030000000000"
    "2100000485dac011000000000000008000000000000000002100000486dbc011"
    "ffffffff0000000000000000000000002100000487ddc01100000000ffffffff"
    "ffffffff000000002100000488dec01144332211887766550000000000000000"
    "1100000489d4c011000000000000ff7f110000048ad8c0110000000005000000"
    "110000048bdcc0110000000005000000110000048cd0c0110000000003000000"
    "1200000c81d0c01182d0c011ff7f00002200000c81d8c01182d9c01100000000"
    "45230100050000002100000481dbc01100000000000000000000000000000000"
    "1100000481dcc01100000000000000001100000481d8c0110000000000000000";

TEST(McstForms, PredAndPcntConditionsAndBracketedSrc2) {
    AsmObject obj = assembleObject(kConditionsAndBrackets, "t.s");
    ASSERT_FALSE(obj.sections.empty());
    ASSERT_EQ(obj.sections[0].name, ".text");
    EXPECT_EQ(hexBytes(obj.sections[0].bytes), kConditionsAndBracketsText);
    // MCST's relocations, in this order: the bundle's higher literal word (LTS2-3, ldd,2's)
    // comes first in memory, so its relocation is listed first.
    const std::vector<AsmRelocation>& r = obj.sections[0].relocations;
    ASSERT_EQ(r.size(), 3u);
    EXPECT_EQ(r[0].offset, 0x88u);
    EXPECT_EQ(r[0].addend, 8);
    EXPECT_EQ(r[1].offset, 0x90u);
    EXPECT_EQ(r[1].addend, 0);
    EXPECT_EQ(r[2].offset, 0xb0u);
    EXPECT_EQ(r[2].addend, 0x10);
    for (const AsmRelocation& x : r) {
        EXPECT_EQ(x.type, kRelE2k64AbsLit);
        EXPECT_EQ(x.symbol, ".data");
    }
}

TEST(McstForms, ConditionErrors) {
    EXPECT_NE(errorOf("addd,0 0, 0, %r1 ? %pred1, %pred4").find("two %pred"), std::string::npos);
    EXPECT_NE(errorOf("addd,0 0, 0, %r1 ? %pcnt1, %pcnt2").find("two %pcnt"), std::string::npos);
    EXPECT_NE(errorOf("addd,0 0, 0, %r1 ? %pred1, %pcnt2, %pred3").find("at most"),
              std::string::npos);
}

TEST(McstForms, ExplicitLiteralFormatsAndPlaces) {
    AsmObject obj = assembleObject(kExplicitLiterals, "t.s");
    ASSERT_FALSE(obj.sections.empty());
    ASSERT_EQ(obj.sections[0].name, ".text");
    EXPECT_EQ(hexBytes(obj.sections[0].bytes), kExplicitLiteralsText);
    // MCST's relocations: a 32-bit literal keeps its addend only in the relocation, a
    // 64-bit one in both.
    const std::vector<AsmRelocation>& r = obj.sections[0].relocations;
    ASSERT_EQ(r.size(), 3u);
    EXPECT_EQ(r[0].offset, 0x110u);
    EXPECT_EQ(r[0].type, kRelE2k32Abs);
    EXPECT_EQ(r[1].offset, 0x128u);
    EXPECT_EQ(r[1].type, kRelE2k64AbsLit);
    EXPECT_EQ(r[2].offset, 0x13cu);
    EXPECT_EQ(r[2].type, kRelE2k32Abs);
    EXPECT_EQ(r[2].addend, 4);
    for (const AsmRelocation& x : r)
        EXPECT_EQ(x.symbol, "sym");
}

TEST(McstForms, ExplicitLiteralInBundles) {
    // MCST's words: the 4-operand form is the same as the one-operand one.
    EXPECT_EQ(hexWords(assembleBundleText("addd,0 0, _f16s,_lts0lo 0x7fff, %r1")),
              "04000011 11c0d081 00000000 00007fff ");
    EXPECT_EQ(hexWords(assembleBundleText("addd,0 0, _f16s , _lts0lo  0x7fff, %r1")),
              "04000011 11c0d081 00000000 00007fff ");
    EXPECT_EQ(hexWords(assembleBundleText("addd,0 0, _f64,_lts0 0xffffffffffffffff, %r17")),
              "04000011 11c0dc91 ffffffff ffffffff ");
}

TEST(McstForms, ExplicitLiteralErrors) {
    EXPECT_NE(errorOf("addd,0 0, _f16s,_lts2lo 1, %r1").find("bad literal place"),
              std::string::npos);
    EXPECT_NE(errorOf("addd,0 0, _f16s,_lts0 1, %r1").find("bad literal place"), std::string::npos);
    EXPECT_NE(errorOf("addd,0 0, _f32s,_lts4 1, %r1").find("bad literal place"), std::string::npos);
    EXPECT_NE(errorOf("addd,0 0, _f64,_lts3 1, %r1").find("bad literal place"), std::string::npos);
    EXPECT_NE(errorOf("addd,0 0, _f16s,_lts0lo 0x17fff, %r1").find("does not fit 16 bits"),
              std::string::npos);
    EXPECT_NE(errorOf("addd,0 0, _f32s 0x100000000, %r1").find("does not fit 32 bits"),
              std::string::npos);
    // Two literals for one place.
    EXPECT_NE(errorOf("addd,0 0, _f16s,_lts0lo 5, %r1; addd,1 0, _f16s,_lts0lo 6, %r2")
                  .find("too many literals"),
              std::string::npos);
}

TEST(McstForms, DisassemblyKeepsLiteralFormatsAndPlaces) {
    // MCST's words for each bundle, and how e2kvm's disassembler prints it so that it
    // assembles back to them: the format where the value alone would give another encoding,
    // the places as well where the assembler would place the literals elsewhere.
    const struct {
        std::vector<uint32_t> words;
        const char* text;
    } cases[] = {
        {{0x0c000022, 0x11c0d581, 0x11c0d482, 0x00000000, 0x7fff0000, 0x00120000},
         "{ addd,0 0, _f16s,_lts1hi 0x7fff, %dr1; addd,1 0, _f16s,_lts0hi 0x12, %dr2 }"},
        {{0x04000011, 0x64c0dcf4, 0x00000000, 0x00011190}, "{ ldb,0 0, _f64 0x11190, %dg20 }"},
        {{0x04000011, 0x11c0d881, 0x00000000, 0x00000005}, "{ addd,0 0, _f32s 5, %dr1 }"},
        {{0x10000011, 0x24c0dcf4, 0x00000000, 0x00011380}, "{ stb,2 %g20, [ 0 + _f64 0x11380 ] }"},
    };
    for (const auto& c : cases) {
        std::vector<uint8_t> bytes;
        for (uint32_t w : c.words)
            for (unsigned i = 0; i < 4; ++i)
                bytes.push_back(uint8_t(w >> (8 * i)));
        RawBundle raw;
        ASSERT_TRUE(unpackBundle(bytes.data(), bytes.size(), raw)) << c.text;
        const std::string text = disassembleBundle(raw, 0);
        EXPECT_EQ(text, c.text);
        EXPECT_EQ(assembleBundleText(text), c.words) << text;
    }
}

} // namespace
