// ALU operations: logic, shifts modulo the width, rotates, sxt modes, 32-bit results and the upper
// half, dbl, getf/insf, multiply, divide, bit counts.
// Each check sets %dg0 to its number and branches to `fail` (exit code = that number) when
// the checked value is wrong; reaching the end exits 0.
        .text
        .global _start
_start:
        { setwd wsz=16, nfx=1; disp %ctpr2, fail }

        { addd,0 0, 0x1234, %dr0; addd,1 0, 0x10, %dr1; subd,2 0, 1, %dr2 }
        { addd,0 0, 1, %dg0; cmpedb,1 %dr0, 0x1234, %pred0 }  // check 1
        { ct %ctpr2 ? ~%pred0 }
        { addd,0 0, 2, %dg0; cmpedb,1 %dr2, -1, %pred0 }  // check 2
        { ct %ctpr2 ? ~%pred0 }
        { andd,0 %dr0, 0xff, %dr3; ord,1 %dr0, 0xf0000, %dr4; xord,2 %dr0, %dr0, %dr5; andnd,3 %dr0, 0xf, %dr6; ornd,4 0, 0, %dr7; xornd,5 %dr0, 0, %dr8 }
        { addd,0 0, 3, %dg0; cmpedb,1 %dr3, 0x34, %pred0 }  // check 3
        { ct %ctpr2 ? ~%pred0 }
        { addd,0 0, 4, %dg0; cmpedb,1 %dr4, 0xf1234, %pred0 }  // check 4
        { ct %ctpr2 ? ~%pred0 }
        { addd,0 0, 5, %dg0; cmpedb,1 %dr5, 0, %pred0 }  // check 5
        { ct %ctpr2 ? ~%pred0 }
        { addd,0 0, 6, %dg0; cmpedb,1 %dr6, 0x1230, %pred0 }  // check 6
        { ct %ctpr2 ? ~%pred0 }
        { addd,0 0, 7, %dg0; cmpedb,1 %dr7, -1, %pred0 }  // check 7
        { ct %ctpr2 ? ~%pred0 }
        { addd,0 0, 8, %dg0; cmpedb,1 %dr8, 0xffffffffffffedcb, %pred0 }  // check 8
        { ct %ctpr2 ? ~%pred0 }
        { addd,0 0, 1, %dr9 }
        { shld,1 %dr1, 68, %dr10; shrd,2 %dr2, 60, %dr12; sard,3 %dr2, 63, %dr13; scld,4 %dr9, 65, %dr14; scrd,5 1, 1, %dr15 }
        { addd,0 0, 9, %dg0; cmpedb,1 %dr10, 0x100, %pred0 }  // check 9
        { ct %ctpr2 ? ~%pred0 }
        { addd,0 0, 10, %dg0; cmpedb,1 %dr12, 0xf, %pred0 }  // check 10
        { ct %ctpr2 ? ~%pred0 }
        { addd,0 0, 11, %dg0; cmpedb,1 %dr13, -1, %pred0 }  // check 11
        { ct %ctpr2 ? ~%pred0 }
        { addd,0 0, 12, %dg0; cmpedb,1 %dr14, 2, %pred0 }  // check 12
        { ct %ctpr2 ? ~%pred0 }
        { addd,0 0, 13, %dg0; cmpedb,1 %dr15, 0x8000000000000000, %pred0 }  // check 13
        { ct %ctpr2 ? ~%pred0 }
        { subd,0 0, 1, %dr16; subd,1 0, 1, %dr17; addd,2 0, 0, %dr11 }
        { shrs,0 %r2, 28, %r16; shls,1 1, 32, %r11; sars,2 %r2, 33, %r17 }
        { addd,0 0, 14, %dg0; cmpedb,1 %dr16, 0xffffffff0000000f, %pred0 }  // check 14
        { ct %ctpr2 ? ~%pred0 }
        { addd,0 0, 15, %dg0; cmpedb,1 %dr11, 1, %pred0 }  // check 15
        { ct %ctpr2 ? ~%pred0 }
        { addd,0 0, 16, %dg0; cmpedb,1 %dr17, -1, %pred0 }  // check 16
        { ct %ctpr2 ? ~%pred0 }
        { addd,0 0, 0x80008080, %dr20 }
        { sxt,0 0, %r20, %dr21; sxt,1 1, %r20, %dr22; sxt,2 2, %r20, %dr23; sxt,3 4, %r20, %dr24; sxt,4 5, %r20, %dr25; sxt,5 6, %r20, %dr26 }
        { addd,0 0, 17, %dg0; cmpedb,1 %dr21, -128, %pred0 }  // check 17
        { ct %ctpr2 ? ~%pred0 }
        { addd,0 0, 18, %dg0; cmpedb,1 %dr22, 0xffffffffffff8080, %pred0 }  // check 18
        { ct %ctpr2 ? ~%pred0 }
        { addd,0 0, 19, %dg0; cmpedb,1 %dr23, 0xffffffff80008080, %pred0 }  // check 19
        { ct %ctpr2 ? ~%pred0 }
        { addd,0 0, 20, %dg0; cmpedb,1 %dr24, 0x80, %pred0 }  // check 20
        { ct %ctpr2 ? ~%pred0 }
        { addd,0 0, 21, %dg0; cmpedb,1 %dr25, 0x8080, %pred0 }  // check 21
        { ct %ctpr2 ? ~%pred0 }
        { addd,0 0, 22, %dg0; cmpedb,1 %dr26, 0x80008080, %pred0 }  // check 22
        { ct %ctpr2 ? ~%pred0 }
        { getfd,0 %dr20, 0x204, %dr21; getfd,1 %dr20, 0x1200, %dr22; insfd,3 0, 0x204, %dr20, %dr23 }
        { addd,0 0, 23, %dg0; cmpedb,1 %dr21, 8, %pred0 }  // check 23
        { ct %ctpr2 ? ~%pred0 }
        { addd,0 0, 24, %dg0; cmpedb,1 %dr22, -128, %pred0 }  // check 24
        { ct %ctpr2 ? ~%pred0 }
        { addd,0 0, 25, %dg0; cmpedb,1 %dr23, 0x80, %pred0 }  // check 25
        { ct %ctpr2 ? ~%pred0 }
        { subd,0 0, 1, %dr22 }
        { muld,0 %dr0, %dr0, %dr21; muls,1 %r2, %r2, %r22; umulx,3 %r2, %r2, %dr23; smulx,4 %r2, %r2, %dr24 }
        { addd,0 0, 26, %dg0; cmpedb,1 %dr21, 0x14b5a90, %pred0 }  // check 26
        { ct %ctpr2 ? ~%pred0 }
        { addd,0 0, 27, %dg0; cmpedb,1 %dr22, 0xffffffff00000001, %pred0 }  // check 27
        { ct %ctpr2 ? ~%pred0 }
        { addd,0 0, 28, %dg0; cmpedb,1 %dr23, 0xfffffffe00000001, %pred0 }  // check 28
        { ct %ctpr2 ? ~%pred0 }
        { addd,0 0, 29, %dg0; cmpedb,1 %dr24, 1, %pred0 }  // check 29
        { ct %ctpr2 ? ~%pred0 }
        { umulhd,0 %dr2, %dr2, %dr25; smulhd,1 %dr2, %dr2, %dr26 }
        { addd,0 0, 30, %dg0; cmpedb,1 %dr25, 0xfffffffffffffffe, %pred0 }  // check 30
        { ct %ctpr2 ? ~%pred0 }
        { addd,0 0, 31, %dg0; cmpedb,1 %dr26, 0, %pred0 }  // check 31
        { ct %ctpr2 ? ~%pred0 }
        { udivd,5 %dr0, 0x10, %dr21 }
        { sdivd,5 %dr2, 1, %dr22 }
        { subd,0 0, 7, %dr27 }
        { sdivs,5 %r27, 2, %r23 }
        { udivx,5 %dr0, 7, %r24 }
        { umodx,5 %dr0, 7, %r25 }
        { addd,0 0, 0x8000000000000000, %dr28 }
        { sdivd,5 %dr28, %dr2, %dr26 }
        { addd,0 0, 32, %dg0; cmpedb,1 %dr21, 0x123, %pred0 }  // check 32
        { ct %ctpr2 ? ~%pred0 }
        { addd,0 0, 33, %dg0; cmpedb,1 %dr22, -1, %pred0 }  // check 33
        { ct %ctpr2 ? ~%pred0 }
        { addd,0 0, 34, %dg0; cmpesb,1 %r23, -3, %pred0 }  // check 34
        { ct %ctpr2 ? ~%pred0 }
        { addd,0 0, 35, %dg0; cmpesb,1 %r24, 0x299, %pred0 }  // check 35
        { ct %ctpr2 ? ~%pred0 }
        { addd,0 0, 36, %dg0; cmpesb,1 %r25, 5, %pred0 }  // check 36
        { ct %ctpr2 ? ~%pred0 }
        { addd,0 0, 37, %dg0; cmpedb,1 %dr26, 0x8000000000000000, %pred0 }  // check 37
        { ct %ctpr2 ? ~%pred0 }
        { lzcntd,1 %dr0, %dr21; popcntd,4 %dr0, %dr22; bitrevd,0 1, %dr23 }
        { lzcnts,1 1, %r24 }
        { addd,0 0, 38, %dg0; cmpedb,1 %dr21, 51, %pred0 }  // check 38
        { ct %ctpr2 ? ~%pred0 }
        { addd,0 0, 39, %dg0; cmpedb,1 %dr22, 5, %pred0 }  // check 39
        { ct %ctpr2 ? ~%pred0 }
        { addd,0 0, 40, %dg0; cmpedb,1 %dr23, 0x8000000000000000, %pred0 }  // check 40
        { ct %ctpr2 ? ~%pred0 }
        { addd,0 0, 41, %dg0; cmpesb,1 %r24, 31, %pred0 }  // check 41
        { ct %ctpr2 ? ~%pred0 }
        { subd,0 0, 1, %dr29 }
        { setwd wsz=16, nfx=1, dbl=1 }
        { adds,0 0, 5, %r29 }
        { addd,0 0, 42, %dg0; cmpedb,1 %dr29, 5, %pred0 }  // check 42
        { ct %ctpr2 ? ~%pred0 }
        { setwd wsz=16, nfx=1 }
        { movtd,0 %dr0, %dr30; movts,1 %r2, %r31 }
        { addd,0 0, 43, %dg0; cmpedb,1 %dr30, 0x1234, %pred0 }  // check 43
        { ct %ctpr2 ? ~%pred0 }

done_ok:
        { sdisp %ctpr1, 3 }
        { addd,0 0, 1, %dr8; addd,1 0, 0, %dr9; call %ctpr1, wbs=4 }
fail:
        { sdisp %ctpr1, 3 }
        { addd,0 0, 1, %dr8; addd,1 %dg0, 0, %dr9; call %ctpr1, wbs=4 }
