// A load from an address with no memory raises exc_data_page: SIGSEGV (128+11); the
// guest can never reach host memory.
// EXPECT-EXIT: 139
// EXPECT-STDERR: exc_data_page
        .text
_start:
        { setwd wsz=8, nfx=1; addd,0 0, 0x7ffffffff000, %dr0 }
        { ldd,0 %dr0, 0, %dr1 }
        { sdisp %ctpr1, 3 }
        { addd,0 0, 1, %dr8; addd,1 0, 0, %dr9; call %ctpr1, wbs=4 }
