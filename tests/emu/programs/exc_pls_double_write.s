// Two predicate-logic channels may not write one predicate: the bundle raises
// exc_illegal_opcode (SIGILL). Raw words: HS, then PLS2/PLS1/PLS0 as
// landp @p5, @p0 -> %pred0; landp @p4, @p0 -> %pred0; landp @p0, @p0 -> %pred0.
// EXPECT-EXIT: 132
// EXPECT-STDERR: both write %pred0
        .text
_start:
        { setwd wsz=8, nfx=1 }
        { cmpesb,0 0, 0, %pred0 }
        .word 0x000c0010
        .word 0x00005420
        .word 0x60605020
        .word 0x60604020
        { sdisp %ctpr1, 3 }
        { addd,0 0, 1, %dr8; addd,1 0, 0, %dr9; call %ctpr1, wbs=4 }
