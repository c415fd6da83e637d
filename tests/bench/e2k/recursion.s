// Call-heavy benchmark: naive recursive fib(30) (about 2.7 million calls through register
// windows and the chain stack). Exits 0 when the result is 832040.
        .text
        .global _start
_start:
        { setwd wsz=16, nfx=1; disp %ctpr1, fib; addd,0 0, 30, %dr28 }
        { call %ctpr1, wbs=14 }
        { cmpedb,0 %dr28, 832040, %pred0; sdisp %ctpr1, 3 }
        { addd,0 0, 1, %dr8; addd,1 0, 0, %dr9 }
        { addd,1 0, 1, %dr9 ? ~%pred0; call %ctpr1, wbs=4 }

// fib(n): n in %dr0, result in %dr0
fib:
        { setwd wsz=6, nfx=1; disp %ctpr1, fib; cmpbdb,0 %dr0, 2, %pred0 }
        { disp %ctpr2, fib_base; subd,0 %dr0, 1, %dr8 }
        { ct %ctpr2 ? %pred0 }
        { call %ctpr1, wbs=4 }
        { addd,0 %dr8, 0, %dr2; subd,1 %dr0, 2, %dr8; disp %ctpr1, fib }
        { call %ctpr1, wbs=4 }
        { addd,0 %dr2, %dr8, %dr0; return %ctpr3 }
        { ct %ctpr3 }
fib_base:
        { return %ctpr3 }
        { ct %ctpr3 }
