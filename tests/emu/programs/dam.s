// DAM (speculative memory locks; the suite's dam tests): a load with MAS mod 4 locks its
// bytes, a store to them (in a later bundle or in the checking bundle itself) marks the lock
// hit, and a load with mod 3 checks and unlocks it; `rbranch` (ibranch ? %MLOCK) is taken
// when the lock was hit.
// Each check sets %dg0 to its number and branches to `fail` when the value is wrong.
        .text
        .global _start
_start:
        { setwd wsz=16, nfx=1; disp %ctpr1, fail; addd,0 0, mem, %dr1; addd,1 0, 0, %dr2 }
        // a store to the locked dword in the checking bundle: taken (the suite's dam-2)
        { ldd,0,sm %dr1, 0, %dr0 mas=0x4 }
        { std,2 %dr2, [ %dr1 + 0 ]; ldd,5 %dr1, 0, %dr0 mas=0x3; rbranch 1f }
        { addd,0 0, 1, %dg0; ibranch fail }  // check 1
1:
        // a store next to it: not taken, the check load reads the memory
        { ldd,0,sm %dr1, 8, %dr0 mas=0x4 }
        { std,2 %dr2, [ %dr1 + 16 ]; ldd,5 %dr1, 8, %dr3 mas=0x3; rbranch 2f }
        { addd,0 0, 2, %dg0; cmpedb,1 %dr3, -1, %pred0 }  // check 2
        { ct %ctpr1 ? ~%pred0 }
        { ibranch 3f }
2:
        { addd,0 0, 2, %dg0; ibranch fail }
3:
        // a store in a bundle between lock and check, to one byte of the dword: taken
        { ldd,0,sm %dr1, 24, %dr0 mas=0x4 }
        { stb,2 %r2, [ %dr1 + 27 ] }
        { ldd,5 %dr1, 24, %dr0 mas=0x3; rbranch 4f }
        { addd,0 0, 3, %dg0; ibranch fail }  // check 3
4:
        // the check unlocked it: a second check finds no lock and is not taken
        { ldd,5 %dr1, 24, %dr0 mas=0x3; rbranch 5f }
        { ibranch 6f }
5:
        { addd,0 0, 4, %dg0; ibranch fail }  // check 4
6:
        { sdisp %ctpr1, 3 }
        { addd,0 0, 1, %dr8; addd,1 0, 0, %dr9; call %ctpr1, wbs=4 }
fail:
        { sdisp %ctpr1, 3 }
        { addd,0 0, 1, %dr8; addd,1 %dg0, 0, %dr9; call %ctpr1, wbs=4 }

        .data
        .balign 8
mem:
        .fill 40, 1, -1
