#!/usr/bin/env python3
"""Interop: e2kvm-io's blkdebug over an NBD export ("blkdebug::nbd+unix://...", with
file.align=4k under the raw format) holds requests at pwritev_rmw_* breakpoints, resumes them
and leaves the same data as qemu-io does (the export served by qemu-nbd). Completion order of
concurrent requests is not compared (qemu-io's iotest 077 does not either).
Usage: blkdebug_nbd_interop.py E2KVM_IO"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from checks import Checker, run  # noqa: E402
import peers  # noqa: E402

peers.require("qemu-io", "qemu-nbd", "qemu-img")

E2KVM_IO = os.path.abspath(sys.argv[1])
checker = Checker()

SCRIPTS = {
    "head": ["break pwritev_rmw_head A", "aio_write -P 10 0x200 0x200", "wait_break A",
             "aio_write -P 11 0x400 0x200", "resume A", "aio_flush"],
    "tail": ["break pwritev_rmw_after_tail A", "aio_write -P 10 0x5000 0x200",
             "wait_break A", "aio_write -P 11 0x5200 0x200", "aio_write -P 12 0x5400 0x200",
             "resume A", "aio_flush"],
    "two units": ["break pwritev_rmw_tail A", "aio_write -P 13 0x7e00 0x400", "wait_break A",
                  "aio_write -P 14 0x8000 0x200", "resume A", "aio_flush"],
    "no breakpoint": ["write -P 15 0x9100 0x300", "read -P 15 0x9100 0x300"],
}


def normalise(text, program):
    lines = []
    for line in text.replace(program + "> ", "").splitlines():
        line = re.sub(r"\(.*\)$", "", re.sub(r"\d+\.\d+ sec", "T sec", line)).strip()
        if line:
            lines.append(line)
    return sorted(lines)


def run_script(program, name, script, tmp):
    image = os.path.join(tmp, "%s.raw" % os.path.basename(program))
    sock = os.path.join(tmp, "nbd.sock")
    run(["qemu-img", "create", "-q", "-f", "raw", image, "1M"])
    server = subprocess.Popen(["qemu-nbd", "-k", sock, "-f", "raw", "-t", image],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            if os.path.exists(sock):
                break
            time.sleep(0.05)
        text = "\n".join(["open -o driver=raw,file.align=4k blkdebug::nbd+unix:///?socket="
                          + sock] + script) + "\n"
        p = run([program], ok=False, stdin=text, cwd=tmp)
    finally:
        server.terminate()
        server.wait(timeout=30)
        if os.path.exists(sock):
            os.unlink(sock)
    with open(image, "rb") as f:
        data = f.read()
    return p.returncode, normalise(p.stdout + p.stderr, os.path.basename(program)), data


def main():
    tmp = tempfile.mkdtemp(prefix="e2kvm-bdnbd-")
    try:
        for name, script in SCRIPTS.items():
            theirs = run_script("qemu-io", name, script, tmp)
            ours = run_script(E2KVM_IO, name, script, tmp)
            checker.same(name + " (exit code)", theirs[0], ours[0], "qemu-io", "e2kvm-io")
            checker.same(name + " (output, sorted)", "\n".join(theirs[1]), "\n".join(ours[1]),
                         "qemu-io", "e2kvm-io")
            checker.check(theirs[2] == ours[2], name + ": the export holds the same data")
            checker.check(any(ours[2]), name + ": something was written")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return checker.exit_status("blkdebug over NBD: as qemu-io")


sys.exit(main())
