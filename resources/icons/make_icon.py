#!/usr/bin/env python3
"""Draws the e2kvm application icon (resources/icons/e2kvm.png, 256x256 RGBA): a rounded
blue tile with a monitor whose screen shows a grid of dirty-bitmap blocks. Standard library
only; run it again after changing the drawing."""
import struct
import sys
import zlib

N = 256


def png(path, pixels):
    raw = b"".join(b"\x00" + bytes(row) for row in pixels)

    def chunk(kind, data):
        c = kind + data
        return struct.pack(">I", len(data)) + c + struct.pack(">I", zlib.crc32(c) & 0xFFFFFFFF)

    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        f.write(chunk(b"IHDR", struct.pack(">IIBBBBB", N, N, 8, 6, 0, 0, 0)))
        f.write(chunk(b"IDAT", zlib.compress(raw, 9)))
        f.write(chunk(b"IEND", b""))


def inside_rounded(x, y, x0, y0, x1, y1, r):
    cx = min(max(x, x0 + r), x1 - r)
    cy = min(max(y, y0 + r), y1 - r)
    return (x - cx) ** 2 + (y - cy) ** 2 <= r * r


def colour(x, y):
    # Tile with a vertical gradient.
    if not inside_rounded(x + 0.5, y + 0.5, 8, 8, 248, 248, 40):
        return (0, 0, 0, 0)
    t = y / N
    base = (int(30 + 20 * t), int(70 + 40 * t), int(150 + 50 * t), 255)
    # Monitor bezel and screen.
    if inside_rounded(x, y, 40, 52, 216, 180, 12):
        if 52 <= x < 204 and 64 <= y < 168:
            # Screen: 8x5 grid of blocks, some "dirty" (orange), the rest dark.
            bx, by = (x - 52) // 19, (y - 64) // 21
            inner = (x - 52) % 19 >= 2 and (y - 64) % 21 >= 3
            dirty = (bx * 7 + by * 3) % 5 in (0, 2)
            if inner and dirty:
                return (250, 160, 40, 255)
            if inner:
                return (40, 52, 70, 255)
            return (20, 26, 36, 255)
        return (225, 230, 238, 255)
    # Stand.
    if 112 <= x < 144 and 180 <= y < 204:
        return (200, 206, 216, 255)
    if inside_rounded(x, y, 84, 200, 172, 214, 6):
        return (225, 230, 238, 255)
    return base


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "e2kvm.png"
    png(out, [[c for x in range(N) for c in colour(x, y)] for y in range(N)])


if __name__ == "__main__":
    main()
