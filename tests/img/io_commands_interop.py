#!/usr/bin/env python3
"""Interop: e2kvm-io accepts qemu-io's commands and options and behaves as qemu-io 7.2. Each
scenario runs the same command sequence (-c commands or standard input) through qemu-io and
e2kvm-io, both named qemu-io, on identical fresh images; standard output, standard error and the
exit status must be equal (timings masked) and the images must read the same afterwards
(qemu-img compare). Covered: running without an image, open/close/reopen, readv/writev,
aio_read/aio_write/aio_flush, truncate, length, alloc, map, sigraise, sleep, write -z -u / -c,
discard, write -b/read -b (VM state), info of protocol nodes (null-co, blkdebug), -s, --object,
--image-opts, -U, -t, -d, -n, -k, -T, -m, the stdin prompt.
Usage: io_commands_interop.py E2KVM_IO"""
import os
import re
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from checks import Checker, run  # noqa: E402
import peers  # noqa: E402

peers.require("qemu-img", "qemu-io")

E2KVM_IO = os.path.abspath(sys.argv[1])
QEMU_IO = shutil.which("qemu-io")
checker = Checker()


def masked(text):
    # qemu-io's aio_write -z prints a time it never measured: mask every time.
    text = re.sub(r"; [0-9:. ]+(sec )?\(.*\)", "; TIME", text)
    return re.sub(r"(?m)^(\d+,\d+),[^,\n]*,[^,\n]*,[^,\n]*$", r"\1,TIME", text)


def c(*commands):
    args = []
    for command in commands:
        args += ["-c", command]
    return args


def setup_qcow2(d):
    run("qemu-img", "create", "-q", "-f", "qcow2", os.path.join(d, "t.qcow2"), "1M")
    run("qemu-io", "-f", "qcow2", "-c", "write -P 0x11 0 128k", os.path.join(d, "t.qcow2"))


def setup_raw(d):
    run("qemu-img", "create", "-q", "-f", "raw", os.path.join(d, "t.raw"), "1M")
    run("qemu-io", "-f", "raw", "-c", "write -P 0x11 0 128k", os.path.join(d, "t.raw"))


def setup_both(d):
    setup_qcow2(d)
    setup_raw(d)


# (name, setup, arguments after the program, standard input or None, images to compare)
SCENARIOS = [
    ("readv/writev", setup_qcow2,
     c("writev -P 0x22 4k 512 1k 2560", "readv -P 0x22 4k 512 1k 2560", "readv -v 4k 16 16",
       "readv -C 0 512", "readv -q -P 0x33 0 512", "writev -q -P 0x44 64k 1k",
       "readv -P 0x44 64k 1k", "writev -C -f 8k 512", "readv 1M 512", "writev 1020k 4k",
       "readv 0 3G", "readv 0 2G 2G", "readv -x 0 1", "readv -P 0x22 4k\t512 \t1k",
       "readv 0 \t-1", "readv 0 \t", "writev 0", "readv 0 1k junk")
     + ["-f", "qcow2", "t.qcow2"], None, ["t.qcow2"]),
    # qemu-io completes requests in flight together in an order that depends on timing: one
    # request per aio_flush here.
    ("aio requests", setup_qcow2,
     c("aio_write -P 1 0 4k", "aio_flush", "aio_write -P 3 8k 4k 4k", "aio_flush",
       "aio_read -P 1 0 4k", "aio_flush", "aio_read -P 3 8k 4k 4k", "aio_flush",
       "aio_read -P 9 0 512", "aio_flush", "aio_read -v 0 32", "aio_flush",
       "aio_write -z -u 64k 64k", "aio_flush", "aio_write -z 0 1k 1k", "aio_write -u 0 1k",
       "aio_write -i 0 1", "aio_read -i 0 1", "aio_write -q 1M 512", "aio_flush",
       "aio_read -C 0 512", "aio_flush", "readv -P 0 64k 64k", "aio_write -P 5 128k 4k",
       "length", "aio_flush", "aio_read -q 1M 1") + ["t.qcow2"], None, ["t.qcow2"]),
    ("alloc, map, truncate", setup_qcow2,
     c("alloc 0", "alloc 0 1M", "alloc 128k 64k", "alloc 900k 1M", "alloc 2M", "alloc x",
       "map", "length", "truncate 2M", "length", "alloc 0 4M", "map", "truncate -m bogus 1M",
       "truncate 512k", "length", "map") + ["t.qcow2"], None, ["t.qcow2"]),
    ("truncate raw", setup_raw,
     c("truncate 3M", "length", "alloc 0 4M", "truncate 64k", "length", "read -P 0x11 0 64k")
     + ["-f", "raw", "t.raw"], None, ["t.raw"]),
    ("no image", setup_qcow2,
     c("length", "read 0 512", "help foo", "open -o driver=qcow2 t.qcow2", "length",
       "open t.qcow2", "close", "length", "open -r t.qcow2", "write 0 512",
       "read -P 0x11 0 512", "close", "open -f raw t.qcow2", "open", "open a b",
       "open -t bogus t.qcow2", "open -d bogus t.qcow2", "open -n -k -d unmap t.qcow2",
       "write -P 0x55 0 512", "close", "open -t unsafe -C t.qcow2", "read -P 0x55 0 512"),
     None, ["t.qcow2"]),
    ("image options", setup_qcow2,
     ["--image-opts"] + c("length", "open -o driver=raw x", "read -P 0x11 0 4k", "close",
                          "open driver=qcow2,file.filename=t.qcow2", "map")
     + ["driver=qcow2,file.filename=t.qcow2"], None, ["t.qcow2"]),
    ("image options and -f", setup_qcow2,
     ["--image-opts", "-f", "qcow2"] + c("length") + ["driver=qcow2,file.filename=t.qcow2"],
     None, ["t.qcow2"]),
    ("open -o", setup_raw,
     c("open -o driver=raw,file.locking=off t.raw", "read -P 0x11 0 4k", "write 0 512", "close",
       "open -r -o driver=raw t.raw", "write 0 512", "close", "open -U -r t.raw"),
     None, ["t.raw"]),
    ("reopen", setup_qcow2,
     c("reopen -r", "write 0 512", "reopen -w", "write -P 0x66 0 512", "reopen -c unsafe",
       "reopen -r -w", "reopen -c bogus", "reopen x", "reopen -o read-only=on -r",
       "reopen -o read-only=on", "write 0 512", "reopen -o read-only=off",
       "read -P 0x66 0 512") + ["t.qcow2"], None, ["t.qcow2"]),
    ("reopen options", setup_qcow2,
     c("reopen -o node-name=foo", "reopen -o file.node-name=foo", "reopen -o backing.node-name=x",
       "reopen -o driver=raw", "reopen -o file.driver=qcow2", "reopen -o driver=qcow2",
       "reopen -o file.driver=file", "reopen -c none -o cache.direct=on",
       "reopen -o read-only=foo", "reopen -o cache.no-flush=bar", "reopen -o auto-read-only=x",
       "close", "open -o node-name=foo t.qcow2", "reopen -o node-name=foo",
       "reopen -o node-name=bar", "reopen", "info") + ["t.qcow2"], None, ["t.qcow2"]),
    ("sigraise", setup_qcow2,
     c("sigraise 100", "sigraise abc", "write -P 0x77 0 512", "sigraise 9", "read 0 512")
     + ["t.qcow2"], None, ["t.qcow2"]),
    ("sleep", setup_qcow2,
     c("sleep 10", "sleep x", "sleep -1", "read -P 0x11 0 512") + ["t.qcow2"],
     None, ["t.qcow2"]),
    ("snapshot", setup_qcow2,
     ["-s"] + c("write -P 0x55 0 512", "read -P 0x55 0 512", "writev -P 0x56 4k 1k 1k",
                "readv -P 0x56 4k 2k") + ["t.qcow2"], None, ["t.qcow2"]),
    ("other options", setup_qcow2,
     ["--object", "secret,id=sec0,data=abc", "-T", "enable=no_such_event*", "-m", "-k", "-U", "-r", "-t",
      "none", "-d", "ignore", "-n"] + c("read -P 0x11 0 128k", "info") + ["t.qcow2"], None,
     ["t.qcow2"]),
    ("unknown object", setup_qcow2,
     ["--object", "foo,id=x"] + c("length") + ["t.qcow2"], None, ["t.qcow2"]),
    ("qcow2 writes", setup_qcow2,
     c("write -z -u 0 64k", "write -c 512k 64k", "read -P 0xcd 512k 64k", "discard 192k 64k",
       "discard -q 0 4k", "write -z 256k 4k", "info", "map", "alloc 0 1M", "flush", "f")
     + ["t.qcow2"], None, ["t.qcow2"]),
    ("raw writes", setup_raw,
     c("write -z -u 0 64k", "discard 64k 64k", "write -b 0 512", "read -b 0 512", "write -c 0 64k",
       "info", "map", "alloc 0 1M") + ["-f", "raw", "t.raw"], None, ["t.raw"]),
    ("stdin", setup_both, ["t.qcow2"],
     # One aio request at a time: qemu-io's completion order of two requests in flight
     # depends on its thread pool's timing, so its own output varies from run to run.
     "write -P 7 0 512\nread -P 7 0 512\nbogus\naio_write -P 8 4k 512\naio_flush\n"
     "aio_read -P 8 4k 512\naio_flush\nalloc 0 8k\n", ["t.qcow2"]),
    ("VM state (-b)", setup_qcow2,
     c("write -b -P 0x11 0 4k", "read -b -P 0x11 0 4k", "write -b -P 0x22 1T 4k",
       "read -b -P 0x22 1T 4k", "read -b -P 0 64k 4k", "write -b 1 4k", "read -P 0x11 0 128k"),
     None, ["t.qcow2"]),
    ("VM state of a raw image", setup_raw, c("write -b 0 4k", "read -b 0 512"), None,
     ["t.raw"]),
    # info on protocol nodes: a second "format name" line (null-co, blkdebug), and no driver
    # information where QEMU has none (null-co, raw over null-co): the command fails silently.
    ("info of null-co", setup_raw,
     ["-f", "null-co"] + c("reopen", "info", "read 0 512")
     + ["json:{'driver': 'null-co', 'size': 65536}"], None, []),
    ("info of null-co by name", setup_raw, ["-f", "null-co"] + c("info") + ["null-co://"], None,
     []),
    ("info of raw over null-co", setup_raw, ["-f", "raw"] + c("info") + ["null-co://"], None,
     []),
    ("info of blkdebug over null-co", setup_raw,
     ["--image-opts"] + c("info") + ["driver=blkdebug,image.driver=null-co"], None, []),
    ("info of blkdebug over a file", setup_raw,
     ["--image-opts"] + c("info") + ["driver=blkdebug,image.driver=file,image.filename=t.raw"],
     None, ["t.raw"]),
    ("stdin without image", setup_raw, ["-f", "raw"],
     "length\nopen -o driver=raw t.raw\nreadv -P 0x11 0 1k 1k\nquit now\nlength\n", ["t.raw"]),
]


def run_tool(tool, d, args, stdin):
    bindir = os.path.join(d, "bin")
    os.makedirs(bindir, exist_ok=True)
    link = os.path.join(bindir, "qemu-io")
    if os.path.lexists(link):
        os.unlink(link)
    os.symlink(tool, link)
    return run([link] + args, ok=False, cwd=d, stdin=stdin, timeout=60)


def main():
    tmp = tempfile.mkdtemp(prefix="e2kvm-io-commands-")
    try:
        for name, setup, args, stdin, images in SCENARIOS:
            results = []
            for label, tool in (("qemu", QEMU_IO), ("e2kvm", E2KVM_IO)):
                d = os.path.join(tmp, label)
                shutil.rmtree(d, ignore_errors=True)
                os.makedirs(d)
                setup(d)
                p = run_tool(tool, d, args, stdin)
                results.append((p.returncode, masked(p.stdout), masked(p.stderr)))
            checker.same(name, results[0], results[1], "qemu-io", "e2kvm-io")
            for image in images:
                a = os.path.join(tmp, "qemu", image)
                b = os.path.join(tmp, "e2kvm", image)
                cmp = run("qemu-img", "compare", "-q", a, b, ok=False)
                checker.check(cmp.returncode == 0, f"{name}: {image} differs from qemu-io's "
                              f"({cmp.stdout.strip()} {cmp.stderr.strip()})")
                chk = run("qemu-img", "check", b, ok=False) if image.endswith(".qcow2") else None
                checker.check(chk is None or chk.returncode == 0,
                              f"{name}: qemu-img check {image}: {chk and chk.stdout}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return checker.exit_status("e2kvm-io: qemu-io's commands and options as qemu-io")


sys.exit(main())
