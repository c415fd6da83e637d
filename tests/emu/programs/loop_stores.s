// Stores of a loop-mode bundle (the suite's lsr/strmd-1, on hardware): dropped in the prologue
// (pcnt != 0) and past the epilogue (vlc, lcnt = 0, ecnt = 0) unless LSR.strmd is set.
// Each case stores a zero byte over 0xff at the next byte of `mem`; the bytes are then checked.
        .text
_start:
        { setwd wsz=8, nfx=1; addd,0 0, mem, %dr2; addd,1 0, 0, %dr0; disp %ctpr2, fail }
        // case 0: no loop state: kept
        { rwd,0 0, %lsr }
        { loop_mode; stb,2 %dr0, [ %dr2 + 0 ] }
        // case 1: prologue (pcnt 1): dropped
        { rwd,0 0x1000000000000, %lsr }
        { loop_mode; stb,2 %dr0, [ %dr2 + 1 ] }
        // case 2: past the epilogue (vlc): dropped
        { rwd,0 0x2000000000, %lsr }
        { loop_mode; stb,2 %dr0, [ %dr2 + 2 ] }
        // case 3: past the epilogue with strmd 1: kept
        { rwd,0 0x20002000000000, %lsr }
        { loop_mode; stb,2 %dr0, [ %dr2 + 3 ] }
        // case 4: epilogue (vlc, ecnt 1): kept
        { rwd,0 0x2100000000, %lsr }
        { loop_mode; stb,2 %dr0, [ %dr2 + 4 ] }
        // case 5: kernel (vlc, lcnt 1): kept
        { rwd,0 0x2000000001, %lsr }
        { loop_mode; stb,2 %dr0, [ %dr2 + 5 ] }
        { rwd,0 0, %lsr }
        { ldd,0 0, mem, %dr3 }
        { addd,0 0, 1, %dg0; cmpedb,1 %dr3, 0xffff000000ffff00, %pred0 }  // check 1
        { ct %ctpr2 ? ~%pred0 }
        { sdisp %ctpr1, 3 }
        { addd,0 0, 1, %dr8; addd,1 0, 0, %dr9; call %ctpr1, wbs=4 }
fail:
        { sdisp %ctpr1, 3 }
        { addd,0 0, 1, %dr8; addd,1 %dg0, 0, %dr9; call %ctpr1, wbs=4 }
        .data
        .align 8
mem:    .dword -1
