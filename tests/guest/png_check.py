#!/usr/bin/env python3
"""Decodes PNG files written by e2kvm with a reader of its own (zlib + struct only) and
compares the pixels with what e2kvm meant to write: checks chunk order and CRCs, IHDR, the
zlib stream and every filter type.

usage: png_check.py PNG_SAMPLE_TOOL GOLDEN_PNG
"""
import os
import struct
import subprocess
import sys
import tempfile
import zlib


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def decode(path):
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        fail(f"{path}: bad signature")
    pos, chunks = 8, []
    while pos < len(data):
        if pos + 12 > len(data):
            fail(f"{path}: truncated chunk at {pos}")
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        ctype = data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        if zlib.crc32(ctype + body) & 0xffffffff != crc:
            fail(f"{path}: CRC mismatch in {ctype!r}")
        chunks.append((ctype, body))
        pos += 12 + length
    if chunks[0][0] != b"IHDR" or chunks[-1][0] != b"IEND":
        fail(f"{path}: chunk order {[c for c, _ in chunks]}")
    width, height, depth, ctype, comp, filt, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
    if depth != 8 or ctype not in (2, 6) or comp or filt or interlace:
        fail(f"{path}: unexpected IHDR {chunks[0][1].hex()}")
    bpp = 3 if ctype == 2 else 4
    raw = zlib.decompress(b"".join(body for c, body in chunks if c == b"IDAT"))
    stride = width * bpp
    if len(raw) != height * (stride + 1):
        fail(f"{path}: {len(raw)} bytes of image data for {width}x{height}")
    out, prev, used = bytearray(), bytearray(stride), set()
    for y in range(height):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        used.add(f)
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 0:
                pred = 0
            elif f == 1:
                pred = a
            elif f == 2:
                pred = b
            elif f == 3:
                pred = (a + b) // 2
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
            else:
                fail(f"{path}: row {y} filter {f}")
            line[i] = (line[i] + pred) & 0xff
        out += line
        prev = line
    return width, height, bpp, bytes(out), used


def read_ppm(path):
    data = open(path, "rb").read()
    parts = data.split(b"\n", 3)
    if parts[0] != b"P6" or parts[2] != b"255":
        fail(f"{path}: not a P6 PPM with maxval 255")
    w, h = map(int, parts[1].split())
    return w, h, parts[3]


def main():
    if len(sys.argv) != 3:
        fail(__doc__)
    tool, golden = sys.argv[1], sys.argv[2]
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([tool, tmp], check=True, timeout=60)
        w, h, bpp, pixels, used = decode(os.path.join(tmp, "pattern.png"))
        pw, ph, ppm = read_ppm(os.path.join(tmp, "pattern.ppm"))
        if (w, h, bpp) != (pw, ph, 3) or pixels != ppm:
            fail("pattern.png and pattern.ppm differ")
        if len(used) < 3:
            fail(f"pattern.png used only filter types {sorted(used)}")
        w, h, bpp, pixels, _ = decode(os.path.join(tmp, "rgba.png"))
        raw = open(os.path.join(tmp, "rgba.raw"), "rb").read()
        if (w, h, bpp) != (64, 33, 4) or pixels != raw:
            fail("rgba.png does not hold rgba.raw")
    w, h, bpp, pixels, _ = decode(golden)
    if (w, h) != (1024, 768) or len(set(pixels[i:i + 3] for i in range(0, len(pixels), 3 * 97))) < 4:
        fail(f"{golden}: {w}x{h}, expected a 1024x768 picture with some content")
    print("ok: our PNGs decode with an independent reader")


if __name__ == "__main__":
    main()
