// Loads and stores: sizes, zero extension, MAS non-aligned and big-endian accesses, getsp,
// speculative loads, load-before-store inside one bundle.
// Each check sets %dg0 to its number and branches to `fail` (exit code = that number) when
// the checked value is wrong; reaching the end exits 0.
        .text
        .global _start
_start:
        { setwd wsz=16, nfx=1; disp %ctpr2, fail }

        { addd,0 0, buf, %dr0; addd,1 0, area, %dr1 }
        { ldd,0 %dr0, 0, %dr2; ldw,2 %dr0, 4, %dr3; ldh,3 %dr0, 2, %dr4; ldb,5 %dr0, 7, %dr5 }
        { addd,0 0, 1, %dg0; cmpedb,1 %dr2, 0x1122334455667788, %pred0 }  // check 1
        { ct %ctpr2 ? ~%pred0 }
        { addd,0 0, 2, %dg0; cmpedb,1 %dr3, 0x11223344, %pred0 }  // check 2
        { ct %ctpr2 ? ~%pred0 }
        { addd,0 0, 3, %dg0; cmpedb,1 %dr4, 0x5566, %pred0 }  // check 3
        { ct %ctpr2 ? ~%pred0 }
        { addd,0 0, 4, %dg0; cmpedb,1 %dr5, 0x11, %pred0 }  // check 4
        { ct %ctpr2 ? ~%pred0 }
        { ldb,0 %dr0, 0, %dr6 }
        { addd,0 0, 5, %dg0; cmpedb,1 %dr6, 0x88, %pred0 }  // check 5
        { ct %ctpr2 ? ~%pred0 }
        { std,2 %dr2, [ %dr1 + 0 ]; stw,5 %r3, [ %dr1 + 8 ] }
        { stb,2 %r6, [ %dr1 + 15 ]; sth,5 %r4, [ %dr1 + 12 ] }
        { ldd,0 %dr1, 0, %dr7; ldd,2 %dr1, 8, %dr8 }
        { addd,0 0, 6, %dg0; cmpedb,1 %dr7, 0x1122334455667788, %pred0 }  // check 6
        { ct %ctpr2 ? ~%pred0 }
        { addd,0 0, 7, %dg0; cmpedb,1 %dr8, 0x8800556611223344, %pred0 }  // check 7
        { ct %ctpr2 ? ~%pred0 }
        { ldd,0 %dr0, 1, %dr9 mas=0x10 }
        { addd,0 0, 8, %dg0; cmpedb,1 %dr9, 0x0011223344556677, %pred0 }  // check 8
        { ct %ctpr2 ? ~%pred0 }
        { ldw,0 %dr0, 0, %dr10 mas=0x8 }
        { addd,0 0, 9, %dg0; cmpedb,1 %dr10, 0x88776655, %pred0 }  // check 9
        { ct %ctpr2 ? ~%pred0 }
        { getsp,0 -64, %dr11 }
        { std,2 %dr2, [ %dr11 + 0 ]; std,5 %dr3, [ %dr11 + 56 ] }
        { ldd,0 %dr11, 0, %dr12; ldd,3 %dr11, 56, %dr13 }
        { addd,0 0, 10, %dg0; cmpedb,1 %dr12, 0x1122334455667788, %pred0 }  // check 10
        { ct %ctpr2 ? ~%pred0 }
        { addd,0 0, 11, %dg0; cmpedb,1 %dr13, 0x11223344, %pred0 }  // check 11
        { ct %ctpr2 ? ~%pred0 }
        { addd,0 0, 0x7fffffffff00, %dr14 }
        { ldd,0,sm %dr14, 0, %dr15 }
        // a speculative load that faults gives a diagnostic value (tag 5)
        { gettagd,2 %dr15, %r18; puttagd,5 %dr15, 0, %dr15 }
        { addd,0 0, 12, %dg0; cmpesb,1 %r18, 5, %pred0 }  // check 12
        { ct %ctpr2 ? ~%pred0 }
        { cmpedb,1 %dr15, 0x4afafafa4afafafa, %pred0 }  // check 12
        { ct %ctpr2 ? ~%pred0 }
        { ldd,0 %dr1, 0, %dr16; std,2 %dr0, [ %dr1 + 0 ] }
        { ldd,0 %dr1, 0, %dr17 }
        { addd,0 0, 13, %dg0; cmpedb,1 %dr16, 0x1122334455667788, %pred0 }  // check 13
        { ct %ctpr2 ? ~%pred0 }
        { addd,0 0, 14, %dg0; cmpedb,1 %dr17, %dr0, %pred0 }  // check 14
        { ct %ctpr2 ? ~%pred0 }

done_ok:
        { sdisp %ctpr1, 3 }
        { addd,0 0, 1, %dr8; addd,1 0, 0, %dr9; call %ctpr1, wbs=4 }
fail:
        { sdisp %ctpr1, 3 }
        { addd,0 0, 1, %dr8; addd,1 %dg0, 0, %dr9; call %ctpr1, wbs=4 }
        .data
buf:    .dword 0x1122334455667788, 0
        .bss
        .align 16
area:   .zero 64
