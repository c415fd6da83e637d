// e2kvm-as as a GNU as, checked against bytes MCST's as (binutils 2.35, -mcpu=elbrus-v3) gave
// for the same sources: a whole relocatable object (macros with defaults and :req, .rept with
// a .set count, .irp, .set/.equ, numeric local labels, expressions, .section, .balign, .fill,
// .type/.size, relocations and the symbol table), MCST's literal placement, and clear errors.
#include "emu/asm/AsmError.h"
#include "emu/asm/Assembler.h"
#include "emu/asm/BundleEncoder.h"
#include "emu/asm/ElfObject.h"

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

const char* const kSource =
    "    .macro load_const value, reg=%r1\n"
    "        addd,0 0, \\value, \\reg\n"
    "    .endm\n"
    "    .macro twice op:req\n"
    "        \\op\n"
    "        \\op\n"
    "    .endm\n"
    "    .set COUNT, 3\n"
    "    .equ BASE, 0x1000\n"
    "    .text\n"
    "    .global entry\n"
    "    .type entry, #function\n"
    "    .align 8\n"
    "entry:\n"
    "    load_const 5\n"
    "    load_const BASE + (COUNT << 4) * 2 - 1, %r2\n"
    "    twice nop\n"
    "    .rept COUNT - 1\n"
    "    { adds,1 0, 0x8000, %r3 }\n"
    "    .endr\n"
    "    .irp r, %r4, %r5\n"
    "    { addd,0 0, -1, \\r }\n"
    "    .endr\n"
    "1:  ibranch 1f\n"
    "    ibranch 1b\n"
    "1:  { addd,2 0, message, %r6; addd,3 0, 0x1234, %r7; addd,4 0, 0x12345678, %r8 }\n"
    "    { disp %ctpr1, external }\n"
    "    cmpesb %r1, %r2, %pred0\n"
    "    .size entry, . - entry\n"
    "    .section \".rodata\"\n"
    "message: .asciz \"hi\\n\"\n"
    "length = . - message\n"
    "    .data\n"
    "    .balign 8\n"
    "table: .quad entry, message + 2\n"
    "    .word length, COUNT\n"
    "    .byte 1, 2\n"
    "    .hword 0x1234\n"
    "    .fill 3, 2, -1\n";

// e2k-linux-as -mcpu=elbrus-v3 -o t1.o t1.s (the source above), the whole file.
const char* const kMcstObject = "7f454c460201010000000000000000000100af0001000000000000000000000000"
                                "000000000000002803000000000000"
                                "0000000340000000000040000a0009000100000481c5c0111100000482d4c01100"
                                "00000000005f100000000000000000"
                                "00000000000000001100000883d8c01000000000008000001100000883d8c01000"
                                "000000008000001100000484d4c011"
                                "000000000000ffff1100000485d4c011000000000000ffff12500000200000c004"
                                "0000000000000012500000200000c0"
                                "feffff0f000000003300007086ddc01187d4c01188d8c011000000000000000000"
                                "000000785634120140000000000040"
                                "010100044082812000000000000000000000000000000000000000000000000004"
                                "0000000300000001023412ffffffff"
                                "ffff000000000000000000000000000068690a0000000000000000000000000000"
                                "000000000000000000000000000000"
                                "000000000300010000000000000000000000000000000000000000000300030000"
                                "000000000000000000000000000000"
                                "000000000300050000000000000000000000000000000000010000000000f1ff03"
                                "000000000000000000000000000000"
                                "070000000000f1ff001000000000000000000000000000000c0000000000060000"
                                "000000000000000000000000000000"
                                "000000000300060000000000000000000000000000000000140000000000f1ff04"
                                "000000000000000000000000000000"
                                "1b0000000000030000000000000000000000000000000000210000001200010000"
                                "00000000000000b800000000000000"
                                "27000000100000000000000000000000000000000000000000434f554e54004241"
                                "5345006d657373616765006c656e67"
                                "7468007461626c6500656e7472790065787465726e616c009c0000000000000033"
                                "000000070000000000000000000000"
                                "ac000000000000006e0000000b0000000400000000000000000000000000000032"
                                "0000000a0000000000000000000000"
                                "080000000000000032000000070000000200000000000000002e73796d74616200"
                                "2e737472746162002e736873747274"
                                "6162002e72656c612e74657874002e72656c612e64617461002e627373002e726f"
                                "646174610000000000000000000000"
                                "000000000000000000000000000000000000000000000000000000000000000000"
                                "000000000000000000000000000000"
                                "000000000000000020000000010000000600000000000000000000000000000040"
                                "00000000000000b800000000000000"
                                "0000000000000000080000000000000000000000000000001b0000000400000040"
                                "000000000000000000000000000000"
                                "880200000000000030000000000000000700000001000000080000000000000018"
                                "000000000000002b00000001000000"
                                "030000000000000000000000000000000001000000000000220000000000000000"
                                "000000000000001000000000000000"
                                "0000000000000000260000000400000040000000000000000000000000000000b8"
                                "020000000000003000000000000000"
                                "070000000300000008000000000000001800000000000000310000000800000003"
                                "000000000000000000000000000000"
                                "220100000000000000000000000000000000000000000000010000000000000000"
                                "000000000000003600000001000000"
                                "020000000000000000000000000000003001000000000000040000000000000000"
                                "000000000000001000000000000000"
                                "000000000000000001000000020000000000000000000000000000000000000038"
                                "010000000000002001000000000000"
                                "080000000a00000008000000000000001800000000000000090000000300000000"
                                "000000000000000000000000000000"
                                "580200000000000030000000000000000000000000000000010000000000000000"
                                "000000000000001100000003000000"
                                "00000000000000000000000000000000e8020000000000003e0000000000000000"
                                "000000000000000100000000000000"
                                "0000000000000000";

std::vector<uint8_t> fromHex(const std::string& h) {
    std::vector<uint8_t> out;
    for (size_t i = 0; i + 1 < h.size(); i += 2)
        out.push_back(uint8_t(std::stoul(h.substr(i, 2), nullptr, 16)));
    return out;
}

std::string errorOf(const std::string& src) {
    try {
        assembleObject(src, "t.s");
    } catch (const AsmError& e) {
        return e.what();
    }
    return "";
}

} // namespace

TEST(GnuAs, ObjectIsByteIdenticalToMcst) {
    std::vector<uint8_t> ours = writeObject(assembleObject(kSource, "t1.s"), 3u << 24);
    std::vector<uint8_t> mcst = fromHex(kMcstObject);
    ASSERT_EQ(ours.size(), mcst.size());
    for (size_t i = 0; i < ours.size(); ++i)
        ASSERT_EQ(ours[i], mcst[i]) << "first difference at byte " << i;
}

TEST(GnuAs, ObjectSymbolsAndRelocations) {
    AsmObject obj = assembleObject(kSource, "t1.s");
    ASSERT_GE(obj.sections.size(), 4u);
    EXPECT_EQ(obj.sections[0].name, ".text");
    EXPECT_EQ(obj.sections[3].name, ".rodata");
    const AsmSection& text = obj.sections[0];
    ASSERT_EQ(text.relocations.size(), 2u);
    EXPECT_EQ(text.relocations[0].type, kRelE2k64AbsLit);
    EXPECT_EQ(text.relocations[0].offset, 0x9cu);
    EXPECT_TRUE(text.relocations[0].sectionSymbol);
    EXPECT_EQ(text.relocations[1].type, kRelE2kDisp);
    EXPECT_EQ(text.relocations[1].symbol, "external");
    EXPECT_EQ(text.relocations[1].addend, 4);
    bool entry = false;
    for (const AsmSymbol& s : obj.symbols)
        if (s.name == "entry") {
            entry = true;
            EXPECT_TRUE(s.global);
            EXPECT_EQ(s.type, 2); // STT_FUNC
            EXPECT_EQ(s.size, 0xb8u);
        }
    EXPECT_TRUE(entry);
}

TEST(GnuAs, LiteralPlacementIsMcsts) {
    // Each line: the bundle, then MCST's words for it.
    const char* const cases[][2] = {
        {"addd,0 0, 0x12345678, %dr0; addd,1 0, 0x12345678, %dr1",
         "0c000012 11c0d880 11c0d881 12345678 "},
        {"addd,0 0, 100, %dr0; addd,1 0, 200, %dr1; addd,2 0, 300, %dr2; addd,3 0, 400, %dr3; "
         "addd,4 0, 500, %dr4",
         "7c000045 11c0d480 11c0d081 11c0d582 11c0d183 11c0da84 00000000 000001f4 012c0190 "
         "006400c8 "},
        {"addd,0 0, 100, %dr0; addd,1 0, 0x123456789, %dr1; addd,2 0, 300, %dr2",
         "1c000033 11c0d480 11c0dd81 11c0d082 00000000 00000001 23456789 0064012c "},
        {"addd,0 0, 0x12345, %dr0; addd,1 0, 100, %dr1; addd,2 0, 300, %dr2",
         "1c000023 11c0d880 11c0d581 11c0d182 0064012c 00012345 "},
        {"addd,0 0, 100, %dr0; addd,1 0, 100, %dr1", "0c000012 11c0d480 11c0d481 00640000 "},
        {"setwd wsz=4; addd,0 0, 100, %dr0; addd,1 0, 0x123456789, %dr1",
         "0c008033 11c0d580 11c0de81 00000000 00000001 23456789 00640000 00000080 "},
        {"addd,0 0, 0x123456789, %dr0; addd,1 0, 0x12345, %dr1; addd,2 0, 200, %dr2",
         "1c000033 11c0de80 11c0d881 11c0d582 00000001 23456789 00c80000 00012345 "},
        {"addd,3 0, 100, %dr0; addd,1 0, 0x12345, %dr1",
         "28000022 11c0d881 11c0d580 00000000 00640000 00012345 "},
        {"addd,0 0, 0x12345, %dr0; addd,1 0, 0x12345, %dr1; addd,2 0, 100, %dr2; "
         "addd,3 0, 100, %dr3",
         "3c000034 11c0d880 11c0d881 11c0d582 11c0d583 00000000 00640000 00012345 "},
    };
    for (const auto& c : cases)
        EXPECT_EQ(hexWords(assembleBundleText(c[0])), c[1]) << c[0];
}

TEST(GnuAs, MacroAndDirectiveErrors) {
    EXPECT_NE(errorOf(".macro m a:req\n addd,0 0, \\a, %r0\n.endm\nm\n").find("required"),
              std::string::npos);
    EXPECT_NE(errorOf(".macro m\n{ nop 1 }\n").find("missing .endm"), std::string::npos);
    EXPECT_NE(errorOf(".rept 2\n{ nop 1 }\n").find("missing .endr"), std::string::npos);
    EXPECT_NE(errorOf(".endr\n").find("without a matching start"), std::string::npos);
    EXPECT_NE(errorOf("ibranch 1b\n").find("no earlier local label"), std::string::npos);
    EXPECT_NE(errorOf(".popsection\n").find(".popsection"), std::string::npos);
    EXPECT_NE(errorOf(".byte sym\n").find("relocatable"), std::string::npos);
    EXPECT_NE(errorOf(".frob 1\n").find("t.s:1: unknown directive .frob"), std::string::npos);
}

TEST(GnuAs, IntegerSuffixesAndExpressions) {
    AsmObject obj = assembleObject(".data\n.quad (1UL << 40) | 0x10ULL, -(2 * 3) + 7 % 4\n", "t.s");
    ASSERT_GE(obj.sections.size(), 2u);
    const std::vector<uint8_t>& d = obj.sections[1].bytes;
    ASSERT_EQ(d.size(), 16u);
    EXPECT_EQ(d[0], 0x10);
    EXPECT_EQ(d[5], 0x01);
    EXPECT_EQ(d[8], uint8_t(-3));
    EXPECT_EQ(d[15], 0xFF);
}
