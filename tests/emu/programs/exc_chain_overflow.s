// Unbounded recursion exhausts the procedure/chain stacks: a stack-bounds exception,
// SIGSEGV (128+11), never a host crash.
// EXPECT-EXIT: 139
// EXPECT-STDERR: stack_bounds
        .text
_start:
        { setwd wsz=8, nfx=1; disp %ctpr1, forever }
        { call %ctpr1, wbs=6 }
forever:
        { setwd wsz=4, nfx=1; disp %ctpr1, forever }
        { call %ctpr1, wbs=2 }
