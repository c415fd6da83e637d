// Framebuffer without FLUSH and without a timer: turns a 16x16 display on at 0x200000, paints
// pixel (3,4) red and idles forever. The machine must publish the pixel before it sleeps.
        .text
trap_entry:
        { wait trap=1 }
_start:
        { setwd wsz=16, nfx=1; addd,0 0, 0x200000, %dr10 }
        { addd,0 0, 0xF0005000, %dr11 }
        { std,2 %dr10, [ %dr11 + 0 ]; addd,0 0, 16, %dr20 }
        { std,2 %dr20, [ %dr11 + 8 ] }
        { std,2 %dr20, [ %dr11 + 0x10 ]; addd,0 0, 64, %dr20 }
        { std,2 %dr20, [ %dr11 + 0x18 ]; addd,0 0, 1, %dr20 }
        { std,2 %dr20, [ %dr11 + 0x20 ]; addd,0 0, 0xFF0000, %dr21 }
        { stw,2 %dr21, [ %dr10 + 268 ] }
forever:
        { wait trap=1 }
        { ibranch forever }
