// A non-speculative op that reads a diagnostic value traps with exc_illegal_operand (SIGILL).
// EXPECT-EXIT: 132
// EXPECT-STDERR: exc_illegal_operand
        .text
_start:
        { setwd wsz=8, nfx=1 }
        { udivd,5,sm 0, 0, %dr0 }
        { addd,0 %dr0, 1, %dr1 }
        { sdisp %ctpr1, 3 }
        { addd,0 0, 1, %dr8; addd,1 0, 0, %dr9; call %ctpr1, wbs=4 }
