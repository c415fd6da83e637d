// Benchmark guest: a 1024x768 display at 0x400000 (stride 4096) repainted completely in a new
// colour at every tick of a 60 Hz timer. The CPU idles in `wait` between frames (interrupts
// stay off in PSR: `wait` returns when the timer line is pending). Never stops.
        .text
trap_entry:
        { wait trap=1 }
_start:
        { setwd wsz=16, nfx=1; addd,0 0, 0x400000, %dr10 }
        { addd,0 0, 0xF0005000, %dr11 }
        { addd,0 0, 0xF0003000, %dr12 }
        { addd,0 0, 0xF0001000, %dr13 }
        { std,2 %dr10, [ %dr11 + 0 ]; addd,0 0, 1024, %dr20 }
        { std,2 %dr20, [ %dr11 + 8 ]; addd,0 0, 768, %dr20 }
        { std,2 %dr20, [ %dr11 + 0x10 ]; addd,0 0, 4096, %dr20 }
        { std,2 %dr20, [ %dr11 + 0x18 ]; addd,0 0, 1, %dr20 }
        { std,2 %dr20, [ %dr11 + 0x20 ] }
        { std,2 %dr20, [ %dr13 + 8 ]; addd,0 0, 16666667, %dr21 }
        { std,2 %dr21, [ %dr12 + 8 ]; addd,0 0, 3, %dr21 }
        { std,2 %dr21, [ %dr12 + 0x10 ]; addd,0 0, 0, %dr2 }
        // %dr6 = last 16-byte chunk of the frame
        { addd,0 %dr10, 3145712, %dr6 }
frame:
        { wait trap=1 }
        { std,2 %dr20, [ %dr12 + 0x18 ]; addd,0 %dr2, 0x010203, %dr2 }
        { andd,0 %dr2, 0xFFFFFF, %dr3 }
        { shld,0 %dr3, 32, %dr4 }
        { ord,0 %dr3, %dr4, %dr5; addd,1 %dr10, 0, %dr1 }
fill:
        { std,2 %dr5, [ %dr1 + 0 ]; std,5 %dr5, [ %dr1 + 8 ]; addd,0 %dr1, 16, %dr1; cmpbdb,1 %dr1, %dr6, %pred0 }
        { ibranch fill ? %pred0 }
        { ibranch frame }
