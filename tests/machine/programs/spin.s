// Spins forever counting in %dr0 and storing the count at 0x400000 (pause/resume/reset/quit
// handshakes and wall-clock pacing are tested against it).
        .text
trap_entry:
        { wait trap=1 }
_start:
        { setwd wsz=8, nfx=1; addd,0 0, 0x400000, %dr1 }
loop:
        { addd,0 %dr0, 1, %dr0; std,2 %dr0, [ %dr1 + 0 ]; ibranch loop }
