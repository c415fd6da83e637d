#include "emu/cpu/OpTable.h"

#include <array>
#include <cstring>
#include <vector>

namespace e2kvm::emu {

namespace {
constexpr uint8_t kAll = 0x3F, kAlu0134 = 0x1B, kLd = 0x2D, kSt = 0x24, kCh5 = 0x20, kCh14 = 0x12,
                  kCh03 = 0x09, kCh0 = 0x01;
using F = OpForm;
using K = OpKind;

constexpr OpInfo op(const char* n, uint8_t opc, uint8_t table, uint8_t ch, F f, K k,
                    const char* sizes, uint8_t opce = 0, uint8_t cmpop = 0, uint8_t mem = 0) {
    return OpInfo{
        n,  opc, table, opce, cmpop, ch, f, k, sizes[0] == 'd', sizes[1] == 'd', sizes[2] == 'd',
        mem};
}

const OpInfo kOps[] = {
    op("ands", 0x00, 0, kAll, F::Alu, K::And, "sss"),
    op("andd", 0x01, 0, kAll, F::Alu, K::And, "ddd"),
    op("andns", 0x02, 0, kAll, F::Alu, K::Andn, "sss"),
    op("andnd", 0x03, 0, kAll, F::Alu, K::Andn, "ddd"),
    op("ors", 0x04, 0, kAll, F::Alu, K::Or, "sss"),
    op("ord", 0x05, 0, kAll, F::Alu, K::Or, "ddd"),
    op("orns", 0x06, 0, kAll, F::Alu, K::Orn, "sss"),
    op("ornd", 0x07, 0, kAll, F::Alu, K::Orn, "ddd"),
    op("xors", 0x08, 0, kAll, F::Alu, K::Xor, "sss"),
    op("xord", 0x09, 0, kAll, F::Alu, K::Xor, "ddd"),
    op("xorns", 0x0A, 0, kAll, F::Alu, K::Xorn, "sss"),
    op("xornd", 0x0B, 0, kAll, F::Alu, K::Xorn, "ddd"),
    op("sxt", 0x0C, 0, kAll, F::Alu, K::Sxt, "ssd"),
    op("merges", 0x0E, 0, kAll, F::Merge, K::Merge, "sss"),
    op("merged", 0x0F, 0, kAll, F::Merge, K::Merge, "ddd"),
    op("adds", 0x10, 0, kAll, F::Alu, K::Add, "sss"),
    op("addd", 0x11, 0, kAll, F::Alu, K::Add, "ddd"),
    op("subs", 0x12, 0, kAll, F::Alu, K::Sub, "sss"),
    op("subd", 0x13, 0, kAll, F::Alu, K::Sub, "ddd"),
    op("scls", 0x14, 0, kAll, F::Alu, K::Scl, "sss"),
    op("scld", 0x15, 0, kAll, F::Alu, K::Scl, "ddd"),
    op("scrs", 0x16, 0, kAll, F::Alu, K::Scr, "sss"),
    op("scrd", 0x17, 0, kAll, F::Alu, K::Scr, "ddd"),
    op("shls", 0x18, 0, kAll, F::Alu, K::Shl, "sss"),
    op("shld", 0x19, 0, kAll, F::Alu, K::Shl, "ddd"),
    op("shrs", 0x1A, 0, kAll, F::Alu, K::Shr, "sss"),
    op("shrd", 0x1B, 0, kAll, F::Alu, K::Shr, "ddd"),
    op("sars", 0x1C, 0, kAll, F::Alu, K::Sar, "sss"),
    op("sard", 0x1D, 0, kAll, F::Alu, K::Sar, "ddd"),
    op("getfs", 0x1E, 0, kAll, F::Alu, K::Getf, "sss"),
    op("getfd", 0x1F, 0, kAll, F::Alu, K::Getf, "ddd"),
    op("cmposb", 0x20, 0, kAlu0134, F::Cmp, K::Cmp, "ss-", 0, 0),
    op("cmpbsb", 0x20, 0, kAlu0134, F::Cmp, K::Cmp, "ss-", 0, 1),
    op("cmpesb", 0x20, 0, kAlu0134, F::Cmp, K::Cmp, "ss-", 0, 2),
    op("cmpbesb", 0x20, 0, kAlu0134, F::Cmp, K::Cmp, "ss-", 0, 3),
    op("cmpssb", 0x20, 0, kAlu0134, F::Cmp, K::Cmp, "ss-", 0, 4),
    op("cmppsb", 0x20, 0, kAlu0134, F::Cmp, K::Cmp, "ss-", 0, 5),
    op("cmplsb", 0x20, 0, kAlu0134, F::Cmp, K::Cmp, "ss-", 0, 6),
    op("cmplesb", 0x20, 0, kAlu0134, F::Cmp, K::Cmp, "ss-", 0, 7),
    op("cmpodb", 0x21, 0, kAlu0134, F::Cmp, K::Cmp, "dd-", 0, 0),
    op("cmpbdb", 0x21, 0, kAlu0134, F::Cmp, K::Cmp, "dd-", 0, 1),
    op("cmpedb", 0x21, 0, kAlu0134, F::Cmp, K::Cmp, "dd-", 0, 2),
    op("cmpbedb", 0x21, 0, kAlu0134, F::Cmp, K::Cmp, "dd-", 0, 3),
    op("cmpsdb", 0x21, 0, kAlu0134, F::Cmp, K::Cmp, "dd-", 0, 4),
    op("cmppdb", 0x21, 0, kAlu0134, F::Cmp, K::Cmp, "dd-", 0, 5),
    op("cmpldb", 0x21, 0, kAlu0134, F::Cmp, K::Cmp, "dd-", 0, 6),
    op("cmpledb", 0x21, 0, kAlu0134, F::Cmp, K::Cmp, "dd-", 0, 7),
    op("cmpandesb", 0x22, 0, kAlu0134, F::Cmp, K::CmpAnd, "ss-", 0, 2),
    op("cmpandssb", 0x22, 0, kAlu0134, F::Cmp, K::CmpAnd, "ss-", 0, 4),
    op("cmpandpsb", 0x22, 0, kAlu0134, F::Cmp, K::CmpAnd, "ss-", 0, 5),
    op("cmpandlesb", 0x22, 0, kAlu0134, F::Cmp, K::CmpAnd, "ss-", 0, 7),
    op("cmpandedb", 0x23, 0, kAlu0134, F::Cmp, K::CmpAnd, "dd-", 0, 2),
    op("cmpandsdb", 0x23, 0, kAlu0134, F::Cmp, K::CmpAnd, "dd-", 0, 4),
    op("cmpandpdb", 0x23, 0, kAlu0134, F::Cmp, K::CmpAnd, "dd-", 0, 5),
    op("cmpandledb", 0x23, 0, kAlu0134, F::Cmp, K::CmpAnd, "dd-", 0, 7),
    op("stb", 0x24, 0, kSt, F::Store, K::Store, "dds", 0, 0, 1),
    op("sth", 0x25, 0, kSt, F::Store, K::Store, "dds", 0, 0, 2),
    op("stw", 0x26, 0, kSt, F::Store, K::Store, "dds", 0, 0, 4),
    op("std", 0x27, 0, kSt, F::Store, K::Store, "ddd", 0, 0, 8),
    op("bitrevs", 0x26, 0, kAlu0134, F::Unary, K::Bitrev, "-ss", 0xC0),
    op("bitrevd", 0x27, 0, kAlu0134, F::Unary, K::Bitrev, "-dd", 0xC0),
    op("udivs", 0x40, 0, kCh5, F::Alu, K::UDiv, "sss"),
    op("udivd", 0x41, 0, kCh5, F::Alu, K::UDiv, "ddd"),
    op("sdivs", 0x42, 0, kCh5, F::Alu, K::SDiv, "sss"),
    op("sdivd", 0x43, 0, kCh5, F::Alu, K::SDiv, "ddd"),
    op("udivx", 0x44, 0, kCh5, F::Alu, K::UDivX, "dss"),
    op("umodx", 0x45, 0, kCh5, F::Alu, K::UModX, "dss"),
    op("sdivx", 0x46, 0, kCh5, F::Alu, K::SDivX, "dss"),
    op("smodx", 0x47, 0, kCh5, F::Alu, K::SModX, "dss"),
    op("movts", 0x60, 0, kAlu0134, F::Unary, K::Mov, "-ss", 0xC0),
    op("movtd", 0x61, 0, kAlu0134, F::Unary, K::Mov, "-dd", 0xC0),
    op("movtcs", 0x60, 0, kAlu0134, F::Unary, K::Mov, "-ss", 0xC1),
    op("movtcd", 0x61, 0, kAlu0134, F::Unary, K::Mov, "-dd", 0xC1),
    op("getpl", 0x63, 0, kCh03, F::Unary, K::Getpl, "-sd", 0xF0),
    op("ldb", 0x64, 0, kLd, F::Load, K::Load, "ddd", 0, 0, 1),
    op("ldh", 0x65, 0, kLd, F::Load, K::Load, "ddd", 0, 0, 2),
    op("ldw", 0x66, 0, kLd, F::Load, K::Load, "dds", 0, 0, 4),
    op("ldd", 0x67, 0, kLd, F::Load, K::Load, "ddd", 0, 0, 8),
    op("lzcnts", 0x64, 0, kCh14, F::Unary, K::Lzcnt, "-ss", 0xC0),
    op("lzcntd", 0x65, 0, kCh14, F::Unary, K::Lzcnt, "-dd", 0xC0),
    op("popcnts", 0x66, 0, kCh14, F::Unary, K::Popcnt, "-ss", 0xC0),
    op("popcntd", 0x67, 0, kCh14, F::Unary, K::Popcnt, "-dd", 0xC0),
    op("muls", 0x20, kTableExt, kAlu0134, F::Alu, K::Mul, "sss"),
    op("muld", 0x21, kTableExt, kAlu0134, F::Alu, K::Mul, "ddd"),
    op("umulx", 0x22, kTableExt, kAlu0134, F::Alu, K::UMulX, "ssd"),
    op("smulx", 0x23, kTableExt, kAlu0134, F::Alu, K::SMulX, "ssd"),
    op("umulhd", 0x70, kTableExt, kAlu0134, F::Alu, K::UMulHd, "ddd"),
    op("smulhd", 0x71, kTableExt, kAlu0134, F::Alu, K::SMulHd, "ddd"),
    op("getsp", 0x58, kTableExt, kCh03, F::Getsp, K::Getsp, "-sd", 0xEC),
    op("rws", 0x3C, kTableExt, kCh0, F::Rw, K::Rw, "-s-", 0xC0),
    op("rwd", 0x3D, kTableExt, kCh0, F::Rw, K::Rw, "-d-", 0xC0),
    op("rrs", 0x3E, kTableExt, kCh0, F::Rr, K::Rr, "--s"),
    op("rrd", 0x3F, kTableExt, kCh0, F::Rr, K::Rr, "--d"),
    op("fxaddxx", 0x47, 0, kAlu0134, F::Alu, K::FxAdd, "ddd"),
    op("fxsubxx", 0x4F, 0, kAlu0134, F::Alu, K::FxSub, "ddd"),
    op("fxmulxx", 0x57, 0, kAlu0134, F::Alu, K::FxMul, "ddd"),
    op("movfi", 0x5C, 0, kAlu0134, F::Unary, K::MovFi, "-ds", 0xC0),
    op("movif", 0x5E, 0, kAlu0134, F::Alu, K::MovIf, "dsd"),
    op("gettags", 0x08, kTableExt, kSt, F::Unary, K::GetTag, "-ss", 0xC0),
    op("gettagd", 0x09, kTableExt, kSt, F::Unary, K::GetTag, "-ds", 0xC0),
    op("puttags", 0x0A, kTableExt, kSt, F::Alu, K::PutTag, "sss"),
    op("puttagd", 0x0B, kTableExt, kSt, F::Alu, K::PutTag, "dsd"),
    op("insfs", 0x6C, kTableIcmb3, kAlu0134, F::Insf, K::Insf, "sss"),
    op("insfd", 0x6D, kTableIcmb3, kAlu0134, F::Insf, K::Insf, "ddd"),
    // Array access unit (ALOPF10 / ALOPF19): with MAS 0x3f these are aaurw* / aaurr*.
    op("staab", 0x1C, kTableExt, kSt, F::Staa, K::Staa, "--s", 0, 0, 1),
    op("staah", 0x1D, kTableExt, kSt, F::Staa, K::Staa, "--s", 0, 0, 2),
    op("staaw", 0x1E, kTableExt, kSt, F::Staa, K::Staa, "--s", 0, 0, 4),
    op("staad", 0x1F, kTableExt, kSt, F::Staa, K::Staa, "--d", 0, 0, 8),
    op("ldaab", 0x5C, kTableExt, kSt, F::Ldaa, K::Ldaa, "--s", 0, 0, 1),
    op("ldaah", 0x5D, kTableExt, kSt, F::Ldaa, K::Ldaa, "--s", 0, 0, 2),
    op("ldaaw", 0x5E, kTableExt, kSt, F::Ldaa, K::Ldaa, "--s", 0, 0, 4),
    op("ldaad", 0x5F, kTableExt, kSt, F::Ldaa, K::Ldaa, "--d", 0, 0, 8),
};

// Candidates per (table slot, opc): at most a handful, scanned linearly.
struct Index {
    std::array<std::vector<const OpInfo*>, 3 * 128> slots;
    Index() {
        for (const OpInfo& o : kOps)
            slots[slot(o.table) * 128 + o.opc].push_back(&o);
    }
    static unsigned slot(uint8_t table) {
        return table == kTableShort ? 0 : table == kTableExt ? 1 : 2;
    }
};

const Index& index() {
    static const Index idx;
    return idx;
}

const StateRegName kStateRegs[] = {
    {"psr", 0x00},     {"wd", 0x01},     {"core_mode", 0x04}, {"cwd", 0x06},      {"psp.hi", 0x07},
    {"psp.lo", 0x09},  {"pshtp", 0x0b},  {"pcsp.hi", 0x0d},   {"pcsp.lo", 0x0f},  {"pcshtp", 0x13},
    {"ctpr1", 0x15},   {"ctpr2", 0x16},  {"ctpr3", 0x17},     {"sbr", 0x1e},      {"cutd", 0x21},
    {"eir", 0x23},     {"cuir", 0x25},   {"oscud.hi", 0x26},  {"oscud.lo", 0x27}, {"osgd.hi", 0x28},
    {"osgd.lo", 0x29}, {"osem", 0x2a},   {"usd.hi", 0x2c},    {"usd.lo", 0x2d},   {"osr0", 0x2f},
    {"cud.hi", 0x30},  {"cud.lo", 0x31}, {"gd.hi", 0x32},     {"gd.lo", 0x33},    {"cr0.hi", 0x51},
    {"cr0.lo", 0x53},  {"cr1.hi", 0x55}, {"cr1.lo", 0x57},    {"upsr", 0x80},     {"ip", 0x81},
    {"nip", 0x82},     {"lsr", 0x83},    {"pfpfr", 0x84},     {"fpcr", 0x85},     {"fpsr", 0x86},
    {"ilcr", 0x87},    {"br", 0x88},     {"bgr", 0x89},       {"idr", 0x8a},      {"clkr", 0x90},
    {"rndpr", 0x91},   {"sclkr", 0x92},  {"tir.hi", 0x9c},    {"tir.lo", 0x9d},
};
} // namespace

std::span<const OpInfo> opTable() {
    return kOps;
}

const OpInfo* findOp(uint32_t als, bool hasAles, uint16_t ales, unsigned channel) {
    uint8_t table = hasAles ? uint8_t(ales >> 8) : uint8_t(kTableShort);
    if (table != kTableShort && table != kTableExt && table != kTableIcmb3)
        return nullptr;
    uint8_t opc = (als >> 24) & 0x7F;
    uint8_t src1 = (als >> 16) & 0xFF;
    uint8_t src2 = (als >> 8) & 0xFF;
    uint8_t dst = als & 0xFF;
    for (const OpInfo* o : index().slots[Index::slot(table) * 128 + opc]) {
        if (!(o->channels & (1u << channel)))
            continue;
        // EXT-table ops other than insf carry opce 0xC0 in ALES 7:0.
        if (table == kTableExt && (ales & 0xFF) != 0xC0)
            continue;
        switch (o->form) {
        case OpForm::Unary:
        case OpForm::Getsp:
            if (src1 != o->opce)
                continue;
            break;
        case OpForm::Rw:
            if (src1 != 0xC0)
                continue;
            break;
        case OpForm::Rr:
            if (src2 != 0xC0)
                continue;
            break;
        case OpForm::Cmp:
            if ((dst >> 5) != o->cmpop)
                continue;
            break;
        default:
            break;
        }
        return o;
    }
    return nullptr;
}

const OpInfo* findOpByName(std::string_view name) {
    for (const OpInfo& o : kOps)
        if (name == o.name)
            return &o;
    return nullptr;
}

std::span<const StateRegName> stateRegNames() {
    return kStateRegs;
}

const char* stateRegName(uint8_t number) {
    for (const StateRegName& s : kStateRegs)
        if (s.number == number)
            return s.name;
    return nullptr;
}

} // namespace e2kvm::emu
