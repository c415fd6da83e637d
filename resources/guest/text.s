// text.s: formatting and serial output routines shared by the boot ROM and the demo guest.
// Appended to each program's source at build time (the assembler has no .include).
// Convention for every routine here and in the programs: the caller keeps its locals in
// %dr0..%dr23 of a 32-register window, puts arguments in %dr24.. and calls with wbs=12; the
// callee opens its own 32-register window (arguments in %dr0..) and leaves its result in %dr0,
// which the caller reads back in %dr24. Local jumps use ibranch, so no CTPR survives a call.

// serial_putc(c): transmits the low byte of c.
serial_putc:
        { setwd wsz=16, nfx=1; return %ctpr3; addd,0 0, 0xF0002000, %dr1 }
        { std,2 %dr0, [ %dr1 + 0 ] }
        { ct %ctpr3 }

// serial_puts(str): transmits a NUL-terminated string.
serial_puts:
        { setwd wsz=16, nfx=1; addd,0 0, 0xF0002000, %dr1 }
serial_puts_loop:
        { ldb,0 %dr0, 0, %dr2 }
        { cmpedb,0 %dr2, 0, %pred0 }
        { ibranch serial_puts_end ? %pred0 }
        { std,2 %dr2, [ %dr1 + 0 ]; addd,0 %dr0, 1, %dr0; ibranch serial_puts_loop }
serial_puts_end:
        { return %ctpr3 }
        { ct %ctpr3 }

// fmt_dec(buf, value, width) -> end: writes value in decimal, zero-padded to at least
// `width` digits (at most 20), NUL-terminates, returns the address of the NUL.
fmt_dec:
        { setwd wsz=16, nfx=1; getsp,0 -32, %dr3 }
        // Digits go backwards into a 32-byte scratch area on the data stack.
        { addd,0 %dr3, 31, %dr4; addd,1 0, 0, %dr5; cmpbdb,3 20, %dr2, %pred1 }
        { addd,0 0, 20, %dr2 ? %pred1 }
fmt_dec_digit:
        { udivd,5 %dr1, 10, %dr6 }
        { muld,0 %dr6, 10, %dr7 }
        { subd,0 %dr1, %dr7, %dr7; addd,1 %dr6, 0, %dr1; addd,2 %dr5, 1, %dr5; subd,3 %dr4, 1, %dr4 }
        { addd,0 %dr7, 48, %dr7; cmpedb,1 %dr1, 0, %pred0; cmpbdb,3 %dr5, %dr2, %pred1 }
        { stb,2 %dr7, [ %dr4 + 0 ] }
        // more digits while value != 0 or fewer than width written
        { ibranch fmt_dec_digit ? ~%pred0 }
        { ibranch fmt_dec_digit ? %pred1 }
        { addd,0 %dr3, 30, %dr6 }                       // the last digit's address
fmt_dec_copy:
        { ldb,0 %dr4, 0, %dr7; addd,1 %dr4, 1, %dr4; cmpedb,3 %dr4, %dr6, %pred0 }
        { stb,2 %dr7, [ %dr0 + 0 ]; addd,0 %dr0, 1, %dr0 }
        { ibranch fmt_dec_copy ? ~%pred0 }
        { addd,0 0, 0, %dr9; return %ctpr3 }
        { stb,2 %dr9, [ %dr0 + 0 ] }
        { ct %ctpr3 }

// fmt_hex(buf, value, digits) -> end: `digits` (1..16) hex digits, NUL-terminated.
fmt_hex:
        { setwd wsz=16, nfx=1; addd,0 0, hex_digits, %dr5 }
        { cmpbdb,0 16, %dr2, %pred0; cmpedb,1 %dr2, 0, %pred1 }
        { addd,0 0, 16, %dr2 ? %pred0 }
        { addd,0 0, 1, %dr2 ? %pred1 }
        { shld,0 %dr2, 2, %dr3 }
fmt_hex_digit:
        { subd,0 %dr3, 4, %dr3 }
        { shrd,0 %dr1, %dr3, %dr4; cmpedb,1 %dr3, 0, %pred0 }
        { andd,0 %dr4, 15, %dr4 }
        { ldb,0 %dr5, %dr4, %dr4 }
        { stb,2 %dr4, [ %dr0 + 0 ]; addd,0 %dr0, 1, %dr0; ibranch fmt_hex_digit ? ~%pred0 }
        { addd,0 0, 0, %dr9; return %ctpr3 }
        { stb,2 %dr9, [ %dr0 + 0 ] }
        { ct %ctpr3 }

// str_copy(dst, src) -> end: copies a NUL-terminated string, returns the address of the NUL.
str_copy:
        { setwd wsz=16, nfx=1 }
str_copy_loop:
        { ldb,0 %dr1, 0, %dr2; addd,1 %dr1, 1, %dr1 }
        { stb,2 %dr2, [ %dr0 + 0 ]; cmpedb,0 %dr2, 0, %pred0 }
        { ibranch str_copy_end ? %pred0 }
        { addd,0 %dr0, 1, %dr0; ibranch str_copy_loop }
str_copy_end:
        { return %ctpr3 }
        { ct %ctpr3 }

        .data
hex_digits:
        .ascii "0123456789abcdef"
        .text
