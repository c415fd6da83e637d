// Array access unit (ISA notes §8; behaviour from the qemu-e2k-tests aau suite): staa with
// %aasti increments, aaurw/aaurr of %aad/%aasti/%aaind/%aaincr (%aaind0 = 0 and %aaincr0 = 1
// always), and the array prefetch program: ldisp + bap, then MOVA reads of each area with
// am (advance once per bundle and area), ind, be, a read wider than the area's format or a
// misaligned one giving a diagnostic value, and a second bap restarting the areas.
// Each check sets %dg0 to its number and branches to `fail` when the value is wrong.
        .text
        .global _start
_start:
        { setwd wsz=16, nfx=1; disp %ctpr1, fail }
        // ---- staa: %aad0 = out, %aasti1 = 0, %aaincr1 = 2, %aasti2 = 8 ----
        { addd,0 0, out, %dr0; addd,1 0, 0, %dr1; addd,2 0, 2, %dr2; addd,3 0, 8, %dr3 }
        { aaurwd,2 %dr0, %aad0; aaurwd,5 %dr1, %aasti1 }
        { aaurwd,2 %dr2, %aaincr1; aaurwd,5 %dr3, %aasti2 }
        { addd,0 0, 0x11, %dr4; addd,1 0, 0x22, %dr5; addd,3 0, 0x33, %dr6 }
        { staab,2 %r4, %aad0 [ %aasti1 ]; incr,2 %aaincr0 }  // out+0, %aasti1 = 1
        { staab,5 %r5, %aad0 [ %aasti1 ]; incr,5 %aaincr1 }  // out+1, %aasti1 = 3
        { staab,2 %r6, %aad0 [ %aasti1 ] }                    // out+3, no increment
        { addd,0 0, out, %dr0 }
        { ldd,0 %dr0, 0, %dr7; aaurrd,2 %aasti1, %dr8 }
        { addd,0 0, 1, %dg0; cmpedb,1 %dr7, 0x33002211, %pred0 }  // check 1
        { ct %ctpr1 ? ~%pred0 }
        { addd,0 0, 2, %dg0; cmpedb,1 %dr8, 3, %pred0 }  // check 2
        { ct %ctpr1 ? ~%pred0 }
        // a word then a dword, two increments in one bundle on different registers
        { addd,0 0, 0x5a5b5c5d, %dr9; addd,1 0, 0x0102030405060708, %dr10; addd,2 0, 0, %dr11 }
        { aaurwd,2 %dr11, %aasti3 }
        { staaw,5 %r9, %aad0 [ %aasti2 ]; incr,5 %aaincr1; staad,2 %dr10, %aad0 [ %aasti3 ]; incr,2 %aaincr1 }
        { ldd,0 %dr0, 8, %dr12; ldd,2 %dr0, 0, %dr13 }
        { aaurrd,2 %aasti2, %dr14; aaurrd,5 %aasti3, %dr15 }
        { addd,0 0, 3, %dg0; cmpedb,1 %dr12, 0x5a5b5c5d, %pred0 }  // check 3
        { ct %ctpr1 ? ~%pred0 }
        { addd,0 0, 4, %dg0; cmpedb,1 %dr13, 0x0102030405060708, %pred0 }  // check 4
        { ct %ctpr1 ? ~%pred0 }
        { addd,0 0, 5, %dg0; cmpedb,1 %dr14, 16, %pred0 }  // check 5: 8 + (2 << 2)
        { ct %ctpr1 ? ~%pred0 }
        { addd,0 0, 6, %dg0; cmpedb,1 %dr15, 16, %pred0 }  // check 6: 0 + (2 << 3)
        { ct %ctpr1 ? ~%pred0 }
        // %aaind0 and %aaincr0 keep 0 and 1
        { addd,0 0, 7, %dr16 }
        { aaurwd,2 %dr16, %aaind0; aaurwd,5 %dr16, %aaincr0 }
        { aaurrd,2 %aaind0, %dr17; aaurrd,5 %aaincr0, %dr18 }
        { addd,0 0, 7, %dg0; cmpedb,1 %dr17, 0, %pred0 }  // check 7
        { ct %ctpr1 ? ~%pred0 }
        { addd,0 0, 8, %dg0; cmpedb,1 %dr18, 1, %pred0 }  // check 8
        { ct %ctpr1 ? ~%pred0 }

        // ---- array prefetch: %aad1 = arr (bytes 0, 1, 2, ...), %aaind1 = 8 ----
        { ldisp %ctpr2, apb; addd,0 0, arr, %dr0; addd,1 0, 8, %dr1 }
        { aaurwd,2 %dr0, %aad1; aaurwd,5 %dr1, %aaind1 }
        { bap }
        // area 0 left: dwords from arr+0; area 0 right: words from arr+8+0x10, step 2 words
        { movad,0 area=0, ind=0, am=1, be=0, %dr2; movaw,2 area=0, ind=4, am=0, be=0, %dr3 }
        { addd,0 0, 9, %dg0; cmpedb,1 %dr2, 0x0706050403020100, %pred0 }  // check 9
        { ct %ctpr1 ? ~%pred0 }
        { addd,0 0, 10, %dg0; cmpedb,1 %dr3, 0x1f1e1d1c, %pred0 }  // check 10
        { ct %ctpr1 ? ~%pred0 }
        // two MOVAs of one area with am: both read the same element, the area moves once
        { movad,0 area=0, ind=0, am=1, be=0, %dr4; movad,1 area=0, ind=0, am=1, be=0, %dr5; movaw,2 area=0, ind=0, am=1, be=0, %dr6 }
        { movad,0 area=0, ind=0, am=0, be=0, %dr7; movaw,3 area=0, ind=0, am=0, be=0, %dr8 }
        { addd,0 0, 11, %dg0; cmpedb,1 %dr4, 0x0f0e0d0c0b0a0908, %pred0 }  // check 11
        { ct %ctpr1 ? ~%pred0 }
        { addd,0 0, 12, %dg0; cmpedb,1 %dr5, 0x0f0e0d0c0b0a0908, %pred0 }  // check 12
        { ct %ctpr1 ? ~%pred0 }
        { addd,0 0, 13, %dg0; cmpedb,1 %dr6, 0x1b1a1918, %pred0 }  // check 13
        { ct %ctpr1 ? ~%pred0 }
        { addd,0 0, 14, %dg0; cmpedb,1 %dr7, 0x1716151413121110, %pred0 }  // check 14
        { ct %ctpr1 ? ~%pred0 }
        { addd,0 0, 15, %dg0; cmpedb,1 %dr8, 0x23222120, %pred0 }  // check 15
        { ct %ctpr1 ? ~%pred0 }
        // be=1 swaps the bytes; area 1 left holds bytes from arr+5
        { movaw,2 area=0, ind=0, am=0, be=1, %dr9; movab,0 area=1, ind=1, am=0, be=0, %dr10 }
        { addd,0 0, 16, %dg0; cmpedb,1 %dr9, 0x20212223, %pred0 }  // check 16
        { ct %ctpr1 ? ~%pred0 }
        { addd,0 0, 17, %dg0; cmpedb,1 %dr10, 6, %pred0 }  // check 17
        { ct %ctpr1 ? ~%pred0 }
        // diagnostic results: movah of a byte area, movad of an inactive area (fmt=0), a
        // misaligned movad (area 2 left starts at arr+4)
        { movah,1 area=1, ind=0, am=0, be=0, %dr11; movad,2 area=1, ind=0, am=0, be=0, %dr12; movad,0 area=2, ind=0, am=0, be=0, %dr13 }
        { gettagd,2 %dr11, %r14; gettagd,5 %dr12, %r15 }
        { gettagd,2 %dr13, %r16 }
        { addd,0 0, 18, %dg0; cmpesb,1 %r14, 5, %pred0 }  // check 18
        { ct %ctpr1 ? ~%pred0 }
        { addd,0 0, 19, %dg0; cmpesb,1 %r15, 5, %pred0 }  // check 19
        { ct %ctpr1 ? ~%pred0 }
        { addd,0 0, 20, %dg0; cmpesb,1 %r16, 5, %pred0 }  // check 20
        { ct %ctpr1 ? ~%pred0 }
        // eap, then bap again: area 0 left starts over at %aaind0
        { eap }
        { bap }
        { movad,0 area=0, ind=0, am=0, be=0, %dr17 }
        { addd,0 0, 21, %dg0; cmpedb,1 %dr17, 0x0706050403020100, %pred0 }  // check 21
        { ct %ctpr1 ? ~%pred0 }

        { sdisp %ctpr1, 3 }
        { addd,0 0, 1, %dr8; addd,1 0, 0, %dr9; call %ctpr1, wbs=4 }
fail:
        { sdisp %ctpr1, 3 }
        { addd,0 0, 1, %dr8; addd,1 %dg0, 0, %dr9; call %ctpr1, wbs=4 }

        .data
        .balign 16
// The prefetch program (fapb): per 16 bytes a left word (MOVA channels 0-1) and a right word
// (channels 2-3). Low half: abs 4:0, asz 7:5, ind 11:8, incr 14:12, aad 19:15, mrng 24:20,
// fmt 27:25, ct 31; high half: disp.
apb:
        .quad 0x08808020            // fmt=4 (dword), aad=1, ind=0, incr=0
        .quad 0x0000001006809120    // fmt=3 (word), aad=1, ind=1, incr=1, disp=0x10
        .quad 0x0000000502808020    // fmt=1 (byte), aad=1, disp=5
        .quad 0                     // fmt=0: inactive
        .quad 0x0000000488808020    // fmt=4, aad=1, disp=4 (misaligned), ct: last one
        .quad 0
arr:
        .quad 0x0706050403020100, 0x0f0e0d0c0b0a0908, 0x1716151413121110, 0x1f1e1d1c1b1a1918
        .quad 0x2726252423222120, 0x2f2e2d2c2b2a2928, 0x3736353433323130, 0x3f3e3d3c3b3a3938
out:
        .quad 0, 0, 0, 0
