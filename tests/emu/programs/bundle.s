// Bundle semantics: all operands are read before any result is written; when several channels
// write one register the highest channel wins.
// Each check sets %dg0 to its number and branches to `fail` (exit code = that number) when
// the checked value is wrong; reaching the end exits 0.
        .text
        .global _start
_start:
        { setwd wsz=16, nfx=1; disp %ctpr2, fail }

        { addd,0 0, 1, %dr3; addd,1 0, 2, %dr4 }
        { addd,0 %dr4, 0, %dr3; addd,1 %dr3, 0, %dr4 }
        { addd,0 0, 1, %dg0; cmpedb,1 %dr3, 2, %pred0 }  // check 1
        { ct %ctpr2 ? ~%pred0 }
        { addd,0 0, 2, %dg0; cmpedb,1 %dr4, 1, %pred0 }  // check 2
        { ct %ctpr2 ? ~%pred0 }
        { addd,0 0, 1, %dr5; addd,1 0, 2, %dr5; addd,2 0, 3, %dr5; addd,3 0, 4, %dr5; addd,4 0, 5, %dr5; addd,5 0, 6, %dr5 }
        { addd,0 0, 3, %dg0; cmpedb,1 %dr5, 6, %pred0 }  // check 3
        { ct %ctpr2 ? ~%pred0 }
        { addd,5 0, 9, %dr6; addd,0 0, 8, %dr6 }
        { addd,0 0, 4, %dg0; cmpedb,1 %dr6, 9, %pred0 }  // check 4
        { ct %ctpr2 ? ~%pred0 }
        { addd,0 0, 10, %dr7 }
        { addd,0 %dr7, 1, %dr7; cmpedb,1 %dr7, 10, %pred1 }
        { addd,0 0, 5, %dg0; cmpedb,1 %dr7, 11, %pred0 }  // check 5
        { ct %ctpr2 ? ~%pred0 }
        { addd,0 0, 6, %dg0 }  // check 6
        { ct %ctpr2 ? ~%pred1 }

done_ok:
        { sdisp %ctpr1, 3 }
        { addd,0 0, 1, %dr8; addd,1 0, 0, %dr9; call %ctpr1, wbs=4 }
fail:
        { sdisp %ctpr1, 3 }
        { addd,0 0, 1, %dr8; addd,1 %dg0, 0, %dr9; call %ctpr1, wbs=4 }
