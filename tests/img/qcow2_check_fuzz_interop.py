#!/usr/bin/env python3
"""e2kvm-img check against qemu-img check on a few hundred random mutants of one small qcow2
image (fixed seed). The base image has data, a compressed cluster, two persistent bitmaps and an
internal snapshot, so the mutations reach the header, L1 and L2 tables (active and the
snapshot's), the refcount table and blocks, the bitmaps extension, directory and tables and the
snapshot table.

Fails when
- e2kvm-img check calls a mutant clean (exit 0) while qemu-img check reports corruptions or
  cannot open / check it (exit 2 or 1);
- e2kvm-img check crashes (killed by a signal, or an exit status qemu-img never uses) or hangs;
- on a sample of mutants, `e2kvm-img check -r all` (or `-r leaks`) on a copy:
  * exits 0 while qemu-img check then calls the repaired copy corrupt or cannot open it;
  * turns an image qemu-img check calls clean (or only leaking) into one it calls worse;
  * fails (exit 1) and still changed the file, unless qemu-img check of the result is clean;
  * repairs only part (exit 2 or 3) and leaves an image qemu-img check calls worse than before.

qemu-img's own repair is shown in a failure's details but is no yardstick: QEMU 7.2 opens the
image read-write in check mode without reading the snapshot table, and the bitmaps it marks in
use make it rewrite the header with no snapshots, so `qemu-img check -r` drops the internal
snapshot of this very base image and frees its clusters.

Usage: qcow2_check_fuzz_interop.py E2KVM_IMG [MUTANTS] [SEED]
"""
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from checks import Checker  # noqa: E402
from peers import require  # noqa: E402

OURS = os.path.abspath(sys.argv[1])
MUTANTS = int(sys.argv[2]) if len(sys.argv) > 2 else 300
SEED = int(sys.argv[3]) if len(sys.argv) > 3 else 18003
REPAIR_EVERY = 5  # every 4th mutant is also repaired (-r all and -r leaks in turn)
TIMEOUT = 20
CLUSTER = 4096

checker = Checker()

# qemu-img check exit codes, ordered by how bad the image is.
SEVERITY = {0: 0, 3: 1, 2: 2, 1: 3, 63: 3}
NAMES = {0: "clean", 3: "leaks", 2: "corrupt", 1: "error", 63: "unsupported"}


def run(argv, cwd):
    try:
        p = subprocess.run(argv, capture_output=True, text=True, errors="replace",
                           timeout=TIMEOUT, cwd=cwd)
    except subprocess.TimeoutExpired:
        return None
    return p


def sh(*argv, cwd):
    subprocess.run(list(argv), check=True, cwd=cwd, capture_output=True, timeout=60)


def make_base(d):
    base = "base.qcow2"
    sh("qemu-img", "create", "-q", "-f", "qcow2", "-o", f"cluster_size={CLUSTER}", base, "4M",
       cwd=d)
    sh("qemu-io", "-c", "write -P 1 0 64k", "-c", "write -P 2 2M 8k", base, cwd=d)
    sh("qemu-img", "bitmap", "--add", base, "b0", cwd=d)
    sh("qemu-img", "bitmap", "--add", "-g", "8192", base, "b1", cwd=d)
    # Writes with the bitmaps loaded give them data clusters.
    sh("qemu-io", "-c", "write -P 3 1M 12k", "-c", "write -P 4 3M 4k", base, cwd=d)
    sh("qemu-img", "snapshot", "-c", "s1", base, cwd=d)
    sh("qemu-io", "-c", "write -P 5 0 8k", "-c", "write -c -P 6 2560k 4k", base, cwd=d)
    with open(os.path.join(d, base), "rb") as f:
        return f.read()


class Layout:
    """Where the metadata of the base image lives: lists of (offset, length) regions, and the
    offsets of 8-byte table entries, by kind."""

    def __init__(self, img):
        self.img = img
        self.size = len(img)
        u32 = lambda o: struct.unpack_from(">I", img, o)[0]  # noqa: E731
        u64 = lambda o: struct.unpack_from(">Q", img, o)[0]  # noqa: E731
        self.u64 = u64
        header_length = u32(100)
        self.regions = {"header": [(0, header_length)]}
        self.entries = {}
        # Header extensions.
        pos = header_length
        self.bitmaps_ext = None
        while pos + 8 <= CLUSTER:
            t, n = u32(pos), u32(pos + 4)
            self.regions["header"].append((pos, 8))
            if t == 0:
                break
            if t == 0x23852875:
                self.bitmaps_ext = pos + 8
                self.regions["bitmaps_ext"] = [(pos + 8, n)]
            pos += 8 + ((n + 7) & ~7)
        l1_size, l1_off = u32(36), u64(40)
        rt_off, rt_clusters = u64(48), u32(56)
        nb_snap, snap_off = u32(60), u64(64)
        self.entries["l1"] = [l1_off + 8 * i for i in range(l1_size)]
        l2s = [u64(e) & 0x00fffffffffffe00 for e in self.entries["l1"]]
        # Snapshot table.
        pos = snap_off
        snap_l1 = []
        for _ in range(nb_snap):
            s_l1_off, s_l1_size = u64(pos), u32(pos + 8)
            id_len, name_len = struct.unpack_from(">HH", img, pos + 12)
            extra = u32(pos + 36)
            length = (40 + extra + id_len + name_len + 7) & ~7
            self.regions.setdefault("snapshot_table", []).append((pos, length))
            snap_l1 += [s_l1_off + 8 * i for i in range(s_l1_size)]
            pos += length
        self.entries["snapshot_l1"] = snap_l1
        l2s += [u64(e) & 0x00fffffffffffe00 for e in snap_l1]
        l2s = sorted(set(o for o in l2s if o))
        self.entries["l2"] = [o + 8 * i for o in l2s for i in range(CLUSTER // 8)
                              if u64(o + 8 * i) or i % 64 == 0]
        rt_entries = rt_clusters * CLUSTER // 8
        self.entries["reftable"] = [rt_off + 8 * i for i in range(min(rt_entries, 4))]
        self.regions["refblock"] = [(u64(rt_off + 8 * i) & ~0x1ff, 2 * (self.size // CLUSTER + 2))
                                    for i in range(rt_entries) if u64(rt_off + 8 * i)]
        # Bitmaps.
        self.entries["bitmap_table"] = []
        if self.bitmaps_ext is not None:
            count, _, dir_size, dir_off = struct.unpack_from(">IIQQ", img, self.bitmaps_ext)
            self.regions["bitmap_dir"] = [(dir_off, dir_size)]
            pos = dir_off
            for _ in range(count):
                t_off, t_size = u64(pos), u32(pos + 8)
                name_len, extra = struct.unpack_from(">HI", img, pos + 18)
                self.entries["bitmap_table"] += [t_off + 8 * i for i in range(t_size)]
                pos += (24 + extra + name_len + 7) & ~7
        self.metadata = sorted({e & ~(CLUSTER - 1) for k in self.entries.values() for e in k})


def entry_value(rng, old, size):
    """A mutated 8-byte table entry."""
    eof = (size + CLUSTER - 1) // CLUSTER * CLUSTER
    choice = rng.randrange(10)
    if choice == 0:  # one random bit
        return old ^ (1 << rng.randrange(64))
    if choice == 1:  # a reserved-looking bit: the low 9 or bits 56..62
        return old ^ (1 << rng.choice(list(range(1, 9)) + list(range(56, 63))))
    if choice == 2:  # past the end of the file
        return (old & ~0x00fffffffffffe00) | (eof + CLUSTER * rng.randrange(0, 64))
    if choice == 3:  # far past the end of the file
        return (old & ~0x00fffffffffffe00) | (rng.randrange(1 << 40, 1 << 55) & ~0x1ff)
    if choice == 4:  # not cluster aligned
        return old + 512 * rng.randrange(1, CLUSTER // 512)
    if choice == 5:
        return 0
    if choice == 6:  # another cluster of the file (overlap)
        return (old & ~0x00fffffffffffe00) | (rng.randrange(0, size // CLUSTER) * CLUSTER)
    if choice == 7:  # flag bits
        return old ^ rng.choice([1 << 63, 1 << 62, 1, (1 << 63) | 1])
    if choice == 8:
        return rng.getrandbits(64)
    return old | (1 << 63)


def mutate(rng, data, layout):
    """Applies one targeted mutation in place; returns a description."""
    kinds = [k for k, v in layout.entries.items() if v] + list(layout.regions)
    kind = rng.choice(kinds + ["l1", "l2", "reftable", "refblock", "header"])
    if kind in layout.entries and layout.entries[kind] and rng.random() < 0.75:
        at = rng.choice(layout.entries[kind])
        old = struct.unpack_from(">Q", data, at)[0]
        new = entry_value(rng, old, len(data)) & 0xffffffffffffffff
        struct.pack_into(">Q", data, at, new)
        return f"{kind} entry @{at:#x}: {old:#x} -> {new:#x}"
    if kind not in layout.regions:
        kind = "header"
    off, length = rng.choice(layout.regions[kind])
    length = max(1, min(length, len(data) - off))
    at = off + rng.randrange(length)
    old = data[at]
    how = rng.randrange(4)
    if how == 0:
        data[at] ^= 1 << rng.randrange(8)
    elif how == 1:
        data[at] = rng.randrange(256)
    elif how == 2:
        data[at] = 0xff
    else:
        data[at] = 0
    return f"{kind} byte @{at:#x}: {old:#x} -> {data[at]:#x}"


def status(p):
    if p is None:
        return "hang"
    if p.returncode < 0 or p.returncode not in NAMES:
        return "crash"
    return NAMES[p.returncode]


def output(p):
    return "(timed out)" if p is None else f"exit {p.returncode}\n{p.stdout}{p.stderr}"


def check_both(d, name, repair=None):
    extra = ["-r", repair] if repair else []
    q = run(["qemu-img", "check", *extra, name], d)
    o = run([OURS, "check", *extra, name], d)
    return q, o


def main():
    require("qemu-img", "qemu-io")
    rng = random.Random(SEED)
    stats = {}
    with tempfile.TemporaryDirectory(prefix="e2kvm-checkfuzz-") as d:
        base = make_base(d)
        layout = Layout(base)
        for n in range(MUTANTS):
            data = bytearray(base)
            what = [mutate(rng, data, layout)]
            if rng.random() < 0.2:
                what.append(mutate(rng, data, layout))
            label = f"mutant {n} ({'; '.join(what)})"
            path = os.path.join(d, "m.qcow2")
            with open(path, "wb") as f:
                f.write(data)
            q = run(["qemu-img", "check", "m.qcow2"], d)
            o = run([OURS, "check", "m.qcow2"], d)
            qs, os_ = status(q), status(o)
            stats[(qs, os_)] = stats.get((qs, os_), 0) + 1
            checker.expect(qs not in ("hang", "crash"),
                           f"{label}: qemu-img check {qs}: {output(q)}")
            checker.expect(os_ not in ("hang", "crash"),
                           f"{label}: e2kvm-img check {os_}: {output(o)}")
            if os_ == "clean" and qs in ("corrupt", "error"):
                checker.expect(False, f"{label}: e2kvm-img check calls it clean, qemu-img check "
                                      f"says {qs}:\n{output(q)}")
            if n % REPAIR_EVERY == 0:
                check_repair(d, data, label, q, "all" if n % (2 * REPAIR_EVERY) == 0 else "leaks")
        print("qemu-img / e2kvm-img check outcomes:")
        for (qs, os_), count in sorted(stats.items()):
            print(f"  {qs:>11} / {os_:<11} {count}")
    return checker.exit_status(f"ok: {MUTANTS} mutants", "{count} failure(s)")


def check_repair(d, data, label, before, mode):
    for name in ("q.qcow2", "o.qcow2"):
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
    label = f"{label} -r {mode}"
    qr = run(["qemu-img", "check", "-r", mode, "q.qcow2"], d)
    orr = run([OURS, "check", "-r", mode, "o.qcow2"], d)
    checker.expect(status(orr) not in ("hang", "crash"),
                   f"{label}: e2kvm-img check {status(orr)}: {output(orr)}")
    if orr is None or orr.returncode < 0:
        return
    with open(os.path.join(d, "o.qcow2"), "rb") as f:
        unchanged = f.read() == data
    # qemu-img's own repair may fail after changing the image too (it marked the image corrupt
    # midway, e.g. at an unaligned refcount block, and its refcount fixes after that were lost).
    with open(os.path.join(d, "q.qcow2"), "rb") as f:
        qemu_failed_changing = qr is not None and qr.returncode == 1 and f.read() != data
    q_after = run(["qemu-img", "check", "q.qcow2"], d) if qr is not None else None
    o_after = run(["qemu-img", "check", "o.qcow2"], d)
    if o_after is None:
        checker.expect(False, f"{label}: qemu-img check of our repair hangs")
        return
    severity_before = SEVERITY.get(before.returncode, 3) if before else 3
    severity_after = SEVERITY.get(o_after.returncode, 3)
    detail = (f"\n--- e2kvm-img check -r {mode}: {output(orr)}--- qemu-img check after it: "
              f"{output(o_after)}--- qemu-img check before: {output(before)}"
              f"--- qemu-img check after qemu-img check -r {mode}: {output(q_after)}")
    if orr.returncode == 0:
        checker.expect(o_after.returncode in (0, 3),
                       f"{label}: our repair says clean, qemu-img check disagrees{detail}")
    if severity_before <= SEVERITY[3]:
        checker.expect(severity_after <= severity_before,
                       f"{label}: our repair made a sound image worse{detail}")
    if orr.returncode == 1 and not unchanged and not qemu_failed_changing:
        checker.expect(o_after.returncode == 0,
                       f"{label}: our repair failed but changed the image{detail}")
    if orr.returncode in (2, 3):
        checker.expect(severity_after <= severity_before,
                       f"{label}: our partial repair made the image worse{detail}")


if __name__ == "__main__":
    sys.exit(main())
