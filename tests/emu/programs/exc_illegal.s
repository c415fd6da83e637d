// An unallocated opcode (ALS0 opc 0x0D, the kprobes breakpoint word) raises
// exc_illegal_opcode: SIGILL (128+4).
// EXPECT-EXIT: 132
// EXPECT-STDERR: exc_illegal_opcode
        .text
_start:
        { setwd wsz=8, nfx=1 }
        { .als,0 0x0dc0c040 }
        { sdisp %ctpr1, 3 }
        { addd,0 0, 1, %dr8; addd,1 0, 0, %dr9; call %ctpr1, wbs=4 }
