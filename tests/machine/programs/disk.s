// Block devices: fills 4 KiB at 0x300000, then runs a list of commands on disk 0 (and one pair
// on disk 1, read-only) and sends each STATUS as an ASCII digit on serial ('0' + status):
//  1 write   sector 256 x 8 from 0x300000        -> 0
//  2 read    sector 256 x 8 to   0x310000        -> 0
//  3 flush                                       -> 0
//  4 read    sector CAPACITY x 1                 -> 2 (past the end)
//  5 read    count 0                             -> 2
//  6 read    count 2049                          -> 2
//  7 read    into 0xF0000000 (MMIO)              -> 3
//  8 read    2 sectors into the last 512 bytes of RAM -> 3
//  9 command 9                                   -> 1
// 10 write-zeroes sector 2048 x 1                -> 0
// 11 discard sector CAPACITY-1 x 2               -> 2
// 12 disk 1: write sector 0 x 1                  -> 5 (read-only)
// 13 disk 1: read  sector 0 x 1 to 0x320000      -> 0
// 14 disk 2: read  sector 0 x 1 to 0x320000      -> 4 (the test's failing image)
// then "\n" and power-off. %dr0 at entry = RAM size.
        .text
trap_entry:
        { wait trap=1 }
_start:
        { setwd wsz=16, nfx=1; addd,0 %dr0, 0, %dr15 }
        { addd,0 0, 0xF0010000, %dr10 }
        { addd,0 0, 0xF0002000, %dr12 }
        { addd,0 0, 0x300000, %dr1; addd,1 0, 0, %dr2 }
fill:
        { addd,0 %dr1, %dr2, %dr3; shld,1 %dr2, 32, %dr4 }
        { ord,0 %dr3, %dr4, %dr3 }
        { std,2 %dr3, [ %dr1 + %dr2 ]; addd,0 %dr2, 8, %dr2 }
        { cmpbdb,0 %dr2, 4096, %pred0 }
        { ibranch fill ? %pred0 }
        { ldd,0 %dr10, 0, %dr14 }
        { addd,0 0, 0xF0011000, %dr11 }
        { addd,0 0, 0xF0012000, %dr13 }
        // command 1
        { addd,0 0, 256, %dr20 }
        { addd,0 0, 0x300000, %dr22; addd,1 0, 8, %dr21 }
        { addd,0 0, 2, %dr23 }
        { std,2 %dr20, [ %dr10 + 8 ]; std,5 %dr21, [ %dr10 + 0x10 ] }
        { std,2 %dr22, [ %dr10 + 0x18 ] }
        { std,2 %dr23, [ %dr10 + 0x20 ] }
        { ldd,0 %dr10, 0x28, %dr24 }
        { addd,0 %dr24, 0x30, %dr24 }
        { std,2 %dr24, [ %dr12 + 0 ] }
        // command 2
        { addd,0 0, 256, %dr20 }
        { addd,0 0, 0x310000, %dr22; addd,1 0, 8, %dr21 }
        { addd,0 0, 1, %dr23 }
        { std,2 %dr20, [ %dr10 + 8 ]; std,5 %dr21, [ %dr10 + 0x10 ] }
        { std,2 %dr22, [ %dr10 + 0x18 ] }
        { std,2 %dr23, [ %dr10 + 0x20 ] }
        { ldd,0 %dr10, 0x28, %dr24 }
        { addd,0 %dr24, 0x30, %dr24 }
        { std,2 %dr24, [ %dr12 + 0 ] }
        // command 3
        { addd,0 0, 0, %dr20 }
        { addd,0 0, 0x310000, %dr22; addd,1 0, 1, %dr21 }
        { addd,0 0, 3, %dr23 }
        { std,2 %dr20, [ %dr10 + 8 ]; std,5 %dr21, [ %dr10 + 0x10 ] }
        { std,2 %dr22, [ %dr10 + 0x18 ] }
        { std,2 %dr23, [ %dr10 + 0x20 ] }
        { ldd,0 %dr10, 0x28, %dr24 }
        { addd,0 %dr24, 0x30, %dr24 }
        { std,2 %dr24, [ %dr12 + 0 ] }
        // command 4
        { addd,0 %dr14, 0, %dr20 }
        { addd,0 0, 0x310000, %dr22; addd,1 0, 1, %dr21 }
        { addd,0 0, 1, %dr23 }
        { std,2 %dr20, [ %dr10 + 8 ]; std,5 %dr21, [ %dr10 + 0x10 ] }
        { std,2 %dr22, [ %dr10 + 0x18 ] }
        { std,2 %dr23, [ %dr10 + 0x20 ] }
        { ldd,0 %dr10, 0x28, %dr24 }
        { addd,0 %dr24, 0x30, %dr24 }
        { std,2 %dr24, [ %dr12 + 0 ] }
        // command 5
        { addd,0 0, 0, %dr20 }
        { addd,0 0, 0x310000, %dr22; addd,1 0, 0, %dr21 }
        { addd,0 0, 1, %dr23 }
        { std,2 %dr20, [ %dr10 + 8 ]; std,5 %dr21, [ %dr10 + 0x10 ] }
        { std,2 %dr22, [ %dr10 + 0x18 ] }
        { std,2 %dr23, [ %dr10 + 0x20 ] }
        { ldd,0 %dr10, 0x28, %dr24 }
        { addd,0 %dr24, 0x30, %dr24 }
        { std,2 %dr24, [ %dr12 + 0 ] }
        // command 6
        { addd,0 0, 0, %dr20 }
        { addd,0 0, 0x310000, %dr22; addd,1 0, 2049, %dr21 }
        { addd,0 0, 1, %dr23 }
        { std,2 %dr20, [ %dr10 + 8 ]; std,5 %dr21, [ %dr10 + 0x10 ] }
        { std,2 %dr22, [ %dr10 + 0x18 ] }
        { std,2 %dr23, [ %dr10 + 0x20 ] }
        { ldd,0 %dr10, 0x28, %dr24 }
        { addd,0 %dr24, 0x30, %dr24 }
        { std,2 %dr24, [ %dr12 + 0 ] }
        // command 7
        { addd,0 0, 0, %dr20 }
        { addd,0 0, 0xF0000000, %dr22; addd,1 0, 1, %dr21 }
        { addd,0 0, 1, %dr23 }
        { std,2 %dr20, [ %dr10 + 8 ]; std,5 %dr21, [ %dr10 + 0x10 ] }
        { std,2 %dr22, [ %dr10 + 0x18 ] }
        { std,2 %dr23, [ %dr10 + 0x20 ] }
        { ldd,0 %dr10, 0x28, %dr24 }
        { addd,0 %dr24, 0x30, %dr24 }
        { std,2 %dr24, [ %dr12 + 0 ] }
        // command 8
        { addd,0 0, 0, %dr20 }
        { subd,0 %dr15, 512, %dr22; addd,1 0, 2, %dr21 }
        { addd,0 0, 1, %dr23 }
        { std,2 %dr20, [ %dr10 + 8 ]; std,5 %dr21, [ %dr10 + 0x10 ] }
        { std,2 %dr22, [ %dr10 + 0x18 ] }
        { std,2 %dr23, [ %dr10 + 0x20 ] }
        { ldd,0 %dr10, 0x28, %dr24 }
        { addd,0 %dr24, 0x30, %dr24 }
        { std,2 %dr24, [ %dr12 + 0 ] }
        // command 9
        { addd,0 0, 0, %dr20 }
        { addd,0 0, 0x310000, %dr22; addd,1 0, 1, %dr21 }
        { addd,0 0, 9, %dr23 }
        { std,2 %dr20, [ %dr10 + 8 ]; std,5 %dr21, [ %dr10 + 0x10 ] }
        { std,2 %dr22, [ %dr10 + 0x18 ] }
        { std,2 %dr23, [ %dr10 + 0x20 ] }
        { ldd,0 %dr10, 0x28, %dr24 }
        { addd,0 %dr24, 0x30, %dr24 }
        { std,2 %dr24, [ %dr12 + 0 ] }
        // command 10
        { addd,0 0, 2048, %dr20 }
        { addd,0 0, 0x310000, %dr22; addd,1 0, 1, %dr21 }
        { addd,0 0, 5, %dr23 }
        { std,2 %dr20, [ %dr10 + 8 ]; std,5 %dr21, [ %dr10 + 0x10 ] }
        { std,2 %dr22, [ %dr10 + 0x18 ] }
        { std,2 %dr23, [ %dr10 + 0x20 ] }
        { ldd,0 %dr10, 0x28, %dr24 }
        { addd,0 %dr24, 0x30, %dr24 }
        { std,2 %dr24, [ %dr12 + 0 ] }
        // command 11
        { subd,0 %dr14, 1, %dr20 }
        { addd,0 0, 0x310000, %dr22; addd,1 0, 2, %dr21 }
        { addd,0 0, 4, %dr23 }
        { std,2 %dr20, [ %dr10 + 8 ]; std,5 %dr21, [ %dr10 + 0x10 ] }
        { std,2 %dr22, [ %dr10 + 0x18 ] }
        { std,2 %dr23, [ %dr10 + 0x20 ] }
        { ldd,0 %dr10, 0x28, %dr24 }
        { addd,0 %dr24, 0x30, %dr24 }
        { std,2 %dr24, [ %dr12 + 0 ] }
        // command 12
        { addd,0 0, 0, %dr20 }
        { addd,0 0, 0x320000, %dr22; addd,1 0, 1, %dr21 }
        { addd,0 0, 2, %dr23 }
        { std,2 %dr20, [ %dr11 + 8 ]; std,5 %dr21, [ %dr11 + 0x10 ] }
        { std,2 %dr22, [ %dr11 + 0x18 ] }
        { std,2 %dr23, [ %dr11 + 0x20 ] }
        { ldd,0 %dr11, 0x28, %dr24 }
        { addd,0 %dr24, 0x30, %dr24 }
        { std,2 %dr24, [ %dr12 + 0 ] }
        // command 13
        { addd,0 0, 0, %dr20 }
        { addd,0 0, 0x320000, %dr22; addd,1 0, 1, %dr21 }
        { addd,0 0, 1, %dr23 }
        { std,2 %dr20, [ %dr11 + 8 ]; std,5 %dr21, [ %dr11 + 0x10 ] }
        { std,2 %dr22, [ %dr11 + 0x18 ] }
        { std,2 %dr23, [ %dr11 + 0x20 ] }
        { ldd,0 %dr11, 0x28, %dr24 }
        { addd,0 %dr24, 0x30, %dr24 }
        { std,2 %dr24, [ %dr12 + 0 ] }
        // command 14
        { addd,0 0, 0, %dr20 }
        { addd,0 0, 0x320000, %dr22; addd,1 0, 1, %dr21 }
        { addd,0 0, 1, %dr23 }
        { std,2 %dr20, [ %dr13 + 8 ]; std,5 %dr21, [ %dr13 + 0x10 ] }
        { std,2 %dr22, [ %dr13 + 0x18 ] }
        { std,2 %dr23, [ %dr13 + 0x20 ] }
        { ldd,0 %dr13, 0x28, %dr24 }
        { addd,0 %dr24, 0x30, %dr24 }
        { std,2 %dr24, [ %dr12 + 0 ] }
        { addd,0 0, 10, %dr24; addd,1 0, 1, %dr25 }
        { std,2 %dr24, [ %dr12 + 0 ]; addd,0 0, 0xF0000000, %dr26 }
off:
        { std,2 %dr25, [ %dr26 + 0x10 ] }
        { wait trap=1 }
        { ibranch off }
