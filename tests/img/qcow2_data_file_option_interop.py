#!/usr/bin/env python3
"""Interop: QEMU's data-file.filename open option of qcow2 (iotest 244's first part) in
e2kvm-io as in qemu-io 7.2: the external data file it names is used instead of the image's
(shown by reading a pattern only that file holds), an image whose header lost the name
(amend -o data_file=) needs it ("'data-file' is required for this image"), an image without
an external data file refuses it (after opening the file it names), and a missing file says
"Could not open 'NAME'". Both programs run as qemu-io on the same images; the output (paths
replaced) and exit codes must agree.
Usage: qcow2_data_file_option_interop.py E2KVM_IO"""
import os
import re
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from checks import Checker, run  # noqa: E402
import peers  # noqa: E402

peers.require("qemu-img", "qemu-io")

checker = Checker()


def masked(text, tmp):
    text = re.sub(r"\d+\.\d+ sec", "T sec", text.replace(tmp, "TMP"))
    return re.sub(r"\d+(\.\d+)? [KMG]?i?B/sec and [\d.]+ ops/sec", "RATE", re.sub(
        r"\d\d:\d\d:\d\d\.\d+", "TIME", text))


def main():
    tmp = tempfile.mkdtemp(prefix="e2kvm-dfopt-")
    try:
        bindir = os.path.join(tmp, "ours")
        os.makedirs(bindir)
        os.symlink(os.path.abspath(sys.argv[1]), os.path.join(bindir, "qemu-io"))
        programs = {"qemu": shutil.which("qemu-io"), "e2kvm": os.path.join(bindir, "qemu-io")}

        external = os.path.join(tmp, "ext.qcow2")
        data = os.path.join(tmp, "ext.data")
        other = os.path.join(tmp, "other.data")
        run(["qemu-img", "create", "-q", "-f", "qcow2", "-o", "data_file=" + data, external,
             "4M"])
        run(["qemu-io", "-c", "write -P 0x11 0 64k", external])
        shutil.copy(data, other)
        with open(other, "r+b") as f:  # only this copy holds 0x22
            f.write(b"\x22" * 65536)
        nameless = os.path.join(tmp, "nameless.qcow2")
        shutil.copy(external, nameless)
        run(["qemu-img", "amend", "-o", "data_file=", nameless])
        internal = os.path.join(tmp, "int.qcow2")
        run(["qemu-img", "create", "-q", "-f", "qcow2", internal, "4M"])

        cases = []
        for image in (external, nameless, internal):
            cases.append([image, ["-c", "open %s" % image, "-c", "read -P 0x11 0 64k"]])
            for name in (other, "inexistent"):
                cases.append([image, ["-c", "open -o data-file.filename=%s %s" % (name, image),
                                      "-c", "read -P 0x22 0 64k"]])
        for image, argv in cases:
            results = {}
            for side, program in programs.items():
                p = run([program] + argv, ok=False, cwd=tmp)
                results[side] = (p.returncode, masked(p.stdout + p.stderr, tmp))
            what = masked(" ".join(argv), tmp)
            checker.same(what + " (exit code)", results["qemu"][0], results["e2kvm"][0],
                         "qemu-io", "e2kvm-io")
            checker.same(what + " (output)", results["qemu"][1], results["e2kvm"][1],
                         "qemu-io", "e2kvm-io")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return checker.exit_status("qcow2 data-file.filename: as qemu-io")


sys.exit(main())
