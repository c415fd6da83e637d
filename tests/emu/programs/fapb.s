// An array prefetch program written with fapb in the text (as the qemu-e2k-tests aau suite
// writes one), assembled by e2kvm-as and run by e2kvm-user: ldisp names it, bap starts it,
// MOVA reads the areas of both halves (left `ct=`, right `dpl=`) and of a second instruction
// (the one with ct=1 ends the program). The disassembly must assemble back to the same bytes
// (the roundtrip test), so e2kvm-objdump --source prints these instructions as fapb.
// Each check sets %dg0 to its number and branches to `fail` when the value is wrong.
        .text
        .global _start
_start:
        { setwd wsz=16, nfx=1; disp %ctpr1, fail }
        // %aad1 = arr, %aaind1 = 8
        { ldisp %ctpr2, program; addd,0 0, arr, %dr0; addd,1 0, 8, %dr1 }
        { aaurwd,2 %dr0, %aad1; aaurwd,5 %dr1, %aaind1 }
        { bap }
        // area 0 left: dwords from arr+0; area 0 right: words from arr+8+0x10
        { movad,0 area=0, ind=0, am=1, be=0, %dr2; movaw,2 area=0, ind=4, am=0, be=0, %dr3 }
        { addd,0 0, 1, %dg0; cmpedb,1 %dr2, 0x0706050403020100, %pred0 }  // check 1
        { ct %ctpr1 ? ~%pred0 }
        { addd,0 0, 2, %dg0; cmpedb,1 %dr3, 0x1f1e1d1c, %pred0 }  // check 2
        { ct %ctpr1 ? ~%pred0 }
        // area 0 left moved on by one dword (am=1); area 1 left holds bytes from arr+5
        { movad,0 area=0, ind=0, am=0, be=0, %dr4; movab,1 area=1, ind=1, am=0, be=0, %dr5 }
        { addd,0 0, 3, %dg0; cmpedb,1 %dr4, 0x0f0e0d0c0b0a0908, %pred0 }  // check 3
        { ct %ctpr1 ? ~%pred0 }
        { addd,0 0, 4, %dg0; cmpedb,1 %dr5, 6, %pred0 }  // check 4
        { ct %ctpr1 ? ~%pred0 }
        { eap }
        { sdisp %ctpr1, 3 }
        { addd,0 0, 1, %dr8; addd,1 0, 0, %dr9; call %ctpr1, wbs=4 }
fail:
        { sdisp %ctpr1, 3 }
        { addd,0 0, 1, %dr8; addd,1 %dg0, 0, %dr9; call %ctpr1, wbs=4 }
program:
        {
            fapb ct=0, dcd=0, fmt=4, mrng=8, d=1, incr=0, ind=0, asz=1, abs=0, disp=0
            fapb dpl=0, dcd=0, fmt=3, mrng=8, d=1, incr=1, ind=1, asz=1, abs=0, disp=0x10
        }
        fapb ct=1, fmt=1, mrng=8, d=1, asz=1, disp=5

        .data
        .balign 16
arr:
        .quad 0x0706050403020100, 0x0f0e0d0c0b0a0908, 0x1716151413121110, 0x1f1e1d1c1b1a1918
