// With UPSR.ac clear (as Linux starts a program) a misaligned ldd/std without MAS.na works.
        .text
_start:
        { setwd wsz=8, nfx=1; addd,0 0, buf, %dr0; addd,1 0, 0x55, %dr2; disp %ctpr2, fail }
        { std,2 %dr2, [ %dr0 + 13 ] }
        { ldd,0 %dr0, 4, %dr1; ldd,3 %dr0, 13, %dr3 }
        { addd,0 0, 1, %dg0; cmpedb,1 %dr1, 0x0000000200000000, %pred0 }  // check 1
        { ct %ctpr2 ? ~%pred0 }
        { addd,0 0, 2, %dg0; cmpedb,1 %dr3, 0x55, %pred0 }  // check 2
        { ct %ctpr2 ? ~%pred0 }
        { sdisp %ctpr1, 3 }
        { addd,0 0, 1, %dr8; addd,1 0, 0, %dr9; call %ctpr1, wbs=4 }
fail:
        { sdisp %ctpr1, 3 }
        { addd,0 0, 1, %dr8; addd,1 %dg0, 0, %dr9; call %ctpr1, wbs=4 }
        .data
buf:    .dword 1, 2, 3
