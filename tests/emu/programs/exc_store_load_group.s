// Loads and stores in one bundle (the suite's decode/store-load-group tests, on hardware):
// the mixes below run, but a load in ALC0 with a store in ALC5 raises exc_illegal_opcode
// (SIGILL, 128+4) at that bundle.
// EXPECT-EXIT: 132
// EXPECT-STDERR: exc_illegal_opcode at IP 0x10060: a load in ALC0 with a store in ALC5
        .text
        .global _start
_start:
        { setwd wsz=8, nfx=1; addd,0 0, 0, %dg16; addd,1 0, mem, %dr1 }
        { ldb,0 %dr1, 0, %empty; ldb,2 %dr1, 2, %empty; ldb,3 %dr1, 3, %empty; ldb,5 %dr1, 5, %empty }
        { ldb,0 %dr1, 0, %empty; stb,2 %g16, %dr1, 2; ldb,5 %dr1, 5, %empty }
        { ldb,2 %dr1, 2, %empty; ldb,3 %dr1, 3, %empty; stb,5 %g16, %dr1, 5 }
        { stb,2 %g16, %dr1, 2; stb,5 %g16, %dr1, 5 }
        { ldb,0 %dr1, 0, %empty; stb,5 %g16, %dr1, 5 }
        { sdisp %ctpr1, 3 }
        { addd,0 0, 1, %dr8; addd,1 0, 0, %dr9; call %ctpr1, wbs=4 }
        .data
mem:
        .quad 0
