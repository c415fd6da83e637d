// Sends 'R' and asks the system controller for a reset (POWER = 2), at every boot.
        .text
trap_entry:
        { wait trap=1 }
_start:
        { setwd wsz=8, nfx=1; addd,0 0, 0xF0002000, %dr1 }
        { addd,0 0, 0x52, %dr2; addd,1 0, 2, %dr3; addd,2 0, 0xF0000000, %dr4 }
        { std,2 %dr2, [ %dr1 + 0 ] }
again:
        { std,2 %dr3, [ %dr4 + 0x10 ] }
        { wait trap=1 }
        { ibranch again }
