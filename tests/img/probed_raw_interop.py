#!/usr/bin/env python3
"""Interop: a raw image opened without a format keeps its first sector raw in e2kvm-io and
e2kvm-nbd as in qemu-io and qemu-nbd. The same writes go through both tools on copies of one
image: a header of each format QEMU 7.2 probes (a qcow2 one naming a host file as backing file
first) written into sector 0 is refused with "write failed: Operation not permitted" and the
image still probes as raw; ordinary sector-0 writes, zero writes and discards go through; with
-f raw everything goes through. Through NBD: qemu-io -f raw as the client of e2kvm-nbd and of
qemu-nbd serving the image without -f, then with -f raw. Both tools print QEMU's warning.
Usage: probed_raw_interop.py E2KVM_IO E2KVM_NBD"""
import json
import os
import shutil
import struct
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from checks import Checker, run  # noqa: E402
import peers  # noqa: E402
from processes import ServerProcess  # noqa: E402

peers.require("qemu-img", "qemu-io", "qemu-nbd")

E2KVM_IO = os.path.abspath(sys.argv[1])
E2KVM_NBD = os.path.abspath(sys.argv[2])
WARNING = ("WARNING: Image format was not specified for '%s' and probing guessed raw.\n"
           "         Automatically detecting the format is dangerous for raw images, write "
           "operations on block 0 will be restricted.\n"
           "         Specify the 'raw' format explicitly to remove the restrictions.\n")


def sector(start):
    return (start + b"\0" * 512)[:512]


def field(text, width):
    return text.ljust(width, b"\0")


BOCHS = field(b"Bochs Virtual HD Image", 32) + field(b"Redolog", 16) + field(b"Growing", 16)
# First sectors to write: name -> bytes. Formats QEMU probes, near misses, plain data.
SECTORS = {
    "qcow2-v2": sector(b"QFI\xfb" + struct.pack(">I", 2)),
    "qcow-v1": sector(b"QFI\xfb" + struct.pack(">I", 1)),
    "qed": sector(b"QED\0"),
    "vdi": sector(b"x" * 64 + struct.pack("<I", 0xbeda107f)),
    "vpc": sector(b"conectix"),
    "vhdx": sector(b"vhdxfile"),
    "vmdk-sparse": sector(b"KDMV"),
    "vmdk-esx": sector(b"COWD"),
    "vmdk-text": sector(b"# Disk DescriptorFile\nversion=1\n"),
    "vmdk-text-crlf": sector(b"#c\r\n   \r\nversion=3\r\n"),
    "vmdk-text-v4": sector(b"version=4\n"),
    "vmdk-text-empty-line": sector(b"\nversion=1\n"),
    "bochs-v2": sector(BOCHS + struct.pack("<I", 0x20000)),
    "bochs-v3": sector(BOCHS + struct.pack("<I", 0x30000)),
    "cloop": sector(b"#!/bin/sh\n#V2.0 Format\nmodprobe cloop file=$0 && mount -r -t iso9660 "
                    b"/dev/cloop $1\n"),
    "parallels": sector(b"WithoutFreeSpace" + struct.pack("<I", 2)),
    "parallels-v3": sector(b"WithoutFreeSpace" + struct.pack("<I", 3)),
    "luks1": sector(b"LUKS\xba\xbe" + struct.pack(">H", 1)),
    "luks2": sector(b"LUKS\xba\xbe" + struct.pack(">H", 2)),
    "plain": sector(b"hello"),
}
# Where the tools differ on purpose: our own open takes any qcow2 magic as qcow2 (a damaged
# qcow2 fails to open rather than becoming a raw disk), so that magic stays out of sector 0
# even with a version QEMU does not probe.
OURS_STRICTER = {"qcow2-magic-version-0": sector(b"QFI\xfb" + struct.pack(">I", 0))}


def outcome(stdout):
    """The lines qemu-io prints for the result, without the timing line."""
    return [line for line in stdout.splitlines() if " ops; " not in line]


def fmt_of(img):
    return json.loads(run("qemu-img", "info", "--output=json", img).stdout)["format"]


def fresh(tmp, name, first_sector=None):
    img = os.path.join(tmp, name)
    if os.path.exists(img):
        os.unlink(img)
    run("qemu-img", "create", "-q", "-f", "raw", img, "1M")
    if first_sector is not None:
        with open(img, "r+b") as f:
            f.write(first_sector)
    return img


def contents(img):
    with open(img, "rb") as f:
        return f.read()


def io_run(tool, tmp, commands, fmt=None, first_sector=None):
    """Runs `commands` through `tool` (qemu-io or e2kvm-io) on a fresh image; returns (result
    lines, stderr, image format afterwards, image bytes)."""
    img = fresh(tmp, "disk.raw", first_sector)
    argv = [tool] + (["-f", fmt] if fmt else [])
    for c in commands:
        argv += ["-c", c]
    p = run(*argv, img, ok=False, cwd=tmp)
    return outcome(p.stdout), p.stderr, fmt_of(img), contents(img)


def nbd_run(server, tmp, commands, fmt=None):
    """Serves a fresh image with `server` (qemu-nbd or e2kvm-nbd), runs `commands` through
    qemu-io -f raw as its client; returns (result lines, server stderr, format, bytes)."""
    img = fresh(tmp, "disk.raw")
    sock = os.path.join(tmp, "s.sock")
    argv = [server, "-t", "-k", sock] + (["-f", fmt] if fmt else []) + [img]
    with ServerProcess(argv, unix_socket=sock) as srv:
        client = ["qemu-io", "-f", "raw"]
        for c in commands:
            client += ["-c", c]
        p = run(*client, "nbd+unix:///?socket=" + sock, ok=False)
        srv.stop()
        stderr = srv.stderr_text()
    return outcome(p.stdout), stderr, fmt_of(img), contents(img)


def compare(checker, label, theirs, ours, their_name, our_name):
    checker.same(label + ": result", "\n".join(theirs[0]), "\n".join(ours[0]), their_name,
                 our_name)
    checker.same(label + ": format afterwards", theirs[2], ours[2], their_name, our_name)
    checker.check(theirs[3] == ours[3], label + ": image contents differ")


def main():
    checker = Checker(sys.stderr)
    tmp = tempfile.mkdtemp(prefix="e2kvm-probed-raw-")
    try:
        for name, data in SECTORS.items():
            with open(os.path.join(tmp, name + ".bin"), "wb") as f:
                f.write(data)
        with open(os.path.join(tmp, "magic.bin"), "wb") as f:
            f.write(b"QFI\xfb")
        # A real qcow2 header whose backing file is a host file.
        run("qemu-img", "create", "-q", "-f", "qcow2", "-b", "/etc/hostname", "-F", "raw",
            os.path.join(tmp, "evil.qcow2"), "1M")
        with open(os.path.join(tmp, "evil.qcow2"), "rb") as f:
            evil = f.read(512)
        with open(os.path.join(tmp, "evil.bin"), "wb") as f:
            f.write(evil)
        with open(os.path.join(tmp, "evil64k.bin"), "wb") as f:
            f.write(evil + b"\x77" * (65536 - 512))

        # The reproducer: refused by both, the image stays raw, nothing changed.
        write_evil = ["write -s evil.bin 0 512"]
        theirs = io_run("qemu-io", tmp, write_evil)
        ours = io_run(E2KVM_IO, tmp, write_evil)
        checker.same("qcow2 header with host backing: qemu-io result",
                     ["write failed: Operation not permitted"], theirs[0])
        compare(checker, "qcow2 header with host backing", theirs, ours, "qemu-io", "e2kvm-io")
        checker.same("e2kvm-io warning", WARNING % os.path.join(tmp, "disk.raw"),
                     ours[1].split("e2kvm-io: ")[0], "expected", "e2kvm-io stderr")
        checker.check(ours[2] == "raw" and ours[3] == b"\0" * (1 << 20),
                      "e2kvm-io: the refused write changed the image")

        # Every probed format, near misses and plain data.
        for name in SECTORS:
            cmds = ["write -s %s.bin 0 512" % name]
            compare(checker, name, io_run("qemu-io", tmp, cmds), io_run(E2KVM_IO, tmp, cmds),
                    "qemu-io", "e2kvm-io")

        # Within the first sector: the magic alone over a sector that has the rest of a qcow2
        # header is refused; a write that spans sector 0 and more is refused whole; ordinary
        # writes, zero writes and discards go through.
        rest_of_header = b"\0\0\0\0" + evil[4:]
        for label, cmds, first in [
                ("magic over the rest of a header", ["write -s magic.bin 0 4"], rest_of_header),
                ("header at offset 0 of a 64k write", ["write -s evil64k.bin 0 64k"], None),
                ("data, zeros and discard in sector 0",
                 ["write -P 0x51 0 512", "write -P 0x52 100 8", "write -z 0 512",
                  "write -z 16 16", "discard 0 4k", "write -P 0x53 0 4k"], None),
                ("magic past the first sector", ["write -s evil.bin 512 512"], None)]:
            compare(checker, label, io_run("qemu-io", tmp, cmds, first_sector=first),
                    io_run(E2KVM_IO, tmp, cmds, first_sector=first), "qemu-io", "e2kvm-io")

        # -f raw: no restriction.
        theirs = io_run("qemu-io", tmp, write_evil, fmt="raw")
        ours = io_run(E2KVM_IO, tmp, write_evil, fmt="raw")
        compare(checker, "-f raw", theirs, ours, "qemu-io", "e2kvm-io")
        checker.same("-f raw: format afterwards", "qcow2", ours[2])
        checker.check("WARNING" not in ours[1], "-f raw: e2kvm-io warned: " + ours[1])

        # Our stricter case: refused by us, written by qemu-io.
        for name, data in OURS_STRICTER.items():
            with open(os.path.join(tmp, name + ".bin"), "wb") as f:
                f.write(data)
            cmds = ["write -s %s.bin 0 512" % name]
            theirs = io_run("qemu-io", tmp, cmds)
            ours = io_run(E2KVM_IO, tmp, cmds)
            checker.same(name + ": qemu-io", ["wrote 512/512 bytes at offset 0"], theirs[0])
            checker.same(name + ": e2kvm-io", ["write failed: Operation not permitted"], ours[0])

        # Through NBD: qemu-io -f raw is the client of a server that probed the image.
        nbd_cmds = ["write -s %s 0 512" % os.path.join(tmp, "evil.bin"), "write -P 0x51 0 512",
                    "write -s %s 0 4" % os.path.join(tmp, "magic.bin"), "write -z 0 512",
                    "discard 0 512", "write -s %s 0 512" % os.path.join(tmp, "vmdk-text.bin")]
        theirs = nbd_run("qemu-nbd", tmp, nbd_cmds)
        ours = nbd_run(E2KVM_NBD, tmp, nbd_cmds)
        checker.same("nbd: qemu-nbd results", ["write failed: Operation not permitted",
                                               "wrote 512/512 bytes at offset 0",
                                               "write failed: Operation not permitted",
                                               "wrote 512/512 bytes at offset 0",
                                               "discard 512/512 bytes at offset 0",
                                               "write failed: Operation not permitted"],
                     theirs[0])
        compare(checker, "nbd, probed", theirs, ours, "qemu-nbd", "e2kvm-nbd")
        checker.same("nbd, probed: format afterwards", "raw", ours[2])
        checker.check(WARNING % os.path.join(tmp, "disk.raw") in ours[1],
                      "e2kvm-nbd did not warn: " + ours[1])
        theirs = nbd_run("qemu-nbd", tmp, nbd_cmds[:1], fmt="raw")
        ours = nbd_run(E2KVM_NBD, tmp, nbd_cmds[:1], fmt="raw")
        compare(checker, "nbd, -f raw", theirs, ours, "qemu-nbd", "e2kvm-nbd")
        checker.same("nbd, -f raw: format afterwards", "qcow2", ours[2])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return checker.exit_status("probed raw images: all checks passed")


if __name__ == "__main__":
    sys.exit(main())
