// Division by zero raises exc_div: the program dies with SIGFPE (128+8).
// EXPECT-EXIT: 136
// EXPECT-STDERR: exc_div
        .text
_start:
        { setwd wsz=8, nfx=1; addd,0 0, 7, %dr0 }
        { udivd,5 %dr0, 0, %dr1 }
        { sdisp %ctpr1, 3 }
        { addd,0 0, 1, %dr8; addd,1 0, 0, %dr9; call %ctpr1, wbs=4 }
