#!/usr/bin/env python3
"""Interop check of the qcow2 bitmap codec and DirtyBitmap against QEMU 7.2.

qemu-img creates images and bitmaps, qemu-io writes through them (marking enabled bitmaps),
and then:
  * qcow2_bitmap_inspect (our codec) must parse the extension, directory, tables and data
    and re-encode each byte for byte (the tool fails otherwise);
  * names, granularities and flags must match `qemu-img info --output=json`;
  * the dirty extents we decode must match the writes, and qemu-nbd -B + nbdinfo --map;
  * a directory entry rewritten by our serializer (renamed, flags changed) must be accepted
    by qemu-img info / check and exported by qemu-nbd.
Usage: qemu_bitmap_interop.py PATH/TO/qcow2_bitmap_inspect
"""
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from checks import Checker, run  # noqa: E402
from peers import require  # noqa: E402

INSPECT = sys.argv[1]
checker = Checker()
expect = checker.expect


def inspect(img):
    lines = [json.loads(l) for l in run(INSPECT, img).stdout.splitlines()]
    return lines[0], {b["name"]: b for b in lines[1:]}


def qemu_bitmaps(img):
    info = json.loads(run("qemu-img", "info", "--output=json", img).stdout)
    return {b["name"]: b for b in info.get("format-specific", {}).get("data", {}).get("bitmaps", [])}


def granule_runs(size, gran, writes):
    """Dirty extents (offset, length, dirty) that writes produce at a granularity."""
    dirty = set()
    for off, length in writes:
        for g in range(off // gran, (off + length - 1) // gran + 1):
            dirty.add(g)
    runs = []
    pos = 0
    ngran = (size + gran - 1) // gran
    g = 0
    while g < ngran:
        state = g in dirty
        h = g
        while h < ngran and (h in dirty) == state:
            h += 1
        end = min(h * gran, size)
        runs.append([pos, end - pos, state])
        pos = end
        g = h
    return runs


def nbd_runs(img, name, size):
    """qemu-nbd's view of a bitmap as (offset, length, dirty), via nbdinfo --map."""
    p = run("nbdinfo", f"--map=qemu:dirty-bitmap:{name}", "--", "[", "qemu-nbd", "-r",
            "-f", "qcow2", "-B", name, img, "]")
    runs = []
    for line in p.stdout.splitlines():
        parts = line.split()
        off, length, typ = int(parts[0]), int(parts[1]), int(parts[2])
        dirty = bool(typ & 1)
        if runs and runs[-1][2] == dirty and runs[-1][0] + runs[-1][1] == off:
            runs[-1][1] += length
        else:
            runs.append([off, length, dirty])
    return runs


def qemu_io(img, *cmds):
    args = ["qemu-io", "-f", "qcow2"]
    for c in cmds:
        args += ["-c", c]
    run(*args, img)


def check_image(img, size, expected):
    """expected: name -> (granularity, auto, writes or None)"""
    info = json.loads(run("qemu-img", "info", "--output=json", img).stdout)
    expect(info["virtual-size"] == size, f"{img}: virtual size {info['virtual-size']} != {size}")
    hdr, ours = inspect(img)
    theirs = qemu_bitmaps(img)
    expect(hdr["has_extension"] == bool(expected), f"{img}: extension presence")
    expect(set(ours) == set(theirs) == set(expected),
           f"{img}: names ours={sorted(ours)} qemu={sorted(theirs)} expected={sorted(expected)}")
    for name, (gran, auto, writes) in expected.items():
        if name not in ours or name not in theirs:
            continue
        o, t = ours[name], theirs[name]
        expect(o["granularity"] == t["granularity"] == gran, f"{img}:{name}: granularity")
        expect(o["auto"] == ("auto" in t["flags"]) == auto, f"{img}:{name}: auto flag")
        expect(o["in_use"] == ("in-use" in t["flags"]) == False, f"{img}:{name}: in_use flag")
        if writes is not None:
            want = granule_runs(size, gran, writes)
            expect(o["extents"] == want, f"{img}:{name}: extents {o['extents'][:6]} != {want[:6]}")
            nbd = nbd_runs(img, name, size)
            expect(o["extents"] == nbd, f"{img}:{name}: ours {o['extents'][:6]} != qemu-nbd {nbd[:6]}")
    return ours


def main():
    require("qemu-img", "qemu-io", "qemu-nbd", "nbdinfo")
    with tempfile.TemporaryDirectory(prefix="e2kvm-bitmap-") as d:
        # 1. The spec's verified example: 4 KiB clusters, bitmaps at 64 KiB and 512 B.
        img = os.path.join(d, "small.qcow2")
        size = 4 << 20
        run("qemu-img", "create", "-q", "-f", "qcow2", "-o", "cluster_size=4096", img, str(size))
        hdr, _ = inspect(img)
        expect(not hdr["has_extension"], "fresh image has no bitmaps extension")
        run("qemu-img", "bitmap", "--add", "-g", "64K", img, "b")
        run("qemu-img", "bitmap", "--add", "-g", "512", img, "b2")
        writes_b = [(0, 1), (2 << 20, 2 << 20)]
        qemu_io(img, "write -P 0x11 0 1", "write -P 0x22 2M 2M")
        run("qemu-img", "bitmap", "--disable", img, "b")
        qemu_io(img, "write -z 700 100", "discard 1M 64k")
        writes_b2 = writes_b + [(700, 100), (1 << 20, 64 << 10)]
        check_image(img, size, {"b": (65536, False, writes_b), "b2": (512, True, writes_b2)})
        expect(run("qemu-img", "check", img, ok=False).returncode == 0, "small: qemu-img check")

        # 2. Many names and every granularity QEMU accepts; 64 KiB clusters; odd size.
        img = os.path.join(d, "names.qcow2")
        size = (1 << 30) + 12345 * 512  # qemu-img rounds sizes up to 512 B
        run("qemu-img", "create", "-q", "-f", "qcow2", img, str(size))
        expected = {}
        names = ["a", "bb", "seven77", "eight888", "nine99999", "x" * 100, "ü-utf8", "n" * 1023]
        grans = [512, 4096, 65536, 1 << 20, 1 << 26, 1 << 31, 1 << 9, 1 << 16]
        for i, (n, g) in enumerate(zip(names, grans)):
            args = ["qemu-img", "bitmap", "--add", "-g", str(g)]
            if i % 3 == 2:
                args.append("--disable")
            run(*args, img, n)
            expected[n] = (g, i % 3 != 2, None)
        writes = [(5000, 3), (size - 1, 1), (300 << 20, 70 << 20)]
        qemu_io(img, "write 5000 3", f"write {size - 1} 1", "write 300M 70M")
        for i, (n, g) in enumerate(zip(names, grans)):
            if i % 3 != 2:
                expected[n] = (g, True, writes)
        check_image(img, size, expected)

        # 3. A bitmap whose data spans several clusters, most of them zero (table entries 0).
        img = os.path.join(d, "multi.qcow2")
        size = 64 << 20
        run("qemu-img", "create", "-q", "-f", "qcow2", "-o", "cluster_size=4096", img, str(size))
        run("qemu-img", "bitmap", "--add", "-g", "512", img, "fine")
        writes = [(3 << 20, 4096), (40 << 20, 1 << 20), (size - 512, 512)]
        qemu_io(img, "write 3M 4k", "write 40M 1M", f"write {size - 512} 512")
        ours = check_image(img, size, {"fine": (512, True, writes)})
        f = ours.get("fine", {})
        expect(f.get("table_size") == 4 and f.get("data_clusters") == 3
               and f.get("zero_clusters") == 1, f"multi: table layout {f}")

        # 4. Our serializer rewrites an entry (new name of a different length, flags):
        #    QEMU must read it, keep the data, pass check, and export it.
        img = os.path.join(d, "edit.qcow2")
        size = 16 << 20
        run("qemu-img", "create", "-q", "-f", "qcow2", img, str(size))
        run("qemu-img", "bitmap", "--add", "-g", "64K", img, "first")
        run("qemu-img", "bitmap", "--add", "-g", "4K", img, "second")
        writes = [(1 << 20, 100000)]
        qemu_io(img, "write 1M 100000")
        run(INSPECT, img, "--edit", "first", "renamed-to-something-longer", "0")
        expect(run("qemu-img", "check", img, ok=False).returncode == 0, "edit: qemu-img check")
        check_image(img, size, {"renamed-to-something-longer": (65536, False, writes),
                                "second": (4096, True, writes)})
        run(INSPECT, img, "--edit", "second", "s", "2")
        check_image(img, size, {"renamed-to-something-longer": (65536, False, writes),
                                "s": (4096, True, writes)})
        # After QEMU opens it read-write and closes it again, it rewrites the directory
        # itself; ours must still decode it identically.
        qemu_io(img, "write 10M 1")
        check_image(img, size, {"renamed-to-something-longer": (65536, False, writes),
                                "s": (4096, True, writes + [(10 << 20, 1)])})

        # 5. A crash leaves bitmaps in_use: we parse the directory and skip the data.
        img = os.path.join(d, "crash.qcow2")
        run("qemu-img", "create", "-q", "-f", "qcow2", img, "1M")
        run("qemu-img", "bitmap", "--add", img, "b")
        run("qemu-io", "-f", "qcow2", "-c", "write 0 4k", "-c", "abort", img, ok=False)
        _, ours = inspect(img)
        expect(ours.get("b", {}).get("in_use") is True, f"crash: in_use {ours}")
        expect("in-use" in qemu_bitmaps(img).get("b", {}).get("flags", []), "crash: qemu in-use")

    return checker.exit_status("bitmap interop: all checks passed", "{count} failure(s)")


if __name__ == "__main__":
    sys.exit(main())
