// %r16 outside a window of 16 registers raises exc_window_bounds: SIGSEGV (128+11).
// EXPECT-EXIT: 139
// EXPECT-STDERR: exc_window_bounds
        .text
_start:
        { setwd wsz=8, nfx=1 }
        { addd,0 0, 1, %dr16 }
        { sdisp %ctpr1, 3 }
        { addd,0 0, 1, %dr8; addd,1 0, 0, %dr9; call %ctpr1, wbs=4 }
