#!/usr/bin/env python3
"""HMP commit (iotest 130) against qemu-system-x86_64 -machine none: `commit DEVICE` copies
what the drive's active layer stores into its backing file and empties the layer (the images'
maps, contents and headers afterwards are compared, the backing file also when -drive
overrides it), `commit all`, and the messages for an unknown drive and for a drive without a
backing file.
usage: system_hmp_commit.py E2KVM_SYSTEM"""
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from checks import Checker, run  # noqa: E402
import peers  # noqa: E402

peers.require("qemu-system-x86_64", "qemu-img", "qemu-io")
SYSTEM = os.path.abspath(sys.argv[1])
checker = Checker(sys.stderr)


def monitor(tool, drives, lines):
    prog = ["qemu-system-x86_64", "-machine", "none"] if tool == "qemu" else [
        SYSTEM, "-accel", "qtest"]
    p = subprocess.run(prog + ["-nodefaults", "-display", "none", "-nographic", "-monitor",
                               "stdio", "-serial", "none"] + drives,
                       input="".join(line + "\n" for line in lines) + "quit\n",
                       capture_output=True, text=True, timeout=60)
    text = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", p.stdout)
    text = re.sub(r"^QEMU \d+\.\d+\.\d+ monitor", "QEMU X.Y.Z monitor", text)
    return [line for line in text.splitlines() if not line.startswith("(qemu)")]


def images_state(tmp, names):
    out = []
    for name in names:
        path = os.path.join(tmp, name)
        fmt = "raw" if name.endswith(".raw") else "qcow2"
        m = run("qemu-img", "map", "--output=json", "-f", fmt, path).stdout
        info = run("qemu-img", "info", "-U", "-f", fmt, path).stdout
        info = "\n".join(line for line in info.splitlines()
                         if not line.startswith("disk size"))
        reads = [run("qemu-io", "-f", fmt, "-c", "read -P %s %s 64k" % (pattern, offset),
                     path, ok=False).stdout.count("Pattern verification failed")
                 for pattern, offset in (("0x11", "0"), ("0x22", "64k"), ("0", "192k"))]
        out.append((name, m.replace(tmp, "TMP"), info.replace(tmp, "TMP"), reads))
    return out


def scenario(tool, tmp):
    base = os.path.join(tmp, "base.qcow2")
    other = os.path.join(tmp, "other.qcow2")
    top = os.path.join(tmp, "top.qcow2")
    single = os.path.join(tmp, "single.qcow2")
    orig = os.path.join(tmp, "orig.raw")
    run("qemu-img", "create", "-q", "-f", "raw", orig, "1M")
    run("qemu-img", "create", "-q", "-f", "qcow2", base, "1M")
    run("qemu-img", "create", "-q", "-f", "qcow2", other, "1M")
    run("qemu-img", "create", "-q", "-f", "qcow2", single, "1M")
    run("qemu-io", "-f", "qcow2", "-c", "write -P 0x11 0 128k", base)
    run("qemu-io", "-f", "qcow2", "-c", "write -P 0x11 0 128k", other)
    run("qemu-img", "create", "-q", "-f", "qcow2", "-b", base, "-F", "qcow2", top)
    run("qemu-io", "-f", "qcow2", "-c", "write -P 0x22 64k 128k", top)
    run("qemu-io", "-f", "qcow2", "-c", "write -z 192k 64k", top)
    answers = monitor(tool, ["-drive", "if=none,id=testdisk,file=" + top,
                             "-drive", "if=none,id=single,file=" + single],
                      ["commit nosuch", "commit single", "commit testdisk"])
    state = images_state(tmp, ["top.qcow2", "base.qcow2"])
    # A backing file overridden on the command line is the one written; the header's stays.
    run("qemu-img", "create", "-q", "-f", "qcow2", "-b", orig, "-F", "raw", top)
    run("qemu-io", "-f", "qcow2", "-c", "write -P 0x22 64k 128k", top)
    answers += monitor(tool, ["-drive", "if=none,id=testdisk,file=%s,backing.file.filename=%s,"
                              "backing.driver=qcow2" % (top, other)], ["commit all"])
    state += images_state(tmp, ["top.qcow2", "other.qcow2", "orig.raw"])
    return answers, state


with tempfile.TemporaryDirectory(prefix="e2kvm-hmpcommit-") as tmp:
    results = {}
    for tool in ("qemu", "ours"):
        work = os.path.join(tmp, tool)
        os.mkdir(work)
        results[tool] = scenario(tool, work)
    q, o = results["qemu"], results["ours"]
    checker.check(any("single" in line for line in q[0]), "qemu-system answered commit")
    checker.same("monitor answers", q[0], o[0], "qemu", "ours")
    for (name, *qs), (_, *os_) in zip(q[1], o[1]):
        checker.same("%s after commit (map, info, pattern mismatches)" % name, qs, os_,
                     "qemu", "ours")

sys.exit(checker.exit_status("system_hmp_commit: all checks passed"))
