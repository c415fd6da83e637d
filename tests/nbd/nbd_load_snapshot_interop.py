#!/usr/bin/env python3
"""e2kvm-nbd -l/--load-snapshot compared with qemu-nbd: an internal qcow2 snapshot exported
read-only, selected as ID_OR_NAME or snapshot.id=/snapshot.name=, must give the same bytes,
size and read-only flag as qemu-nbd's export (the snapshot's data at the image's current size),
and the same messages for a snapshot that is not there or a bad parameter.

Usage: nbd_load_snapshot_interop.py E2KVM_NBD"""
import hashlib
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from peers import require  # noqa: E402


def run(*args, check=True):
    r = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=60)
    if check and r.returncode != 0:
        raise SystemExit(f"{args}: {r.stdout}")
    return r


def export(server, image, spec, tmp, after=False):
    """Starts `server -l spec` on a socket; returns (digest, size, read_only) of the export or
    the server's output if it refused to start."""
    sock = os.path.join(tmp, "nbd.sock")
    if os.path.exists(sock):
        os.unlink(sock)
    # `after`: the option follows the image name (qemu-nbd takes options anywhere, as iotest
    # 058 passes them).
    args = [image, "-l", spec] if after else ["-l", spec, image]
    proc = subprocess.Popen([server, "-t", "-k", sock, "-f", "qcow2"] + args,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        for _ in range(200):
            if os.path.exists(sock) or proc.poll() is not None:
                break
            time.sleep(0.05)
        # qemu-nbd listens before it loads the snapshot: a failure ends it right after.
        time.sleep(0.3)
        if proc.poll() is not None:
            out = proc.communicate()[0]
            return out.replace(os.path.basename(server) + ":", "PROG:")
        uri = f"nbd+unix:///?socket={sock}"
        copy = os.path.join(tmp, "copy.raw")
        run("qemu-img", "convert", "-f", "raw", "-O", "raw", uri, copy)
        digest = hashlib.sha256(open(copy, "rb").read()).hexdigest()
        size = run("nbdinfo", "--size", uri).stdout.strip()
        write = run("qemu-io", "-f", "raw", "-c", "write 0 512", uri, check=False).stdout
        return (digest, size, "read-only" if "Permission denied" in write or
                "read-only" in write or "Operation not permitted" in write else write)
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(10)


def main():
    ours = sys.argv[1]
    require("qemu-img", "qemu-io", "qemu-nbd", "nbdinfo")
    with tempfile.TemporaryDirectory() as tmp:
        image = os.path.join(tmp, "sn.qcow2")
        run("qemu-img", "create", "-q", "-f", "qcow2", image, "1M")
        run("qemu-io", "-c", "write -P 1 0 64k", "-c", "write -P 3 512k 4k", image)
        run("qemu-img", "snapshot", "-c", "first", image)
        run("qemu-io", "-c", "write -P 2 0 64k", "-c", "discard 512k 4k", image)
        run("qemu-img", "snapshot", "-c", "second", image)
        run("qemu-io", "-c", "write -P 4 128k 64k", image)
        run("qemu-img", "resize", "-q", image, "3M")
        run("qemu-io", "-c", "write -P 5 2M 64k", image)
        specs = ["first", "1", "second", "2", "snapshot.name=first", "snapshot.id=2",
                 "snapshot.id=1,snapshot.name=first", "snapshot.id=2,snapshot.name=first",
                 "third", "snapshot.id=9", "snapshot.tag=x"]
        failures = 0
        for spec in specs:
            theirs = export("qemu-nbd", image, spec, tmp)
            mine = export(ours, image, spec, tmp)
            if theirs != mine:
                failures += 1
                print(f"FAIL -l {spec}\n  qemu-nbd: {theirs!r}\n  ours:     {mine!r}")
            else:
                print(f"ok   -l {spec}: {str(theirs).strip()[:70]}")
        theirs = export("qemu-nbd", image, "first", tmp, after=True)
        mine = export(ours, image, "first", tmp, after=True)
        if theirs != mine:
            failures += 1
            print(f"FAIL IMAGE -l first\n  qemu-nbd: {theirs!r}\n  ours:     {mine!r}")
        else:
            print("ok   IMAGE -l first (option after the image name)")
        # The image itself is untouched by exporting its snapshots.
        r = run("qemu-img", "check", image, check=False)
        if r.returncode != 0:
            failures += 1
            print(r.stdout)
        if failures:
            sys.exit(1)
    print("PASS")


if __name__ == "__main__":
    main()
