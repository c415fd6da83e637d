// A guest fault with no usable handler: the trap handler at the image start divides by zero
// itself, so every trap nests another one until entering the handler fails.
        .text
trap_entry:
        { setwd wsz=8, nfx=1 }
        { udivd,5 %dr0, 0, %dr1 }
_start:
        { setwd wsz=8, nfx=1; addd,0 0, 7, %dr0 }
        { udivd,5 %dr0, 0, %dr1 }
        { wait trap=1 }
