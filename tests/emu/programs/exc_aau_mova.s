// MOVA never faults: a read the prefetch area cannot give (here movah of a byte area, as in
// the suite's aau-movah-fmt-1) yields a diagnostic value, and a non-speculative op using it
// raises exc_illegal_operand (SIGILL, 128+4).
// EXPECT-EXIT: 132
// EXPECT-STDERR: exc_illegal_operand at IP 0x10040
        .text
        .global _start
_start:
        { setwd wsz=8, nfx=1; ldisp %ctpr2, apb; addd,0 0, arr, %dr0 }
        { aaurwd,2 %dr0, %aad0 }
        { bap }
        { movah,0 area=0, ind=0, am=1, be=0, %r1 }
        { addd,0 %dr1, 0, %dr1 }
        { sdisp %ctpr1, 3 }
        { addd,0 0, 1, %dr8; addd,1 0, 0, %dr9; call %ctpr1, wbs=4 }
        .data
        .balign 16
apb:
        .quad 0x82800020, 0 // fmt=1 (bytes), aad=0, ct
arr:
        .quad 0x0706050403020100
