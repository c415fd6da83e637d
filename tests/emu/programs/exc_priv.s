// Writing %psr in user mode raises exc_priv_action: SIGILL (128+4).
// EXPECT-EXIT: 132
// EXPECT-STDERR: exc_priv_action
        .text
_start:
        { setwd wsz=8, nfx=1 }
        { rws,0 0, %psr }
        { sdisp %ctpr1, 3 }
        { addd,0 0, 1, %dr8; addd,1 0, 0, %dr9; call %ctpr1, wbs=4 }
