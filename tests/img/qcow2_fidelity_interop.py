#!/usr/bin/env python3
"""qcow2 images written by e2kvm against the same images written by QEMU 7.2, byte for byte in
what qemu-img reports about them.

usage: qcow2_fidelity_interop.py PATH/TO/e2kvm-io PATH/TO/e2kvm-img GROUP
GROUP zero:     the same `write -z` sequences (unaligned edges, with and without -u, over
                fresh, data, zero, compressed and preallocated clusters, qcow2/raw/short
                backing files, v2 images) through qemu-io and e2kvm-io on identical fresh
                images; `qemu-img map --output=json` and `qemu-img check --output=json` of
                both must be identical.
GROUP reuse:    discards, then writes in the same qemu-io / e2kvm-io session: the freed
                clusters are taken again first-fit from the start of the file, so the maps
                (host offsets) of both images must be identical.
GROUP prealloc: `e2kvm-img create -o preallocation=metadata|falloc|full` against
                `qemu-img create` for several cluster sizes and odd virtual sizes: map, check,
                info (less actual-size), file length and the L1/L2/refcount layout must match.
"""
import json
import os
import shutil
import struct
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from checks import Checker, run  # noqa: E402
from peers import require  # noqa: E402

OURS_IO = os.path.abspath(sys.argv[1])
OURS_IMG = os.path.abspath(sys.argv[2])
GROUP = sys.argv[3]
QEMU_IMG = shutil.which("qemu-img")
QEMU_IO = shutil.which("qemu-io")
TIMEOUT = 60
M = 1 << 20
checker = Checker()


def qemu_img(*args, ok=True):
    return run([QEMU_IMG, *args], ok=ok, timeout=TIMEOUT)


def io_commands(tool, image, commands, fmt="qcow2"):
    argv = [tool, "-f", fmt]
    for c in commands:
        argv += ["-c", c]
    p = run(argv + [image], ok=True, timeout=TIMEOUT)
    # qemu-io reports a failed command on stdout and still exits 0: compare those too.
    return [line for line in p.stdout.splitlines() if "failed" in line or "error" in line]


def reports(image, directory):
    """What qemu-img says about an image, with the temporary directory named the same."""
    m = qemu_img("map", "--output=json", image).stdout
    c = qemu_img("check", "--output=json", image, ok=False).stdout
    return m.replace(directory, "D"), c.replace(directory, "D")


def layout(path):
    """The metadata of a qcow2 file: header fields, every L1 and L2 entry, the refcount table
    and the refcount of every cluster (read piece by piece: the file may be large and sparse)."""
    with open(path, "rb") as f:
        length = os.fstat(f.fileno()).st_size

        def read(off, n):
            f.seek(off)
            return f.read(n).ljust(n, b"\0")

        def be64s(off, n):
            return struct.unpack(f">{n}Q", read(off, 8 * n))

        header = read(0, 104)
        cs = 1 << struct.unpack(">I", header[20:24])[0]
        l1_size = struct.unpack(">I", header[36:40])[0]
        l1_off, rt_off = struct.unpack(">QQ", header[40:56])
        rt_clusters = struct.unpack(">I", header[56:60])[0]
        bits = 1 << struct.unpack(">I", header[96:100])[0]
        out = [f"cluster_size={cs} l1_size={l1_size} l1={l1_off:#x} reftable={rt_off:#x}"
               f"x{rt_clusters} length={length}"]
        mask = (1 << 56) - 512
        for i, e in enumerate(be64s(l1_off, l1_size)):
            out.append(f"L1[{i}]={e:#x}")
            if e & mask:
                out.append("  L2 " + " ".join(f"{x:x}" for x in be64s(e & mask, cs // 8)))
        for i, block in enumerate(be64s(rt_off, rt_clusters * cs // 8)):
            if block:
                raw = read(block, cs)
                code = {8: "B", 16: "H", 32: "I", 64: "Q"}.get(bits)
                counts = list(struct.unpack(f">{cs * 8 // bits}{code}", raw)) if code else \
                    list(raw)  # sub-byte widths: compared as packed bytes
                while counts and counts[-1] == 0:
                    counts.pop()
                out.append(f"RT[{i}]={block:#x} refcounts " + ",".join(map(str, counts)))
    return out


# ---- write -z ----

def zero_ops(cs, size, unmap):
    u = "-u " if unmap else ""
    spots = [
        (100, 300),                   # inside cluster 0
        (cs + cs // 2, cs),           # tail of cluster 1, head of cluster 2
        (3 * cs + 200, 2 * cs),       # partial 3, whole 4, partial 5
        (7 * cs, cs // 2 + 8),        # aligned start, partial 7
        (9 * cs - 16, 32),            # last bytes of 8, first of 9
        (10 * cs + cs // 4, cs // 2),  # middle of 10 (both edges in one cluster)
        (size - 300, 300),            # the partial last cluster, up to the end of the disk
    ]
    return [f"write -z {u}{off} {length}" for off, length in spots]


def zero_scenarios(cs):
    """(name, create options, backing (format, size, qemu-io commands) or None, setup, whether
    to run with -u too)."""
    size = 12 * cs + 512
    every = f"write -P 0x5a 0 {size}"
    mixed = [f"write -P 0x5a {c * cs} {cs}" for c in (0, 2, 5, 8)] + \
            [f"write -z {c * cs} {cs}" for c in (3, 9)] + [f"write -c -P 7 {7 * cs} {cs}"]
    backing_data = [f"write -P 0x22 {cs + 512} 512", f"write -P 0x23 {4 * cs} {2 * cs}",
                    f"write -z {9 * cs} {cs}", f"write -P 0 {10 * cs} {cs}"]
    scenarios = [
        ("fresh", [], None, [], True),
        ("mixed clusters", [], None, mixed, True),
        ("qcow2 backing", [], ("qcow2", size, backing_data), [], False),
        ("v2", ["-o", "compat=0.10"], None, [], False),
    ]
    if cs < 2 * M:  # the rest with small clusters only, to keep the test fast
        scenarios += [
            ("raw backing", [], ("raw", size, [f"write -P 0x31 {2 * cs + 700} 100"]), [], False),
            ("short backing", [], ("raw", 2 * cs + 1024, [f"write -P 0x41 {cs} 512"]), [], False),
            ("backing and top data", [], ("qcow2", size, backing_data), mixed, True),
            ("v2 with data", ["-o", "compat=0.10"], None, [every], True),
            ("v2 with backing", ["-o", "compat=0.10"], ("qcow2", size, backing_data), [], False),
            ("preallocated metadata", ["-o", "preallocation=metadata"], None, [], True),
        ]
    return size, scenarios


def zero_case(d, cs, size, scenario):
    """Builds the scenario's image once with QEMU, then runs the zero writes on a copy through
    each tool; returns [(label, {tool: (failed commands, map, check)})]."""
    name, create, backing, setup, unmap_too = scenario
    os.makedirs(d)
    start = os.path.join(d, "start.qcow2")
    args = ["create", "-q", "-f", "qcow2", "-o", f"cluster_size={cs}", *create]
    if backing:
        fmt, bsize, bcmds = backing
        base = os.path.join(d, "b." + fmt)
        bargs = ["-o", f"cluster_size={cs}"] if fmt == "qcow2" else []
        qemu_img("create", "-q", "-f", fmt, *bargs, base, str(bsize))
        io_commands(QEMU_IO, base, bcmds, fmt=fmt)
        args += ["-b", base, "-F", fmt]
    qemu_img(*args, start, str(size))
    if setup:
        io_commands(QEMU_IO, start, setup)
    out = []
    for unmap in (False, True) if unmap_too else (False,):
        results = {}
        for who, tool in (("qemu-io", QEMU_IO), ("e2kvm-io", OURS_IO)):
            img = os.path.join(d, "t.qcow2")
            shutil.copyfile(start, img)
            errors = io_commands(tool, img, zero_ops(cs, size, unmap))
            results[who] = (errors, *reports(img, d))
            os.unlink(img)
        out.append((f"cs={cs} {'-u ' if unmap else ''}{name}", results))
    return out


def zero_group(d):
    tasks = []
    for cs in (512, 64 * 1024, 2 * M):
        size, scenarios = zero_scenarios(cs)
        tasks += [(cs, size, sc) for sc in scenarios]
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = pool.map(lambda t: zero_case(os.path.join(d, str(t[0])), *t[1]),
                        enumerate(tasks))
        for case in runs:
            for label, results in case:
                q, o = results["qemu-io"], results["e2kvm-io"]
                for i, what in enumerate(("failed commands", "qemu-img map --output=json",
                                          "qemu-img check --output=json")):
                    checker.same(f"{label}: {what}", q[i], o[i], "qemu-io", "e2kvm-io")


# ---- create -o preallocation ----

def prealloc_cases():
    for cs in (512, 4096, 64 * 1024, 2 * M):
        for mode in ("metadata", "falloc", "full"):
            for size in (M + 512, 3 * M):
                yield cs, mode, size
    # Larger sparse images: refcount blocks beyond the first, several L2 tables, and (512-byte
    # clusters past 16384 clusters) a refcount table that has to grow while allocating.
    yield 4096, "falloc", 8 * M + 512
    yield 512, "falloc", 4 * M
    yield 512, "metadata", 9 * M
    yield 4096, "metadata", 100 * M + 512
    yield 64 * 1024, "metadata", 3 << 30
    yield 2 * M, "metadata", (3 << 30) + 512


def prealloc_case(d, cs, mode, size):
    """Creates the image with each tool; returns {tool: (map, check, info, length, layout)} or
    {tool: ("exit", code)} for a tool that refused."""
    os.makedirs(d)
    results = {}
    for who, tool in (("qemu-img", QEMU_IMG), ("e2kvm-img", OURS_IMG)):
        img = os.path.join(d, "p.qcow2")
        p = run([tool, "create", "-q", "-f", "qcow2", "-o",
                 f"cluster_size={cs},preallocation={mode}", img, str(size)],
                ok=False, timeout=TIMEOUT)
        if p.returncode != 0:
            results[who] = ("exit", p.returncode)
            continue
        m, c = reports(img, d)
        info = json.loads(qemu_img("info", "--output=json", img).stdout)
        info.pop("actual-size", None)
        info = json.dumps(info, indent=1, sort_keys=True).replace(d, "D")
        results[who] = (m, c, info, os.path.getsize(img), "\n".join(layout(img)))
        os.unlink(img)
    return results


def prealloc_group(d):
    cases = list(prealloc_cases())
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = pool.map(lambda t: prealloc_case(os.path.join(d, str(t[0])), *t[1]),
                        enumerate(cases))
        for (cs, mode, size), results in zip(cases, runs):
            label = f"create cluster_size={cs} preallocation={mode} size={size}"
            q, o = results["qemu-img"], results["e2kvm-img"]
            if not checker.check(len(q) == len(o), f"{label}: qemu-img {q[:2]}, ours {o[:2]}"):
                continue
            for i, what in enumerate(("map", "check", "info", "file length", "layout")):
                checker.same(f"{label}: {what}", q[i], o[i], "qemu-img", "e2kvm-img")


# ---- reuse of freed clusters ----

REUSE_SESSIONS = [
    ("discard the start, write the end", "cluster_size=64k", 16 * M, ["write 0 8M"],
     ["discard 0 1M", "discard 7M 1M", "write 12M 1M", "write 0 1M"]),
    ("interleaved discards and writes", "cluster_size=64k", 16 * M, ["write 0 4M"],
     ["discard 64k 64k", "write 8M 192k", "discard 1M 512k", "write 10M 64k",
      "write 11M 1M"]),
    ("metadata preallocation", "cluster_size=1M,preallocation=metadata", 64 * M, [],
     ["discard 0 10M", "discard 54M 10M", "write 54M 10M", "write 0 10M"]),
    # A write over several L2 tables continues right after its previous piece where that is
    # free, even in a gap too small for a whole table's worth (iotest 044).
    ("a write continuing into small gaps", "cluster_size=512", 4 * M,
     ["write 0 128k", "write 200k 512"],
     ["discard 0 50k", "write 300k 64k", "discard 60k 20k", "discard 100k 3k",
      "write 1M 100k"]),
    ("a write continuing into the rest of a gap", "cluster_size=4k", 8 * M,
     ["write 0 1M", "write 2560k 4k"],
     ["discard 0 600k", "write 1536k 1M", "write 4M 64k"]),
]


def reuse_group(d):
    for i, (label, options, size, setup, session) in enumerate(REUSE_SESSIONS):
        start = os.path.join(d, f"reuse{i}.qcow2")
        qemu_img("create", "-q", "-f", "qcow2", "-o", options, start, str(size))
        if setup:
            io_commands(QEMU_IO, start, setup)
        results = {}
        for who, tool in (("qemu-io", QEMU_IO), ("e2kvm-io", OURS_IO)):
            img = os.path.join(d, "t.qcow2")
            shutil.copyfile(start, img)
            results[who] = (io_commands(tool, img, session), *reports(img, d))
            os.unlink(img)
        for j, what in enumerate(("failed commands", "qemu-img map --output=json",
                                  "qemu-img check --output=json")):
            checker.same(f"{label}: {what}", results["qemu-io"][j], results["e2kvm-io"][j],
                         "qemu-io", "e2kvm-io")


def main():
    groups = {"zero": zero_group, "prealloc": prealloc_group, "reuse": reuse_group}
    if GROUP not in groups:
        sys.exit(f"unknown group {GROUP}; one of {', '.join(groups)}")
    require("qemu-img", "qemu-io")
    with tempfile.TemporaryDirectory(prefix="qcow2fid-") as d:
        groups[GROUP](d)
    return checker.exit_status(f"qcow2 fidelity {GROUP}: all checks passed")


if __name__ == "__main__":
    sys.exit(main())
