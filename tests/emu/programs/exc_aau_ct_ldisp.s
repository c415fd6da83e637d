// An ldisp label in %ctpr2 is an array prefetch program, not a jump target: ct through it
// raises exc_illegal_opcode (SIGILL, 128+4).
// EXPECT-EXIT: 132
// EXPECT-STDERR: exc_illegal_opcode at IP 0x10018
        .text
        .global _start
_start:
        { setwd wsz=8, nfx=1; ldisp %ctpr2, apb }
        { nop 1 }
        { ct %ctpr2 }
        { sdisp %ctpr1, 3 }
        { addd,0 0, 1, %dr8; addd,1 0, 0, %dr9; call %ctpr1, wbs=4 }
        .data
        .balign 16
apb:
        .quad 0x88808020, 0
