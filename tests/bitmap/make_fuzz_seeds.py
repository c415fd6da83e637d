#!/usr/bin/env python3
"""Writes seed inputs for qcow2_bitmap_fuzz (format: see qcow2_bitmap_fuzz.cpp) taken from
images that qemu-img makes. Usage: make_fuzz_seeds.py OUTDIR"""
import os
import struct
import subprocess
import sys
import tempfile


def sections(img):
    with open(img, "rb") as f:
        data = f.read()
    cluster_bits = struct.unpack(">I", data[20:24])[0]
    size = struct.unpack(">Q", data[24:32])[0]
    pos = struct.unpack(">I", data[100:104])[0]
    while True:
        typ, length = struct.unpack(">II", data[pos:pos + 8])
        if typ == 0:
            return None
        if typ == 0x23852875:
            ext = data[pos + 8:pos + 8 + length]
            break
        pos += 8 + ((length + 7) & ~7)
    nb, _, dsize, doff = struct.unpack(">IIQQ", ext)
    directory = data[doff:doff + dsize]
    toff, tsize = struct.unpack(">QI", directory[0:12])
    table = data[toff:toff + tsize * 8]
    data_off = struct.unpack(">Q", table[0:8])[0] & 0x00fffffffffffe00
    bits = data[data_off:data_off + 64] if data_off else b""
    return cluster_bits, size, ext, directory, table, bits


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    with tempfile.TemporaryDirectory() as d:
        cases = [("4096", ["-g", "64K"], "b"), ("65536", ["-g", "512"], "bitmap-two"),
                 ("2097152", ["-g", "2G", "--disable"], "x" * 40)]
        for i, (cs, opts, name) in enumerate(cases):
            img = os.path.join(d, "t.qcow2")
            subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-o",
                            f"cluster_size={cs}", img, "100M"], check=True)
            subprocess.run(["qemu-img", "bitmap", "--add", *opts, img, name], check=True)
            subprocess.run(["qemu-img", "bitmap", "--add", img, "second"], check=True)
            subprocess.run(["qemu-io", "-f", "qcow2", "-c", "write 0 1M", img], check=True,
                           capture_output=True)
            cb, size, ext, directory, table, bits = sections(img)
            head = bytes([cb - 9]) + struct.pack("<Q", size) + bytes([i * 37])
            for kind, tail in (("dir", directory), ("table", table), ("data", bits)):
                with open(os.path.join(out, f"seed-{i}-{kind}"), "wb") as f:
                    f.write(head + ext + tail)


if __name__ == "__main__":
    main()
