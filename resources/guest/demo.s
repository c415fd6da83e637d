// demo.s: the demo guest, e2kvm's default VM. Loaded by the boot ROM from disk 0 (see
// make_boot_disk.py). A 1024x768 text console drawn with e2kvm's own 8x16 font: title line,
// RTC clock, uptime, a bouncing box, the last keys pressed and a log. Every key press is
// written to disk 0 as a 512-byte record (after the boot program's sectors) and echoed on the
// serial port, so the disk's dirty bitmap grows while you type. A 60 Hz timer interrupt paces
// the frames; the CPU idles in `wait trap=1` in between.
//
// Record (one sector): +0 "E2KKEYS\0", +8 sequence (1, 2, ...), +16 scancode, +24 character
// (0 if none), +32 RTC seconds, +40 RTC nanoseconds, +48 virtual ns since reset, +56 the
// serial line as text (NUL-terminated), zeros after it.
//
// Devices are reached by number (a symbol always gets a 32-bit literal, these need 64 bits):
// 0xF0000000 system controller, 0xF0001000 interrupts, 0xF0002000 serial, 0xF0003000 timer,
// 0xF0004000 RTC, 0xF0005000 framebuffer, 0xF0006000 keyboard, 0xF0010000 block device 0.
        .equ FB, 0x400000               // framebuffer pixels (1024 x 768 x 4 bytes)
        .equ RECBUF, 0x380000           // record sector buffer
        .equ SECBUF, 0x390000           // header / scan sector buffer
        .equ COLOR_BG, 0x141c2c
        .equ COLOR_FG, 0xd8dee9
        .equ COLOR_TITLE_BG, 0x2a5db0
        .equ COLOR_TITLE_FG, 0xffffff
        .equ COLOR_LABEL, 0x88c0d0
        .equ COLOR_VALUE, 0xebcb8b
        .equ COLOR_DIM, 0x7b8394
        .equ COLOR_AREA, 0x0b0f18
        .equ COLOR_BORDER, 0x3b4252
        .equ AREA_X, 16                 // bouncing-box area (x even, widths multiples of 4)
        .equ AREA_Y, 400
        .equ AREA_W, 992
        .equ AREA_H, 352
        .equ BOX, 48
        .equ BOX_MAX_X, 960             // AREA_X + AREA_W - BOX
        .equ BOX_MAX_Y, 704             // AREA_Y + AREA_H - BOX
        .equ LOG_ROW, 13                // first text row of the log
        .equ LOG_LINES, 10
        .equ LOG_COLS, 120
        .equ KEYS_SHOWN, 14             // 7 columns each from column 20
        .equ KEY_RELEASE_BIT, 16

        .text
_start:
        { setwd wsz=16, nfx=1; addd,0 0, trap_entry, %dr4 }
        // Our own trap table from now on (the ROM's stays at 0).
        { rwd,0 %dr4, %oscud.lo }
        { disp %ctpr1, serial_puts; addd,0 0, msg_banner, %dr24 }
        { call %ctpr1, wbs=12 }
        { disp %ctpr1, disk_setup }
        { call %ctpr1, wbs=12 }
        { disp %ctpr1, screen_setup }
        { call %ctpr1, wbs=12 }

        // 60 Hz periodic timer on interrupt line 0, then interrupts on.
        { addd,0 0, 0xF0003000, %dr4; addd,1 0, 16666667, %dr5; addd,2 0, 3, %dr6 }
        { std,2 %dr5, [ %dr4 + 0x08 ]; std,5 %dr6, [ %dr4 + 0x10 ] }
        { addd,0 0, 0xF0001000, %dr4; addd,1 0, 1, %dr5 }
        { std,2 %dr5, [ %dr4 + 0x08 ] }
        { rws,0 3, %psr }
        { addd,0 0, ticks, %dr10; addd,1 0, 0, %dr11 }

main_loop:
        { wait trap=1 }
        { ldd,0 %dr10, 0, %dr4 }
        { cmpedb,0 %dr4, %dr11, %pred0 }
        { ibranch main_loop ? %pred0 }
        { addd,0 %dr4, 0, %dr11; disp %ctpr1, frame }
        { call %ctpr1, wbs=12 }
        { ibranch main_loop }

// ---------------------------------------------------------------------------------------------
// disk_setup: reads disk 0's boot header for the program size, finds the records already on
// the disk, reports both on serial.
disk_setup:
        { setwd wsz=16, nfx=1; addd,0 0, 0xF0010000, %dr10; addd,1 0, SECBUF, %dr11 }
        { ldd,0 %dr10, 0x00, %dr12; addd,1 0, disk_capacity, %dr13 }
        { std,2 %dr12, [ %dr13 + 0 ] }
        // header: sector 0
        { addd,0 0, 0, %dr4; addd,1 0, 1, %dr5 }
        { std,2 %dr4, [ %dr10 + 0x08 ]; std,5 %dr5, [ %dr10 + 0x10 ] }
        { std,2 %dr11, [ %dr10 + 0x18 ]; std,5 %dr5, [ %dr10 + 0x20 ] }
        { ldd,0 %dr10, 0x28, %dr4; ldd,2 %dr11, 16, %dr14 }
        { cmpedb,0 %dr4, 0, %pred0 }
        { addd,0 0, 0, %dr14 ? ~%pred0 }
        // records start right after the program: sector 1 + count
        { addd,0 %dr14, 1, %dr15; addd,1 0, rec_first, %dr4; addd,2 0, boot_sectors, %dr5 }
        { std,2 %dr15, [ %dr4 + 0 ]; std,5 %dr14, [ %dr5 + 0 ] }
        // count the records already there: consecutive sectors with the magic and sequence n+1
        { addd,0 0, 0, %dr16 }
disk_scan:
        { addd,0 %dr15, %dr16, %dr4; addd,1 0, 1, %dr5 }
        { cmpbdb,0 %dr4, %dr12, %pred0 }
        { ibranch disk_scan_done ? ~%pred0 }
        { std,2 %dr4, [ %dr10 + 0x08 ]; std,5 %dr5, [ %dr10 + 0x10 ] }
        { std,2 %dr11, [ %dr10 + 0x18 ]; std,5 %dr5, [ %dr10 + 0x20 ] }
        { ldd,0 %dr10, 0x28, %dr4; ldd,2 %dr11, 0, %dr6; ldd,3 %dr11, 8, %dr7; addd,1 %dr16, 1, %dr8 }
        { cmpedb,0 %dr4, 0, %pred0; cmpedb,1 %dr6, 0x005359454B4B3245, %pred1; cmpedb,3 %dr7, %dr8, %pred2 }
        { ibranch disk_scan_done ? ~%pred0 }
        { ibranch disk_scan_done ? ~%pred1 }
        { ibranch disk_scan_done ? ~%pred2 }
        { addd,0 %dr16, 1, %dr16; ibranch disk_scan }
disk_scan_done:
        { addd,0 0, rec_count, %dr4 }
        { std,2 %dr16, [ %dr4 + 0 ] }
        // "demo: disk 0 has N sectors; boot program M sectors; records from sector S (K found)"
        { disp %ctpr1, str_copy; addd,0 0, linebuf, %dr24; addd,1 0, msg_disk1, %dr25 }
        { call %ctpr1, wbs=12 }
        { disp %ctpr1, fmt_dec; addd,0 %dr12, 0, %dr25; addd,1 0, 1, %dr26 }
        { call %ctpr1, wbs=12 }
        { disp %ctpr1, str_copy; addd,0 0, msg_disk2, %dr25 }
        { call %ctpr1, wbs=12 }
        { disp %ctpr1, fmt_dec; addd,0 %dr14, 0, %dr25; addd,1 0, 1, %dr26 }
        { call %ctpr1, wbs=12 }
        { disp %ctpr1, str_copy; addd,0 0, msg_disk3, %dr25 }
        { call %ctpr1, wbs=12 }
        { disp %ctpr1, fmt_dec; addd,0 %dr15, 0, %dr25; addd,1 0, 1, %dr26 }
        { call %ctpr1, wbs=12 }
        { disp %ctpr1, str_copy; addd,0 0, msg_disk4, %dr25 }
        { call %ctpr1, wbs=12 }
        { disp %ctpr1, fmt_dec; addd,0 %dr16, 0, %dr25; addd,1 0, 1, %dr26 }
        { call %ctpr1, wbs=12 }
        { disp %ctpr1, str_copy; addd,0 0, msg_disk5, %dr25 }
        { call %ctpr1, wbs=12 }
        { disp %ctpr1, serial_puts; addd,0 0, linebuf, %dr24 }
        { call %ctpr1, wbs=12 }
        // keep the text (without the newline) for the screen
        { disp %ctpr1, str_copy; addd,0 0, diskinfo, %dr24; addd,1 0, linebuf + 6, %dr25 }
        { call %ctpr1, wbs=12 }
        { subd,0 %dr24, 1, %dr4; addd,1 0, 0, %dr5 }
        { stb,2 %dr5, [ %dr4 + 0 ]; return %ctpr3 }
        { ct %ctpr3 }

// ---------------------------------------------------------------------------------------------
// screen_setup: mode 1024x768x32 at FB, then the static parts of the screen.
screen_setup:
        { setwd wsz=16, nfx=1; addd,0 0, 0xF0005000, %dr4; addd,1 0, FB, %dr5 }
        { addd,0 0, 1024, %dr6; addd,1 0, 768, %dr7; addd,2 0, 4096, %dr8; addd,3 0, 1, %dr9 }
        { std,2 %dr5, [ %dr4 + 0x00 ]; std,5 %dr6, [ %dr4 + 0x08 ] }
        { std,2 %dr7, [ %dr4 + 0x10 ]; std,5 %dr8, [ %dr4 + 0x18 ] }
        { std,2 %dr9, [ %dr4 + 0x20 ] }
        { disp %ctpr1, fill_rect; addd,0 0, 0, %dr24; addd,1 0, 0, %dr25; addd,2 0, 1024, %dr26 }
        { addd,0 0, 768, %dr27; addd,1 0, COLOR_BG, %dr28 }
        { call %ctpr1, wbs=12 }
        // title bar
        { disp %ctpr1, fill_rect; addd,0 0, 0, %dr24; addd,1 0, 0, %dr25; addd,2 0, 1024, %dr26 }
        { addd,0 0, 16, %dr27; addd,1 0, COLOR_TITLE_BG, %dr28 }
        { call %ctpr1, wbs=12 }
        { disp %ctpr1, draw_str; addd,0 0, 1, %dr24; addd,1 0, 0, %dr25; addd,2 0, msg_title, %dr26 }
        { addd,0 0, COLOR_TITLE_FG, %dr27; addd,1 0, COLOR_TITLE_BG, %dr28; addd,2 0, 0, %dr29 }
        { call %ctpr1, wbs=12 }
        // labels
        { disp %ctpr1, draw_str; addd,0 0, 2, %dr24; addd,1 0, 2, %dr25; addd,2 0, lbl_clock, %dr26 }
        { addd,0 0, COLOR_LABEL, %dr27; addd,1 0, COLOR_BG, %dr28; addd,2 0, 0, %dr29 }
        { call %ctpr1, wbs=12 }
        { disp %ctpr1, draw_str; addd,0 0, 2, %dr24; addd,1 0, 3, %dr25; addd,2 0, lbl_uptime, %dr26 }
        { addd,0 0, COLOR_LABEL, %dr27; addd,1 0, COLOR_BG, %dr28; addd,2 0, 0, %dr29 }
        { call %ctpr1, wbs=12 }
        { disp %ctpr1, draw_str; addd,0 0, 2, %dr24; addd,1 0, 4, %dr25; addd,2 0, lbl_disk, %dr26 }
        { addd,0 0, COLOR_LABEL, %dr27; addd,1 0, COLOR_BG, %dr28; addd,2 0, 0, %dr29 }
        { call %ctpr1, wbs=12 }
        { disp %ctpr1, draw_str; addd,0 0, 20, %dr24; addd,1 0, 4, %dr25; addd,2 0, diskinfo, %dr26 }
        { addd,0 0, COLOR_FG, %dr27; addd,1 0, COLOR_BG, %dr28; addd,2 0, 0, %dr29 }
        { call %ctpr1, wbs=12 }
        { disp %ctpr1, draw_str; addd,0 0, 2, %dr24; addd,1 0, 5, %dr25; addd,2 0, lbl_records, %dr26 }
        { addd,0 0, COLOR_LABEL, %dr27; addd,1 0, COLOR_BG, %dr28; addd,2 0, 0, %dr29 }
        { call %ctpr1, wbs=12 }
        { disp %ctpr1, draw_str; addd,0 0, 2, %dr24; addd,1 0, 7, %dr25; addd,2 0, lbl_keys, %dr26 }
        { addd,0 0, COLOR_LABEL, %dr27; addd,1 0, COLOR_BG, %dr28; addd,2 0, 0, %dr29 }
        { call %ctpr1, wbs=12 }
        { disp %ctpr1, draw_str; addd,0 0, 2, %dr24; addd,1 0, 9, %dr25; addd,2 0, msg_help, %dr26 }
        { addd,0 0, COLOR_DIM, %dr27; addd,1 0, COLOR_BG, %dr28; addd,2 0, 0, %dr29 }
        { call %ctpr1, wbs=12 }
        { disp %ctpr1, draw_str; addd,0 0, 2, %dr24; addd,1 0, 11, %dr25; addd,2 0, lbl_log, %dr26 }
        { addd,0 0, COLOR_LABEL, %dr27; addd,1 0, COLOR_BG, %dr28; addd,2 0, 0, %dr29 }
        { call %ctpr1, wbs=12 }
        // the box area with a border
        { disp %ctpr1, fill_rect; addd,0 0, AREA_X - 4, %dr24; addd,1 0, AREA_Y - 4, %dr25; addd,2 0, AREA_W + 8, %dr26 }
        { addd,0 0, AREA_H + 8, %dr27; addd,1 0, COLOR_BORDER, %dr28 }
        { call %ctpr1, wbs=12 }
        { disp %ctpr1, fill_rect; addd,0 0, AREA_X, %dr24; addd,1 0, AREA_Y, %dr25; addd,2 0, AREA_W, %dr26 }
        { addd,0 0, AREA_H, %dr27; addd,1 0, COLOR_AREA, %dr28 }
        { call %ctpr1, wbs=12 }
        { disp %ctpr1, draw_records }
        { call %ctpr1, wbs=12 }
        { disp %ctpr1, draw_keys }
        { call %ctpr1, wbs=12 }
        { disp %ctpr1, draw_log }
        { call %ctpr1, wbs=12 }
        { return %ctpr3 }
        { ct %ctpr3 }

// ---------------------------------------------------------------------------------------------
// frame: one 60 Hz step: keys, clock, uptime, box.
frame:
        { setwd wsz=16, nfx=1; disp %ctpr1, poll_keys; addd,0 0, frames, %dr4 }
        { ldd,0 %dr4, 0, %dr5 }
        { addd,0 %dr5, 1, %dr5 }
        { std,2 %dr5, [ %dr4 + 0 ] }
        { call %ctpr1, wbs=12 }
        { disp %ctpr1, draw_clock }
        { call %ctpr1, wbs=12 }
        { disp %ctpr1, draw_uptime }
        { call %ctpr1, wbs=12 }
        { disp %ctpr1, move_box }
        { call %ctpr1, wbs=12 }
        { return %ctpr3 }
        { ct %ctpr3 }

// draw_clock: "YYYY-MM-DD hh:mm:ss UTC" from the RTC.
draw_clock:
        { setwd wsz=16, nfx=1; addd,0 0, 0xF0004000, %dr4 }
        { ldd,0 %dr4, 0, %dr0 }
        { udivd,5 %dr0, 86400, %dr1 }                      // days
        { muld,0 %dr1, 86400, %dr2 }
        { subd,0 %dr0, %dr2, %dr2; addd,1 %dr1, 719468, %dr3 }  // %dr2 second of day, %dr3 z
        // civil date from days (era-based: 146097-day eras of 400 years)
        { udivd,5 %dr3, 146097, %dr4 }                     // era
        { muld,0 %dr4, 146097, %dr5 }
        { subd,0 %dr3, %dr5, %dr5 }                        // doe
        { udivd,5 %dr5, 1460, %dr6 }
        { udivd,5 %dr5, 36524, %dr7 }
        { udivd,5 %dr5, 146096, %dr8 }
        { subd,0 %dr5, %dr6, %dr9 }
        { addd,0 %dr9, %dr7, %dr9 }
        { subd,0 %dr9, %dr8, %dr9 }
        { udivd,5 %dr9, 365, %dr9 }                        // yoe
        { muld,0 %dr4, 400, %dr10; muld,1 %dr9, 365, %dr11 }
        { addd,0 %dr9, %dr10, %dr10; shrd,1 %dr9, 2, %dr12 }  // %dr10 y
        { udivd,5 %dr9, 100, %dr13 }
        { addd,0 %dr11, %dr12, %dr11 }
        { subd,0 %dr11, %dr13, %dr11 }
        { subd,0 %dr5, %dr11, %dr11 }                      // doy
        { muld,0 %dr11, 5, %dr12 }
        { addd,0 %dr12, 2, %dr12 }
        { udivd,5 %dr12, 153, %dr12 }                      // mp
        { muld,0 %dr12, 153, %dr13 }
        { addd,0 %dr13, 2, %dr13 }
        { udivd,5 %dr13, 5, %dr13 }
        { subd,0 %dr11, %dr13, %dr13; cmpbdb,1 %dr12, 10, %pred0 }
        { addd,0 %dr13, 1, %dr13; addd,1 %dr12, 3, %dr14; subd,2 %dr12, 9, %dr15 }  // %dr13 day
        { merged,0 %dr15, %dr14, %dr14, %pred0 }           // month
        { cmpbedb,0 %dr14, 2, %pred1 }
        { addd,0 %dr10, 1, %dr10 ? %pred1 }
        // time of day
        { udivd,5 %dr2, 3600, %dr16 }
        { muld,0 %dr16, 3600, %dr17 }
        { subd,0 %dr2, %dr17, %dr17 }
        { udivd,5 %dr17, 60, %dr18 }
        { muld,0 %dr18, 60, %dr19 }
        { subd,0 %dr17, %dr19, %dr19 }
        // format into linebuf
        { disp %ctpr1, fmt_dec; addd,0 0, linebuf, %dr24; addd,1 %dr10, 0, %dr25; addd,2 0, 4, %dr26 }
        { call %ctpr1, wbs=12 }
        { addd,0 0, 45, %dr4 }
        { stb,2 %dr4, [ %dr24 + 0 ]; addd,0 %dr24, 1, %dr24 }
        { disp %ctpr1, fmt_dec; addd,0 %dr14, 0, %dr25; addd,1 0, 2, %dr26 }
        { call %ctpr1, wbs=12 }
        { addd,0 0, 45, %dr4 }
        { stb,2 %dr4, [ %dr24 + 0 ]; addd,0 %dr24, 1, %dr24 }
        { disp %ctpr1, fmt_dec; addd,0 %dr13, 0, %dr25; addd,1 0, 2, %dr26 }
        { call %ctpr1, wbs=12 }
        { addd,0 0, 32, %dr4 }
        { stb,2 %dr4, [ %dr24 + 0 ]; addd,0 %dr24, 1, %dr24 }
        { disp %ctpr1, fmt_dec; addd,0 %dr16, 0, %dr25; addd,1 0, 2, %dr26 }
        { call %ctpr1, wbs=12 }
        { addd,0 0, 58, %dr4 }
        { stb,2 %dr4, [ %dr24 + 0 ]; addd,0 %dr24, 1, %dr24 }
        { disp %ctpr1, fmt_dec; addd,0 %dr18, 0, %dr25; addd,1 0, 2, %dr26 }
        { call %ctpr1, wbs=12 }
        { addd,0 0, 58, %dr4 }
        { stb,2 %dr4, [ %dr24 + 0 ]; addd,0 %dr24, 1, %dr24 }
        { disp %ctpr1, fmt_dec; addd,0 %dr19, 0, %dr25; addd,1 0, 2, %dr26 }
        { call %ctpr1, wbs=12 }
        { disp %ctpr1, str_copy; addd,0 0, msg_utc, %dr25 }
        { call %ctpr1, wbs=12 }
        { disp %ctpr1, draw_str; addd,0 0, 20, %dr24; addd,1 0, 2, %dr25; addd,2 0, linebuf, %dr26 }
        { addd,0 0, COLOR_VALUE, %dr27; addd,1 0, COLOR_BG, %dr28; addd,2 0, 0, %dr29 }
        { call %ctpr1, wbs=12 }
        { return %ctpr3 }
        { ct %ctpr3 }

// draw_uptime: "hh:mm:ss.cc   frame N" from the virtual clock.
draw_uptime:
        { setwd wsz=16, nfx=1; addd,0 0, 0xF0000000, %dr4 }
        { ldd,0 %dr4, 0x18, %dr0 }
        { udivd,5 %dr0, 10000000, %dr1 }                   // centiseconds
        { udivd,5 %dr1, 100, %dr2 }                        // seconds
        { muld,0 %dr2, 100, %dr3 }
        { subd,0 %dr1, %dr3, %dr3 }                        // cc
        { udivd,5 %dr2, 3600, %dr5 }                       // hours
        { muld,0 %dr5, 3600, %dr6 }
        { subd,0 %dr2, %dr6, %dr6 }
        { udivd,5 %dr6, 60, %dr7 }                         // minutes
        { muld,0 %dr7, 60, %dr8 }
        { subd,0 %dr6, %dr8, %dr8 }                        // seconds
        { disp %ctpr1, fmt_dec; addd,0 0, linebuf, %dr24; addd,1 %dr5, 0, %dr25; addd,2 0, 2, %dr26 }
        { call %ctpr1, wbs=12 }
        { addd,0 0, 58, %dr4 }
        { stb,2 %dr4, [ %dr24 + 0 ]; addd,0 %dr24, 1, %dr24 }
        { disp %ctpr1, fmt_dec; addd,0 %dr7, 0, %dr25; addd,1 0, 2, %dr26 }
        { call %ctpr1, wbs=12 }
        { addd,0 0, 58, %dr4 }
        { stb,2 %dr4, [ %dr24 + 0 ]; addd,0 %dr24, 1, %dr24 }
        { disp %ctpr1, fmt_dec; addd,0 %dr8, 0, %dr25; addd,1 0, 2, %dr26 }
        { call %ctpr1, wbs=12 }
        { addd,0 0, 46, %dr4 }
        { stb,2 %dr4, [ %dr24 + 0 ]; addd,0 %dr24, 1, %dr24 }
        { disp %ctpr1, fmt_dec; addd,0 %dr3, 0, %dr25; addd,1 0, 2, %dr26 }
        { call %ctpr1, wbs=12 }
        { disp %ctpr1, str_copy; addd,0 0, msg_frame, %dr25 }
        { call %ctpr1, wbs=12 }
        { addd,0 0, frames, %dr4 }
        { ldd,0 %dr4, 0, %dr25 }
        { disp %ctpr1, fmt_dec; addd,0 0, 1, %dr26 }
        { call %ctpr1, wbs=12 }
        { disp %ctpr1, draw_str; addd,0 0, 20, %dr24; addd,1 0, 3, %dr25; addd,2 0, linebuf, %dr26 }
        { addd,0 0, COLOR_VALUE, %dr27; addd,1 0, COLOR_BG, %dr28; addd,2 0, 40, %dr29 }
        { call %ctpr1, wbs=12 }
        { return %ctpr3 }
        { ct %ctpr3 }

// move_box: erases the box, moves it one step (bouncing off the area's edges, changing colour
// at each bounce) and draws it again.
move_box:
        { setwd wsz=16, nfx=1; addd,0 0, box_state, %dr10 }
        { ldd,0 %dr10, 0, %dr0; ldd,2 %dr10, 8, %dr1; ldd,3 %dr10, 16, %dr2; ldd,5 %dr10, 24, %dr3 }
        { ldd,0 %dr10, 32, %dr4 }
        { disp %ctpr1, fill_rect; addd,0 %dr0, 0, %dr24; addd,1 %dr1, 0, %dr25; addd,2 0, BOX, %dr26 }
        { addd,0 0, BOX, %dr27; addd,1 0, COLOR_AREA, %dr28 }
        { call %ctpr1, wbs=12 }
        // x
        { addd,0 %dr0, %dr2, %dr5 }
        { cmpldb,0 %dr5, AREA_X, %pred0; cmpledb,1 %dr5, BOX_MAX_X, %pred1 }
        { subd,0 0, %dr2, %dr2 ? %pred0; addd,1 %dr4, 1, %dr4 ? %pred0 }
        { subd,0 0, %dr2, %dr2 ? ~%pred1; addd,1 %dr4, 1, %dr4 ? ~%pred1 }
        { addd,0 %dr0, %dr2, %dr0 }
        // y
        { addd,0 %dr1, %dr3, %dr5 }
        { cmpldb,0 %dr5, AREA_Y, %pred0; cmpledb,1 %dr5, BOX_MAX_Y, %pred1 }
        { subd,0 0, %dr3, %dr3 ? %pred0; addd,1 %dr4, 1, %dr4 ? %pred0 }
        { subd,0 0, %dr3, %dr3 ? ~%pred1; addd,1 %dr4, 1, %dr4 ? ~%pred1 }
        { addd,0 %dr1, %dr3, %dr1; andd,1 %dr4, 3, %dr6 }
        { std,2 %dr0, [ %dr10 + 0 ]; std,5 %dr1, [ %dr10 + 8 ]; shld,0 %dr6, 3, %dr6 }
        { std,2 %dr2, [ %dr10 + 16 ]; std,5 %dr3, [ %dr10 + 24 ]; addd,0 %dr6, box_colors, %dr6 }
        { std,2 %dr4, [ %dr10 + 32 ]; ldd,0 %dr6, 0, %dr7; ldd,5 %dr6, 32, %dr8 }
        { disp %ctpr1, fill_rect; addd,0 %dr0, 0, %dr24; addd,1 %dr1, 0, %dr25; addd,2 0, BOX, %dr26 }
        { addd,0 0, BOX, %dr27; addd,1 %dr7, 0, %dr28 }
        { call %ctpr1, wbs=12 }
        { disp %ctpr1, fill_rect; addd,0 %dr0, 12, %dr24; addd,1 %dr1, 12, %dr25; addd,2 0, 24, %dr26 }
        { addd,0 0, 24, %dr27; addd,1 %dr8, 0, %dr28 }
        { call %ctpr1, wbs=12 }
        { return %ctpr3 }
        { ct %ctpr3 }

// ---------------------------------------------------------------------------------------------
// poll_keys: takes up to 16 events from the keyboard FIFO; tracks Shift; handles each press.
poll_keys:
        { setwd wsz=16, nfx=1; addd,0 0, 0xF0006000, %dr10; addd,1 0, 16, %dr11 }
        { addd,0 0, shift_state, %dr12 }
poll_next:
        { ldd,0 %dr10, 0, %dr0; subd,1 %dr11, 1, %dr11 }
        { cmpldb,0 %dr0, 0, %pred0; cmpldb,1 %dr11, 0, %pred1 }    // bit 63 = valid
        { ibranch poll_done ? ~%pred0 }
        { ibranch poll_done ? %pred1 }
        { andd,0 %dr0, 0xffff, %dr1; shrd,1 %dr0, KEY_RELEASE_BIT, %dr2 }
        { andd,0 %dr2, 1, %dr2; cmpedb,1 %dr1, 0x2a, %pred2; cmpedb,3 %dr1, 0x36, %pred3 }
        { xord,0 %dr2, 1, %dr3 }                                      // 1 = pressed
        { std,2 %dr3, [ %dr12 + 0 ] ? %pred2 }
        { std,2 %dr3, [ %dr12 + 0 ] ? %pred3 }
        { ibranch poll_next ? %pred2 }
        { ibranch poll_next ? %pred3 }
        { cmpedb,0 %dr2, 1, %pred4 }
        { ibranch poll_next ? %pred4 }
        { disp %ctpr1, key_pressed; addd,0 %dr1, 0, %dr24 }
        { call %ctpr1, wbs=12 }
        { ibranch poll_next }
poll_done:
        { return %ctpr3 }
        { ct %ctpr3 }

// key_pressed(scancode): record on disk, serial line, screen.
key_pressed:
        { setwd wsz=16, nfx=1; addd,0 %dr0, 0, %dr10; addd,1 0, 0, %dr11 }
        // character: plain or shifted table for set-1 codes below 0x80
        { addd,0 0, shift_state, %dr4; cmpbdb,1 %dr10, 0x80, %pred0 }
        { ldd,0 %dr4, 0, %dr5; addd,1 0, keymap_plain, %dr6; addd,2 0, keymap_shift, %dr7 }
        { cmpedb,0 %dr5, 0, %pred1 }
        { merged,0 %dr7, %dr6, %dr6, %pred1 }
        { ldb,0 %dr6, %dr10, %dr11 ? %pred0 }
        // key name: 'c' for a character, <hex scancode> otherwise (into keyname)
        { addd,0 0, keyname, %dr12; cmpedb,1 %dr11, 0, %pred2; addd,2 0, 39, %dr4 }
        { ibranch key_hex_name ? %pred2 }
        { stb,2 %dr4, [ %dr12 + 0 ]; stb,5 %dr11, [ %dr12 + 1 ] }
        { stb,2 %dr4, [ %dr12 + 2 ]; addd,0 0, 0, %dr5 }
        { stb,2 %dr5, [ %dr12 + 3 ]; ibranch key_named }
key_hex_name:
        { addd,0 0, 60, %dr4; addd,1 %dr12, 1, %dr24; addd,2 %dr10, 0, %dr25; addd,3 0, 2, %dr26 }
        { stb,2 %dr4, [ %dr12 + 0 ]; cmpbdb,0 %dr10, 0x100, %pred3 }
        { addd,0 0, 4, %dr26 ? ~%pred3; disp %ctpr1, fmt_hex }
        { call %ctpr1, wbs=12 }
        { addd,0 0, 62, %dr4; addd,1 0, 0, %dr5 }
        { stb,2 %dr4, [ %dr24 + 0 ]; stb,5 %dr5, [ %dr24 + 1 ] }
key_named:
        // sequence and sector
        { addd,0 0, rec_count, %dr13; addd,1 0, rec_first, %dr14; addd,2 0, disk_capacity, %dr15 }
        { ldd,0 %dr13, 0, %dr16; ldd,2 %dr14, 0, %dr17; ldd,3 %dr15, 0, %dr18 }
        { addd,0 %dr16, 1, %dr19; addd,1 %dr17, %dr16, %dr20 }        // %dr19 seq, %dr20 sector
        { cmpbdb,0 %dr20, %dr18, %pred0 }
        { ibranch key_disk_full ? ~%pred0 }
        // serial line: "key 'a' scancode 0x1e -> record 1 at sector 10\n"
        { disp %ctpr1, str_copy; addd,0 0, linebuf, %dr24; addd,1 0, msg_key1, %dr25 }
        { call %ctpr1, wbs=12 }
        { disp %ctpr1, str_copy; addd,0 0, keyname, %dr25 }
        { call %ctpr1, wbs=12 }
        { disp %ctpr1, str_copy; addd,0 0, msg_key2, %dr25 }
        { call %ctpr1, wbs=12 }
        { disp %ctpr1, fmt_hex; addd,0 %dr10, 0, %dr25; addd,1 0, 2, %dr26; cmpbdb,3 %dr10, 0x100, %pred3 }
        { addd,0 0, 4, %dr26 ? ~%pred3 }
        { call %ctpr1, wbs=12 }
        { disp %ctpr1, str_copy; addd,0 0, msg_key3, %dr25 }
        { call %ctpr1, wbs=12 }
        { disp %ctpr1, fmt_dec; addd,0 %dr19, 0, %dr25; addd,1 0, 1, %dr26 }
        { call %ctpr1, wbs=12 }
        { disp %ctpr1, str_copy; addd,0 0, msg_key4, %dr25 }
        { call %ctpr1, wbs=12 }
        { disp %ctpr1, fmt_dec; addd,0 %dr20, 0, %dr25; addd,1 0, 1, %dr26 }
        { call %ctpr1, wbs=12 }
        { addd,0 %dr24, 0, %dr21 }                                    // end of the line text
        { disp %ctpr1, str_copy; addd,0 0, msg_crlf, %dr25 }
        { call %ctpr1, wbs=12 }
        // the record
        { addd,0 0, RECBUF, %dr4; addd,1 0, 0, %dr5; addd,2 0, 0x005359454B4B3245, %dr6 }
        { addd,0 0, 0xF0004000, %dr7; addd,1 0, 0xF0000000, %dr8 }
        { ldd,0 %dr7, 0, %dr22; ldd,2 %dr7, 8, %dr23; ldd,3 %dr8, 0x18, %dr9 }
        { std,2 %dr6, [ %dr4 + 0 ]; std,5 %dr19, [ %dr4 + 8 ] }
        { std,2 %dr10, [ %dr4 + 16 ]; std,5 %dr11, [ %dr4 + 24 ] }
        { std,2 %dr22, [ %dr4 + 32 ]; std,5 %dr23, [ %dr4 + 40 ] }
        { std,2 %dr9, [ %dr4 + 48 ]; addd,0 %dr4, 56, %dr6; addd,1 0, 57, %dr7 }
key_clear_text:                                                       // 57 x 8 bytes
        { std,2 %dr5, [ %dr6 + 0 ]; addd,0 %dr6, 8, %dr6; subd,1 %dr7, 1, %dr7; cmpedb,3 %dr7, 1, %pred0 }
        { ibranch key_clear_text ? ~%pred0 }
        { addd,0 0, 0, %dr5 }
        { stb,2 %dr5, [ %dr21 + 0 ] }                                 // line without CR LF
        { disp %ctpr1, str_copy; addd,0 %dr4, 56, %dr24; addd,1 0, linebuf, %dr25 }
        { call %ctpr1, wbs=12 }
        // write the sector
        { addd,0 0, 0xF0010000, %dr6; addd,1 0, 1, %dr7; addd,2 0, 2, %dr8 }
        { std,2 %dr20, [ %dr6 + 0x08 ]; std,5 %dr7, [ %dr6 + 0x10 ] }
        { std,2 %dr4, [ %dr6 + 0x18 ]; std,5 %dr8, [ %dr6 + 0x20 ] }
        { ldd,0 %dr6, 0x28, %dr9 }
        { cmpedb,0 %dr9, 0, %pred0 }
        { ibranch key_write_error ? ~%pred0 }
        { std,2 %dr19, [ %dr13 + 0 ] }                                // records written
        { disp %ctpr1, serial_puts; addd,0 0, msg_key_serial, %dr24 }
        { call %ctpr1, wbs=12 }
        { disp %ctpr1, serial_puts; addd,0 0, linebuf, %dr24 }
        { call %ctpr1, wbs=12 }
        { disp %ctpr1, serial_puts; addd,0 0, msg_crlf, %dr24 }
        { call %ctpr1, wbs=12 }
        { disp %ctpr1, log_push; addd,0 0, linebuf, %dr24 }
        { call %ctpr1, wbs=12 }
        { ibranch key_show }
key_write_error:
        { disp %ctpr1, str_copy; addd,0 0, linebuf, %dr24; addd,1 0, msg_write_error, %dr25 }
        { call %ctpr1, wbs=12 }
        { disp %ctpr1, fmt_dec; addd,0 %dr9, 0, %dr25; addd,1 0, 1, %dr26 }
        { call %ctpr1, wbs=12 }
        { ibranch key_report }
key_disk_full:
        { disp %ctpr1, str_copy; addd,0 0, linebuf, %dr24; addd,1 0, msg_disk_full, %dr25 }
        { call %ctpr1, wbs=12 }
key_report:
        { disp %ctpr1, serial_puts; addd,0 0, linebuf, %dr24 }
        { call %ctpr1, wbs=12 }
        { disp %ctpr1, serial_puts; addd,0 0, msg_crlf, %dr24 }
        { call %ctpr1, wbs=12 }
        { disp %ctpr1, log_push; addd,0 0, linebuf, %dr24 }
        { call %ctpr1, wbs=12 }
key_show:
        // last keys: shift the 8-byte name slots down by one, put this one last
        { addd,0 0, lastkeys, %dr4; addd,1 0, KEYS_SHOWN - 1, %dr5 }
key_shift:
        { ldd,0 %dr4, 8, %dr6; subd,1 %dr5, 1, %dr5; cmpedb,3 %dr5, 1, %pred0 }
        { std,2 %dr6, [ %dr4 + 0 ]; addd,0 %dr4, 8, %dr4; ibranch key_shift ? ~%pred0 }
        { ldd,0 %dr12, 0, %dr6 }
        { std,2 %dr6, [ %dr4 + 0 ] }
        { disp %ctpr1, draw_keys }
        { call %ctpr1, wbs=12 }
        { disp %ctpr1, draw_records }
        { call %ctpr1, wbs=12 }
        { disp %ctpr1, draw_log }
        { call %ctpr1, wbs=12 }
        { return %ctpr3 }
        { ct %ctpr3 }

// draw_records: the "records written" counter.
draw_records:
        { setwd wsz=16, nfx=1; addd,0 0, rec_count, %dr4 }
        { ldd,0 %dr4, 0, %dr25 }
        { disp %ctpr1, fmt_dec; addd,0 0, linebuf, %dr24; addd,1 0, 1, %dr26 }
        { call %ctpr1, wbs=12 }
        { disp %ctpr1, draw_str; addd,0 0, 20, %dr24; addd,1 0, 5, %dr25; addd,2 0, linebuf, %dr26 }
        { addd,0 0, COLOR_VALUE, %dr27; addd,1 0, COLOR_BG, %dr28; addd,2 0, 20, %dr29 }
        { call %ctpr1, wbs=12 }
        { return %ctpr3 }
        { ct %ctpr3 }

// draw_keys: the last KEYS_SHOWN key names, newest first (the newest is the last slot,
// lastkeys + 8 * (KEYS_SHOWN - 1)).
draw_keys:
        { setwd wsz=16, nfx=1; addd,0 0, lastkeys + 104, %dr10; addd,1 0, KEYS_SHOWN, %dr11; addd,2 0, 20, %dr12 }
draw_keys_next:
        { disp %ctpr1, draw_str; addd,0 %dr12, 0, %dr24; addd,1 0, 7, %dr25; addd,2 %dr10, 0, %dr26 }
        { addd,0 0, COLOR_VALUE, %dr27; addd,1 0, COLOR_BG, %dr28; addd,2 0, 7, %dr29 }
        { call %ctpr1, wbs=12 }
        { subd,0 %dr10, 8, %dr10; addd,1 %dr12, 7, %dr12; subd,2 %dr11, 1, %dr11; cmpedb,3 %dr11, 1, %pred0 }
        { ibranch draw_keys_next ? ~%pred0 }
        { return %ctpr3 }
        { ct %ctpr3 }

// log_push(str): scrolls the log up one line and puts `str` (up to LOG_COLS characters) last.
// The log is LOG_LINES lines of 128 bytes.
log_push:
        { setwd wsz=16, nfx=1; addd,0 0, logbuf, %dr4; addd,1 0, 144, %dr5 }  // 9 lines x 16 dwords
log_scroll:
        { ldd,0 %dr4, 128, %dr6; subd,1 %dr5, 1, %dr5; cmpedb,3 %dr5, 1, %pred0 }
        { std,2 %dr6, [ %dr4 + 0 ]; addd,0 %dr4, 8, %dr4; ibranch log_scroll ? ~%pred0 }
        // %dr4 = start of the last line
        { addd,0 0, LOG_COLS, %dr5 }
log_copy:
        { ldb,0 %dr0, 0, %dr6; addd,1 %dr0, 1, %dr0; subd,2 %dr5, 1, %dr5 }
        { cmpedb,0 %dr6, 0, %pred0; cmpedb,1 %dr5, 0, %pred1 }
        { stb,2 %dr6, [ %dr4 + 0 ]; addd,0 %dr4, 1, %dr4 }
        { ibranch log_copy_end ? %pred0 }
        { ibranch log_copy ? ~%pred1 }
        { addd,0 0, 0, %dr6 }
        { stb,2 %dr6, [ %dr4 + 0 ] }
log_copy_end:
        { return %ctpr3 }
        { ct %ctpr3 }

// draw_log: the log lines, each padded to LOG_COLS columns.
draw_log:
        { setwd wsz=16, nfx=1; addd,0 0, logbuf, %dr10; addd,1 0, LOG_ROW, %dr11; addd,2 0, LOG_LINES, %dr12 }
draw_log_next:
        { disp %ctpr1, draw_str; addd,0 0, 2, %dr24; addd,1 %dr11, 0, %dr25; addd,2 %dr10, 0, %dr26 }
        { addd,0 0, COLOR_FG, %dr27; addd,1 0, COLOR_BG, %dr28; addd,2 0, LOG_COLS, %dr29 }
        { call %ctpr1, wbs=12 }
        { addd,0 %dr10, 128, %dr10; addd,1 %dr11, 1, %dr11; subd,2 %dr12, 1, %dr12; cmpedb,3 %dr12, 1, %pred0 }
        { ibranch draw_log_next ? ~%pred0 }
        { return %ctpr3 }
        { ct %ctpr3 }

// ---------------------------------------------------------------------------------------------
// Drawing. The framebuffer is 1024 x 768 pixels of 4 bytes at FB, rows 4096 bytes apart;
// text cells are 8 x 16 pixels (128 columns x 48 rows).

// draw_str(col, row, str, fg, bg, width) -> next column: draws `str`, then spaces up to
// `width` cells (0 = no padding). Stops at the right edge.
draw_str:
        { setwd wsz=16, nfx=1; addd,0 %dr0, %dr5, %dr10; addd,1 %dr0, 0, %dr11 }
draw_str_next:
        { ldb,0 %dr2, 0, %dr6; cmpbdb,1 %dr11, 128, %pred1 }
        { cmpedb,0 %dr6, 0, %pred0 }
        { ibranch draw_str_pad ? %pred0 }
        { ibranch draw_str_end ? ~%pred1 }
        { disp %ctpr1, draw_char; addd,0 %dr11, 0, %dr24; addd,1 %dr1, 0, %dr25; addd,2 %dr6, 0, %dr26 }
        { addd,0 %dr3, 0, %dr27; addd,1 %dr4, 0, %dr28; addd,2 %dr2, 1, %dr2; addd,3 %dr11, 1, %dr11 }
        { call %ctpr1, wbs=12 }
        { ibranch draw_str_next }
draw_str_pad:
        { cmpbdb,0 %dr11, %dr10, %pred0; cmpbdb,1 %dr11, 128, %pred1 }
        { ibranch draw_str_end ? ~%pred0 }
        { ibranch draw_str_end ? ~%pred1 }
        { disp %ctpr1, draw_char; addd,0 %dr11, 0, %dr24; addd,1 %dr1, 0, %dr25; addd,2 0, 32, %dr26 }
        { addd,0 %dr3, 0, %dr27; addd,1 %dr4, 0, %dr28; addd,3 %dr11, 1, %dr11 }
        { call %ctpr1, wbs=12 }
        { ibranch draw_str_pad }
draw_str_end:
        { addd,0 %dr11, 0, %dr0; return %ctpr3 }
        { ct %ctpr3 }

// draw_char(col, row, ch, fg, bg): one 8 x 16 cell; characters outside 32..126 show as '?'.
// Each glyph row is drawn as four pixel pairs looked up in a 4-entry table of 64-bit
// (left, right) colour pairs built for this fg/bg.
draw_char:
        { setwd wsz=16, nfx=1; subd,0 %dr2, 32, %dr5; cmpbdb,1 %dr0, 128, %pred1; cmpbdb,3 %dr1, 48, %pred2 }
        { ibranch draw_char_end ? ~%pred1 }
        { ibranch draw_char_end ? ~%pred2 }
        { cmpbdb,0 %dr5, 95, %pred0; andd,1 %dr3, 0xffffffff, %dr3; andd,2 %dr4, 0xffffffff, %dr4 }
        { addd,0 0, 31, %dr5 ? ~%pred0 }
        { shld,0 %dr5, 4, %dr5; shld,1 %dr1, 16, %dr6; shld,2 %dr0, 5, %dr7; shld,3 %dr3, 32, %dr8; shld,4 %dr4, 32, %dr9 }
        { addd,0 %dr5, font, %dr5; addd,1 %dr6, %dr7, %dr6; addd,2 0, pairtab, %dr15 }
        // pairs: 00 bg|bg, 01 bg|fg, 10 fg|bg, 11 fg|fg (low word = left pixel)
        { ord,0 %dr9, %dr4, %dr10; ord,1 %dr8, %dr4, %dr11; ord,3 %dr9, %dr3, %dr12; ord,4 %dr8, %dr3, %dr13 }
        { std,2 %dr10, [ %dr15 + 0 ]; std,5 %dr11, [ %dr15 + 8 ]; addd,0 %dr6, FB, %dr6; addd,1 0, 16, %dr16 }
        { std,2 %dr12, [ %dr15 + 16 ]; std,5 %dr13, [ %dr15 + 24 ] }
draw_char_row:
        { ldb,0 %dr5, 0, %dr10; addd,1 %dr5, 1, %dr5 }
        { shrd,0 %dr10, 3, %dr11; shrd,1 %dr10, 1, %dr12; shld,3 %dr10, 1, %dr13; shld,4 %dr10, 3, %dr14 }
        { andd,0 %dr11, 0x18, %dr11; andd,1 %dr12, 0x18, %dr12; andd,3 %dr13, 0x18, %dr13; andd,4 %dr14, 0x18, %dr14 }
        { ldd,0 %dr15, %dr11, %dr11; ldd,2 %dr15, %dr12, %dr12; ldd,3 %dr15, %dr13, %dr13; ldd,5 %dr15, %dr14, %dr14 }
        { std,2 %dr11, [ %dr6 + 0 ]; std,5 %dr12, [ %dr6 + 8 ]; subd,0 %dr16, 1, %dr16; cmpedb,1 %dr16, 1, %pred0 }
        { std,2 %dr13, [ %dr6 + 16 ]; std,5 %dr14, [ %dr6 + 24 ]; addd,0 %dr6, 4096, %dr6; ibranch draw_char_row ? ~%pred0 }
draw_char_end:
        { return %ctpr3 }
        { ct %ctpr3 }

// fill_rect(x, y, w, h, colour): x even, w a multiple of 4, all inside the screen.
fill_rect:
        { setwd wsz=16, nfx=1; shld,0 %dr1, 12, %dr5; shld,1 %dr0, 2, %dr6; andd,2 %dr4, 0xffffffff, %dr4 }
        { addd,0 %dr5, %dr6, %dr5; shld,1 %dr4, 32, %dr7; shrd,2 %dr2, 2, %dr8 }
        { addd,0 %dr5, FB, %dr5; ord,1 %dr7, %dr4, %dr7; cmpedb,3 %dr8, 0, %pred0; cmpedb,4 %dr3, 0, %pred1 }
        { ibranch fill_rect_end ? %pred0 }
        { ibranch fill_rect_end ? %pred1 }
fill_rect_row:
        { addd,0 %dr5, 0, %dr9; addd,1 %dr8, 0, %dr10 }
fill_rect_col:
        { std,2 %dr7, [ %dr9 + 0 ]; std,5 %dr7, [ %dr9 + 8 ]; addd,0 %dr9, 16, %dr9; subd,1 %dr10, 1, %dr10; cmpedb,3 %dr10, 1, %pred0 }
        { ibranch fill_rect_col ? ~%pred0 }
        { addd,0 %dr5, 4096, %dr5; subd,1 %dr3, 1, %dr3; cmpedb,3 %dr3, 1, %pred1 }
        { ibranch fill_rect_row ? ~%pred1 }
fill_rect_end:
        { return %ctpr3 }
        { ct %ctpr3 }

// ---------------------------------------------------------------------------------------------
// Trap table entry 0: timer interrupts count frames; anything else is a guest bug, reported on
// serial before powering off.
        .align 4096
trap_entry:
        { setwd wsz=16, nfx=1 }
        { rrd,0 %tir.hi, %dr0 }
        { rrd,0 %tir.lo, %dr1 }
        { rwd,0 0, %tir.lo; andd,1 %dr0, 0xfffffffffff, %dr2 }
        { cmpedb,0 %dr2, 0x100000000, %pred0 }
        { ibranch trap_exception ? ~%pred0 }
        { addd,0 0, 0xF0003000, %dr3; addd,1 0, ticks, %dr4 }
        { std,2 %dr3, [ %dr3 + 0x18 ]; ldd,0 %dr4, 0, %dr5 }
        { addd,0 %dr5, 1, %dr5 }
        { std,2 %dr5, [ %dr4 + 0 ] }
        { nop 3 }
        { done }
trap_exception:
        { addd,0 %dr0, 0, %dr10; addd,1 %dr1, 0, %dr11 }
        { disp %ctpr1, serial_puts; addd,0 0, msg_trap, %dr24 }
        { call %ctpr1, wbs=12 }
        { disp %ctpr1, fmt_hex; addd,0 0, linebuf, %dr24; addd,1 %dr10, 0, %dr25; addd,2 0, 16, %dr26 }
        { call %ctpr1, wbs=12 }
        { disp %ctpr1, serial_puts; addd,0 0, linebuf, %dr24 }
        { call %ctpr1, wbs=12 }
        { disp %ctpr1, serial_puts; addd,0 0, msg_trap_ip, %dr24 }
        { call %ctpr1, wbs=12 }
        { disp %ctpr1, fmt_hex; addd,0 0, linebuf, %dr24; addd,1 %dr11, 0, %dr25; addd,2 0, 12, %dr26 }
        { call %ctpr1, wbs=12 }
        { disp %ctpr1, serial_puts; addd,0 0, linebuf, %dr24 }
        { call %ctpr1, wbs=12 }
        { disp %ctpr1, serial_puts; addd,0 0, msg_power_off, %dr24 }
        { call %ctpr1, wbs=12 }
        { addd,0 0, 0xF0000000, %dr4; addd,1 0, 1, %dr5 }
        { std,2 %dr5, [ %dr4 + 0x10 ] }
trap_halt:
        { wait trap=1 }
        { ibranch trap_halt }

// ---------------------------------------------------------------------------------------------
        .data
        .align 8
ticks:          .dword 0
frames:         .dword 0
shift_state:    .dword 0
rec_count:      .dword 0
rec_first:      .dword 1
boot_sectors:   .dword 0
disk_capacity:  .dword 0
box_state:      .dword 200, 420, 4, 3, 0      // x, y, dx, dy, bounces
box_colors:     .dword 0xbf616a, 0xa3be8c, 0xebcb8b, 0x5e81ac   // outer, by bounces mod 4
                .dword 0x6e2a30, 0x4f6a3a, 0x8a6f35, 0x2e4a70   // inner
pairtab:        .zero 32
keyname:        .zero 8
lastkeys:       .zero 128                     // 8 bytes x KEYS_SHOWN
logbuf:         .zero 1280                    // 128 bytes x LOG_LINES
linebuf:        .zero 256
diskinfo:       .zero 160

msg_banner:      .asciz "e2kvm demo guest: 1024x768 console, 60 Hz timer, one disk record per key\n"
msg_title:       .asciz "e2kvm demo guest  -  Elbrus 2000 (E2K) on the e2k-vm board  -  incremental backup playground"
lbl_clock:       .asciz "Clock"
lbl_uptime:      .asciz "Uptime"
lbl_disk:        .asciz "Disk 0"
lbl_records:     .asciz "Records written"
lbl_keys:        .asciz "Last keys"
lbl_log:         .asciz "Log"
msg_help:        .asciz "Type on the keyboard: each key press is written to disk 0 as a 512-byte record, so the disk's dirty bitmap grows."
msg_utc:         .asciz " UTC"
msg_frame:       .asciz "   frame "
msg_disk1:       .asciz "demo: disk 0 has "
msg_disk2:       .asciz " sectors; boot program "
msg_disk3:       .asciz " sectors; records from sector "
msg_disk4:       .asciz " ("
msg_disk5:       .asciz " found)\n"
msg_key1:        .asciz "key "
msg_key2:        .asciz " scancode 0x"
msg_key3:        .asciz " -> record "
msg_key4:        .asciz " at sector "
msg_key_serial:  .asciz "demo: "
msg_crlf:        .asciz "\n"
msg_write_error: .asciz "demo: disk 0 write error, status "
msg_disk_full:   .asciz "demo: no room for another record on disk 0"
msg_trap:        .asciz "\ndemo: unexpected exception, TIR.hi=0x"
msg_trap_ip:     .asciz " IP=0x"
msg_power_off:   .asciz "\ndemo: powering off\n"

keymap_plain:
        .byte 0x00, 0x00, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x30, 0x2d, 0x3d, 0x00, 0x00
        .byte 0x71, 0x77, 0x65, 0x72, 0x74, 0x79, 0x75, 0x69, 0x6f, 0x70, 0x5b, 0x5d, 0x00, 0x00, 0x61, 0x73
        .byte 0x64, 0x66, 0x67, 0x68, 0x6a, 0x6b, 0x6c, 0x3b, 0x27, 0x60, 0x00, 0x5c, 0x7a, 0x78, 0x63, 0x76
        .byte 0x62, 0x6e, 0x6d, 0x2c, 0x2e, 0x2f, 0x00, 0x2a, 0x00, 0x20, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00
        .zero 64
keymap_shift:
        .byte 0x00, 0x00, 0x21, 0x40, 0x23, 0x24, 0x25, 0x5e, 0x26, 0x2a, 0x28, 0x29, 0x5f, 0x2b, 0x00, 0x00
        .byte 0x51, 0x57, 0x45, 0x52, 0x54, 0x59, 0x55, 0x49, 0x4f, 0x50, 0x7b, 0x7d, 0x00, 0x00, 0x41, 0x53
        .byte 0x44, 0x46, 0x47, 0x48, 0x4a, 0x4b, 0x4c, 0x3a, 0x22, 0x7e, 0x00, 0x7c, 0x5a, 0x58, 0x43, 0x56
        .byte 0x42, 0x4e, 0x4d, 0x3c, 0x3e, 0x3f, 0x00, 0x2a, 0x00, 0x20, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00
        .zero 64
        .text
