// Interrupts: a periodic 100 us timer and the keyboard, both through the trap handler at the
// image start (trap-table entry 0). The handler counts timer interrupts in %dg1 and echoes
// keyboard events on serial as <scancode low byte> 'D' (press) or 'U' (release). After ten
// timer interrupts the program stops the timer and sends 'T'; then it idles for keys.
// Anything other than an interrupt in the handler sends 'X' and powers off.
        .text
trap_entry:
        { setwd wsz=8, nfx=1; addd,0 0, 0xF0001000, %dr0 }
        { rrd,0 %tir.hi, %dr5 }
        { rrd,0 %tir.lo, %dr6 }
        { rwd,0 0, %tir.lo; shrd,1 %dr5, 32, %dr7 }
        { cmpandedb,0 %dr7, 1, %pred0 }
        { ibranch notirq ? %pred0 }
dispatch:
        { ldd,0 %dr0, 0x10, %dr1 }
        { cmpedb,0 %dr1, 0, %pred1; cmpedb,1 %dr1, 2, %pred2 }
        { ibranch timer ? %pred1 }
        { ibranch kbd ? %pred2 }
        { nop 3 }
        { done }
timer:
        { addd,0 0, 0xF0003000, %dr2 }
        { std,2 %dr2, [ %dr2 + 0x18 ]; addd,0 %dg1, 1, %dg1 }
        { ibranch dispatch }
kbd:
        { addd,0 0, 0xF0006000, %dr2 }
        { addd,0 0, 0xF0002000, %dr3 }
kloop:
        { ldd,0 %dr2, 0, %dr4 }
        { cmpandedb,0 %dr4, 0x10000, %pred3; addd,1 0, 0x55, %dr5 }
        { std,2 %dr4, [ %dr3 + 0 ]; addd,0 0, 0x44, %dr5 ? %pred3 }
        { std,2 %dr5, [ %dr3 + 0 ] }
        { ldd,0 %dr2, 8, %dr4 }
        { cmpandedb,0 %dr4, 1, %pred3 }
        { ibranch kloop ? ~%pred3 }
        { ibranch dispatch }
notirq:
        { addd,0 0, 0xF0002000, %dr3; addd,1 0, 0x58, %dr4 }
        { std,2 %dr4, [ %dr3 + 0 ]; addd,0 0, 0xF0000000, %dr3; addd,1 0, 1, %dr4 }
nofix:
        { std,2 %dr4, [ %dr3 + 0x10 ] }
        { wait trap=1 }
        { ibranch nofix }
_start:
        { setwd wsz=8, nfx=1; addd,0 0, 0xF0001000, %dr0 }
        { addd,0 0, 0xF0003000, %dr1; addd,1 0, 5, %dr2 }
        { addd,0 0, 0xF0006000, %dr3; addd,1 0, 1, %dr4 }
        { std,2 %dr2, [ %dr0 + 8 ]; addd,0 0, 100000, %dr5 }
        { std,2 %dr4, [ %dr3 + 0x10 ] }
        { std,2 %dr5, [ %dr1 + 8 ]; addd,0 0, 3, %dr6 }
        { std,2 %dr6, [ %dr1 + 0x10 ]; rws,0 3, %psr }
idle:
        { wait trap=1 }
        { cmpedb,0 %dg1, 10, %pred0 }
        { ibranch idle ? ~%pred0 }
        { addd,0 0, 0, %dr6; addd,1 0, 0xF0002000, %dr7 }
        { std,2 %dr6, [ %dr1 + 0x10 ]; addd,0 0, 0x54, %dr8 }
        { std,2 %dr8, [ %dr7 + 0 ] }
forever:
        { wait trap=1 }
        { ibranch forever }
