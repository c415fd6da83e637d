#!/usr/bin/env python3
"""Interop: `commit "blkdebug:CONF:TOP"` (iotest 098). The top image is opened through the
injector, and the qcow2 emptying after the commit raises QEMU's events in QEMU's order: an
error injected on l1_update, empty_image_prepare, reftable_update or refblock_alloc fails the
command with qemu-img's message and exit code and leaves the top image as qemu-img leaves it
(qemu-img check reports the same leaks and errors; the base holds the committed data).
Without a rule the commit succeeds as qemu-img's and the top image is the same file.
Usage: commit_blkdebug_interop.py E2KVM_IMG"""
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from checks import Checker, run  # noqa: E402
import peers  # noqa: E402

peers.require("qemu-img", "qemu-io")

OURS = os.path.abspath(sys.argv[1])
checker = Checker()


def commit_outcome(tool, img, tmp, event):
    """Commits a fresh top (64 KiB written over an empty base) through the injector; returns
    what the command printed, the check of the top and of the base, and the top's size."""
    work = os.path.join(tmp, tool)
    os.makedirs(work)
    base = os.path.join(work, "t.qcow2.base")
    top = os.path.join(work, "t.qcow2")
    run("qemu-img", "create", "-q", "-f", "qcow2", base, "64M")
    run("qemu-img", "create", "-q", "-f", "qcow2", "-b", base, "-F", "qcow2", top, "64M")
    run("qemu-io", "-f", "qcow2", "-c", "write -P 0x5a 0 64k", top)
    conf = os.path.join(work, "blkdebug.conf")
    with open(conf, "w") as f:
        if event:
            f.write(f'[inject-error]\nevent = "{event}"\n')
    p = run(img, "commit", f"blkdebug:{conf}:{top}", ok=False)
    printed = (p.returncode, (p.stdout + p.stderr).replace(work, "DIR"))
    printed = (printed[0], printed[1].replace(os.path.basename(img) + ":", "IMG:"))
    top_check = run("qemu-img", "check", top, ok=False)
    base_read = run("qemu-io", "-f", "qcow2", "-c", "read -P 0x5a 0 64k", base, ok=False)
    return (printed, top_check.returncode, (top_check.stdout + top_check.stderr).replace(work, "DIR"),
            "verification failed" in base_read.stdout, os.path.getsize(top))


def main():
    tmp = tempfile.mkdtemp(prefix="e2kvm-commit-blkdebug-")
    try:
        for event in ("", "l1_update", "empty_image_prepare", "reftable_update",
                      "refblock_alloc"):
            case = os.path.join(tmp, event or "none")
            os.makedirs(case)
            expected = commit_outcome("qemu", "qemu-img", case, event)
            actual = commit_outcome("ours", OURS, case, event)
            checker.same(f"commit with an error on '{event or 'no event'}'", expected, actual,
                         "qemu-img", "e2kvm-img")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return checker.exit_status("commit_blkdebug_interop: all checks passed")


if __name__ == "__main__":
    sys.exit(main())
