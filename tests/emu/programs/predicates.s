// Compares into predicates, RLP predication, merge, PLS predicate logic, conditional ct/ibranch
// and predicate rotation.
// Each check sets %dg0 to its number and branches to `fail` (exit code = that number) when
// the checked value is wrong; reaching the end exits 0.
        .text
        .global _start
_start:
        { setwd wsz=16, nfx=1; disp %ctpr2, fail }

        { addd,0 0, 5, %dr0; addd,1 0, 7, %dr1; subd,2 0, 3, %dr2; addd,3 0, 0x8000000000000000, %dr3 }
        { cmpldb,0 %dr0, %dr1, %pred1; cmpbdb,1 %dr2, %dr0, %pred2; cmpedb,3 %dr0, 5, %pred3; cmpledb,4 %dr1, %dr0, %pred4 }
        { addd,0 0, 1, %dg0 }  // check 1
        { ct %ctpr2 ? ~%pred1 }
        { addd,0 0, 2, %dg0 }  // check 2
        { ct %ctpr2 ? %pred2 }
        { addd,0 0, 3, %dg0 }  // check 3
        { ct %ctpr2 ? ~%pred3 }
        { addd,0 0, 4, %dg0 }  // check 4
        { ct %ctpr2 ? %pred4 }
        { cmpsdb,0 %dr0, %dr1, %pred5; cmpodb,1 %dr3, 1, %pred6; cmppdb,3 %dr0, 2, %pred7; cmpbedb,4 %dr0, 5, %pred8 }
        { addd,0 0, 5, %dg0 }  // check 5
        { ct %ctpr2 ? ~%pred5 }
        { addd,0 0, 6, %dg0 }  // check 6
        { ct %ctpr2 ? ~%pred6 }
        { addd,0 0, 7, %dg0 }  // check 7
        { ct %ctpr2 ? ~%pred7 }
        { addd,0 0, 8, %dg0 }  // check 8
        { ct %ctpr2 ? ~%pred8 }
        { cmplsb,0 %r2, %r0, %pred9; cmpbsb,1 %r2, %r0, %pred10; cmpodb,3 %dr0, 1, %pred11 }
        { addd,0 0, 9, %dg0 }  // check 9
        { ct %ctpr2 ? ~%pred9 }
        { addd,0 0, 10, %dg0 }  // check 10
        { ct %ctpr2 ? %pred10 }
        { addd,0 0, 11, %dg0 }  // check 11
        { ct %ctpr2 ? %pred11 }
        { cmpandedb,0 %dr0, 2, %pred12; cmpandsdb,1 %dr2, %dr2, %pred13; cmpandledb,3 %dr0, %dr0, %pred14; cmpandpdb,4 %dr0, 0xff, %pred15 }
        { addd,0 0, 12, %dg0 }  // check 12
        { ct %ctpr2 ? ~%pred12 }
        { addd,0 0, 13, %dg0 }  // check 13
        { ct %ctpr2 ? ~%pred13 }
        { addd,0 0, 14, %dg0 }  // check 14
        { ct %ctpr2 ? %pred14 }
        { addd,0 0, 15, %dg0 }  // check 15
        { ct %ctpr2 ? ~%pred15 }
        { addd,0 0, 0, %dr10; addd,1 0, 0, %dr11; addd,2 0, 0, %dr12 }
        { addd,0 0, 100, %dr10 ? %pred1; addd,1 0, 200, %dr11 ? %pred2; addd,3 0, 300, %dr12 ? ~%pred2 }
        { addd,0 0, 16, %dg0; cmpedb,1 %dr10, 100, %pred0 }  // check 16
        { ct %ctpr2 ? ~%pred0 }
        { addd,0 0, 17, %dg0; cmpedb,1 %dr11, 0, %pred0 }  // check 17
        { ct %ctpr2 ? ~%pred0 }
        { addd,0 0, 18, %dg0; cmpedb,1 %dr12, 300, %pred0 }  // check 18
        { ct %ctpr2 ? ~%pred0 }
        { merged,0 %dr0, %dr1, %dr13, %pred1; merged,1 %dr0, %dr1, %dr14, %pred2; merged,3 %dr0, %dr1, %dr15, ~%pred1 }
        { addd,0 0, 19, %dg0; cmpedb,1 %dr13, 7, %pred0 }  // check 19
        { ct %ctpr2 ? ~%pred0 }
        { addd,0 0, 20, %dg0; cmpedb,1 %dr14, 5, %pred0 }  // check 20
        { ct %ctpr2 ? ~%pred0 }
        { addd,0 0, 21, %dg0; cmpedb,1 %dr15, 5, %pred0 }  // check 21
        { ct %ctpr2 ? ~%pred0 }
        { pass %pred1, @p0; pass %pred2, @p1; andp @p0, ~@p1, @p4; pass @p4, %pred20 }
        { pass %pred1, @p0; pass %pred2, @p1; andp @p0, @p1, @p4; pass @p4, %pred21 }
        { addd,0 0, 22, %dg0 }  // check 22
        { ct %ctpr2 ? ~%pred20 }
        { addd,0 0, 23, %dg0 }  // check 23
        { ct %ctpr2 ? %pred21 }
        { pass %pred1, @p0; pass %pred2, @p1; andp @p0, ~@p1, @p4; pass %pred3, @p2; pass %pred4, @p3; landp @p2, ~@p3, @p5; pass @p5, %pred22; andp @p4, @p5, @p6; pass @p6, %pred23 }
        { addd,0 0, 24, %dg0 }  // check 24
        { ct %ctpr2 ? ~%pred22 }
        { addd,0 0, 25, %dg0 }  // check 25
        { ct %ctpr2 ? ~%pred23 }
        { addd,0 0, 90, %dg0; disp %ctpr1, ct_ok }
        { ct %ctpr1 ? %pred1 }
        { ct %ctpr2 }
ct_ok:
        { addd,0 0, 91, %dg0 }
        { ibranch ib_ok ? ~%pred2 }
        { ct %ctpr2 }
ib_ok:
        { addd,0 0, 92, %dg0 }
        { ibranch ib_bad ? %pred2 }
        { ibranch ib_next }
ib_bad:
        { ct %ctpr2 }
ib_next:
        { setbp psz=3 }
        { cmpedb,0 %dr0, 5, %pred3; cmpedb,1 %dr0, 6, %pred0 }
        { abp abpf=1 }
        { addd,0 0, 26, %dg0 }  // check 26
        { ct %ctpr2 ? ~%pred0 }
        { setbp psz=0 }

done_ok:
        { sdisp %ctpr1, 3 }
        { addd,0 0, 1, %dr8; addd,1 0, 0, %dr9; call %ctpr1, wbs=4 }
fail:
        { sdisp %ctpr1, 3 }
        { addd,0 0, 1, %dr8; addd,1 %dg0, 0, %dr9; call %ctpr1, wbs=4 }
