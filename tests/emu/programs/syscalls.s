// E2K Linux system calls: write, getpid, brk, mmap/munmap, clock_gettime, read from an empty
// stdin, and -ENOSYS for an unknown number.
// Each check sets %dg0 to its number and branches to `fail` (exit code = that number) when
// the checked value is wrong; reaching the end exits 0.
// EXPECT-STDOUT: ok\n
        .text
        .global _start
_start:
        { setwd wsz=16, nfx=1; disp %ctpr2, fail }

        { sdisp %ctpr1, 3; addd,1 0, msg, %dr10 }
        { addd,0 0, 4, %dr8; addd,1 0, 1, %dr9; addd,3 0, 3, %dr11; call %ctpr1, wbs=4 }
        { disp %ctpr2, fail }
        { addd,0 0, 1, %dg0; cmpedb,1 %dr8, 3, %pred0 }  // check 1
        { ct %ctpr2 ? ~%pred0 }
        { sdisp %ctpr1, 3 }
        { addd,0 0, 20, %dr8; call %ctpr1, wbs=4 }
        { disp %ctpr2, fail }
        { cmpledb,0 %dr8, 0, %pred1 }
        { addd,0 0, 2, %dg0 }  // check 2
        { ct %ctpr2 ? %pred1 }
        { sdisp %ctpr1, 3 }
        { addd,0 0, 45, %dr8; addd,1 0, 0, %dr9; call %ctpr1, wbs=4 }
        { addd,0 %dr8, 0, %dr20; addd,1 %dr8, 4096, %dr9; addd,2 0, 45, %dr8; sdisp %ctpr1, 3 }
        { call %ctpr1, wbs=4 }
        { disp %ctpr2, fail }
        { addd,0 %dr20, 4096, %dr21 }
        { addd,0 0, 3, %dg0; cmpedb,1 %dr8, %dr21, %pred0 }  // check 3
        { ct %ctpr2 ? ~%pred0 }
        { std,2 %dr21, [ %dr20 + 8 ] }
        { ldd,0 %dr20, 8, %dr22 }
        { addd,0 0, 4, %dg0; cmpedb,1 %dr22, %dr21, %pred0 }  // check 4
        { ct %ctpr2 ? ~%pred0 }
        { sdisp %ctpr1, 3 }
        { addd,0 0, 90, %dr8; addd,1 0, 0, %dr9; addd,2 0, 8192, %dr10; addd,3 0, 3, %dr11; addd,4 0, 0x22, %dr12; subd,5 0, 1, %dr13 }
        { addd,0 0, 0, %dr14; call %ctpr1, wbs=4 }
        { disp %ctpr2, fail }
        { addd,0 %dr8, 0, %dr20; cmpledb,1 %dr8, 0, %pred1 }
        { addd,0 0, 5, %dg0 }  // check 5
        { ct %ctpr2 ? %pred1 }
        { std,2 %dr20, [ %dr20 + 8184 ] }
        { ldd,0 %dr20, 8184, %dr22 }
        { addd,0 0, 6, %dg0; cmpedb,1 %dr22, %dr20, %pred0 }  // check 6
        { ct %ctpr2 ? ~%pred0 }
        { sdisp %ctpr1, 3; addd,1 %dr20, 0, %dr9 }
        { addd,0 0, 91, %dr8; addd,1 0, 8192, %dr10; call %ctpr1, wbs=4 }
        { disp %ctpr2, fail }
        { addd,0 0, 7, %dg0; cmpedb,1 %dr8, 0, %pred0 }  // check 7
        { ct %ctpr2 ? ~%pred0 }
        { ldd,0 %dr20, 8184, %dr22 }
        { addd,0 0, 8, %dg0; cmpedb,1 %dr22, 0, %pred0 }  // check 8
        { ct %ctpr2 ? ~%pred0 }
        { sdisp %ctpr1, 3; getsp,0 -16, %dr20 }
        { addd,0 0, 267, %dr8; addd,1 0, 0, %dr9; addd,2 %dr20, 0, %dr10; call %ctpr1, wbs=4 }
        { disp %ctpr2, fail }
        { addd,0 0, 9, %dg0; cmpedb,1 %dr8, 0, %pred0 }  // check 9
        { ct %ctpr2 ? ~%pred0 }
        { ldd,0 %dr20, 0, %dr21 }
        { cmpbdb,0 %dr21, 1000000000, %pred1 }
        { addd,0 0, 10, %dg0 }  // check 10
        { ct %ctpr2 ? %pred1 }
        { sdisp %ctpr1, 3 }
        { addd,0 0, 3, %dr8; addd,1 0, 0, %dr9; addd,2 %dr20, 0, %dr10; addd,3 0, 1, %dr11; call %ctpr1, wbs=4 }
        { disp %ctpr2, fail }
        { addd,0 0, 11, %dg0; cmpedb,1 %dr8, 0, %pred0 }  // check 11
        { ct %ctpr2 ? ~%pred0 }
        { sdisp %ctpr1, 3 }
        { addd,0 0, 9999, %dr8; call %ctpr1, wbs=4 }
        { disp %ctpr2, fail }
        { addd,0 0, 12, %dg0; cmpedb,1 %dr8, -38, %pred0 }  // check 12
        { ct %ctpr2 ? ~%pred0 }

done_ok:
        { sdisp %ctpr1, 3 }
        { addd,0 0, 1, %dr8; addd,1 0, 0, %dr9; call %ctpr1, wbs=4 }
fail:
        { sdisp %ctpr1, 3 }
        { addd,0 0, 1, %dr8; addd,1 %dg0, 0, %dr9; call %ctpr1, wbs=4 }
        .data
msg:    .ascii "ok\n"
