// 80-bit (x87 extended) values: movif/movfi build and split them (mantissa in the register,
// sign and exponent in its ext part), fxaddxx/fxsubxx/fxmulxx compute in extended precision;
// the ext part survives a call that spills the register.
        .text
_start:
        { setwd wsz=16, nfx=1; disp %ctpr2, fail; shld,0 1, 63, %dr0 }
        { movif,0 %dr0, 0x3fff, %dr1; movif,1 %dr0, 0x4000, %dr2 }  // 1.0, 2.0
        { fxaddxx,0 %dr1, %dr2, %dr3; fxsubxx,1 %dr1, %dr2, %dr4 }   // 3.0, -1.0
        { fxmulxx,0 %dr3, %dr2, %dr5 }                               // 6.0
        { movfi,0 %dr3, %r6; movfi,1 %dr4, %r7; movfi,3 %dr5, %r8 }
        { addd,0 0, 1, %dg0; cmpedb,1 %dr3, 0xc000000000000000, %pred0 }  // check 1
        { ct %ctpr2 ? ~%pred0 }
        { addd,0 0, 2, %dg0; cmpesb,1 %r6, 0x4000, %pred0 }  // check 2
        { ct %ctpr2 ? ~%pred0 }
        { addd,0 0, 3, %dg0; cmpedb,1 %dr4, 0x8000000000000000, %pred0 }  // check 3
        { ct %ctpr2 ? ~%pred0 }
        { addd,0 0, 4, %dg0; cmpesb,1 %r7, 0xbfff, %pred0 }  // check 4
        { ct %ctpr2 ? ~%pred0 }
        { addd,0 0, 5, %dg0; cmpedb,1 %dr5, 0xc000000000000000, %pred0 }  // check 5
        { ct %ctpr2 ? ~%pred0 }
        { addd,0 0, 6, %dg0; cmpesb,1 %r8, 0x4001, %pred0 }  // check 6
        { ct %ctpr2 ? ~%pred0 }
        // 1 + 2^-63 is exact in 80 bits (64-bit mantissa), not in a double
        { movif,0 %dr0, 0x3fc0, %dr9 }                              // 2^-63
        { fxaddxx,0 %dr1, %dr9, %dr10 }
        { addd,0 0, 7, %dg0; cmpedb,1 %dr10, 0x8000000000000001, %pred0 }  // check 7
        { ct %ctpr2 ? ~%pred0 }
        { disp %ctpr1, leaf }
        { call %ctpr1, wbs=14 }
        { disp %ctpr2, fail }
        { movfi,0 %dr5, %r11 }
        { addd,0 0, 8, %dg0; cmpesb,1 %r11, 0x4001, %pred0 }  // check 8
        { ct %ctpr2 ? ~%pred0 }
        { sdisp %ctpr1, 3 }
        { addd,0 0, 1, %dr8; addd,1 0, 0, %dr9; call %ctpr1, wbs=4 }
fail:
        { sdisp %ctpr1, 3 }
        { addd,0 0, 1, %dr8; addd,1 %dg0, 0, %dr9; call %ctpr1, wbs=4 }
leaf:
        { setwd wsz=4, nfx=1; return %ctpr3 }
        { ct %ctpr3 }
