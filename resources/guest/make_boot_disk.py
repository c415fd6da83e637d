#!/usr/bin/env python3
"""Builds a bootable e2k-vm disk image (raw, sparse): sector 0 is the boot header the ROM
reads (docs/machine.md "Boot"), sectors 1..N hold the flat program image, the rest of the
virtual size reads as zeros.

Header (little-endian): "E2KBOOT\\0", u64 load address, u64 sector count, u64 entry.

usage: make_boot_disk.py --program demo.bin --load 0x100000 [--entry ADDR] [--size 64M] -o disk.raw
"""
import argparse
import os
import struct
import sys

SECTOR = 512
MAGIC = b"E2KBOOT\0"


def parse_size(text):
    units = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    t = text.strip().upper().removesuffix("B").removesuffix("I")
    suffix = t[-1] if t and t[-1] in "KMG" else ""
    number = t[:-1] if suffix else t
    try:
        value = int(number, 0) * units[suffix]
    except ValueError:
        raise SystemExit(f"make_boot_disk: bad size '{text}'")
    return value


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--program", required=True, help="flat program image")
    ap.add_argument("--load", default="0x100000", help="load address (>= 0x100000)")
    ap.add_argument("--entry", help="entry address (default: the load address)")
    ap.add_argument("--size", default="64M", help="virtual disk size")
    ap.add_argument("-o", "--output", required=True)
    args = ap.parse_args()

    with open(args.program, "rb") as f:
        program = f.read()
    if not program:
        raise SystemExit(f"make_boot_disk: {args.program} is empty")
    load = int(args.load, 0)
    entry = int(args.entry, 0) if args.entry else load
    sectors = (len(program) + SECTOR - 1) // SECTOR
    size = parse_size(args.size)
    if load < 0x100000 or load % 8:
        raise SystemExit(f"make_boot_disk: load address {load:#x} must be >= 0x100000 and 8-aligned")
    if not load <= entry < load + sectors * SECTOR or entry % 8:
        raise SystemExit(f"make_boot_disk: entry {entry:#x} is not inside the program")
    if size % SECTOR or size < (1 + sectors) * SECTOR:
        raise SystemExit(f"make_boot_disk: size {size} is not a multiple of {SECTOR} "
                         f"or too small for {sectors} program sectors")

    header = MAGIC + struct.pack("<QQQ", load, sectors, entry)
    header += bytes(SECTOR - len(header))
    body = program + bytes(sectors * SECTOR - len(program))
    tmp = args.output + ".tmp"
    with open(tmp, "wb") as f:
        f.write(header)
        f.write(body)
        f.truncate(size)  # sparse tail
    os.replace(tmp, args.output)
    print(f"{args.output}: {sectors} program sectors at {load:#x}, entry {entry:#x}, "
          f"{size // (1 << 20)} MiB", file=sys.stderr)


if __name__ == "__main__":
    main()
