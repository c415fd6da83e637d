// With UPSR.ac set, a misaligned ldd without MAS.na raises exc_addr_not_aligned: SIGBUS (128+7).
// EXPECT-EXIT: 135
// EXPECT-STDERR: exc_addr_not_aligned
        .text
_start:
        { setwd wsz=8, nfx=1; addd,1 0, buf, %dr0; rws,0 4, %upsr }
        { ldd,0 %dr0, 4, %dr1 }
        { sdisp %ctpr1, 3 }
        { addd,0 0, 1, %dr8; addd,1 0, 0, %dr9; call %ctpr1, wbs=4 }
        .data
buf:    .dword 1, 2
