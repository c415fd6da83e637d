// Framebuffer: draws a 64x48 pattern (pixel = x << 16 | y << 8 | 0x5A) at 0x200000 with a
// 256-byte stride, turns the display on, sends 'A' on serial; after a byte arrives, paints the
// rectangle x 5..14, y 10..19 white, writes FLUSH, sends 'B' and powers off.
        .text
trap_entry:
        { wait trap=1 }
_start:
        { setwd wsz=16, nfx=1; addd,0 0, 0x200000, %dr10 }
        { addd,0 0, 0xF0005000, %dr11 }
        { addd,0 0, 0xF0002000, %dr12 }
        { addd,0 0, 0, %dr1 }
yloop:
        { addd,0 0, 0, %dr0 }
xloop:
        { shld,0 %dr1, 8, %dr2; shld,1 %dr0, 2, %dr3 }
        { addd,0 %dr2, %dr3, %dr2; shld,1 %dr0, 16, %dr4; shld,2 %dr1, 8, %dr5 }
        { addd,0 %dr2, %dr10, %dr2; ord,1 %dr4, %dr5, %dr4 }
        { ord,0 %dr4, 0x5A, %dr4 }
        { stw,2 %dr4, [ %dr2 + 0 ]; addd,0 %dr0, 1, %dr0 }
        { cmpbdb,0 %dr0, 64, %pred0 }
        { ibranch xloop ? %pred0 }
        { addd,0 %dr1, 1, %dr1 }
        { cmpbdb,0 %dr1, 48, %pred0 }
        { ibranch yloop ? %pred0 }
        // mode: BASE, WIDTH 64, HEIGHT 48, STRIDE 256, CTRL 1
        { std,2 %dr10, [ %dr11 + 0 ]; addd,0 0, 64, %dr20 }
        { std,2 %dr20, [ %dr11 + 8 ]; addd,0 0, 48, %dr20 }
        { std,2 %dr20, [ %dr11 + 0x10 ]; addd,0 0, 256, %dr20 }
        { std,2 %dr20, [ %dr11 + 0x18 ]; addd,0 0, 1, %dr20 }
        { std,2 %dr20, [ %dr11 + 0x20 ]; addd,0 0, 0x41, %dr20 }
        { std,2 %dr20, [ %dr12 + 0 ] }
        // wait for one received byte (serial RX line enabled, interrupts off in PSR)
        { addd,0 0, 0xF0001000, %dr13 }
        { addd,0 0, 2, %dr20; addd,1 0, 1, %dr21 }
        { std,2 %dr20, [ %dr13 + 8 ] }
        { std,2 %dr21, [ %dr12 + 0x10 ] }
rxwait:
        { ldd,0 %dr12, 8, %dr20 }
        { cmpandedb,0 %dr20, 1, %pred0 }
        { ibranch got ? ~%pred0 }
        { wait trap=1 }
        { ibranch rxwait }
got:
        { ldd,0 %dr12, 0, %dr20 }
        { addd,0 0, 10, %dr1 }
ry:
        { addd,0 0, 5, %dr0 }
rx:
        { shld,0 %dr1, 8, %dr2; shld,1 %dr0, 2, %dr3; addd,2 0, 0xFFFFFF, %dr4 }
        { addd,0 %dr2, %dr3, %dr2 }
        { addd,0 %dr2, %dr10, %dr2 }
        { stw,2 %dr4, [ %dr2 + 0 ]; addd,0 %dr0, 1, %dr0 }
        { cmpbdb,0 %dr0, 15, %pred0 }
        { ibranch rx ? %pred0 }
        { addd,0 %dr1, 1, %dr1 }
        { cmpbdb,0 %dr1, 20, %pred0 }
        { ibranch ry ? %pred0 }
        { std,2 %dr20, [ %dr11 + 0x30 ]; addd,0 0, 0x42, %dr20 }
        { std,2 %dr20, [ %dr12 + 0 ]; addd,0 0, 0xF0000000, %dr21; addd,1 0, 1, %dr22 }
off:
        { std,2 %dr22, [ %dr21 + 0x10 ] }
        { wait trap=1 }
        { ibranch off }
