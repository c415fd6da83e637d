// Procedure calls: register windows (wbs), arguments and results through the window overlap,
// preserved caller registers, deep recursion through the procedure and chain stacks in guest
// memory, based registers and abn rotation.
// Each check sets %dg0 to its number and branches to `fail` (exit code = that number) when
// the checked value is wrong; reaching the end exits 0.
        .text
        .global _start
_start:
        { setwd wsz=16, nfx=1; disp %ctpr2, fail }

        { addd,0 0, 55, %dr5; addd,1 0, 21, %dr28; disp %ctpr1, double }
        { call %ctpr1, wbs=14 }
        { disp %ctpr2, fail }
        { addd,0 0, 1, %dg0; cmpedb,1 %dr28, 42, %pred0 }  // check 1
        { ct %ctpr2 ? ~%pred0 }
        { addd,0 0, 2, %dg0; cmpedb,1 %dr5, 55, %pred0 }  // check 2
        { ct %ctpr2 ? ~%pred0 }
        { addd,0 0, 10, %dr28; disp %ctpr1, fact }
        { call %ctpr1, wbs=14 }
        { disp %ctpr2, fail }
        { addd,0 0, 3, %dg0; cmpedb,1 %dr28, 3628800, %pred0 }  // check 3
        { ct %ctpr2 ? ~%pred0 }
        { addd,0 0, 4, %dg0; cmpedb,1 %dr5, 55, %pred0 }  // check 4
        { ct %ctpr2 ? ~%pred0 }
        { addd,0 0, 100000, %dr28; disp %ctpr1, sum }
        { call %ctpr1, wbs=14 }
        { disp %ctpr2, fail }
        { addd,0 0, 5, %dg0; cmpedb,1 %dr28, 5000050000, %pred0 }  // check 5
        { ct %ctpr2 ? ~%pred0 }
        { setbn rsz=3, rbs=4, rcur=0 }
        { addd,0 0, 7, %db[0]; addd,1 0, 8, %db[7] }
        { addd,0 0, 6, %dg0; cmpedb,1 %dr8, 7, %pred0 }  // check 6
        { ct %ctpr2 ? ~%pred0 }
        { addd,0 0, 7, %dg0; cmpedb,1 %dr15, 8, %pred0 }  // check 7
        { ct %ctpr2 ? ~%pred0 }
        { abn abnf=1 }
        { addd,0 0, 9, %db[0] }
        { addd,0 0, 8, %dg0; cmpedb,1 %dr14, 9, %pred0 }  // check 8
        { ct %ctpr2 ? ~%pred0 }
        { abn abnf=1 }
        { addd,0 0, 10, %db[0] }
        { addd,0 0, 9, %dg0; cmpedb,1 %dr12, 10, %pred0 }  // check 9
        { ct %ctpr2 ? ~%pred0 }
        { setbn rsz=0, rbs=0, rcur=0 }

done_ok:
        { sdisp %ctpr1, 3 }
        { addd,0 0, 1, %dr8; addd,1 0, 0, %dr9; call %ctpr1, wbs=4 }
fail:
        { sdisp %ctpr1, 3 }
        { addd,0 0, 1, %dr8; addd,1 %dg0, 0, %dr9; call %ctpr1, wbs=4 }

// double(x) = 2x
double:
        { setwd wsz=2, nfx=1; return %ctpr3; shld,0 %dr0, 1, %dr0 }
        { ct %ctpr3 }

// fact(n): n in %dr0, result in %dr0
fact:
        { setwd wsz=4, nfx=1; disp %ctpr1, fact }
        { cmpledb,0 %dr0, 1, %pred0; disp %ctpr2, fact_base }
        { subd,0 %dr0, 1, %dr4; ct %ctpr2 ? %pred0 }
        { call %ctpr1, wbs=2 }
        { muld,0 %dr0, %dr4, %dr0; return %ctpr3 }
        { ct %ctpr3 }
fact_base:
        { addd,0 0, 1, %dr0; return %ctpr3 }
        { ct %ctpr3 }

// sum(n) = n + sum(n-1), sum(0) = 0: one call per level
sum:
        { setwd wsz=4, nfx=1; disp %ctpr1, sum }
        { cmpedb,0 %dr0, 0, %pred0; disp %ctpr2, sum_base }
        { subd,0 %dr0, 1, %dr4; ct %ctpr2 ? %pred0 }
        { call %ctpr1, wbs=2 }
        { addd,0 %dr0, %dr4, %dr0; return %ctpr3 }
        { ct %ctpr3 }
sum_base:
        { return %ctpr3 }
        { ct %ctpr3 }
