// serial_echo: the e2kvm-system test guest. Prints "e2kvm-system test guest\n" on serial, then
// sends every received byte back with the ASCII case of letters swapped; '!' prints "bye\n" and
// powers the machine off (e2kvm-system then exits 0). Loaded with -kernel (no ROM, no disk).
        .text
trap_entry:
        { wait trap=1 }
_start:
        { setwd wsz=16, nfx=1; addd,0 0, 0xF0002000, %dr2 }
        { addd,0 0, 0xF0001000, %dr3; addd,1 0, 0xF0000000, %dr7 }
        // Serial RX raises line 1; `wait trap=1` returns when a byte is there (PSR keeps
        // interrupts off, so no trap is taken).
        { addd,0 0, 2, %dr4; addd,1 0, 1, %dr5 }
        { std,2 %dr4, [ %dr3 + 8 ] }
        { std,2 %dr5, [ %dr2 + 0x10 ] }
        { disp %ctpr1, puts; addd,0 0, banner, %dr24 }
        { call %ctpr1, wbs=12 }
loop:
        { ldd,0 %dr2, 0, %dr6 }
        { cmpbdb,0 %dr6, 256, %pred0 }
        { ibranch idle ? ~%pred0 }
        { cmpedb,0 %dr6, 0x21, %pred1 }
        { ibranch quit ? %pred1 }
        // 'A'..'Z' and 'a'..'z' flip bit 5.
        { andd,0 %dr6, 0xDF, %dr8 }
        { subd,0 %dr8, 0x41, %dr8 }
        { cmpbdb,0 %dr8, 26, %pred2 }
        { ibranch send ? ~%pred2 }
        { xord,0 %dr6, 0x20, %dr6 }
send:
        { std,2 %dr6, [ %dr2 + 0 ] }
        { ibranch loop }
idle:
        { wait trap=1 }
        { ibranch loop }
quit:
        { disp %ctpr1, puts; addd,0 0, bye, %dr24 }
        { call %ctpr1, wbs=12 }
off:
        { std,2 %dr5, [ %dr7 + 0x10 ] }
        { wait trap=1 }
        { ibranch off }

// puts: sends the NUL-terminated string whose address the caller put in its %dr24 (our %dr0
// after `call wbs=12`).
puts:
        { setwd wsz=16, nfx=1; addd,0 0, 0xF0002000, %dr1 }
puts_next:
        { ldb,0 %dr0, 0, %dr2 }
        { cmpedb,0 %dr2, 0, %pred0 }
        { ibranch puts_end ? %pred0 }
        { std,2 %dr2, [ %dr1 + 0 ]; addd,0 %dr0, 1, %dr0 }
        { ibranch puts_next }
puts_end:
        { return %ctpr3 }
        { ct %ctpr3 }

        .data
banner: .asciz "e2kvm-system test guest\n"
bye:    .asciz "bye\n"
