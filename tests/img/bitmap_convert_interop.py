#!/usr/bin/env python3
"""Interop: persistent bitmaps across qemu-img bitmap, convert --bitmaps and qemu-nbd -B, as
QEMU's tools handle them (iotest qemu-img-bitmaps). The same steps run once with QEMU's
programs and once with ours installed under QEMU's names (symbolic links, as a drop-in
replacement); every step must give the same exit code, stdout and stderr, and the images the
same `qemu-img info` and dirty maps:
- convert --bitmaps to raw creates the target, then fails as the format keeps no bitmaps;
- bitmap --image-opts; bitmap --merge from an image whose backing file is the target (neither
  image opens its backing chain);
- qemu-nbd -B finds a bitmap kept in the backing file;
- inconsistent bitmaps: convert --bitmaps names the one QEMU visits first, --skip-broken-bitmaps
  warns in QEMU's order, and the copies keep the source's order.
Usage: bitmap_convert_interop.py E2KVM_IMG E2KVM_IO E2KVM_NBD"""
import os
import re
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from checks import Checker, run  # noqa: E402
import peers  # noqa: E402
from processes import ServerNotStarted, ServerProcess  # noqa: E402

peers.require("qemu-img", "qemu-io", "qemu-nbd")

OURS = {"qemu-img": os.path.abspath(sys.argv[1]), "qemu-io": os.path.abspath(sys.argv[2]),
        "qemu-nbd": os.path.abspath(sys.argv[3])}
checker = Checker()


def tool_dir(tmp, ours):
    """A directory whose qemu-img, qemu-io and qemu-nbd are QEMU's or (links to) ours."""
    d = os.path.join(tmp, "bin-ours" if ours else "bin-qemu")
    os.makedirs(d)
    for name, path in OURS.items():
        os.symlink(path if ours else shutil.which(name), os.path.join(d, name))
    return d


def scenario(tmp, ours):
    """Runs the steps; returns (step label, exit code, stdout, stderr) tuples."""
    bindir = tool_dir(tmp, ours)
    d = os.path.join(tmp, "ours" if ours else "qemu")
    os.makedirs(d)
    steps = []

    def step(label, tool, *args, record=True):
        p = run([os.path.join(bindir, tool)] + list(args), cwd=d, ok=False)
        if record:
            steps.append((label, p.returncode, p.stdout, p.stderr.replace(d, "DIR")))
        return p

    def info(label, name):
        p = run("qemu-img", "info", "-U", name, cwd=d, ok=False)
        text = "\n".join(ln for ln in p.stdout.splitlines() if not ln.startswith("disk size:"))
        steps.append((label, p.returncode, text, p.stderr))

    # Prepared with QEMU's tools in both runs.
    run("qemu-img", "create", "-q", "-f", "qcow2", "base.qcow2", "10M", cwd=d)
    run("qemu-img", "bitmap", "--add", "base.qcow2", "b0", cwd=d)
    run("qemu-io", "-c", "write 3M 1M", "base.qcow2", cwd=d)
    run("qemu-img", "create", "-q", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2", "orig.qcow2",
        "10M", cwd=d)
    run("qemu-io", "-c", "write 0 1M", "orig.qcow2", cwd=d)
    run("qemu-img", "bitmap", "--add", "-g", "512k", "orig.qcow2", "b1", cwd=d)
    run("qemu-img", "bitmap", "--add", "--disable", "orig.qcow2", "b2", cwd=d)
    run("qemu-io", "-c", "write 2M 1M", "orig.qcow2", cwd=d)

    step("convert --bitmaps to raw", "qemu-img", "convert", "--bitmaps", "-O", "raw",
         "orig.qcow2", "t.img")
    steps.append(("raw target created", 0, str(os.path.exists(os.path.join(d, "t.img"))), ""))
    step("convert --bitmaps", "qemu-img", "convert", "--bitmaps", "-O", "qcow2", "orig.qcow2",
         "t.qcow2")
    info("info after convert", "t.qcow2")
    step("bitmap --add --merge -b", "qemu-img", "bitmap", "--add", "--merge", "b0", "-b",
         "base.qcow2", "-F", "qcow2", "-f", "qcow2", "t.qcow2", "tmp")
    step("bitmap --remove --image-opts", "qemu-img", "bitmap", "--remove", "--image-opts",
         "driver=qcow2,file.driver=file,file.filename=t.qcow2", "tmp")
    info("info after --image-opts", "t.qcow2")
    run("qemu-img", "rebase", "-u", "-F", "qcow2", "-b", "base.qcow2", "t.qcow2", cwd=d)
    step("merge from the overlay into its backing file", "qemu-img", "bitmap", "--add",
         "--merge", "b2", "-b", "t.qcow2", "-F", "qcow2", "-f", "qcow2", "base.qcow2", "b3")
    info("info of the backing file", "base.qcow2")

    sock = os.path.join(d, "nbd.sock")
    try:
        server = ServerProcess([os.path.join(bindir, "qemu-nbd"), "-k", sock, "-t", "-r", "-f",
                                "qcow2", "-B", "b1", "-B", "b3", os.path.join(d, "t.qcow2")],
                               unix_socket=sock)
    except ServerNotStarted as e:
        steps.append(("qemu-nbd -B", 1, "", str(e).replace(d, "DIR")))
        server = None
    if server:
        with server:
            for b in ("b1", "b3"):
                p = run("qemu-img", "map", "--output=json", "--image-opts",
                        f"driver=nbd,server.type=unix,server.path={sock},"
                        f"x-dirty-bitmap=qemu:dirty-bitmap:{b}", cwd=d, ok=False)
                steps.append((f"qemu-nbd -B {b}: dirty map", p.returncode,
                              re.sub(r'"offset": \d+', '"offset": OFFSET', p.stdout),
                              p.stderr.replace(d, "DIR")))

    run("qemu-img", "bitmap", "--add", "t.qcow2", "b4", cwd=d)
    run("qemu-io", "-c", "abort", "t.qcow2", cwd=d, ok=False)  # leaves the bitmaps in use
    run("qemu-img", "bitmap", "--add", "t.qcow2", "b5", cwd=d)
    step("convert inconsistent bitmaps", "qemu-img", "convert", "--bitmaps", "-O", "qcow2",
         "t.qcow2", "c1.qcow2")
    step("convert --skip-broken-bitmaps", "qemu-img", "convert", "--bitmaps",
         "--skip-broken-bitmaps", "-O", "qcow2", "t.qcow2", "c2.qcow2")
    info("info of the copy", "c2.qcow2")

    # Directory order: new bitmaps go after the stored ones; one removed and added again in a
    # single command is new (QEMU drops it from the directory at once), so it moves to the end.
    run("qemu-img", "create", "-q", "-f", "qcow2", "o.qcow2", "10M", cwd=d)
    for args in (["--add", "o.qcow2", "b0"], ["--add", "o.qcow2", "b1"],
                 ["--add", "o.qcow2", "b2"], ["--add", "o.qcow2", "b4"],
                 ["--remove", "o.qcow2", "b1"], ["--remove", "o.qcow2", "b0"],
                 ["--remove", "--add", "o.qcow2", "b2"]):
        step("bitmap " + " ".join(args), "qemu-img", "bitmap", *args)
    info("bitmap order after removing and adding again", "o.qcow2")
    step("convert --bitmaps of that", "qemu-img", "convert", "--bitmaps", "-O", "qcow2",
         "o.qcow2", "o2.qcow2")
    info("bitmap order of the copy", "o2.qcow2")
    return steps


def main():
    tmp = tempfile.mkdtemp(prefix="e2kvm-bitmapconv-")
    try:
        theirs = scenario(tmp, False)
        mine = scenario(tmp, True)
        checker.same("number of steps", len(theirs), len(mine), "QEMU", "ours")
        for (label, qrc, qout, qerr), (_, orc, oout, oerr) in zip(theirs, mine):
            checker.same(f"{label}: exit code", qrc, orc, "QEMU", "ours")
            checker.same(f"{label}: stdout", qout.replace("/qemu/", "/X/"),
                         oout.replace("/ours/", "/X/"), "QEMU", "ours")
            checker.same(f"{label}: stderr", qerr, oerr, "QEMU", "ours")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return checker.exit_status("bitmap_convert_interop: all checks passed")


if __name__ == "__main__":
    sys.exit(main())
