// rom.s: the e2k-vm boot ROM (docs/machine.md "Boot"). Runs from address 0 at reset, which is
// also trap-table entry 0 until a program moves OSCUD: a trap taken while the ROM runs comes
// here too and is told apart by a non-empty TIR. Checks the machine ID, prints a banner on the
// serial port, loads the boot program described by sector 0 of disk 0 with the block device's
// DMA and jumps to its entry with %dr0 = RAM size, %dr1 = drives, %dr2 = load address,
// %dr3 = program sectors. Without a bootable disk it says why and powers off.
// Constants above 2^31 are written as numbers (a symbol always gets a 32-bit literal):
// 0xF0000000 system controller, 0xF0010000 block device 0, 0x00544F4F424B3245 "E2KBOOT\0",
// 0x4D564B324532 the machine ID "2E2KVM".
        .equ SCRATCH, 0x80000           // header sector buffer (RAM under the ROM area)

        .text
_start:
        { setwd wsz=16, nfx=1 }
        // %dr0 = RAM size, %dr1 = drives (reset protocol); keep them in %dr20/%dr21.
        { addd,0 %dr0, 0, %dr20; addd,1 %dr1, 0, %dr21 }
        { rrd,0 %tir.hi, %dr4 }
        { cmpedb,0 %dr4, 0, %pred0 }
        { ibranch rom_trap ? ~%pred0 }

        { addd,0 0, 0xF0000000, %dr10 }
        { ldd,0 %dr10, 0, %dr4 }
        { cmpedb,0 %dr4, 0x4D564B324532, %pred0 }
        { ibranch rom_wrong_machine ? ~%pred0 }
        // Trust the system controller over the registers (a reset by the guest keeps them).
        { ldd,0 %dr10, 8, %dr20; ldd,2 %dr10, 0x20, %dr21 }

        { disp %ctpr1, serial_puts; addd,0 0, msg_banner, %dr24 }
        { call %ctpr1, wbs=12 }
        // "RAM: <MiB> MiB, drives: <n>"
        { disp %ctpr1, serial_puts; addd,0 0, msg_ram, %dr24 }
        { call %ctpr1, wbs=12 }
        { disp %ctpr1, fmt_dec; addd,0 0, numbuf, %dr24; shrd,1 %dr20, 20, %dr25; addd,2 0, 1, %dr26 }
        { call %ctpr1, wbs=12 }
        { disp %ctpr1, serial_puts; addd,0 0, numbuf, %dr24 }
        { call %ctpr1, wbs=12 }
        { disp %ctpr1, serial_puts; addd,0 0, msg_drives, %dr24 }
        { call %ctpr1, wbs=12 }
        { disp %ctpr1, fmt_dec; addd,0 0, numbuf, %dr24; addd,1 %dr21, 0, %dr25; addd,2 0, 1, %dr26 }
        { call %ctpr1, wbs=12 }
        { disp %ctpr1, serial_puts; addd,0 0, numbuf, %dr24 }
        { call %ctpr1, wbs=12 }
        { disp %ctpr1, serial_puts; addd,0 0, msg_crlf, %dr24 }
        { call %ctpr1, wbs=12 }

        // Disk 0 must exist and be present.
        { addd,0 0, msg_no_drive, %dr15; cmpedb,1 %dr21, 0, %pred0 }
        { ibranch rom_fail ? %pred0 }
        { addd,0 0, 0xF0010000, %dr11 }
        { ldd,0 %dr11, 0x40, %dr4; ldd,2 %dr11, 0, %dr22 }
        { andd,0 %dr4, 2, %dr4 }
        { cmpedb,0 %dr4, 0, %pred0 }
        { ibranch rom_fail ? %pred0 }
        { addd,0 0, msg_empty_disk, %dr15; cmpbdb,1 %dr22, 2, %pred0 }
        { ibranch rom_fail ? %pred0 }

        // Read the header sector.
        { addd,0 0, SCRATCH, %dr12; addd,1 0, 1, %dr4; addd,2 0, 0, %dr5 }
        { std,2 %dr5, [ %dr11 + 0x08 ]; std,5 %dr4, [ %dr11 + 0x10 ] }
        { std,2 %dr12, [ %dr11 + 0x18 ]; std,5 %dr4, [ %dr11 + 0x20 ] }
        { ldd,0 %dr11, 0x28, %dr16 }
        { addd,0 0, msg_read_error, %dr15; cmpedb,1 %dr16, 0, %pred0 }
        { ibranch rom_fail_status ? ~%pred0 }

        { ldd,0 %dr12, 0, %dr4; ldd,2 %dr12, 8, %dr13; ldd,3 %dr12, 16, %dr14; ldd,5 %dr12, 24, %dr17 }
        { addd,0 0, msg_not_bootable, %dr15; cmpedb,1 %dr4, 0x00544F4F424B3245, %pred0 }
        { ibranch rom_fail ? ~%pred0 }
        // %dr13 load address, %dr14 sectors, %dr17 entry. Check them against RAM and disk.
        { addd,0 0, msg_bad_header, %dr15; cmpbdb,1 %dr13, 0x100000, %pred0; cmpedb,3 %dr14, 0, %pred1 }
        { ibranch rom_fail ? %pred0 }
        { ibranch rom_fail ? %pred1 }
        { andd,0 %dr13, 7, %dr4; andd,1 %dr17, 7, %dr5; subd,2 %dr22, 1, %dr6 }
        { cmpedb,0 %dr4, 0, %pred0; cmpedb,1 %dr5, 0, %pred1; cmpbedb,3 %dr14, %dr6, %pred2 }
        { ibranch rom_fail ? ~%pred0 }
        { ibranch rom_fail ? ~%pred1 }
        { ibranch rom_fail ? ~%pred2 }
        // The program must end below the stacks (3 MiB at the top of RAM); sectors < 2^40 so
        // the size cannot wrap.
        { shld,0 %dr14, 9, %dr18; subd,1 %dr20, 0x300000, %dr6 }
        { addd,0 %dr13, %dr18, %dr19; cmpbdb,1 %dr6, %dr13, %pred0 }
        { ibranch rom_fail ? %pred0 }
        { cmpbdb,0 %dr6, %dr19, %pred0; cmpbdb,1 %dr17, %dr13, %pred1; cmpbedb,3 %dr19, %dr17, %pred2 }
        { ibranch rom_fail ? %pred0 }
        { ibranch rom_fail ? %pred1 }
        { ibranch rom_fail ? %pred2 }

        { disp %ctpr1, serial_puts; addd,0 0, msg_loading, %dr24 }
        { call %ctpr1, wbs=12 }
        { disp %ctpr1, fmt_dec; addd,0 0, numbuf, %dr24; addd,1 %dr14, 0, %dr25; addd,2 0, 1, %dr26 }
        { call %ctpr1, wbs=12 }
        { disp %ctpr1, serial_puts; addd,0 0, numbuf, %dr24 }
        { call %ctpr1, wbs=12 }
        { disp %ctpr1, serial_puts; addd,0 0, msg_at, %dr24 }
        { call %ctpr1, wbs=12 }
        { disp %ctpr1, fmt_hex; addd,0 0, numbuf, %dr24; addd,1 %dr13, 0, %dr25; addd,2 0, 8, %dr26 }
        { call %ctpr1, wbs=12 }
        { disp %ctpr1, serial_puts; addd,0 0, numbuf, %dr24 }
        { call %ctpr1, wbs=12 }
        { disp %ctpr1, serial_puts; addd,0 0, msg_entry, %dr24 }
        { call %ctpr1, wbs=12 }
        { disp %ctpr1, fmt_hex; addd,0 0, numbuf, %dr24; addd,1 %dr17, 0, %dr25; addd,2 0, 8, %dr26 }
        { call %ctpr1, wbs=12 }
        { disp %ctpr1, serial_puts; addd,0 0, numbuf, %dr24 }
        { call %ctpr1, wbs=12 }
        { disp %ctpr1, serial_puts; addd,0 0, msg_crlf, %dr24 }
        { call %ctpr1, wbs=12 }

        // Load sectors 1..count in commands of at most 2048 sectors.
        // %dr4 next sector, %dr5 sectors left, %dr12 DMA address.
        { addd,0 0, 1, %dr4; addd,1 %dr14, 0, %dr5; addd,2 %dr13, 0, %dr12 }
rom_load_chunk:
        { addd,0 %dr5, 0, %dr6; cmpbedb,1 %dr5, 2048, %pred0 }
        { addd,0 0, 2048, %dr6 ? ~%pred0 }
        { std,2 %dr4, [ %dr11 + 0x08 ]; std,5 %dr6, [ %dr11 + 0x10 ]; addd,0 0, 1, %dr7 }
        { std,2 %dr12, [ %dr11 + 0x18 ]; std,5 %dr7, [ %dr11 + 0x20 ] }
        { ldd,0 %dr11, 0x28, %dr16 }
        { addd,0 0, msg_read_error, %dr15; cmpedb,1 %dr16, 0, %pred0 }
        { ibranch rom_fail_status ? ~%pred0 }
        { shld,0 %dr6, 9, %dr7; addd,1 %dr4, %dr6, %dr4; subd,2 %dr5, %dr6, %dr5 }
        { addd,0 %dr12, %dr7, %dr12; cmpedb,1 %dr5, 0, %pred0 }
        { ibranch rom_load_chunk ? ~%pred0 }

        // Jump to the program's entry (a plain jump: the program sets up its own window).
        { movtd,0 %dr17, %ctpr2; addd,1 %dr20, 0, %dr0 }
        { addd,0 %dr21, 0, %dr1; addd,1 %dr13, 0, %dr2; addd,2 %dr14, 0, %dr3 }
        { ct %ctpr2 }

// rom_fail_status: message %dr15, then " (status N)", then power off.
rom_fail_status:
        { disp %ctpr1, serial_puts; addd,0 0, msg_rom, %dr24 }
        { call %ctpr1, wbs=12 }
        { disp %ctpr1, serial_puts; addd,0 %dr15, 0, %dr24 }
        { call %ctpr1, wbs=12 }
        { disp %ctpr1, serial_puts; addd,0 0, msg_status, %dr24 }
        { call %ctpr1, wbs=12 }
        { disp %ctpr1, fmt_dec; addd,0 0, numbuf, %dr24; addd,1 %dr16, 0, %dr25; addd,2 0, 1, %dr26 }
        { call %ctpr1, wbs=12 }
        { disp %ctpr1, serial_puts; addd,0 0, numbuf, %dr24 }
        { call %ctpr1, wbs=12 }
        { addd,0 0, msg_close, %dr15; ibranch rom_fail_tail }

// rom_fail: "ROM: <message %dr15>" then the power-off notice.
rom_fail:
        { disp %ctpr1, serial_puts; addd,0 0, msg_rom, %dr24 }
        { call %ctpr1, wbs=12 }
rom_fail_tail:
        { disp %ctpr1, serial_puts; addd,0 %dr15, 0, %dr24 }
        { call %ctpr1, wbs=12 }
        { disp %ctpr1, serial_puts; addd,0 0, msg_power_off, %dr24 }
        { call %ctpr1, wbs=12 }
rom_power_off:
        { addd,0 0, 0xF0000000, %dr10; addd,1 0, 1, %dr4 }
        { std,2 %dr4, [ %dr10 + 0x10 ] }
rom_halt:
        { wait trap=1 }
        { ibranch rom_halt }

rom_wrong_machine:
        // Not an e2k-vm: there may be no serial port either, so just idle.
        { disp %ctpr1, serial_puts; addd,0 0, msg_wrong_machine, %dr24 }
        { call %ctpr1, wbs=12 }
        { ibranch rom_halt }

// A trap while the ROM (or a program that kept OSCUD at 0) runs: report and power off.
rom_trap:
        { rrd,0 %tir.lo, %dr5 }
        { rwd,0 0, %tir.lo }
        { addd,0 %dr4, 0, %dr16; addd,1 %dr5, 0, %dr17 }
        { disp %ctpr1, serial_puts; addd,0 0, msg_trap, %dr24 }
        { call %ctpr1, wbs=12 }
        { disp %ctpr1, fmt_hex; addd,0 0, numbuf, %dr24; addd,1 %dr16, 0, %dr25; addd,2 0, 16, %dr26 }
        { call %ctpr1, wbs=12 }
        { disp %ctpr1, serial_puts; addd,0 0, numbuf, %dr24 }
        { call %ctpr1, wbs=12 }
        { disp %ctpr1, serial_puts; addd,0 0, msg_trap_ip, %dr24 }
        { call %ctpr1, wbs=12 }
        { disp %ctpr1, fmt_hex; addd,0 0, numbuf, %dr24; addd,1 %dr17, 0, %dr25; addd,2 0, 12, %dr26 }
        { call %ctpr1, wbs=12 }
        { disp %ctpr1, serial_puts; addd,0 0, numbuf, %dr24 }
        { call %ctpr1, wbs=12 }
        { disp %ctpr1, serial_puts; addd,0 0, msg_power_off, %dr24 }
        { call %ctpr1, wbs=12 }
        { ibranch rom_power_off }

        .data
msg_banner:        .asciz "\ne2kvm boot ROM 1.0 (e2k-vm board)\n"
msg_ram:           .asciz "RAM: "
msg_drives:        .asciz " MiB, drives: "
msg_crlf:          .asciz "\n"
msg_rom:           .asciz "ROM: "
msg_no_drive:      .asciz "no bootable disk: no drives attached"
msg_empty_disk:    .asciz "no bootable disk: disk 0 is empty or too small"
msg_read_error:    .asciz "disk 0 read error"
msg_not_bootable:  .asciz "no bootable disk: disk 0 has no E2KBOOT header"
msg_bad_header:    .asciz "no bootable disk: disk 0 boot header is invalid (load address, size or entry)"
msg_status:        .asciz " (status "
msg_close:         .asciz ")"
msg_power_off:     .asciz "\nROM: powering off\n"
msg_loading:       .asciz "ROM: loading "
msg_at:            .asciz " sectors from disk 0 at 0x"
msg_entry:         .asciz ", entry 0x"
msg_wrong_machine: .asciz "ROM: not an e2k-vm machine, halting\n"
msg_trap:          .asciz "\nROM: unexpected trap, TIR.hi=0x"
msg_trap_ip:       .asciz " IP=0x"
        .align 8
numbuf:            .zero 32
        .text
