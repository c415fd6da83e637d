// rt_sigaction (174) installs a SIGSEGV handler; a load from the unmapped null page then calls
// it with the signal number in %dr0 (the old action read back is the default, 0). The handler
// exits with 0 when it got 11; reaching the code after the fault exits 3.
        .text
_start:
        { setwd wsz=8, nfx=1; sdisp %ctpr1, 3 }
        { addd,0 0, 174, %dr8; addd,1 0, 11, %dr9; addd,2 0, act, %dr10; addd,3 0, old, %dr11 }
        { addd,0 0, 8, %dr12; call %ctpr1, wbs=4 }
        { disp %ctpr2, fail; addd,0 0, 1, %dg0; cmpedb,1 %dr8, 0, %pred0 }  // check 1
        { ct %ctpr2 ? ~%pred0 }
        { addd,1 0, 2, %dg0; ldd,0 0, old, %dr1 }
        { cmpedb,1 %dr1, 0, %pred0 }  // check 2
        { ct %ctpr2 ? ~%pred0 }
        { ldb,0 0, 0, %dr2 }
        { addd,0 0, 3, %dg0 }
fail:
        { sdisp %ctpr1, 3 }
        { addd,0 0, 1, %dr8; addd,1 %dg0, 0, %dr9; call %ctpr1, wbs=4 }
handler:
        { setwd wsz=8, nfx=1; sdisp %ctpr1, 3 }
        { addd,0 0, 4, %dg0; cmpedb,1 %dr0, 11, %pred0; disp %ctpr2, fail }
        { ct %ctpr2 ? ~%pred0 }
        { sdisp %ctpr1, 3 }
        { addd,0 0, 1, %dr8; addd,1 0, 0, %dr9; call %ctpr1, wbs=4 }
        .data
        .align 8
act:    .dword handler, 0, 0, 0
old:    .dword 7, 7, 7, 7
