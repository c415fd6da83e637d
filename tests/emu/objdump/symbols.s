// e2kvm-objdump test input: a global function with a local label, a .rodata table the code
// refers to (one relocation), and a .data word.
        .text
        .global main
        .type main, @function
main:
        { setwd wsz=8, nfx=1 }
        { addd,0 0, table, %dr0 }
loop:
        { addd,0 %dr0, 8, %dr0 }
        { return %ctpr3 }
        { ct %ctpr3 }
        .size main, .-main
        .section .rodata
        .balign 16
table:
        .quad 1, 2
        .data
counter:
        .word 7
