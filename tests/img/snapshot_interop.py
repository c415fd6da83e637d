#!/usr/bin/env python3
"""Interop: e2kvm-img snapshot -l/-c/-a/-d as qemu-img snapshot: the same sequence of internal
snapshot operations on two copies of one image leaves them byte for byte equal (but for the
dates in the snapshot table), with the same messages and exit codes, readable and clean to
qemu-img; `info` lists the snapshots as qemu-img does (human and JSON); and `check` finds and,
with -r all, repairs broken snapshot tables (incomplete entries, too much extra data) as
qemu-img check does. A snapshot deleted while blkdebug fails every request after the first
cluster is freed leaves the same leaks, with QEMU's messages.
Usage: snapshot_interop.py E2KVM_IMG"""
import os
import re
import shutil
import struct
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from checks import Checker, run  # noqa: E402
import peers  # noqa: E402

peers.require("qemu-img", "qemu-io")

OURS = os.path.abspath(sys.argv[1])
checker = Checker()


def table(path):
    """(offset, [(entry start, entry bytes)]) of the image's snapshot table."""
    with open(path, "rb") as f:
        data = f.read()
    nb, off = struct.unpack(">IQ", data[60:72])
    entries, pos = [], off
    for _ in range(nb):
        pos = (pos + 7) & ~7
        id_len, name_len = struct.unpack(">HH", data[pos + 12:pos + 16])
        extra = struct.unpack(">I", data[pos + 36:pos + 40])[0]
        end = pos + 40 + extra + id_len + name_len
        entries.append((pos, data[pos:end]))
        pos = end
    return off, entries


def without_dates(path):
    """The file's bytes with the date fields of every snapshot entry zeroed."""
    data = bytearray(open(path, "rb").read())
    for pos, _ in table(path)[1]:
        data[pos + 16:pos + 24] = bytes(8)
    return bytes(data)


def mask(text):
    text = re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", "DATE", text)
    text = re.sub(r'"date-(n?sec)": \d+', r'"date-\1": X', text)
    text = re.sub(r"(qemu|ours)\.qcow2", "COPY.qcow2", text)
    return text.replace(OURS, "IMG").replace("qemu-img", "IMG").replace("e2kvm-img", "IMG")


def both(tmp, image, steps):
    """Runs `steps` (argument lists, "IO:" for qemu-io) on a copy per tool; returns the copies."""
    copies = {}
    for tool, img in (("qemu", "qemu-img"), ("ours", OURS)):
        path = os.path.join(tmp, f"{tool}.qcow2")
        shutil.copyfile(image, path)
        copies[tool] = path
    for step in steps:
        results = {}
        for tool, img in (("qemu", "qemu-img"), ("ours", OURS)):
            if step[0] == "IO:":
                run(["qemu-io", "-f", "qcow2"] + step[1:] + [copies[tool]])
                continue
            p = run([img] + step + [copies[tool]], ok=False)
            results[tool] = (p.returncode, mask(p.stdout), mask(p.stderr))
        if results:
            checker.same(" ".join(step), results["qemu"], results["ours"], "qemu-img", "e2kvm-img")
    return copies


def sequences(tmp):
    image = os.path.join(tmp, "base.qcow2")
    run("qemu-img", "create", "-q", "-f", "qcow2", image, "4M")
    run("qemu-io", "-f", "qcow2", "-c", "write -P 1 0 1M", "-c", "write -c -P 7 2M 64k", image)
    steps = [["snapshot", "-c", "sn0"], ["IO:", "-c", "write -P 2 512k 1M"],
             ["snapshot", "-c", "sn1"], ["IO:", "-c", "write -P 3 0 64k"],
             ["snapshot", "-l"], ["info"], ["info", "--output=json"],
             ["snapshot", "-a", "sn0"], ["snapshot", "-d", "1"], ["snapshot", "-d", "sn0"],
             ["snapshot", "-a", "2"], ["snapshot", "-a", "nosuch"], ["snapshot", "-c", "sn2"],
             ["IO:", "-c", "write -P 4 3M 64k"], ["snapshot", "-l"], ["snapshot", "-d", "sn1"],
             ["snapshot", "-l", "-c", "x"], ["check"]]
    copies = both(tmp, image, steps)
    checker.check(without_dates(copies["qemu"]) == without_dates(copies["ours"]),
                  "the images differ after the same snapshot operations")
    for what in ("qemu", "ours"):
        p = run("qemu-io", "-f", "qcow2", "-c", "read -P 1 0 512k", "-c", "read -P 2 512k 1M",
                "-c", "read -P 0 1536k 512k", "-c", "read -P 7 2M 64k", copies[what], ok=False)
        checker.check("Pattern verification failed" not in p.stdout and p.returncode == 0,
                      f"{what}: contents after apply: {p.stdout}")


def rewrite_table(path, change):
    """Rewrites the snapshot table in place with change(index, fixed, extra, names) applied."""
    off, entries = table(path)
    out = b""
    for i, (_, raw) in enumerate(entries):
        id_len, name_len = struct.unpack(">HH", raw[12:16])
        extra_len = struct.unpack(">I", raw[36:40])[0]
        fixed, extra, names = raw[:40], raw[40:40 + extra_len], raw[40 + extra_len:]
        extra = change(i, extra)
        fixed = fixed[:36] + struct.pack(">I", len(extra))
        out += b"\0" * (-len(out) % 8) + fixed + extra + names
    with open(path, "r+b") as f:
        f.seek(off)
        f.write(out)


def broken_tables(tmp):
    image = os.path.join(tmp, "snap.qcow2")
    run("qemu-img", "create", "-q", "-f", "qcow2", image, "1M")
    run("qemu-io", "-f", "qcow2", "-c", "write -P 1 0 64k", image)
    for name in ("a", "b", "c"):
        run("qemu-img", "snapshot", "-c", name, image)
    cases = {
        "incomplete": lambda i, x: x[:8] if i != 1 else x,
        "no-extra": lambda i, x: b"" if i == 0 else x,
        "too-much-extra": lambda i, x: x + b"\x55" * 1500 if i == 2 else x,
        "unknown-extra": lambda i, x: x + b"important" if i == 1 else x,
    }
    for name, change in cases.items():
        case = os.path.join(tmp, f"{name}.qcow2")
        shutil.copyfile(image, case)
        rewrite_table(case, change)
        copies = both(tmp, case, [["check"], ["check", "-r", "all"], ["snapshot", "-l"]])
        for tool, path in copies.items():
            p = run("qemu-img", "check", path, ok=False)
            checker.check(p.returncode == 0, f"{name}: qemu-img check after {tool}'s repair: "
                          f"{p.stdout}{p.stderr}")
        checker.check(without_dates(copies["qemu"]) == without_dates(copies["ours"]),
                      f"{name}: the repaired images differ")


def delete_with_injected_error(tmp):
    image = os.path.join(tmp, "inject.qcow2")
    run("qemu-img", "create", "-q", "-f", "qcow2", image, "64M")
    run("qemu-io", "-f", "qcow2", "-c", "write 0 64k", image)
    run("qemu-img", "snapshot", "-c", "foo", image)
    conf = os.path.join(tmp, "blkdebug.conf")
    with open(conf, "w") as f:
        f.write('[inject-error]\nevent = "cluster_free"\nerrno = "5"\n')
    results, copies = [], []
    for tool, img in (("qemu", "qemu-img"), ("ours", OURS)):
        path = os.path.join(tmp, f"inject-{tool}.qcow2")
        shutil.copyfile(image, path)
        copies.append(path)
        p = run([img, "snapshot", "-d", "foo", f"blkdebug:{conf}:{path}"], ok=False)
        results.append((p.returncode, mask(p.stdout), mask(p.stderr).replace(path, "COPY")))
        p = run("qemu-img", "check", path, ok=False)
        results.append((p.returncode, mask(p.stdout).replace(path, "COPY"), mask(p.stderr)))
    checker.same("snapshot -d with an injected error, then check", results[:2], results[2:],
                 "qemu-img", "e2kvm-img")
    checker.check(without_dates(copies[0]) == without_dates(copies[1]),
                  "the images differ after a failed snapshot delete")


def refcount_limits(tmp):
    """iotest 112: a snapshot that would take a refcount past the width fails with EINVAL
    (-22) as in QEMU; check's overflow hint names qemu-img whatever the program is called."""
    image = os.path.join(tmp, "narrow.qcow2")
    run("qemu-img", "create", "-q", "-f", "qcow2", "-o", "refcount_bits=2", image, "64M")
    run("qemu-io", "-f", "qcow2", "-c", "write 0 512", image)
    both(tmp, image, [["snapshot", "-c", "foo"], ["snapshot", "-c", "bar"],
                      ["snapshot", "-c", "baz"], ["check"]])
    # Two references to a cluster of a refcount_bits=1 image: check -r all says to amend.
    image = os.path.join(tmp, "twice.qcow2")
    run("qemu-img", "create", "-q", "-f", "qcow2", "-o", "refcount_bits=1", image, "64M")
    run("qemu-io", "-f", "qcow2", "-c", "write 0 64k", image)
    with open(image, "r+b") as f:
        f.seek(0x40008)  # the second L2 entry points at the first one's cluster
        f.write(bytes.fromhex("8000000000050000"))
    results = []
    for tool in ("qemu-img", OURS):
        copy = os.path.join(tmp, "twice-copy.qcow2")
        shutil.copyfile(image, copy)
        p = run(tool, "check", "-r", "all", copy, ok=False)
        results.append((p.returncode, p.stdout, p.stderr))
    checker.same("check -r all of a refcount at its maximum", results[0], results[1],
                 "qemu-img", "e2kvm-img")


def main():
    tmp = tempfile.mkdtemp(prefix="e2kvm-snapshot-")
    try:
        sequences(tmp)
        refcount_limits(tmp)
        broken_tables(tmp)
        delete_with_injected_error(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return checker.exit_status("snapshot_interop: all checks passed")


if __name__ == "__main__":
    sys.exit(main())
