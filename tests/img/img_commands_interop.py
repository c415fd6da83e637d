#!/usr/bin/env python3
"""Interop: e2kvm-img amend, commit, convert with a backing file (-B, -F), convert -C, dd,
measure and resize --shrink as qemu-img's. Each case prepares the same
images twice (with qemu-img and qemu-io), runs the command once with qemu-img and once with
e2kvm-img, and compares stdout, stderr (the program name masked) and exit code; then the
images the command changed or made: clean to `qemu-img check` (the same check output),
the same `qemu-img info` (but for names), the same contents (`qemu-img compare`), and, where
QEMU's layout is deterministic, byte for byte equal files.
Usage: img_commands_interop.py E2KVM_IMG"""
import os
import re
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from checks import Checker, run  # noqa: E402
import peers  # noqa: E402

peers.require("qemu-img", "qemu-io")

OURS = os.path.abspath(sys.argv[1])
checker = Checker()


def sh(cwd, *argv):
    run(list(argv), cwd=cwd)


def masked(text, tool):
    return text.replace(os.path.basename(tool), "PROG")


def info(cwd, name):
    p = run("qemu-img", "info", "-U", name, cwd=cwd, ok=False)
    lines = [ln for ln in p.stdout.splitlines()
             if not ln.startswith(("image:", "disk size:", "backing file:"))]
    # Snapshot dates differ between the two runs.
    return "\n".join(re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", "DATE", ln) for ln in lines)


def case(tmp, label, setup, command, images, byte_equal=True):
    """setup(dir) prepares the images in `dir`; command is the argument list after the tool;
    images are the files to compare afterwards."""
    results = {}
    for tool in ("qemu-img", OURS):
        d = os.path.join(tmp, label.replace(" ", "_") + ("-qemu" if tool == "qemu-img" else "-ours"))
        os.makedirs(d)
        setup(d)
        p = run([tool] + command, cwd=d, ok=False)
        results[tool] = (d, p.returncode, p.stdout, masked(p.stderr, tool))
    qd, qrc, qout, qerr = results["qemu-img"]
    od, orc, oout, oerr = results[OURS]
    checker.same(f"{label}: exit code", qrc, orc, "qemu-img", "e2kvm-img")
    checker.same(f"{label}: stdout", qout, oout, "qemu-img", "e2kvm-img")
    checker.same(f"{label}: stderr", qerr, oerr, "qemu-img", "e2kvm-img")
    for name in images:
        q, o = os.path.join(qd, name), os.path.join(od, name)
        if not checker.check(os.path.exists(q) == os.path.exists(o),
                             f"{label}: {name} exists with one tool only"):
            continue
        if not os.path.exists(q):
            continue
        qc = run("qemu-img", "check", "-U", q, ok=False)
        oc = run("qemu-img", "check", "-U", o, ok=False)
        def summary(p):
            if byte_equal:
                return p.returncode, p.stdout
            # Where the allocation order may differ (freed clusters are reused later by our
            # driver), only the findings and the number of allocated clusters must agree.
            return p.returncode, re.sub(r", [\d.]+% fragmented.*", "", p.stdout, flags=re.S)
        checker.same(f"{label}: qemu-img check of {name}", summary(qc), summary(oc),
                     "qemu-img's", "e2kvm-img's")
        checker.same(f"{label}: qemu-img info of {name}", info(qd, name), info(od, name),
                     "qemu-img's", "e2kvm-img's")
        cmp = run("qemu-img", "compare", "-U", q, o, ok=False)
        checker.check(cmp.returncode == 0, f"{label}: contents of {name} differ: {cmp.stdout}")
        if byte_equal:
            checker.check(open(q, "rb").read() == open(o, "rb").read(),
                          f"{label}: {name} is not byte for byte qemu-img's")


def qio(d, image, *cmds):
    argv = ["qemu-io"]
    for c in cmds:
        argv += ["-c", c]
    sh(d, *(argv + [image]))


def plain(d, opts="", size="64M"):
    sh(d, "qemu-img", "create", "-q", "-f", "qcow2", *(["-o", opts] if opts else []), "t.qcow2",
       size)
    qio(d, "t.qcow2", "write -P 1 0 1M", "write -z 2M 1M", "write -z 8M 64k",
        "write -P 2 16M 192k")


def with_backing(d, opts=""):
    sh(d, "qemu-img", "create", "-q", "-f", "qcow2", "b.qcow2", "64M")
    qio(d, "b.qcow2", "write -P 7 0 4M", "write -P 8 20M 1M")
    sh(d, "qemu-img", "create", "-q", "-f", "qcow2", *(["-o", opts] if opts else []), "-b",
       "b.qcow2", "-F", "qcow2", "t.qcow2", "64M")
    qio(d, "t.qcow2", "write -P 1 0 1M", "write -z 2M 1M", "write -z 8M 64k",
        "write -P 2 20M 64k")


def with_snapshot(d):
    with_backing(d)
    sh(d, "qemu-img", "snapshot", "-c", "s1", "t.qcow2")
    qio(d, "t.qcow2", "write -z 0 64k", "write -P 3 16M 64k")


def chain(d):
    sh(d, "qemu-img", "create", "-q", "-f", "qcow2", "base.qcow2", "64M")
    qio(d, "base.qcow2", "write -P 7 0 4M")
    sh(d, "qemu-img", "create", "-q", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2",
       "mid.qcow2", "64M")
    qio(d, "mid.qcow2", "write -P 5 1M 2M")
    sh(d, "qemu-img", "create", "-q", "-f", "qcow2", "-b", "mid.qcow2", "-F", "qcow2",
       "t.qcow2", "96M")
    qio(d, "t.qcow2", "write -P 1 0 64k", "write -z 3M 64k", "write -P 9 80M 64k")


def v2_snapshot(d):
    plain(d, "compat=0.10")
    sh(d, "qemu-img", "snapshot", "-c", "s1", "t.qcow2")
    qio(d, "t.qcow2", "write -P 3 16M 64k")


def amend_cases(tmp):
    img = ["t.qcow2"]
    for opts in ["compat=0.10", "lazy_refcounts=on", "compat=0.10,lazy_refcounts=on",
                 "size=128M", "size=32M", "refcount_bits=3", "refcount_bits=32,compat=0.10", "cluster_size=4k",
                 "extended_l2=on", "foo=1", "compat=0.42", "lazy_refcounts=maybe",
                 "backing_file=x", "data_file=x", "data_file_raw=on", "help", "compat=v2,?"]:
        case(tmp, f"amend {opts}", plain, ["amend", "-o", opts, "t.qcow2"], img)
    case(tmp, "amend --image-opts", plain, ["amend", "-o", "compat=0.10", "--image-opts",
                                            "driver=qcow2,file.filename=t.qcow2"], img)
    case(tmp, "amend -f qcow2 -o help", plain, ["amend", "-f", "qcow2", "-o", "help"], img)
    case(tmp, "amend -f bochs -o help", plain, ["amend", "-f", "bochs", "-o", "help"], img)
    case(tmp, "amend without -o", plain, ["amend", "t.qcow2"], img)
    case(tmp, "amend bad option list", plain, ["amend", "-o", "compat=v2,", "t.qcow2"], img)
    case(tmp, "amend raw", lambda d: sh(d, "qemu-img", "create", "-q", "-f", "raw", "r.img",
                                        "1M"), ["amend", "-f", "raw", "-o", "size=2M", "r.img"],
         ["r.img"])
    # The refcount structures are rewritten in other clusters than QEMU chooses.
    for opts in ["refcount_bits=1", "refcount_bits=64"]:
        case(tmp, f"amend {opts}", plain, ["amend", "-o", opts, "t.qcow2"], img,
             byte_equal=False)
    for opts in ["compat=0.10", "refcount_bits=1", "refcount_bits=2",
                 "refcount_bits=8,lazy_refcounts=on"]:
        case(tmp, f"amend snapshot {opts}", with_snapshot, ["amend", "-o", opts, "t.qcow2"],
             img, byte_equal=False)
    case(tmp, "amend backing compat=0.10", with_backing, ["amend", "-o", "compat=0.10",
                                                          "t.qcow2"], img)
    case(tmp, "amend v2 snapshot size", v2_snapshot, ["amend", "-o", "size=128M", "t.qcow2"],
         img, byte_equal=False)
    case(tmp, "amend v2 compat=1.1", v2_snapshot, ["amend", "-o", "compat=1.1", "t.qcow2"],
         img, byte_equal=False)


def enospc_backing(d):
    """t.qcow2 with data over a json: backing file whose first write fails with ENOSPC."""
    sh(d, "qemu-img", "create", "-q", "-f", "qcow2", "b.qcow2", "1M")
    backing = ("json:{'driver': 'qcow2', 'file': {'driver': 'blkdebug', 'inject-error': "
               "[{'event': 'write_aio', 'errno': 28, 'once': true}], "
               "'image': {'driver': 'file', 'filename': '%s'}}}" % os.path.join(d, "b.qcow2"))
    sh(d, "qemu-img", "create", "-q", "-f", "qcow2", "-b", backing, "-F", "qcow2", "t.qcow2",
       "1M")
    qio(d, "t.qcow2", "write -P 0x2a 0 64k")


def commit_cases(tmp):
    case(tmp, "commit into a failing base", enospc_backing, ["commit", "t.qcow2"], ["t.qcow2"],
         byte_equal=False)
    case(tmp, "commit", with_backing, ["commit", "t.qcow2"], ["t.qcow2", "b.qcow2"],
         byte_equal=False)
    case(tmp, "commit -d", with_backing, ["commit", "-d", "t.qcow2"], ["t.qcow2", "b.qcow2"])
    case(tmp, "commit -b", chain, ["commit", "-b", "base.qcow2", "t.qcow2"],
         ["t.qcow2", "mid.qcow2", "base.qcow2"], byte_equal=False)
    case(tmp, "commit -b missing", chain, ["commit", "-b", "nope.qcow2", "t.qcow2"],
         ["t.qcow2"])
    case(tmp, "commit no backing", plain, ["commit", "t.qcow2"], ["t.qcow2"])
    case(tmp, "commit snapshot", with_snapshot, ["commit", "t.qcow2"], ["b.qcow2"],
         byte_equal=False)
    case(tmp, "commit bad cache", with_backing, ["commit", "-t", "bogus", "t.qcow2"],
         ["t.qcow2"])


def overlay_with_zeros(d):
    """base.qcow2 with data, t.qcow2 over it with its own data and a zeroed cluster."""
    sh(d, "qemu-img", "create", "-q", "-f", "qcow2", "base.qcow2", "4M")
    qio(d, "base.qcow2", "write -P 1 0 256k")
    sh(d, "qemu-img", "create", "-q", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2",
       "t.qcow2")
    qio(d, "t.qcow2", "write -P 2 64k 64k", "write -z 128k 64k", "write -P 3 1M 4k")


def convert_backing_cases(tmp):
    case(tmp, "convert -B -F", overlay_with_zeros,
         ["convert", "-O", "qcow2", "-B", "base.qcow2", "-F", "qcow2", "t.qcow2", "out.qcow2"],
         ["out.qcow2"])
    case(tmp, "convert -o backing_file", overlay_with_zeros,
         ["convert", "-O", "qcow2", "-o", "backing_file=base.qcow2,backing_fmt=qcow2", "t.qcow2",
          "out.qcow2"], ["out.qcow2"])
    case(tmp, "convert -c -B", overlay_with_zeros,
         ["convert", "-c", "-O", "qcow2", "-B", "base.qcow2", "-F", "qcow2", "t.qcow2",
          "out.qcow2"], ["out.qcow2"], byte_equal=False)
    case(tmp, "convert -B without a backing format", overlay_with_zeros,
         ["convert", "-O", "qcow2", "-B", "base.qcow2", "t.qcow2", "out.qcow2"], ["out.qcow2"])
    case(tmp, "convert -B to raw", overlay_with_zeros,
         ["convert", "-O", "raw", "-B", "base.qcow2", "-F", "qcow2", "t.qcow2", "out.raw"],
         ["out.raw"])
    case(tmp, "convert -F without a backing file", overlay_with_zeros,
         ["convert", "-O", "qcow2", "-F", "qcow2", "t.qcow2", "out.qcow2"], ["out.qcow2"])


def dd_cases(tmp):
    for args in (["bs=1999", "-O", "qcow2"], ["bs=64K", "count=3", "skip=1", "-O", "qcow2"],
                 ["skip=100000"], ["count=5", "bs=1k"], ["bs=0"], ["bs=x"], ["foo=3"],
                 ["bar"]):
        case(tmp, "dd " + " ".join(args), plain,
             ["dd", "if=t.qcow2", "of=o.img"] + args, ["o.img"])
    case(tmp, "dd without of", plain, ["dd", "if=t.qcow2"], [])


def measure_cases(tmp):
    def bitmaps(d):
        plain(d)
        sh(d, "qemu-img", "bitmap", "--add", "-g", "512", "t.qcow2", "b1")
        sh(d, "qemu-img", "bitmap", "--add", "-g", "2M", "t.qcow2", "b2")
    for args in (["-O", "raw", "-f", "qcow2", "t.qcow2"],
                 ["-O", "qcow2", "-o", "cluster_size=2M", "t.qcow2"],
                 ["--output=json", "-O", "qcow2", "t.qcow2"],
                 ["-O", "qcow2", "-o", "compat=0.10", "t.qcow2"],
                 ["-O", "qcow2", "-o", "backing_file=x", "t.qcow2"],
                 ["-O", "qcow2", "-o", "preallocation=full", "t.qcow2"],
                 ["--size", "512M", "-O", "qcow2", "-o", "extended_l2=on"],
                 ["--size", "64G", "-O", "qcow2", "-o", "cluster_size=16k,refcount_bits=1"],
                 ["--size", "1M", "-O", "qcow2", "-o", "cluster_size=8k,extended_l2=on"],
                 ["--size", "1025T", "-O", "qcow2", "-o", "extended_l2=on"],
                 ["--size", "1M", "-O", "qcow2", "-o", "foo=bar"],
                 ["--size", "1M", "t.qcow2"], [], ["--size", "1G", "--output=json"]):
        case(tmp, "measure " + " ".join(args), bitmaps, ["measure"] + args, [])


def convert_snapshot_cases(tmp):
    """convert -l: the snapshot's data (over the backing file), not the current disk."""
    for spec in ("s1", "1", "snapshot.name=s1", "snapshot.id=1,snapshot.name=s1"):
        case(tmp, f"convert -l {spec}", with_snapshot,
             ["convert", "-O", "qcow2", "-l", spec, "t.qcow2", "out.qcow2"], ["out.qcow2"])
    for spec in ("s9", "snapshot.id=1,snapshot.name=x", "snapshot.tag=s1"):
        case(tmp, f"convert -l {spec}", with_snapshot,
             ["convert", "-O", "raw", "-l", spec, "t.qcow2", "out.raw"], ["out.raw"])


def shrink_cases(tmp):
    """resize --shrink with data past the new end: it is deleted, as by qemu-img (the file
    layout may differ: qemu-img also truncates the file, so the check summaries are compared
    without the image end)."""
    for size in ("16448K", "10M", "1536K", "1000K", "1M"):
        case(tmp, f"resize --shrink {size}", plain, ["resize", "--shrink", "t.qcow2", size],
             ["t.qcow2"], byte_equal=False)
    case(tmp, "resize --shrink with backing", with_backing,
         ["resize", "--shrink", "t.qcow2", "1M"], ["t.qcow2"], byte_equal=False)


def zeros_in_data(d):
    plain(d)
    qio(d, "t.qcow2", "write -P 0 4M 1M")  # data clusters that hold zeros


def convert_offload_cases(tmp):
    """convert -C (copy offloading): data ranges copied as they are, zeros inside them too;
    refused with -c and -S."""
    for fmt in ("qcow2", "raw"):
        case(tmp, f"convert -C -O {fmt}", zeros_in_data,
             ["convert", "-C", "-O", fmt, "t.qcow2", "c.img"], ["c.img"])
    case(tmp, "convert -C -c", plain, ["convert", "-C", "-c", "-O", "qcow2", "t.qcow2", "c.img"],
         ["c.img"])
    case(tmp, "convert -C -S", plain, ["convert", "-C", "-S", "4k", "-O", "qcow2", "t.qcow2",
                                       "c.img"], ["c.img"])


def main():
    tmp = tempfile.mkdtemp(prefix="e2kvm-imgcmd-")
    try:
        amend_cases(tmp)
        commit_cases(tmp)
        convert_backing_cases(tmp)
        convert_snapshot_cases(tmp)
        convert_offload_cases(tmp)
        dd_cases(tmp)
        measure_cases(tmp)
        shrink_cases(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return checker.exit_status("img_commands_interop: all checks passed")


if __name__ == "__main__":
    sys.exit(main())
