// ALU-heavy benchmark: 50 million bundles of 6 register ALU operations each (one of them the
// loop compare; the back edge uses the previous bundle's predicate). Exits 0.
        .text
        .global _start
_start:
        { setwd wsz=16, nfx=1; disp %ctpr1, loop; addd,0 0, 0, %dr0; addd,1 0, 1, %dr1 }
        { addd,0 0, 50000000, %dr9; cmpedb,1 0, 0, %pred0; addd,2 0, 3, %dr2; addd,3 0, 5, %dr3 }
loop:
        { addd,0 %dr0, 1, %dr0; xord,1 %dr1, %dr0, %dr1; addd,2 %dr2, %dr1, %dr2; shld,3 %dr3, 1, %dr3; cmpbdb,4 %dr0, %dr9, %pred0; ord,5 %dr5, %dr2, %dr5; ct %ctpr1 ? %pred0 }
        { sdisp %ctpr1, 3 }
        { addd,0 0, 1, %dr8; addd,1 0, 0, %dr9; call %ctpr1, wbs=4 }
