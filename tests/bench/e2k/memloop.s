// Memory-loop benchmark without system calls (qemu-e2k runs it): fills a 4 MiB buffer in
// .bss with stores, then sums it 128 times with 4 loads + 4 adds per 2 bundles. Exits 0 when
// the sum matches the fill (as checksum.s, whose mmap qemu-e2k cannot run).
        .text
        .global _start
_start:
        { setwd wsz=16, nfx=1; disp %ctpr2, fill }
        { addd,0 0, buffer, %dr20; addd,1 0, 0, %dr10 }
        { addd,0 %dr20, 0x400000, %dr21; addd,1 %dr20, 0, %dr1; addd,2 0, 1, %dr3 }
        { subd,0 %dr21, 16, %dr9 }
fill:
        { std,2 %dr3, [ %dr1 + 0 ]; std,5 %dr3, [ %dr1 + 8 ]; addd,0 %dr1, 16, %dr1; addd,1 %dr3, 1, %dr3; cmpbdb,3 %dr1, %dr9, %pred0 }
        { ct %ctpr2 ? %pred0 }
        { addd,0 0, 128, %dr15; addd,1 0, 0, %dr10; addd,2 0, 0, %dr11; addd,3 0, 0, %dr12; addd,4 0, 0, %dr13 }
        { subd,0 %dr21, 32, %dr9 }
outer:
        { addd,0 %dr20, 0, %dr1; disp %ctpr2, sum; subd,1 %dr15, 1, %dr15 }
sum:
        { ldd,0 %dr1, 0, %dr4; ldd,2 %dr1, 8, %dr5; ldd,3 %dr1, 16, %dr6; ldd,5 %dr1, 24, %dr7; addd,1 %dr1, 32, %dr1; cmpbdb,4 %dr1, %dr9, %pred0 }
        { addd,0 %dr10, %dr4, %dr10; addd,1 %dr11, %dr5, %dr11; addd,3 %dr12, %dr6, %dr12; addd,4 %dr13, %dr7, %dr13; ct %ctpr2 ? %pred0 }
        { cmpedb,0 %dr15, 0, %pred1; disp %ctpr3, outer }
        { ct %ctpr3 ? ~%pred1 }
        // the fill writes 1,1,2,2,...,256K,256K: 128 passes sum to 128 * 256K * (256K+1)
        { addd,0 %dr10, %dr11, %dr10; addd,1 %dr12, %dr13, %dr12 }
        { addd,0 %dr10, %dr12, %dr10 }
        { cmpedb,0 %dr10, 0x80002000000, %pred2; sdisp %ctpr1, 3 }
        { addd,0 0, 1, %dr8; addd,1 0, 0, %dr9 }
        { addd,1 0, 1, %dr9 ? ~%pred2; call %ctpr1, wbs=4 }
        .bss
        .balign 64
buffer:
        .skip 0x400000
