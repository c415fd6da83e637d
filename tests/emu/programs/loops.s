// Loops: counted loop with a compare, hardware loop counters (LSR lcnt/ecnt, alc, #NOT_LOOP_END)
// and rotating based registers (abn).
// Each check sets %dg0 to its number and branches to `fail` (exit code = that number) when
// the checked value is wrong; reaching the end exits 0.
        .text
        .global _start
_start:
        { setwd wsz=16, nfx=1; disp %ctpr2, fail }

        { addd,0 0, 0, %dr0; addd,1 0, 100, %dr1; disp %ctpr1, loop0 }
loop0:
        { addd,0 %dr0, %dr1, %dr0; subd,1 %dr1, 1, %dr1; cmpedb,3 %dr1, 1, %pred0 }
        { ct %ctpr1 ? ~%pred0 }
        { addd,0 0, 1, %dg0; cmpedb,1 %dr0, 5050, %pred0 }  // check 1
        { ct %ctpr2 ? ~%pred0 }
        { rwd,0 0x2000000008, %lsr; addd,1 0, 0, %dr0; disp %ctpr1, loop1 }
loop1:
        { loop_mode; addd,0 %dr0, 1, %dr0; alc alct=1; ct %ctpr1 ? #NOT_LOOP_END }
        { addd,0 0, 2, %dg0; cmpedb,1 %dr0, 8, %pred0 }  // check 2
        { ct %ctpr2 ? ~%pred0 }
        { rwd,0 0x0000002200000008, %lsr; addd,1 0, 0, %dr0; disp %ctpr1, loop2 }
loop2:
        { addd,0 %dr0, 1, %dr0; alc alct=1; ct %ctpr1 ? #NOT_LOOP_END }
        { addd,0 0, 3, %dg0; cmpedb,1 %dr0, 10, %pred0 }  // check 3
        { ct %ctpr2 ? ~%pred0 }
        { rrd,0 %lsr, %dr2 }
        { addd,0 0, 4, %dg0; cmpedb,1 %dr2, 0x0000006000000000, %pred0 }  // check 4
        { ct %ctpr2 ? ~%pred0 }
        { setbn rsz=1, rbs=8, rcur=0; rwd,0 0x2000000003, %lsr }
        { addd,0 0, 0, %dr0; disp %ctpr1, loop3 }
loop3:
        { addd,0 %dr0, 1, %dr0; addd,1 %dr0, 1, %db[0]; abn abnt=1; alc alct=1; ct %ctpr1 ? #NOT_LOOP_END }
        { addd,0 0, 5, %dg0; cmpedb,1 %dr16, 3, %pred0 }  // check 5
        { ct %ctpr2 ? ~%pred0 }
        { addd,0 0, 6, %dg0; cmpedb,1 %dr18, 2, %pred0 }  // check 6
        { ct %ctpr2 ? ~%pred0 }
        { setbn rsz=0, rbs=0, rcur=0 }

done_ok:
        { sdisp %ctpr1, 3 }
        { addd,0 0, 1, %dr8; addd,1 0, 0, %dr9; call %ctpr1, wbs=4 }
fail:
        { sdisp %ctpr1, 3 }
        { addd,0 0, 1, %dr8; addd,1 %dg0, 0, %dr9; call %ctpr1, wbs=4 }
