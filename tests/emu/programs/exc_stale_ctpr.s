// Every call invalidates all CTPRs: a ct through %ctpr1 prepared before a call faults with
// exc_illegal_opcode (SIGILL) instead of jumping.
// EXPECT-EXIT: 132
// EXPECT-STDERR: exc_illegal_opcode
        .text
_start:
        { setwd wsz=8, nfx=1; disp %ctpr1, target }
        { disp %ctpr2, leaf }
        { call %ctpr2, wbs=6 }
        { ct %ctpr1 }
target:
        { sdisp %ctpr1, 3 }
        { addd,0 0, 1, %dr8; addd,1 0, 0, %dr9; call %ctpr1, wbs=4 }
leaf:
        { setwd wsz=2, nfx=1; return %ctpr3 }
        { ct %ctpr3 }
