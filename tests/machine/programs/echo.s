// Serial echo: every received byte is sent back; 'q' ends the program with a power-off.
// The CPU idles in `wait` between bytes (serial RX interrupt enabled in the controller, but
// PSR keeps interrupts off, so `wait` just returns when a byte arrives).
        .text
trap_entry:
        { wait trap=1 }
_start:
        { setwd wsz=8, nfx=1; addd,0 0, 0xF0002000, %dr2 }
        { addd,0 0, 0xF0001000, %dr3 }
        { addd,0 0, 2, %dr4; addd,1 0, 1, %dr5; addd,2 0, 0xF0000000, %dr7 }
        { std,2 %dr4, [ %dr3 + 8 ] }
        { std,2 %dr5, [ %dr2 + 0x10 ] }
loop:
        { ldd,0 %dr2, 0, %dr6 }
        { cmpedb,0 %dr6, 0x71, %pred1; cmpbdb,1 %dr6, 256, %pred0 }
        { ibranch idle ? ~%pred0 }
        { std,2 %dr6, [ %dr2 + 0 ] }
        { ibranch off ? %pred1 }
        { ibranch loop }
idle:
        { wait trap=1 }
        { ibranch loop }
off:
        { std,2 %dr5, [ %dr7 + 0x10 ] }
        { wait trap=1 }
        { ibranch off }
