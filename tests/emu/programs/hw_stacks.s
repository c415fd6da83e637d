// access_hw_stacks (254): the procedure stack size includes the frames spilled so far (the
// caller's and the system call's own); READ_PROCEDURE_STACK_EX reads the caller's spilled
// %dr0/%dr1, WRITE_PROCEDURE_STACK_EX changes the caller's %dr0 before it is restored;
// misaligned buffers are refused (-EINVAL = -22).
        .text
_start:
        { setwd wsz=8, nfx=1; disp %ctpr1, callee }
        { addd,0 0, 0, %dr0; addd,1 0, 0x77, %dr1; disp %ctpr2, fail }
        { call %ctpr1, wbs=4 }
        { disp %ctpr2, fail }
        { addd,0 0, 1, %dg0; cmpedb,1 %dr0, 0xdeadbeef, %pred0 }  // check 1
        { ct %ctpr2 ? ~%pred0 }
        { addd,1 0, 2, %dg0; ldd,0 0, rbuf, %dr2 }
        { cmpedb,1 %dr2, 0, %pred0 }  // check 2: the caller's %dr0 as it was spilled
        { ct %ctpr2 ? ~%pred0 }
        { addd,1 0, 3, %dg0; ldd,0 0, rbuf + 8, %dr2 }
        { cmpedb,1 %dr2, 0x77, %pred0 }  // check 3
        { ct %ctpr2 ? ~%pred0 }
        { addd,1 0, 4, %dg0; ldd,0 0, size, %dr2 }
        { cmpedb,1 %dr2, 256, %pred0 }  // check 4: two frames of 4 register pairs
        { ct %ctpr2 ? ~%pred0 }
        { addd,1 0, 5, %dg0; ldd,0 0, result, %dr2 }
        { cmpedb,1 %dr2, -22, %pred0 }  // check 5
        { ct %ctpr2 ? ~%pred0 }
        { sdisp %ctpr1, 3 }
        { addd,0 0, 1, %dr8; addd,1 0, 0, %dr9; call %ctpr1, wbs=4 }
fail:
        { sdisp %ctpr1, 3 }
        { addd,0 0, 1, %dr8; addd,1 %dg0, 0, %dr9; call %ctpr1, wbs=4 }

callee:
        { setwd wsz=8, nfx=1; sdisp %ctpr1, 3 }
        { addd,0 0, 254, %dr8; addd,1 0, 5, %dr9; addd,2 0, 0, %dr10; addd,3 0, 0, %dr11 }
        { addd,0 0, 0, %dr12; addd,1 0, size, %dr13; call %ctpr1, wbs=4 }
        { ldd,0 0, size, %dr2; addd,1 0, frame, %dr3 }
        { subd,0 %dr2, 256, %dr2 }
        { std,2 %dr2, [ %dr3 + 0 ]; sdisp %ctpr1, 3 }
        { addd,0 0, 254, %dr8; addd,1 0, 7, %dr9; addd,2 0, frame, %dr10; addd,3 0, rbuf, %dr11 }
        { addd,0 0, 16, %dr12; addd,1 0, 0, %dr13; call %ctpr1, wbs=4 }
        { sdisp %ctpr1, 3 }
        { addd,0 0, 254, %dr8; addd,1 0, 8, %dr9; addd,2 0, frame, %dr10; addd,3 0, wbuf, %dr11 }
        { addd,0 0, 8, %dr12; addd,1 0, 0, %dr13; call %ctpr1, wbs=4 }
        { sdisp %ctpr1, 3 }
        { addd,0 0, 254, %dr8; addd,1 0, 7, %dr9; addd,2 0, frame, %dr10; addd,3 0, rbuf + 1, %dr11 }
        { addd,0 0, 8, %dr12; addd,1 0, 0, %dr13; call %ctpr1, wbs=4 }
        { addd,0 0, result, %dr3 }
        { std,2 %dr8, [ %dr3 + 0 ]; return %ctpr3 }
        { ct %ctpr3 }
        .data
        .align 8
wbuf:   .dword 0xdeadbeef
rbuf:   .dword 1, 1, 1
size:   .dword 0
frame:  .dword 0
result: .dword 0
