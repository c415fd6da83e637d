// bap loads the array prefetch program from %ctpr2, which must hold an ldisp label: with a
// disp label there it raises exc_illegal_opcode (SIGILL, 128+4).
// EXPECT-EXIT: 132
// EXPECT-STDERR: bap without an ldisp program
        .text
        .global _start
_start:
        { setwd wsz=8, nfx=1; disp %ctpr2, _start }
        { bap }
        { sdisp %ctpr1, 3 }
        { addd,0 0, 1, %dr8; addd,1 0, 0, %dr9; call %ctpr1, wbs=4 }
