#!/usr/bin/env python3
"""Interop: e2kvm-img convert --salvage over a blkdebug source that fails some block-status
queries and some reads (as iotest 251): the same warnings in the same order as qemu-img's, the
same target data (unreadable sectors as zeroes), -q without warnings, and -C with --salvage
refused in qemu-img's words.
Usage: convert_salvage_interop.py E2KVM_IMG"""
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from checks import Checker, run  # noqa: E402
import peers  # noqa: E402

peers.require("qemu-img", "qemu-io")

E2KVM_IMG = os.path.abspath(sys.argv[1])
checker = Checker()

STATUS_FAILS = [1 * 1024 * 1024 + 8192, 3 * 1024 * 1024 + 512]
READ_FAILS = [2 * 1024 * 1024 - 65536, 3 * 1024 * 1024 + 512] + \
    list(range(5 * 1024 * 1024, 5 * 1024 * 1024 + 2048, 512))


def source_spec(fmt, path):
    rules = ["{'event': 'none', 'iotype': 'block-status', 'errno': 5, 'sector': %d}" % (o // 512)
             for o in STATUS_FAILS]
    rules += ["{'event': 'none', 'iotype': 'read', 'errno': 5, 'sector': %d}" % (o // 512)
              for o in READ_FAILS]
    return ("json:{'driver': 'blkdebug', 'image': {'driver': '%s', 'file': {'driver': 'file', "
            "'filename': '%s'}}, 'inject-error': [%s]}" % (fmt, path, ", ".join(rules)))


def convert(program, args, target):
    p = run([program, "convert"] + args + [target], ok=False)
    text = (p.stdout + p.stderr).replace(os.path.basename(program) + ":", "TOOL:")
    data = read_target(target, args) if os.path.exists(target) else b""
    return p.returncode, text, data


def read_target(target, args):
    """The guest-visible contents of the target, read by qemu-img."""
    raw = target + ".raw-view"
    fmt = "qcow2" if "qcow2" in args else "raw"
    run(["qemu-img", "convert", "-f", fmt, "-O", "raw", target, raw])
    with open(raw, "rb") as f:
        data = f.read()
    os.unlink(raw)
    return data


def main():
    tmp = tempfile.mkdtemp(prefix="e2kvm-salvage-")
    try:
        for fmt in ("raw", "qcow2"):
            src = os.path.join(tmp, "src." + fmt)
            run(["qemu-img", "create", "-q", "-f", fmt, src, "6M"])
            run(["qemu-io", "-f", fmt, "-c", "write -P 42 0 6M", "-c", "write -z 4M 512K",
                 src])
            spec = source_spec(fmt, src)
            cases = {
                "to raw": ["--salvage", spec],
                "to qcow2": ["--salvage", "-O", "qcow2", spec],
                "quiet": ["-q", "--salvage", spec],
                "-C": ["-C", "--salvage", "-O", "qcow2", spec],
                "without --salvage": [spec],
            }
            for name, args in cases.items():
                label = "%s source, %s" % (fmt, name)
                results = []
                for program in ("qemu-img", E2KVM_IMG):
                    target = os.path.join(tmp, "t-%s" % os.path.basename(program))
                    if os.path.exists(target):
                        os.unlink(target)
                    results.append(convert(program, args, target))
                theirs, ours = results
                checker.same(label + " (exit code)", theirs[0], ours[0], "qemu-img", "e2kvm-img")
                if name == "without --salvage":
                    # The failure's wording is not the point here, only that both fail.
                    continue
                checker.same(label + " (messages)", theirs[1], ours[1], "qemu-img", "e2kvm-img")
                checker.check(theirs[2] == ours[2], label + ": the targets hold the same data")
                if name == "to raw":
                    checker.check(theirs[1].count("warning: error while reading offset") ==
                                  len(READ_FAILS), label + ": every failed read is warned of")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return checker.exit_status("convert --salvage: as qemu-img")


sys.exit(main())
