#!/usr/bin/env python3
"""e2kvm-img against qemu-img: both tools run on the same images (or on images made the same
way) and must print the same output and exit with the same codes.

usage: img_interop.py PATH/TO/e2kvm-img GROUP
GROUP: create info map check convert convert_concat convert_sparse convert_progress resize
       resize_prealloc compare rebase cli
"""
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from checks import Checker, run as run_command  # noqa: E402
from file_digest import sha256  # noqa: E402
from peers import require  # noqa: E402

OURS = os.path.abspath(sys.argv[1])
QEMU_IMG = shutil.which("qemu-img")
QEMU_IO = shutil.which("qemu-io")
TIMEOUT = 120
checker = Checker()
expect = checker.expect


def run(cmd, cwd, check=False):
    return run_command(cmd, ok=check, cwd=cwd, timeout=TIMEOUT)


def qimg(cwd, *args, check=True):
    return run([QEMU_IMG, *args], cwd, check)


def ours(cwd, *args, check=False):
    return run([OURS, *args], cwd, check)


def qio(cwd, image, *commands, fmt="qcow2"):
    cmd = [QEMU_IO, "-f", fmt]
    for c in commands:
        cmd += ["-c", c]
    run(cmd + [image], cwd, check=True)


def expect_same(what, a, b):
    checker.same(what, a, b, "qemu-img", "e2kvm-img")


def same_command(cwd, args, compare_stdout=True, label=None):
    """Runs both tools with the same arguments; stdout and exit code must match."""
    q = run([QEMU_IMG, *args], cwd)
    o = run([OURS, *args], cwd)
    label = label or " ".join(args)
    expect_same(f"exit code of '{label}'", q.returncode, o.returncode)
    if compare_stdout:
        expect_same(f"stdout of '{label}'", q.stdout, o.stdout)
    return q, o


def write_pattern_raw(path, size, pieces):
    """A raw file of `size` bytes with (offset, length, byte) data pieces, holes elsewhere."""
    with open(path, "wb") as f:
        f.truncate(size)
        for off, length, byte in pieces:
            f.seek(off)
            f.write(bytes([byte]) * length)


def make_qemu_images(d):
    """Images made by qemu-img/qemu-io, used by several groups."""
    write_pattern_raw(os.path.join(d, "sparse.raw"), 3 << 20,
                      [(5 << 16, 3 << 16, 0x5a), (2 << 20, 4096, 0x11)])
    with open(os.path.join(d, "odd.raw"), "wb") as f:
        f.write(b"\x01" * 1000)
    qimg(d, "create", "-f", "qcow2", "base.qcow2", "4M")
    qio(d, "base.qcow2", "w -P 1 0 1M", "w -z 2M 64k", "w -P 7 3M 4k")
    qimg(d, "create", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2", "top.qcow2", "8M")
    qio(d, "top.qcow2", "w -P 2 512k 64k", "w -z 3M 64k", "w -P 3 5M 64k", "discard 64k 64k")
    qimg(d, "create", "-f", "qcow2", "-o", "cluster_size=4k", "bm.qcow2", "4M")
    qio(d, "bm.qcow2", "w -P 0x11 1M 2M")
    qimg(d, "bitmap", "--add", "-g", "64k", "-f", "qcow2", "bm.qcow2", "b")
    qimg(d, "bitmap", "--add", "-g", "512", "-f", "qcow2", "bm.qcow2", "b2")
    qimg(d, "bitmap", "--disable", "-f", "qcow2", "bm.qcow2", "b")
    qimg(d, "create", "-f", "qcow2", "-o", "compat=0.10", "v2.qcow2", "1M")
    qio(d, "v2.qcow2", "w -P 9 0 100k")
    qimg(d, "create", "-f", "qcow2", "-o", "cluster_size=512,lazy_refcounts=on,refcount_bits=8",
         "small.qcow2", "300k")
    qio(d, "small.qcow2", "w -P 4 1000 5000")
    qimg(d, "convert", "-c", "-O", "qcow2", "sparse.raw", "compressed.qcow2")
    # Not closed cleanly: lazy refcounts and a set dirty flag.
    qimg(d, "create", "-f", "qcow2", "-o", "lazy_refcounts=on", "lazy.qcow2", "1M")
    subprocess.run([QEMU_IO, "-f", "qcow2", "-c", "w -P 6 0 64k", "-c", "abort", "lazy.qcow2"],
                   cwd=d, capture_output=True, timeout=TIMEOUT)
    os.mkdir(os.path.join(d, "sub"))
    qimg(d, "create", "-f", "qcow2", "-b", "../base.qcow2", "-F", "qcow2", "sub/rel.qcow2")


QEMU_MADE = ["sparse.raw", "odd.raw", "base.qcow2", "top.qcow2", "bm.qcow2", "v2.qcow2",
             "small.qcow2", "compressed.qcow2", "lazy.qcow2", "sub/rel.qcow2"]


# ---------------------------------------------------------------------------------------------

def group_create(d):
    cases = [
        ["-f", "raw", "a.raw", "1M"],
        ["a2.raw", "5G"],
        ["-f", "raw", "-o", "preallocation=falloc", "pa.raw", "1M"],
        ["-f", "qcow2", "a.qcow2", "1G"],
        ["-f", "qcow2", "-o", "cluster_size=4k,lazy_refcounts=on", "-o", "refcount_bits=8",
         "b.qcow2", "10M"],
        ["-f", "qcow2", "-o", "compat=0.10", "c.qcow2", "1M"],
        ["-f", "qcow2", "-o", "preallocation=metadata", "d.qcow2", "3M"],
        ["-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2", "e.qcow2"],
        ["-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2", "f.qcow2", "16M"],
        ["-f", "qcow2", "-u", "-b", "missing.qcow2", "-F", "qcow2", "g.qcow2", "1M"],
        ["-f", "qcow2", "-o", "cluster_size=2M", "h.qcow2", "1T"],
        ["-q", "-f", "qcow2", "i.qcow2", "1k"],
    ]
    errors = [
        ["-f", "qcow2", "x.qcow2"],                           # no size
        ["-f", "qcow2", "-o", "bogus=1", "x.qcow2", "1M"],    # unknown option
        ["-f", "vmdkx", "x", "1M"],                           # unknown format
        ["-f", "qcow2", "-b", "base.qcow2", "x.qcow2"],       # backing without -F
        ["-f", "raw", "x.raw", "1Q"],                         # bad size
        ["-f", "qcow2", "-u", "-b", "missing.qcow2", "-F", "qcow2", "x.qcow2"],
        ["-f", "qcow2", "-b", "missing.qcow2", "-F", "qcow2", "x.qcow2", "1M"],
        [],
    ]
    qd, od = os.path.join(d, "q"), os.path.join(d, "o")
    for sub in (qd, od):
        os.mkdir(sub)
        qimg(sub, "create", "-f", "qcow2", "base.qcow2", "7M")
    for args in cases + errors:
        q = run([QEMU_IMG, "create", *args], qd)
        o = run([OURS, "create", *args], od)
        label = "create " + " ".join(args)
        expect_same(f"exit code of '{label}'", q.returncode, o.returncode)
        expect_same(f"stdout of '{label}'", q.stdout, o.stdout)
        if q.returncode != 0:
            expect(o.stderr.startswith("e2kvm-img: "), f"error text of '{label}': {o.stderr!r}")
    # The images must be alike as qemu-img sees them.
    for args in cases:
        name = args[-1] if not re.match(r"^\d+[kMGT]?$", args[-1]) else args[-2]
        qi = json.loads(qimg(qd, "info", "--output=json", name).stdout)
        oi = json.loads(qimg(od, "info", "--output=json", name).stdout)
        for info in (qi, oi):
            info.pop("actual-size", None)
        expect_same(f"qemu-img info of created {name}", qi, oi)
        if name.endswith(".qcow2") and "missing.qcow2" not in args:
            c = qimg(od, "check", name, check=False)
            expect(c.returncode == 0, f"qemu-img check of our {name}: {c.stdout}{c.stderr}")


def group_info(d):
    make_qemu_images(d)
    for name in QEMU_MADE:
        for out in ("human", "json"):
            same_command(d, ["info", f"--output={out}", name])
            same_command(d, ["info", "--backing-chain", f"--output={out}", name])
        same_command(d, ["info", "-U", "-f", "raw", name])
    absolute = os.path.join(d, "top.qcow2")
    same_command(d, ["info", "--output=json", absolute])
    same_command(d, ["info", "--backing-chain", absolute])
    same_command(d, ["info", "nosuch.qcow2"])
    same_command(d, ["info"])
    # A file name that is not valid UTF-8: JSON must escape it exactly as QEMU does.
    odd = os.fsdecode(b"odd-\xff-\xc0\x80-\xe2\x82-\xed\xa0\x80-\xef\xbf\xbf-\xf8\x88\x80\x80\x80"
                      b"-\xf0\x9f\x98\x80-\xc3.raw")
    with open(os.path.join(d, odd), "wb") as f:
        f.truncate(1 << 20)
    same_command(d, ["info", "--output=json", odd], label="info --output=json <non-UTF-8 name>")


def group_map(d):
    make_qemu_images(d)
    for name in QEMU_MADE:
        for out in ("human", "json"):
            if name == "compressed.qcow2" and out == "human":
                same_command(d, ["map", name])  # an error in both
                continue
            same_command(d, ["map", f"--output={out}", name])
    for extra in (["--start-offset=100"], ["--max-length=3000000"],
                  ["--start-offset=600k", "--max-length=3M"], ["--start-offset=7M"],
                  ["--start-offset=100M"], ["--max-length=0"], ["--start-offset=8M"],
                  ["--start-offset=-1"], ["--max-length=1x"]):
        same_command(d, ["map", "--output=json", *extra, "top.qcow2"])
    same_command(d, ["map", "--output=json", "-f", "raw", "top.qcow2"])
    # A chain whose middle layer is shorter than the top, and a three-layer chain.
    qimg(d, "create", "-f", "qcow2", "-b", "top.qcow2", "-F", "qcow2", "third.qcow2", "12M")
    qio(d, "third.qcow2", "w -P 5 2M 1M", "w -P 6 9M 4k")
    for out in ("human", "json"):
        same_command(d, ["map", f"--output={out}", "third.qcow2"])
    # A raw file ending mid-sector with data there (iotest 253): under cache.direct=on the last
    # sector is data whole; without, the byte past the end of the file reads as zero.
    qimg(d, "create", "-f", "raw", "tail.raw", str(1024 * 1024 - 1))
    qio(d, "tail.raw", "w 983040 65535", fmt="raw")
    os.truncate(os.path.join(d, "tail.raw"), 1024 * 1024 - 1)
    for direct in ("on", "off"):
        same_command(d, ["map", "--output=json", "--image-opts",
                         f"driver=raw,file.driver=file,file.filename=tail.raw,cache.direct={direct}"])
    same_command(d, ["map", "--output=json", "--image-opts",
                     "driver=raw,cache.direct=on,file.driver=file,file.filename=tail.raw"])
    # Metadata preallocation (iotest 250): clusters allocated but never written read as zero,
    # which QEMU finds by asking the file once the image looks preallocated.
    qimg(d, "create", "-f", "qcow2", "-o", "cluster_size=1M,preallocation=metadata",
         "meta.qcow2", "2100M")
    qio(d, "meta.qcow2", "discard 0 10M", "discard 2090M 10M", "write 2090M 10M", "write 0 10M",
        "write -z 20M 1M", "write -P 3 30M 512")
    for out in ("human", "json"):
        same_command(d, ["map", f"--output={out}", "meta.qcow2"])


def inject_leak(path):
    """Marks the cluster just past the end of a qcow2 file as used (a leaked cluster)."""
    with open(path, "r+b") as f:
        h = f.read(104)
        cs = 1 << struct.unpack(">I", h[20:24])[0]
        rt = struct.unpack(">Q", h[48:56])[0]
        f.seek(rt)
        rb = struct.unpack(">Q", f.read(8))[0]
        n = (os.path.getsize(path) + cs - 1) // cs
        f.seek(rb + 2 * n)
        f.write(struct.pack(">H", 1))
        f.flush()
        f.truncate((n + 1) * cs)


def inject_corruption(path):
    """Sets the refcount of the L1 table's cluster to 0 (a corruption)."""
    with open(path, "r+b") as f:
        h = f.read(104)
        cs = 1 << struct.unpack(">I", h[20:24])[0]
        l1 = struct.unpack(">Q", h[40:48])[0]
        rt = struct.unpack(">Q", h[48:56])[0]
        f.seek(rt)
        rb = struct.unpack(">Q", f.read(8))[0]
        f.seek(rb + 2 * (l1 // cs))
        f.write(struct.pack(">H", 0))


def inject_header_unreferenced(path):
    """Sets the refcount of the header cluster to 0 (a corruption only a rebuild repairs)."""
    with open(path, "r+b") as f:
        h = f.read(104)
        rt = struct.unpack(">Q", h[48:56])[0]
        f.seek(rt)
        rb = struct.unpack(">Q", f.read(8))[0]
        f.seek(rb)
        f.write(struct.pack(">H", 0))


def refcount_table(path):
    with open(path, "rb") as f:
        h = f.read(104)
    return struct.unpack(">QI", h[48:60])


def group_check(d):
    make_qemu_images(d)
    for name in QEMU_MADE:
        for out in ("human", "json"):
            same_command(d, ["check", f"--output={out}", name])
    qimg(d, "create", "-f", "qcow2", "leak.qcow2", "1M")
    inject_leak(os.path.join(d, "leak.qcow2"))
    qimg(d, "create", "-f", "qcow2", "bad.qcow2", "1M")
    inject_corruption(os.path.join(d, "bad.qcow2"))
    # Holes near the start: a rebuild places the new refcount structure in them as QEMU does.
    qimg(d, "create", "-f", "qcow2", "-o", "cluster_size=512", "holes.qcow2", "1M")
    qio(d, "holes.qcow2", "write 0 512k", "discard 0 512", "discard 4k 1k")
    inject_header_unreferenced(os.path.join(d, "holes.qcow2"))
    for name in ("leak.qcow2", "bad.qcow2", "holes.qcow2"):
        for out in ("human", "json"):
            same_command(d, ["check", f"--output={out}", name])
        for mode in ("leaks", "all"):
            for out in ("human", "json"):
                qcopy, ocopy = "q-" + name, "o-" + name
                shutil.copy(os.path.join(d, name), os.path.join(d, qcopy))
                shutil.copy(os.path.join(d, name), os.path.join(d, ocopy))
                q = run([QEMU_IMG, "check", "-r", mode, f"--output={out}", qcopy], d)
                o = run([OURS, "check", "-r", mode, f"--output={out}", ocopy], d)
                label = f"check -r {mode} --output={out} {name}"
                expect_same(f"exit code of '{label}'", q.returncode, o.returncode)
                expect_same(f"stdout of '{label}'", q.stdout.replace(qcopy, ocopy), o.stdout)
                # The findings and repairs (a rebuild's leak repair of the old refcount
                # structure included) on stderr.
                expect_same(f"stderr of '{label}'",
                            q.stderr.replace(qcopy, ocopy).replace("qemu-img: ", ""),
                            o.stderr.replace("e2kvm-img: ", ""))
                expect_same(f"refcount table (offset, clusters) after '{label}'",
                            refcount_table(os.path.join(d, qcopy)),
                            refcount_table(os.path.join(d, ocopy)))
                after = qimg(d, "check", ocopy, check=False)
                qafter = qimg(d, "check", qcopy, check=False)
                expect_same(f"qemu-img check after our '{label}'", qafter.returncode,
                            after.returncode)
    same_command(d, ["check", "nosuch.qcow2"])


def convert_case(d, src, args, target, target_fmt):
    """Converts with both tools; our result must read the same as the source and be clean."""
    qt, ot = "q-" + target, "o-" + target
    q = run([QEMU_IMG, "convert", *args, src, qt], d)
    o = run([OURS, "convert", *args, src, ot], d)
    label = "convert " + " ".join(args + [src])
    expect_same(f"exit code of '{label}'", q.returncode, o.returncode)
    if q.returncode != 0:
        return
    c = run([QEMU_IMG, "compare", src, ot], d)
    expect(c.returncode == 0, f"qemu-img compare after '{label}': {c.stdout}{c.stderr}")
    if target_fmt == "qcow2":
        c = run([QEMU_IMG, "check", ot], d)
        expect(c.returncode == 0, f"qemu-img check of our '{label}': {c.stdout}{c.stderr}")
        if "-c" not in args:
            # Same allocation as qemu-img's output (which ranges hold data).
            qm = [(e["start"], e["length"], e["data"]) for e in
                  json.loads(qimg(d, "map", "--output=json", qt).stdout)]
            om = [(e["start"], e["length"], e["data"]) for e in
                  json.loads(qimg(d, "map", "--output=json", ot).stdout)]
            expect_same(f"allocation after '{label}'", qm, om)
    else:
        qs = os.stat(os.path.join(d, qt)).st_blocks
        os_ = os.stat(os.path.join(d, ot)).st_blocks
        expect(os_ <= qs + 8, f"'{label}': our raw output uses {os_} blocks, qemu-img's {qs}")
        expect_same(f"size after '{label}'", os.path.getsize(os.path.join(d, qt)),
                    os.path.getsize(os.path.join(d, ot)))


def group_convert(d):
    make_qemu_images(d)
    before = {n: sha256(os.path.join(d, n)) for n in ("base.qcow2", "top.qcow2", "sparse.raw")}
    for src in QEMU_MADE:
        convert_case(d, src, ["-O", "raw"], "out.raw", "raw")
        convert_case(d, src, ["-O", "qcow2"], "out.qcow2", "qcow2")
    convert_case(d, "top.qcow2", ["-O", "qcow2", "-o", "cluster_size=4k"], "c4k.qcow2", "qcow2")
    convert_case(d, "sparse.raw", ["-c", "-O", "qcow2"], "comp.qcow2", "qcow2")
    convert_case(d, "top.qcow2", ["-c", "-O", "qcow2"], "comp2.qcow2", "qcow2")
    convert_case(d, "sparse.raw", ["-S", "0", "-O", "raw"], "full.raw", "raw")
    convert_case(d, "sparse.raw", ["-c", "-O", "raw"], "bad.raw", "raw")  # error in both
    convert_case(d, "top.qcow2", ["-f", "qcow2", "-O", "raw", "-m", "1"], "m1.raw", "raw")
    full = os.stat(os.path.join(d, "o-full.raw")).st_blocks * 512
    expect(full >= 3 << 20, f"-S 0 output is not fully allocated ({full} bytes)")
    # -n: into an existing image full of other data; zero ranges must be zeroed.
    write_pattern_raw(os.path.join(d, "dirty.raw"), 8 << 20, [(0, 8 << 20, 0xee)])
    r = ours(d, "convert", "-n", "-O", "raw", "top.qcow2", "dirty.raw")
    expect(r.returncode == 0, f"convert -n: {r.stderr}")
    c = run([QEMU_IMG, "compare", "top.qcow2", "dirty.raw"], d)
    expect(c.returncode == 0, f"convert -n result differs: {c.stdout}")
    qimg(d, "create", "-f", "qcow2", "existing.qcow2", "8M")
    qio(d, "existing.qcow2", "w -P 0xee 0 8M")
    r = ours(d, "convert", "-n", "-O", "qcow2", "top.qcow2", "existing.qcow2")
    expect(r.returncode == 0, f"convert -n qcow2: {r.stderr}")
    c = run([QEMU_IMG, "compare", "top.qcow2", "existing.qcow2"], d)
    expect(c.returncode == 0, f"convert -n qcow2 result differs: {c.stdout}")
    # Progress bar as qemu-img draws it.
    r = subprocess.run([OURS, "convert", "-p", "-O", "qcow2", "sparse.raw", "p.qcow2"], cwd=d,
                       capture_output=True, timeout=TIMEOUT)
    out = r.stdout.decode()
    expect(r.returncode == 0 and re.fullmatch(r"(    \(\d+\.\d\d/100%\)\r)+\n", out)
           and out.startswith("    (0.00/100%)\r")
           and out.endswith("    (100.00/100%)\r\n"), f"progress output {out!r}")
    # Onto itself or onto its own backing file: refused, nothing truncated.
    for target in ("top.qcow2", "base.qcow2"):
        r = ours(d, "convert", "-O", "qcow2", "top.qcow2", target)
        expect(r.returncode == 1, f"convert top.qcow2 onto {target} was not refused")
    after = {n: sha256(os.path.join(d, n)) for n in before}
    expect_same("sources unchanged by convert", before, after)


def group_convert_concat(d):
    """Several sources are converted one after another into one target, as qemu-img does:
    same map (plain and compressed), same contents; the refusals read the same."""
    for i in (1, 2, 3):
        qimg(d, "create", "-f", "qcow2", f"part{i}.qcow2", f"{i}M")
        qio(d, f"part{i}.qcow2", f"write -P {i} {(i - 1) * 256}k 64k")
    parts = ["part1.qcow2", "part2.qcow2", "part3.qcow2"]
    for extra in ([], ["-c"], ["-S", "0"]):
        maps = []
        for tool, target in ((QEMU_IMG, "q-concat.qcow2"), (OURS, "o-concat.qcow2")):
            r = run([tool, "convert", *extra, "-O", "qcow2", *parts, target], d)
            expect(r.returncode == 0, f"{tool} convert {extra} of three sources: {r.stderr}")
            maps.append(qimg(d, "map", "--output=json", target).stdout)
        expect_same(f"map after convert {extra} of three sources", maps[0], maps[1])
        c = run([QEMU_IMG, "compare", "q-concat.qcow2", "o-concat.qcow2"], d)
        expect(c.returncode == 0, f"contents after convert {extra} of three sources: {c.stdout}")
    for args in (["-B", "part1.qcow2", "-O", "qcow2", *parts, "x.qcow2"],
                 ["-l", "snap", "-O", "qcow2", *parts, "x.qcow2"],
                 ["--bitmaps", "-O", "qcow2", *parts, "x.qcow2"],
                 ["-O", "qcow2", "part1.qcow2", "nosuch.qcow2", "x.qcow2"]):
        q = run([QEMU_IMG, "convert", *args], d)
        o = run([OURS, "convert", *args], d)
        expect_same(f"exit code of convert {args}", q.returncode, o.returncode)
        expect_same(f"message of convert {args}", q.stderr.replace("qemu-img: ", ""),
                    o.stderr.replace("e2kvm-img: ", ""))


def group_convert_sparse(d):
    """-S as qemu-img applies it: -c -S 0 writes zero clusters too (compressed), a short data
    range of zeros is sparse under -S 4k/8k; maps of the targets must be qemu-img's."""
    qimg(d, "create", "-f", "qcow2", "-o", "cluster_size=1k", "s.qcow2", "8M")
    qio(d, "s.qcow2", "write -P 0 0 64k", "write 0 1k", "write 8k 1k", "write 17k 1k",
        "write -P 0 65k 1k")
    qimg(d, "create", "-f", "qcow2", "f.qcow2", "16M")
    qio(d, "f.qcow2", "write -P 0x22 0 3M", "write -P 0 3M 3M")
    for src, args in (("f.qcow2", ["-c", "-S", "0"]), ("f.qcow2", ["-S", "0"]),
                      ("s.qcow2", ["-o", "cluster_size=1k", "-S", "4k"]),
                      ("s.qcow2", ["-o", "cluster_size=1k", "-S", "8k"]),
                      ("s.qcow2", ["-o", "cluster_size=1k", "-c", "-S", "4k"])):
        maps = []
        for tool, target in ((QEMU_IMG, "q-sparse.qcow2"), (OURS, "o-sparse.qcow2")):
            r = run([tool, "convert", "-O", "qcow2", *args, src, target], d)
            expect(r.returncode == 0, f"{tool} convert {args} {src}: {r.stderr}")
            maps.append(re.sub(r', "offset": \d+', "",
                               qimg(d, "map", "--output=json", target).stdout))
        expect_same(f"map after convert {args} {src}", maps[0], maps[1])


def group_convert_progress(d):
    """convert -p draws the same progress lines as qemu-img: counted over the data it copies,
    piece by piece (2 MiB, a cluster when compressing), drawn on moves of more than 1%."""
    qimg(d, "create", "-f", "qcow2", "spread.qcow2", "128M")
    qio(d, "spread.qcow2", "write 0 1M", "write 2M 1M", "write 4M 1M", "write 32M 1M")
    qimg(d, "create", "-f", "qcow2", "mixed.qcow2", "64M")
    qio(d, "mixed.qcow2", "write 1M 9M", "write 20M 300k", "write -z 30M 1M", "write 40M 64k")
    qimg(d, "convert", "-O", "raw", "mixed.qcow2", "mixed.raw")
    qimg(d, "create", "-f", "qcow2", "empty.qcow2", "10M")
    for args in (["-O", "qcow2", "spread.qcow2"], ["-O", "qcow2", "mixed.qcow2"],
                 ["-O", "raw", "mixed.qcow2"], ["-S", "0", "-O", "qcow2", "mixed.qcow2"],
                 ["-O", "qcow2", "empty.qcow2"], ["-f", "raw", "-O", "qcow2", "mixed.raw"],
                 ["-c", "-O", "qcow2", "mixed.qcow2"],
                 ["-c", "-O", "qcow2", "-o", "cluster_size=4k", "mixed.qcow2"],
                 ["-O", "qcow2", "-B", "spread.qcow2", "-F", "qcow2", "mixed.qcow2"]):
        outputs = []
        for tool in (QEMU_IMG, OURS):
            target = os.path.join(d, "progress.out")
            if os.path.exists(target):
                os.unlink(target)
            outputs.append(run([tool, "convert", "-p", *args, target], d).stdout)
        expect_same("progress of convert -p " + " ".join(args), outputs[0], outputs[1])


def group_resize(d):
    for fmt, name in (("raw", "r.raw"), ("qcow2", "r.qcow2")):
        for tool_dir in ("q", "o"):
            os.makedirs(os.path.join(d, tool_dir), exist_ok=True)
            qimg(os.path.join(d, tool_dir), "create", "-f", fmt, name, "1M")
            qio(os.path.join(d, tool_dir), name, "w -P 3 0 1M", fmt=fmt)
        steps = [["-f", fmt, name, "+1M"], ["-f", fmt, name, "3M"], ["-f", fmt, name, "1M"],
                 ["-f", fmt, "--shrink", name, "-1M"], ["-f", fmt, name, "+0"],
                 ["-f", fmt, name, "1Q"], ["-q", "-f", fmt, name, "10M"]]
        if fmt == "raw":
            steps.append([name, "+64k"])
        for step in steps:
            q = run([QEMU_IMG, "resize", *step], os.path.join(d, "q"))
            o = run([OURS, "resize", *step], os.path.join(d, "o"))
            label = "resize " + " ".join(step)
            expect_same(f"exit code of '{label}'", q.returncode, o.returncode)
            expect_same(f"stdout of '{label}'", q.stdout, o.stdout)
            qi = json.loads(qimg(os.path.join(d, "q"), "info", "--output=json", name).stdout)
            oi = json.loads(qimg(os.path.join(d, "o"), "info", "--output=json", name).stdout)
            expect_same(f"virtual size after '{label}'", qi["virtual-size"], oi["virtual-size"])
        c = run([QEMU_IMG, "compare", os.path.join(d, "q", name), os.path.join(d, "o", name)], d)
        expect(c.returncode == 0, f"contents after resizing {name}: {c.stdout}")
        if fmt == "qcow2":
            c = run([QEMU_IMG, "check", os.path.join(d, "o", name)], d)
            expect(c.returncode == 0, f"qemu-img check after resize: {c.stdout}")
    # Shrinking a written qcow2 image (iotest 163): the refcount blocks left counting nothing
    # leave the table and the file ends after its last cluster in use, as qemu-img's: the same
    # length, header and refcount table. (Free clusters may hold other leftovers.)
    for cluster, bits in (("512", "64"), ("64k", "16"), ("1M", "1")):
        name = f"s{cluster}.qcow2"
        for tool_dir in ("q", "o"):
            qimg(os.path.join(d, tool_dir), "create", "-f", "qcow2", "-o",
                 f"cluster_size={cluster},refcount_bits={bits}", name, "24M")
            qio(os.path.join(d, tool_dir), name, *(f"write -P 0xff {o}M 2M" for o in
                                                   (20, 4, 12, 0, 16, 8, 22)))
        resize_both(d, ["-f", "qcow2", "--shrink", name, "3M"], f"resize --shrink {name}")
        files = []
        for tool_dir in ("q", "o"):
            with open(os.path.join(d, tool_dir, name), "rb") as f:
                files.append(f.read())
        expect_same(f"{name} length after --shrink", len(files[0]), len(files[1]))
        expect_same(f"{name} header after --shrink", files[0][:104], files[1][:104])
        bits = struct.unpack(">I", files[0][20:24])[0]
        table, clusters = struct.unpack(">QI", files[0][48:60])
        end = table + (clusters << bits)
        expect_same(f"{name} refcount table after --shrink", files[0][table:end],
                    files[1][table:end])
        c = run([QEMU_IMG, "check", os.path.join(d, "o", name)], d)
        expect(c.returncode == 0, f"qemu-img check after --shrink: {c.stdout}")


def resize_both(d, args, label):
    """Runs resize with `args` in d/q (qemu-img) and d/o (ours): same exit code, stdout and
    message (with the program name taken off)."""
    q = run([QEMU_IMG, "resize", *args], os.path.join(d, "q"))
    o = run([OURS, "resize", *args], os.path.join(d, "o"))
    expect_same(f"exit code of '{label}'", q.returncode, o.returncode)
    expect_same(f"stdout of '{label}'", q.stdout, o.stdout)
    expect_same(f"stderr of '{label}'", q.stderr.replace("qemu-img: ", ""),
                o.stderr.replace("e2kvm-img: ", ""))


def group_resize_prealloc(d):
    """resize --preallocation: qcow2 images come out laid out as qemu-img lays them out
    (same map, same file length, clean check), partial last clusters keep what the backing
    file shows; raw files are really allocated; the refusals read the same."""
    for tool_dir in ("q", "o"):
        os.makedirs(os.path.join(d, tool_dir), exist_ok=True)
        qimg(os.path.join(d, tool_dir), "create", "-f", "raw", "base.raw", "1M")
        qio(os.path.join(d, tool_dir), "base.raw", "write -P 1 0 1M", fmt="raw")
    cases = []
    for mode in ("off", "metadata", "falloc", "full"):
        for cluster, size, grow, backing in (("64k", "1M", "+1M", False),
                                             ("512", "2000k", "+80k", False),
                                             ("64k", "31k", "96k", True),
                                             ("64k", "33k", "128k", True),
                                             ("64k", "100k", "300k", False),
                                             ("64k", "500k", "2M", True)):
            cases.append((mode, cluster, size, grow, backing, "off"))
    # Iotest 125's case: a preallocated partial last cluster is moved into the new area.
    for mode in ("falloc", "full"):
        cases.append((mode, "64k", "2000k", "+80k", False, "full"))
    for i, (mode, cluster, size, grow, backing, made) in enumerate(cases):
        name = f"p{i}.qcow2"
        create = ["create", "-f", "qcow2", "-o", f"cluster_size={cluster},preallocation={made}"]
        if backing:
            create += ["-b", "base.raw", "-F", "raw"]
        for tool_dir in ("q", "o"):
            qimg(os.path.join(d, tool_dir), *create, name, size)
            if not backing:
                qio(os.path.join(d, tool_dir), name, "write -P 2 0 8k")
        label = (f"resize --preallocation={mode} {name} ({cluster} clusters, {size} {grow}, "
                 f"created with preallocation={made})")
        resize_both(d, ["--preallocation=" + mode, name, grow], label)
        qpath, opath = os.path.join(d, "q", name), os.path.join(d, "o", name)
        qm = qimg(d, "map", "--output=json", qpath).stdout
        om = qimg(d, "map", "--output=json", opath).stdout
        expect_same(f"map after {label}", qm, om)
        expect_same(f"file length after {label}", os.path.getsize(qpath), os.path.getsize(opath))
        c = run([QEMU_IMG, "compare", qpath, opath], d)
        expect(c.returncode == 0, f"contents after {label}: {c.stdout}")
        c = run([QEMU_IMG, "check", opath], d)
        expect(c.returncode == 0, f"qemu-img check after {label}: {c.stdout}")
        if mode in ("falloc", "full"):
            # The same host space as qemu-img's, give or take one 4 KiB block of file system
            # metadata: a cluster the mapping left behind keeps its space (QEMU does not
            # discard it), so a later write into the image does not allocate (iotest 125).
            expect(os.stat(opath).st_blocks >= os.stat(qpath).st_blocks - 8,
                   f"host allocation after {label}: {os.stat(opath).st_blocks * 512} bytes, "
                   f"qemu-img {os.stat(qpath).st_blocks * 512}")
    for mode in ("falloc", "full"):
        name = f"g{mode}.raw"
        for tool_dir in ("q", "o"):
            qimg(os.path.join(d, tool_dir), "create", "-f", "raw", name, "128k")
        resize_both(d, ["-f", "raw", f"--preallocation={mode}", name, "+256k"],
                    f"raw resize --preallocation={mode}")
        path = os.path.join(d, "o", name)
        expect(os.path.getsize(path) == 384 * 1024, f"raw length after {mode}")
        expect(os.stat(path).st_blocks * 512 >= 256 * 1024, f"raw allocation after {mode}")
    for args in (["-f", "raw", "--preallocation=metadata", "gfull.raw", "+64k"],
                 ["-f", "raw", "--shrink", "--preallocation=falloc", "gfull.raw", "-64k"],
                 ["-f", "raw", "--preallocation=full", "gfull.raw", "384k"],
                 ["--preallocation=full", "p0.qcow2", "1M"],
                 ["--preallocation=bogus", "p0.qcow2", "+1M"],
                 ["--image-opts", "driver=qcow2,file.driver=file,file.filename=p0.qcow2",
                  "+64k"],
                 ["--shrink", "--image-opts",
                  "driver=raw,file.driver=file,file.filename=gfull.raw,file.locking=off",
                  "320k"]):
        resize_both(d, args, "resize " + " ".join(args))
    for name in ("p0.qcow2", "gfull.raw"):
        expect_same(f"{name} after the --image-opts resizes",
                    os.path.getsize(os.path.join(d, "q", name)),
                    os.path.getsize(os.path.join(d, "o", name)))


def group_compare(d):
    make_qemu_images(d)
    qimg(d, "convert", "-O", "raw", "top.qcow2", "top.raw")
    qimg(d, "convert", "-O", "qcow2", "top.qcow2", "flat.qcow2")
    shutil.copy(os.path.join(d, "top.raw"), os.path.join(d, "diff.raw"))
    with open(os.path.join(d, "diff.raw"), "r+b") as f:
        f.seek(5 * 65536 + 1000)
        f.write(b"\x99")
    qimg(d, "create", "-f", "raw", "big.raw", "16M")
    qimg(d, "convert", "-O", "raw", "top.qcow2", "bigger.raw")
    qimg(d, "resize", "-f", "raw", "bigger.raw", "16M")
    with open(os.path.join(d, "bigger.raw"), "r+b") as f:
        f.seek(12345678)
        f.write(b"\x01")
    pairs = [("top.qcow2", "top.raw"), ("top.raw", "flat.qcow2"), ("top.qcow2", "diff.raw"),
             ("sparse.raw", "sparse.raw"), ("top.raw", "big.raw"), ("top.raw", "bigger.raw"),
             ("base.qcow2", "top.qcow2"), ("top.qcow2", "nosuch")]
    for a, b in pairs:
        same_command(d, ["compare", a, b])
        same_command(d, ["compare", "-s", a, b], compare_stdout=False)
        same_command(d, ["compare", "-q", a, b])
    same_command(d, ["compare", "-f", "qcow2", "-F", "raw", "top.qcow2", "top.raw"])


def group_rebase(d):
    make_qemu_images(d)
    # New backing file: the old one with some clusters changed and others removed.
    qimg(d, "create", "-f", "qcow2", "new.qcow2", "4M")
    qio(d, "new.qcow2", "w -P 1 0 256k", "w -P 8 2M 1M")
    qimg(d, "convert", "-O", "raw", "top.qcow2", "expected.raw")
    keep = {n: sha256(os.path.join(d, n)) for n in ("base.qcow2", "new.qcow2")}
    r = ours(d, "rebase", "-b", "new.qcow2", "-F", "qcow2", "top.qcow2")
    expect(r.returncode == 0, f"rebase: {r.stderr}")
    info = json.loads(qimg(d, "info", "--output=json", "top.qcow2").stdout)
    expect_same("backing after rebase", ("new.qcow2", "qcow2"),
                (info.get("backing-filename"), info.get("backing-filename-format")))
    c = run([QEMU_IMG, "compare", "top.qcow2", "expected.raw"], d)
    expect(c.returncode == 0, f"contents changed by rebase: {c.stdout}")
    c = run([QEMU_IMG, "check", "top.qcow2"], d)
    expect(c.returncode == 0, f"qemu-img check after rebase: {c.stdout}")
    expect_same("backing files unchanged by rebase", keep,
                {n: sha256(os.path.join(d, n)) for n in keep})
    # Rebase onto nothing: the image becomes self-contained.
    r = ours(d, "rebase", "-b", "", "top.qcow2")
    expect(r.returncode == 0, f"rebase -b '': {r.stderr}")
    info = json.loads(qimg(d, "info", "--output=json", "top.qcow2").stdout)
    expect("backing-filename" not in info, f"backing file left after rebase -b '': {info}")
    c = run([QEMU_IMG, "compare", "top.qcow2", "expected.raw"], d)
    expect(c.returncode == 0, f"contents changed by rebase -b '': {c.stdout}")
    # Unsafe: only the name changes, the same way as qemu-img does it.
    os.mkdir(os.path.join(d, "some"))
    write_pattern_raw(os.path.join(d, "some", "where.qcow2"), 4 << 20, [])
    for tool in (QEMU_IMG, OURS):
        shutil.copy(os.path.join(d, "small.qcow2"), os.path.join(d, "u.qcow2"))
        r = run([tool, "rebase", "-u", "-b", "some/where.qcow2", "-F", "raw", "u.qcow2"], d)
        expect(r.returncode == 0, f"{tool} rebase -u: {r.stderr}")
        info = json.loads(qimg(d, "info", "--output=json", "-U", "u.qcow2").stdout)
        expect_same(f"{tool} rebase -u result", ("some/where.qcow2", "raw"),
                    (info.get("backing-filename"), info.get("backing-filename-format")))
        c = run([QEMU_IMG, "check", "u.qcow2"], d)
        expect(c.returncode == 0, f"qemu-img check after {tool} rebase -u: {c.stdout}")
    for args in (["-b", "new.qcow2", "top.qcow2"], ["-b", "nosuch", "-F", "qcow2", "v2.qcow2"],
                 ["-b", "new.qcow2", "-F", "qcow2", "sparse.raw"]):
        same_command(d, ["rebase", *args])
    # What the image showed past the end of its old backing file (everywhere, with none) is
    # kept as zero clusters, what the old backing file held as data: maps as qemu-img's.
    qimg(d, "create", "-f", "qcow2", "short.qcow2", "256k")
    qio(d, "short.qcow2", "w -P 0 0 64k", "w -P 5 64k 64k")
    qimg(d, "create", "-f", "qcow2", "long.qcow2", "1M")
    qio(d, "long.qcow2", "w -P 7 0 768k")
    for backing in ("short.qcow2", None):
        maps = []
        for tool in (QEMU_IMG, OURS):
            args = ["-b", backing, "-F", "qcow2"] if backing else []
            qimg(d, "create", "-f", "qcow2", *args, "r.qcow2", "1M")
            qio(d, "r.qcow2", "w -P 9 128k 64k")
            r = run([tool, "rebase", "-b", "long.qcow2", "-F", "qcow2", "r.qcow2"], d)
            expect(r.returncode == 0, f"{tool} rebase onto long.qcow2: {r.stderr}")
            maps.append(qimg(d, "map", "--output=json", "r.qcow2").stdout)
            os.unlink(os.path.join(d, "r.qcow2"))
        expect_same(f"map after rebasing from {backing} onto long.qcow2", maps[0], maps[1])


def group_cli(d):
    r = ours(d, "--help")
    expect(r.returncode == 0 and "usage:" in r.stdout, "e2kvm-img --help")
    for cmd in ("create", "info", "map", "check", "convert", "resize", "compare", "rebase"):
        r = ours(d, cmd, "--help")
        expect(r.returncode == 0 and cmd in r.stdout, f"e2kvm-img {cmd} --help")
        r = ours(d, cmd, "--bogus-option")
        expect(r.returncode == 1 and "e2kvm-img: " in r.stderr, f"{cmd} with a bad option")
    for args in ([], ["bogus"], ["info"], ["info", "--output=xml", "x"], ["map"],
                 ["info", "nosuch"], ["convert", "only-one"], ["compare", "a"]):
        q = run([QEMU_IMG, *args], d)
        o = run([OURS, *args], d)
        expect_same(f"exit code of {args}", q.returncode, o.returncode)
        expect(o.stderr.startswith("e2kvm-img: "), f"error text of {args}: {o.stderr!r}")


GROUPS = {name[len("group_"):]: fn for name, fn in globals().items()
          if name.startswith("group_")}


def main():
    if len(sys.argv) != 3 or sys.argv[2] not in GROUPS:
        print(__doc__)
        return 2
    require("qemu-img", "qemu-io")
    with tempfile.TemporaryDirectory(prefix="img-interop-") as d:
        GROUPS[sys.argv[2]](d)
    return checker.exit_status("ok", "{count} failure(s)")


if __name__ == "__main__":
    sys.exit(main())
