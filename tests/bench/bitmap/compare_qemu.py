#!/usr/bin/env python3
"""Bitmap read-back benchmark against QEMU: a 1 TiB qcow2 with a 64 KiB-granularity bitmap that
QEMU dirtied with N random ranges (qemu-io discards, so no data is allocated). Then, each from a
cold process, the bitmap is loaded from the file and all its dirty extents are listed:
  qemu:  nbdinfo --map=qemu:dirty-bitmap:b -- [ qemu-nbd -r -f qcow2 -B b IMG ]
  ours:  qcow2_bitmap_inspect IMG   (our codec + DirtyBitmap + extent walk, JSON out)
Both extent lists must agree in every run, and hold dirty bytes (else exit 1; a missing peer:
exit 77). Prints the median times and the ratio (ours / qemu).
Usage: compare_qemu.py [--ranges N] [--runs N] PATH/TO/qcow2_bitmap_inspect"""
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "lib"))
from peers import require  # noqa: E402


def main():
    args = sys.argv[1:]
    ranges, runs = 100000, 5
    while len(args) > 1:
        if args[0] == "--ranges":
            ranges = int(args[1])
        elif args[0] == "--runs":
            runs = int(args[1])
        else:
            sys.exit(f"unknown option {args[0]}")
        args = args[2:]
    inspect = os.path.abspath(args[0])
    require("qemu-img", "qemu-io", "qemu-nbd", "nbdinfo")
    size = 1 << 40
    rng = random.Random(2026)
    with tempfile.TemporaryDirectory(prefix="bench-bitmap-") as d:
        img = os.path.join(d, "big.qcow2")
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", img, str(size)], check=True)
        subprocess.run(["qemu-img", "bitmap", "--add", "-g", "64K", img, "b"], check=True)
        cmds = []
        for _ in range(ranges):
            off = rng.randrange(size // 4096) * 4096
            length = min(size - off, 4096 << rng.randrange(9))
            cmds.append(f"discard -q {off} {length}\n")
        t0 = time.monotonic()
        # cache=unsafe and an L2 cache covering the whole disk keep this to seconds.
        subprocess.run(["qemu-io", "-t", "unsafe", "-d", "unmap", "--image-opts",
                        f"driver=qcow2,file.filename={img},l2-cache-size=160M"],
                       input="".join(cmds),
                       text=True, check=True, capture_output=True, timeout=600)
        print(f"qemu-io dirtied the bitmap with {ranges} discards in {time.monotonic() - t0:.1f} s")

        qemu_cmd = ["nbdinfo", "--map=qemu:dirty-bitmap:b", "--", "[", "qemu-nbd", "-r", "-f",
                    "qcow2", "-B", "b", img, "]"]
        ours_cmd = [inspect, img]

        def parse_qemu(out):
            runs_ = []
            for line in out.splitlines():
                off, length, typ = (int(x) for x in line.split()[:3])
                dirty = bool(typ & 1)
                if runs_ and runs_[-1][2] == dirty:
                    runs_[-1][1] += length
                else:
                    runs_.append([off, length, dirty])
            return runs_

        def parse_ours(out):
            return json.loads(out.splitlines()[1])["extents"]

        # Only the processes are timed; their output is parsed afterwards.
        times = {"qemu": [], "ours": []}
        outputs = {"qemu": set(), "ours": set()}
        for _ in range(runs):
            for name, cmd in (("qemu", qemu_cmd), ("ours", ours_cmd)):
                t0 = time.monotonic()
                p = subprocess.run(cmd, check=True, capture_output=True, timeout=600)
                times[name].append(time.monotonic() - t0)
                outputs[name].add(p.stdout.decode())
        if len(outputs["qemu"]) != 1 or len(outputs["ours"]) != 1:
            print("MISMATCH: a tool listed different extents in different runs")
            return 1
        results = {"qemu": parse_qemu(outputs["qemu"].pop()),
                   "ours": parse_ours(outputs["ours"].pop())}
        if results["qemu"] != results["ours"]:
            print("MISMATCH between qemu-nbd's and our extents")
            return 1
        dirty = sum(r[1] for r in results["ours"] if r[2])
        if dirty == 0:
            print("FAIL: the bitmap holds no dirty bytes after the discards")
            return 1
        q, o = statistics.median(times["qemu"]), statistics.median(times["ours"])
        qb, ob = min(times["qemu"]), min(times["ours"])
        print(f"1 TiB, 64 KiB granularity, {ranges} ranges: {len(results['ours'])} extents, "
              f"{dirty} dirty bytes; identical extent lists")
        print(f"load bitmap from qcow2 + list all extents ({runs} runs, incl. process start):")
        print(f"  qemu-nbd + nbdinfo --map : median {q * 1000:.1f} ms, best {qb * 1000:.1f} ms")
        print(f"  ours (codec + walk, JSON): median {o * 1000:.1f} ms, best {ob * 1000:.1f} ms")
        print(f"  ratio ours/qemu: median {o / q:.2f}, best {ob / qb:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
