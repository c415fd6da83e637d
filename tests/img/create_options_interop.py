#!/usr/bin/env python3
"""Interop: e2kvm-img create's options and sizes as qemu-img create 7.2: sizes with a zero
fraction ("1024.0", "1024.0b") and refused exponents or fractional bytes, a size given twice,
the values the format refuses only after the Formatting line (compat, preallocation),
encryption=off, the file options nocow and extent_size_hint (in their place in the Formatting
line), commas in values (doubled there), an empty backing file name, an image too large for its cluster size, convert's words
for a refused value, and create/convert with a driver QEMU cannot create images with. Each case runs qemu-img and e2kvm-img (named qemu-img) in separate folders;
standard output, standard error and exit status must be equal, and the image files must be byte
for byte equal.
Usage: create_options_interop.py E2KVM_IMG"""
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from checks import Checker, run  # noqa: E402
import peers  # noqa: E402

peers.require("qemu-img")

OURS = os.path.abspath(sys.argv[1])
checker = Checker()


def create(*args):
    return ["create", "-f", "qcow2"] + list(args)


# (label, arguments, files to compare afterwards)
CASES = [
    ("size 1024.0", create("t.qcow2", "1024.0"), ["t.qcow2"]),
    ("size 1024.0b", create("t.qcow2", "1024.0b"), ["t.qcow2"]),
    ("size 1.5 bytes", create("t.qcow2", "1.5"), []),
    ("size 1e3", create("t.qcow2", "1e3"), []),
    ("size 1.5k", create("t.qcow2", "1.5k"), ["t.qcow2"]),
    ("-o size=1024.0", create("-o", "size=1024.0", "t.qcow2"), ["t.qcow2"]),
    ("-o cluster_size=1024.0", create("-o", "cluster_size=1024.0", "t.qcow2", "64M"),
     ["t.qcow2"]),
    ("size given twice", create("-o", "size=10M", "t.qcow2", "20M"), []),
    ("compat=0.42", create("-o", "compat=0.42", "t.qcow2", "64M"), []),
    ("preallocation=1234", create("-o", "preallocation=1234", "t.qcow2", "64M"), []),
    ("encryption=off", create("-o", "encryption=off", "t.qcow2", "64M"), ["t.qcow2"]),
    ("qcow2 nocow and extent_size_hint",
     create("-o", "nocow=on,extent_size_hint=0,preallocation=off", "t.qcow2", "1M"),
     ["t.qcow2"]),
    ("raw nocow and extent_size_hint",
     ["create", "-f", "raw", "-o", "extent_size_hint=0,preallocation=off,nocow=off", "t.raw",
      "1M"], ["t.raw"]),
    ("bad nocow", ["create", "-f", "raw", "-o", "nocow=foo", "t.raw", "1M"], []),
    ("bad extent_size_hint", ["create", "-f", "raw", "-o", "extent_size_hint=x", "t.raw", "1M"],
     []),
    ("comma in a backing file name (doubled in the Formatting line)",
     create("-u", "-b", "a,b.qcow2", "-F", "qcow2", "t.qcow2", "1M"), ["t.qcow2"]),
    ("doubled comma in -o backing_file",
     create("-u", "-o", "backing_file=x,,y,backing_fmt=qcow2", "t.qcow2", "1M"), ["t.qcow2"]),
    ("empty backing file name", create("-b", "", "t.qcow2", "1M"), []),
    ("empty backing_file option", create("-o", "backing_file=", "t.qcow2", "1M"), []),
    ("too large for the cluster size", create("t.qcow2", "1E"), []),
    ("convert with a refused preallocation",
     ["convert", "-O", "qcow2", "-o", "preallocation=foo", "src.raw", "t.qcow2"], []),
    # Drivers QEMU knows but cannot create with, and names it does not know (iotest 113).
    ("create -f bochs", ["create", "-f", "bochs", "nbd://example.com", "64M"], []),
    ("create -f null-co", ["create", "-f", "null-co", "t.img", "64M"], []),
    ("create -f nosuch", ["create", "-f", "nosuch", "t.img", "64M"], []),
    ("convert -O bochs", ["convert", "-O", "bochs", "src.raw", "t.img"], []),
    ("convert -O nosuch", ["convert", "-O", "nosuch", "src.raw", "t.img"], []),
]


def run_tool(tool, d, args):
    bindir = os.path.join(d, "bin")
    os.makedirs(bindir, exist_ok=True)
    link = os.path.join(bindir, "qemu-img")
    os.symlink(tool, link)
    return run([link] + args, ok=False, cwd=d, timeout=60)


def main():
    tmp = tempfile.mkdtemp(prefix="e2kvm-create-options-")
    try:
        for number, (label, args, files) in enumerate(CASES):
            results, dirs = [], []
            for side, tool in (("qemu", shutil.which("qemu-img")), ("ours", OURS)):
                d = os.path.join(tmp, f"{number}-{side}")
                os.makedirs(d)
                run("qemu-img", "create", "-q", "-f", "raw", "src.raw", "1M", cwd=d)
                p = run_tool(tool, d, args)
                results.append((p.returncode, p.stdout, p.stderr))
                dirs.append(d)
            checker.same(label, results[0], results[1], "qemu-img", "ours")
            for name in files:
                a, b = (os.path.join(d, name) for d in dirs)
                same = os.path.exists(a) and os.path.exists(b) and \
                    open(a, "rb").read() == open(b, "rb").read()
                checker.check(same, f"{label}: {name} is not byte for byte qemu-img's")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return checker.exit_status("qemu-img create's options and sizes as qemu-img")


sys.exit(main())
