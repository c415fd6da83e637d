#pragma once
// OpTable: the ALU operations e2kvm knows (ISA notes §3.5, §8.2): mnemonic, encoding (opc,
// ALES table, opce, cmpopce), legal channels, operand layout and operand widths. Shared by the
// decoder, the assembler and the disassembler so that all three agree by construction.
#include <cstdint>
#include <span>
#include <string_view>

namespace e2kvm::emu {

enum class OpForm : uint8_t {
    Alu,   // src1, src2 -> dst
    Merge, // src1, src2 -> dst, selector from CDS MRGC
    Cmp,   // src1, src2 -> %predN (cmpopce in dst 7:5)
    Load,  // [src1 + src2] -> dst (MAS)
    Store, // value (ALS 7:0) -> [src1 + src2] (MAS)
    Unary, // fixed opce in src1, src2 -> dst
    Getsp, // fixed opce 0xEC in src1, src2 -> dst
    Rr,    // state register number in src1 -> dst
    Rw,    // src2 -> state register number in dst
    Insf,  // src1, src2, src3 (ALES 7:0) -> dst
    Staa,  // value (ALS 7:0) -> [%aadD + %aastiI + literal]; ALS 23:8 = AAU fields (opce1)
    Ldaa,  // [%aadD + %aastiI + literal] -> dst; ALS 23:8 = AAU fields
};

enum class OpKind : uint8_t {
    And,
    Andn,
    Or,
    Orn,
    Xor,
    Xorn,
    Sxt,
    Merge,
    Add,
    Sub,
    Scl,
    Scr,
    Shl,
    Shr,
    Sar,
    Getf,
    Cmp,
    CmpAnd,
    Store,
    UDiv,
    SDiv,
    UDivX,
    UModX,
    SDivX,
    SModX,
    Mov,
    Getpl,
    Bitrev,
    Lzcnt,
    Popcnt,
    Load,
    Mul,
    UMulX,
    SMulX,
    UMulHd,
    SMulHd,
    Getsp,
    Rw,
    Rr,
    Insf,
    GetTag, // tag of src2 -> dst
    PutTag, // src1 with the tag src2 -> dst
    MovIf,  // 80-bit value from mantissa src1 and sign/exponent src2
    MovFi,  // sign/exponent of an 80-bit src2
    FxAdd,  // 80-bit (x87 extended) arithmetic
    FxSub,
    FxMul,
    Staa, // staa* (aaurw* with MAS 0x3f)
    Ldaa, // ldaa* (aaurr* with MAS 0x3f)
};

// ALES opc2 values used by the table; 0 = short (no ALES).
enum : uint8_t { kTableShort = 0, kTableExt = 0x01, kTableIcmb3 = 0x0B };

struct OpInfo {
    const char* name;
    uint8_t opc;      // ALS 30:24
    uint8_t table;    // kTableShort / kTableExt / kTableIcmb3
    uint8_t opce;     // Unary/Getsp/Rw: value in ALS 23:16 (Rr: 0xC0 in src2)
    uint8_t cmpop;    // Cmp: cmpopce in ALS 7:5
    uint8_t channels; // bit i = allowed in ALCi
    OpForm form;
    OpKind kind;
    bool src1Wide, src2Wide, dstWide; // 64-bit operand (else 32-bit)
    uint8_t memSize;                  // Load/Store: 1, 2, 4, 8
};

std::span<const OpInfo> opTable();

// Finds the op that `als`/`ales` encode in `channel`, or nullptr. `hasAles` says whether the
// channel's ALES is present (an op is "short" iff it is not).
const OpInfo* findOp(uint32_t als, bool hasAles, uint16_t ales, unsigned channel);

// All table entries with this mnemonic (several for cmp variants is impossible: names unique).
const OpInfo* findOpByName(std::string_view name);

// State registers readable/writable with rrs/rrd/rws/rwd, by name ("psr") and number.
struct StateRegName {
    const char* name;
    uint8_t number;
};
std::span<const StateRegName> stateRegNames();
const char* stateRegName(uint8_t number); // nullptr if unnamed

} // namespace e2kvm::emu
