// A control transfer decided by a diagnostic predicate traps (exc_illegal_operand, SIGILL);
// andp passes the diagnostic on even when its other input is false.
// EXPECT-EXIT: 132
// EXPECT-STDERR: diagnostic predicate
        .text
_start:
        { setwd wsz=8, nfx=1; disp %ctpr1, next }
        { udivd,5,sm 0, 0, %dr0 }
        { cmpedb,0,sm 0, %dr0, %pred0; cmpedb,1 0, 1, %pred1 }
        { pass %pred1, @p0; pass %pred0, @p1; andp @p0, @p1, @p4; pass @p4, %pred2 }
        { ct %ctpr1 ? %pred2 }
next:
        { sdisp %ctpr1, 3 }
        { addd,0 0, 1, %dr8; addd,1 0, 0, %dr9; call %ctpr1, wbs=4 }
