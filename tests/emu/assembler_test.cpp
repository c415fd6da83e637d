// Assembler behaviour beyond the golden encodings: labels and sections, literal sharing,
// and clear errors (with file:line) for invalid input.
#include "emu/asm/AsmError.h"
#include "emu/asm/Assembler.h"
#include "emu/asm/BundleEncoder.h"
#include "emu/asm/ElfImage.h"

#include <gtest/gtest.h>

using namespace e2kvm::emu;

namespace {
std::string errorOf(const std::string& src) {
    try {
        assemble(src, "t.s");
    } catch (const AsmError& e) {
        return e.what();
    }
    return "";
}
} // namespace

TEST(Assembler, SectionsLabelsAndEntry) {
    AsmImage img = assemble(".text\nfoo: { nop 1 }\n_start: { disp %ctpr1, foo }\n"
                            ".data\nv: .word 1, 2\n.dword v\n.bss\nb: .zero 100\n",
                            "t.s");
    EXPECT_EQ(img.textAddr, 0x10000u);
    EXPECT_EQ(img.entry, 0x10008u);
    EXPECT_EQ(img.dataAddr, 0x11000u);
    ASSERT_EQ(img.data.size(), 16u);
    EXPECT_EQ(img.data[0], 1);
    EXPECT_EQ(img.data[4], 2);
    EXPECT_EQ(img.data[8], 0x00); // v = 0x11000
    EXPECT_EQ(img.data[9], 0x10);
    EXPECT_EQ(img.data[10], 0x01);
    EXPECT_EQ(img.bssSize, 100u);
    std::vector<uint8_t> elf = writeElf(img);
    ElfExecutable exe = readElf(elf, "t");
    EXPECT_EQ(exe.entry, 0x10008u);
    EXPECT_EQ(exe.flags >> 24, 3u);
    ASSERT_EQ(exe.segments.size(), 2u);
    EXPECT_EQ(exe.segments[1].memSize, 16u + 100u); // data, then bss at the next 16 bytes
}

TEST(Assembler, ErrorsCarryFileAndLine) {
    EXPECT_NE(errorOf("{ nop 1 }\n{ frobd,0 %dr0, %dr1, %dr2 }\n").find("t.s:2:"),
              std::string::npos);
    EXPECT_NE(errorOf("{ udivd,0 %dr0, %dr1, %dr2 }").find("cannot run in channel 0"),
              std::string::npos);
    EXPECT_NE(errorOf("{ addd,0 0, 1, %dr0; addd,0 0, 2, %dr1 }").find("used twice"),
              std::string::npos);
    EXPECT_NE(errorOf("{ addd,0 40, 1, %dr0 }").find("0..31"), std::string::npos);
    EXPECT_NE(errorOf("{ disp %ctpr1, nowhere }").find("undefined symbol"), std::string::npos);
    EXPECT_NE(errorOf("{ call %ctpr1, wbs=4; setwd wsz=4 }").find("CS1"), std::string::npos);
    EXPECT_NE(errorOf("{ addd,0 0, 1, %dr0").find("unterminated"), std::string::npos);
    EXPECT_NE(errorOf(".data\n{ nop 1 }").find(".text"), std::string::npos);
    EXPECT_NE(errorOf("x: { nop 1 }\nx: { nop 1 }").find("twice"), std::string::npos);
    // Five distinct 64-bit literals cannot fit the four LTS words.
    EXPECT_NE(errorOf("{ addd,0 0, 0x100000000, %dr0; addd,1 0, 0x200000000, %dr1; "
                      "addd,2 0, 0x300000000, %dr2 }")
                  .find("literals"),
              std::string::npos);
}

TEST(Assembler, LiteralsAreShared) {
    // Same 32-bit literal in two channels -> one LTS word.
    auto w = assembleBundleText("{ addd,0 0, 0x12345678, %dr0; addd,1 0, 0x12345678, %dr1 }");
    EXPECT_EQ(w.size(), 4u); // HS, ALS0, ALS1, LTS0
    // Many 16-bit literals spill into 32-bit words with the same value.
    auto v = assembleBundleText("{ addd,0 0, 100, %dr0; addd,1 0, 200, %dr1; addd,2 0, 300, "
                                "%dr2; addd,3 0, 400, %dr3; addd,4 0, 500, %dr4 }");
    EXPECT_LE(v.size(), 16u);
}

TEST(Assembler, RejectsHostileElf) {
    std::vector<uint8_t> junk(100, 0x41);
    EXPECT_THROW(readElf(junk, "junk"), std::runtime_error);
    AsmImage img = assemble("{ nop 1 }", "t.s");
    std::vector<uint8_t> elf = writeElf(img);
    std::vector<uint8_t> bad = elf;
    bad[64 + 32] = 0xFF; // p_filesz of the text segment far beyond the file
    bad[64 + 33] = 0xFF;
    bad[64 + 34] = 0xFF;
    EXPECT_THROW(readElf(bad, "bad"), std::runtime_error);
    bad = elf;
    bad[18] = 62; // EM_X86_64
    EXPECT_THROW(readElf(bad, "bad"), std::runtime_error);
}
