#!/usr/bin/env python3
"""Draws the VM library's picture of a VM that shows no screen (resources/icons/vm.png, 128x96
RGBA, the library's icon size): a grey monitor on a stand with a dark, switched-off screen and a
power sign. A running VM shows its own screen instead. Standard library only, 4x4 supersampled
for smooth edges; run it again after changing the drawing."""
import math
import struct
import sys
import zlib

W, H, SS = 128, 96, 4


def png(path, width, height, pixels):
    raw = b"".join(b"\x00" + bytes(row) for row in pixels)

    def chunk(kind, data):
        c = kind + data
        return struct.pack(">I", len(data)) + c + struct.pack(">I", zlib.crc32(c) & 0xFFFFFFFF)

    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        f.write(chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)))
        f.write(chunk(b"IDAT", zlib.compress(raw, 9)))
        f.write(chunk(b"IEND", b""))


def inside_rounded(x, y, x0, y0, x1, y1, r):
    if not (x0 <= x <= x1 and y0 <= y <= y1):
        return False
    cx = min(max(x, x0 + r), x1 - r)
    cy = min(max(y, y0 + r), y1 - r)
    return (x - cx) ** 2 + (y - cy) ** 2 <= r * r


def power_sign(x, y):
    # A ring open at the top with a bar through the gap, centred on the screen.
    cx, cy, r, t = 64.0, 41.0, 12.0, 2.2
    d = math.hypot(x - cx, y - cy)
    angle = math.degrees(math.atan2(x - cx, cy - y))  # 0 = straight up
    ring = abs(d - r) <= t and abs(angle) >= 35
    bar = abs(x - cx) <= t and cy - r - 3 <= y <= cy - 2
    return ring or bar


def colour(x, y):
    """The colour (r, g, b, a) at a point of the 128x96 picture."""
    # Screen inside the bezel.
    if inside_rounded(x, y, 16, 10, 112, 72, 3):
        if power_sign(x, y):
            return (150, 160, 175, 255)
        t = (y - 10) / 62
        return (int(34 + 10 * t), int(40 + 12 * t), int(50 + 14 * t), 255)
    # Bezel.
    if inside_rounded(x, y, 10, 4, 118, 78, 7):
        return (176, 182, 192, 255)
    # Neck and foot of the stand.
    if 56 <= x <= 72 and 78 <= y <= 86:
        return (150, 156, 166, 255)
    if inside_rounded(x, y, 38, 85, 90, 92, 3):
        return (176, 182, 192, 255)
    return (0, 0, 0, 0)


def pixel(px, py):
    acc = [0, 0, 0, 0]
    for sy in range(SS):
        for sx in range(SS):
            r, g, b, a = colour(px + (sx + 0.5) / SS, py + (sy + 0.5) / SS)
            acc[0] += r * a
            acc[1] += g * a
            acc[2] += b * a
            acc[3] += a
    n = SS * SS
    if acc[3] == 0:
        return (0, 0, 0, 0)
    return (acc[0] // acc[3], acc[1] // acc[3], acc[2] // acc[3], acc[3] // n)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "vm.png"
    rows = [[c for x in range(W) for c in pixel(x, y)] for y in range(H)]
    png(out, W, H, rows)


if __name__ == "__main__":
    main()
