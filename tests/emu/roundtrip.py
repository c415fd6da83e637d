#!/usr/bin/env python3
"""Disassembles the text of an E2K ELF with e2kvm-objdump --source, assembles the listing
again with e2kvm-as at the same address and checks that the bytes are identical."""
import os
import struct
import subprocess
import sys
import tempfile


def text_segment(path):
    data = open(path, "rb").read()
    phoff = struct.unpack_from("<Q", data, 32)[0]
    phnum = struct.unpack_from("<H", data, 56)[0]
    for i in range(phnum):
        p = phoff + 56 * i
        ptype, flags, off, vaddr = struct.unpack_from("<IIQQ", data, p)
        filesz = struct.unpack_from("<Q", data, p + 32)[0]
        if ptype == 1 and flags & 1:
            return vaddr, data[off:off + filesz]
    raise SystemExit(f"{path}: no executable segment")


def main():
    objdump, assembler, program = sys.argv[1:4]
    vaddr, text = text_segment(program)
    listing = subprocess.run([objdump, "-d", "--source", program], check=True,
                             capture_output=True, text=True, timeout=60).stdout
    with tempfile.TemporaryDirectory() as d:
        src = os.path.join(d, "listing.s")
        out = os.path.join(d, "listing.bin")
        with open(src, "w") as f:
            f.write(".text\n" + listing)
        r = subprocess.run([assembler, "-f", "bin", "--base", hex(vaddr), "-o", out, src],
                           capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            print(r.stderr)
            return 1
        again = open(out, "rb").read()
    if again != text:
        for i in range(0, min(len(again), len(text)), 4):
            if again[i:i + 4] != text[i:i + 4]:
                print(f"{program}: first difference at 0x{vaddr + i:x}")
                break
        print(f"{program}: {len(text)} bytes originally, {len(again)} after the round trip")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
