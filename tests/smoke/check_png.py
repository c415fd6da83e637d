#!/usr/bin/env python3
"""Checks that a PNG file is well formed (signature, chunk CRCs, zlib data of the right size for
8-bit RGB/RGBA) and not blank: it has at least --min-colours distinct colours. Standard library
only; exit status 1 with a reason otherwise."""
import argparse
import struct
import sys
import zlib


def fail(msg):
    print(f"FAIL: {msg}")
    sys.exit(1)


def unfilter(raw, width, height, bpp):
    stride = width * bpp
    rows, prev, pos = [], bytearray(stride), 0
    for _ in range(height):
        ftype = raw[pos]
        line = bytearray(raw[pos + 1:pos + 1 + stride])
        pos += 1 + stride
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if ftype == 1:
                line[i] = (line[i] + a) & 255
            elif ftype == 2:
                line[i] = (line[i] + b) & 255
            elif ftype == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif ftype == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pred) & 255
            elif ftype != 0:
                fail(f"bad filter type {ftype}")
        rows.append(bytes(line))
        prev = line
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("png")
    ap.add_argument("--min-colours", type=int, default=3)
    args = ap.parse_args()
    try:
        data = open(args.png, "rb").read()
    except OSError as e:
        fail(f"{args.png}: {e}")
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        fail(f"{args.png}: not a PNG")
    pos, idat, ihdr = 8, b"", None
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        crc = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])[0]
        if zlib.crc32(kind + body) & 0xFFFFFFFF != crc:
            fail(f"{args.png}: CRC mismatch in {kind!r}")
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
        pos += 12 + length
    if not ihdr:
        fail(f"{args.png}: no IHDR")
    width, height, depth, ctype, _, _, interlace = ihdr
    if depth != 8 or ctype not in (2, 6) or interlace:
        fail(f"{args.png}: unsupported PNG kind depth={depth} type={ctype}")
    bpp = 3 if ctype == 2 else 4
    raw = zlib.decompress(idat)
    if len(raw) != height * (1 + width * bpp):
        fail(f"{args.png}: image data size mismatch")
    colours = set()
    # Sample every 2nd row and column (enough for large screenshots).
    for row in unfilter(raw, width, height, bpp)[::2]:
        for x in range(0, width, 2):
            colours.add(row[x * bpp:x * bpp + 3])
        if len(colours) >= 4096:
            break
    if len(colours) < args.min_colours:
        fail(f"{args.png}: {width}x{height} has only {len(colours)} colour(s): blank")
    print(f"{args.png}: {width}x{height}, {len(colours)}+ colours")


if __name__ == "__main__":
    main()
