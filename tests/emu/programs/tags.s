// Tags and speculative mode (ISA notes §3.7; behaviour from the qemu-e2k-tests suite, checked
// on hardware): diagnostic values from speculative faults, per-half tags, puttag/gettag,
// speculative ops under a diagnostic predicate, predicate-logic tag rules, tags kept across a
// call. Each check sets %dg0 to its number and branches to `fail` when the value is wrong.
        .text
_start:
        { setwd wsz=16, nfx=1; disp %ctpr2, fail }
        // a speculative division by zero: diagnostic value, tag 5
        { udivd,5,sm 0, 0, %dr0 }
        { gettagd,2 %dr0, %r1; puttagd,5 %dr0, 0, %dr2 }
        { addd,0 0, 1, %dg0; cmpesb,1 %r1, 5, %pred0 }  // check 1
        { ct %ctpr2 ? ~%pred0 }
        { addd,0 0, 2, %dg0; cmpedb,1 %dr2, 0x4afafafa4afafafa, %pred0 }  // check 2
        { ct %ctpr2 ? ~%pred0 }
        // a 32-bit write clears the low half's tag only (no dbl): gettagd sees 4
        { adds,0 0, 7, %r0 }
        { gettagd,2 %dr0, %r3; gettags,5 %r0, %r4 }
        { addd,0 0, 3, %dg0; cmpesb,1 %r3, 4, %pred0 }  // check 3
        { ct %ctpr2 ? ~%pred0 }
        { addd,0 0, 4, %dg0; cmpesb,1 %r4, 0, %pred0 }  // check 4
        { ct %ctpr2 ? ~%pred0 }
        // a speculative op reading a diagnostic operand gives a diagnostic result
        { addd,0,sm %dr0, 1, %dr5 }
        { gettagd,2 %dr5, %r6 }
        { addd,0 0, 5, %dg0; cmpesb,1 %r6, 5, %pred0 }  // check 5
        { ct %ctpr2 ? ~%pred0 }
        // puttagd sets any tag; puttagd ..., 0 makes a number again
        { puttagd,2 0, 1, %dr7 }
        { gettagd,5 %dr7, %r8 }
        { addd,0 0, 6, %dg0; cmpesb,1 %r8, 1, %pred0 }  // check 6
        { ct %ctpr2 ? ~%pred0 }
        // a speculative compare of a diagnostic value gives a diagnostic predicate; a
        // speculative op under it gives value | 0x4000000040000000 with tag 5
        { udivd,5,sm 0, 0, %dr9 }
        { cmpedb,0,sm 0, %dr9, %pred1 }
        { subd,0,sm 0, 2, %dr10 ? %pred1 }
        { gettagd,2 %dr10, %r11; puttagd,5 %dr10, 0, %dr10 }
        { addd,0 0, 7, %dg0; cmpesb,1 %r11, 5, %pred0 }  // check 7
        { ct %ctpr2 ? ~%pred0 }
        { addd,0 0, 8, %dg0; cmpedb,1 %dr10, 0xfffffffffffffffe, %pred0 }  // check 8
        { ct %ctpr2 ? ~%pred0 }
        { addd,0,sm 0, 3, %dr10 ? %pred1 }
        { puttagd,5 %dr10, 0, %dr10 }
        { addd,0 0, 9, %dg0; cmpedb,1 %dr10, 0x4000000040000003, %pred0 }  // check 9
        { ct %ctpr2 ? ~%pred0 }
        // landp with a plain false first input gives a plain false (usable as a condition)
        { cmpedb,0 0, 1, %pred2 }
        { pass %pred2, @p0; pass %pred1, @p1; landp @p0, @p1, @p4; pass @p4, %pred3 }
        { addd,0 0, 10, %dg0; addd,1 0, 0, %dr12 }
        { addd,0 0, 1, %dr12 ? %pred3 }
        { cmpedb,1 %dr12, 0, %pred0 }  // check 10
        { ct %ctpr2 ? ~%pred0 }
        // a register's tag survives a call that spills it (wbs=14 spills %dr0..%dr27)
        { udivd,5,sm 0, 0, %dr1; disp %ctpr1, leaf }
        { call %ctpr1, wbs=14 }
        { disp %ctpr2, fail }
        { gettagd,2 %dr1, %r13 }
        { addd,0 0, 11, %dg0; cmpesb,1 %r13, 5, %pred0 }  // check 11
        { ct %ctpr2 ? ~%pred0 }
        // a diagnostic predicate survives a call too (CR0.lo)
        { cmpedb,0,sm 0, %dr1, %pred4; disp %ctpr1, leaf }
        { call %ctpr1, wbs=14 }
        { disp %ctpr2, fail }
        { addd,0,sm 0, 0, %dr14 ? %pred4 }
        { gettagd,2 %dr14, %r15 }
        { addd,0 0, 12, %dg0; cmpesb,1 %r15, 5, %pred0 }  // check 12
        { ct %ctpr2 ? ~%pred0 }
        // the null page is not mapped: a speculative load there is diagnostic
        { ldd,0,sm 0, 8, %dr16 }
        { gettagd,2 %dr16, %r17 }
        { addd,0 0, 13, %dg0; cmpesb,1 %r17, 5, %pred0 }  // check 13
        { ct %ctpr2 ? ~%pred0 }
done_ok:
        { sdisp %ctpr1, 3 }
        { addd,0 0, 1, %dr8; addd,1 0, 0, %dr9; call %ctpr1, wbs=4 }
fail:
        { sdisp %ctpr1, 3 }
        { addd,0 0, 1, %dr8; addd,1 %dg0, 0, %dr9; call %ctpr1, wbs=4 }

// writes numbers into its window (the caller's %dr28..%dr31) and returns
leaf:
        { setwd wsz=4, nfx=1; return %ctpr3 }
        { addd,0 0, 0, %dr0; addd,1 0, 0, %dr1; addd,2 0, 0, %dr2; addd,3 0, 0, %dr3 }
        { ct %ctpr3 }
