#!/usr/bin/env python3
"""Interop: the quorum driver of e2kvm-io / e2kvm-img against QEMU's. The same three raw (or
qcow2) files, set up the same way, through qemu-io and e2kvm-io give the same output and exit
status and leave the same files: writes through the quorum reach every child; a corrupted
minority is outvoted (and corrected with rewrite-corrupted); without a majority a read fails
with EIO; fifo reads the first child; blkverify stops at the first difference; QEMU's messages
for bad settings; the options given with open -o, --image-opts and json: names. qemu-img info
of a qcow2 image over a quorum node (iotest 110) prints what qemu-img prints.
Usage: quorum_interop.py E2KVM_IMG E2KVM_IO"""
import hashlib
import os
import re
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from checks import Checker, run  # noqa: E402
import peers  # noqa: E402

peers.require("qemu-img", "qemu-io")

E2KVM_IMG = os.path.abspath(sys.argv[1])
E2KVM_IO = os.path.abspath(sys.argv[2])
checker = Checker()


def normalise(text, tmp):
    text = re.sub(r"; [0-9:. ]+sec \(.*\)", "", text)
    text = text.replace(tmp, "TMP")
    return re.sub(r"^(qemu-img|qemu-io|e2kvm-img|e2kvm-io): ", "PROG: ", text, flags=re.M)


def digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def main():
    tmp = tempfile.mkdtemp(prefix="e2kvm-quorum-")
    try:
        check_everything(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return checker.exit_status("quorum interop: all checks passed")


def check_everything(tmp):
    # Ours run under QEMU's names, as the iotests run them (their messages name argv[0]).
    bindir = peers.named_bin(tmp, {"qemu-img": E2KVM_IMG, "qemu-io": E2KVM_IO})
    ours_io, ours_img = os.path.join(bindir, "qemu-io"), os.path.join(bindir, "qemu-img")
    files = [os.path.join(tmp, f"{i}.raw") for i in range(3)]

    def setup(patterns):
        """The three files afresh, each filled with its pattern (None: left zero)."""
        def do():
            for path, pattern in zip(files, patterns):
                run("qemu-img", "create", "-q", "-f", "raw", path, "1M")
                if pattern is not None:
                    run("qemu-io", "-f", "raw", "-c", f"write -P {pattern} 0 1M", path)
        return do

    def options(count=3, threshold=2, extra=""):
        o = f"driver=raw,file.driver=quorum,file.vote-threshold={threshold}{extra}"
        for i in range(count):
            o += f",file.children.{i}.file.filename={files[i]},file.children.{i}.driver=raw"
        return o

    def compare(what, setup_files, qemu_args):
        tools = ("qemu-io", ours_io)
        results = []
        for tool in tools:
            setup_files()
            p = run([tool] + qemu_args, ok=False)
            results.append((p.returncode, normalise(p.stdout, tmp), normalise(p.stderr, tmp),
                            [digest(f) for f in files]))
        checker.same(what, results[0], results[1], "qemu-io", "e2kvm-io")

    q = options()
    compare("write through the quorum", setup([None, None, None]),
            ["-c", f"open -o {q}", "-c", "write -P 0x32 0 1M", "-c", "read -P 0x32 0 1M"])
    compare("a corrupted minority is outvoted", setup(["0x32", "0x42", "0x32"]),
            ["-c", f"open -o {q}", "-c", "read -P 0x32 0 1M"])
    compare("rewrite-corrupted corrects the minority", setup(["0x32", "0x42", "0x32"]),
            ["-c", f"open -o {options(extra=',file.rewrite-corrupted=on')}",
             "-c", "read -P 0x32 0 64k", "-c", "read -P 0x32 512k 4k"])
    compare("no majority fails with EIO", setup(["0x41", "0x42", "0x32"]),
            ["-c", f"open -o {q}", "-c", "read -P 0x32 0 1M"])
    compare("threshold 1: the last of tied versions", setup(["0x41", "0x42", "0x32"]),
            ["-c", f"open -o {options(threshold=1)}", "-c", "read -P 0x32 0 4k"])
    compare("fifo reads the first child", setup(["0x11", "0x22", "0x33"]),
            ["-c", f"open -o {options(threshold=1, extra=',file.read-pattern=fifo')}",
             "-c", "read -P 0x11 0 4k"])
    compare("blkverify stops at a difference", setup(["0x41", "0x42", None]),
            ["-c", f"open -o {options(count=2, extra=',file.blkverify=on')}",
             "-c", "read -P 0x41 0 1M"])
    compare("blkverify with equal children", setup(["0x41", "0x41", None]),
            ["-c", f"open -o {options(count=2, extra=',file.blkverify=on')}",
             "-c", "read -P 0x41 0 1M"])
    for what, o in [("blkverify needs two children", options(extra=",file.blkverify=on")),
                    ("threshold above the children", options(threshold=4)),
                    ("threshold 0", options(threshold=0)),
                    ("bad read-pattern", options(extra=",file.read-pattern=random")),
                    ("rewrite with blkverify",
                     options(count=2, extra=",file.blkverify=on,file.rewrite-corrupted=on")),
                    ("no children", "driver=raw,file.driver=quorum,file.vote-threshold=1")]:
        compare(what, setup([None, None, None]), ["-c", f"open -o {o}"])
    compare("zero writes and flush", setup(["0x32", "0x32", "0x32"]),
            ["-c", f"open -o {q}", "-c", "write -z 64k 64k", "-c", "flush",
             "-c", "read -P 0 64k 64k", "-c", "read -P 0x32 0 64k"])
    # A child that fails: blkdebug injects EIO into every read and write of child 0.
    conf = os.path.join(tmp, "blkdebug.conf")
    with open(conf, "w") as f:
        f.write('[inject-error]\nevent = "read_aio"\nerrno = "5"\n'
                '[inject-error]\nevent = "write_aio"\nerrno = "5"\n')
    failing = q.replace(f"file.children.0.file.filename={files[0]}",
                        f"file.children.0.file.driver=blkdebug,file.children.0.file.config={conf},"
                        f"file.children.0.file.image.filename={files[0]}")
    compare("one failing child is outvoted", setup(["0x32", "0x32", "0x32"]),
            ["-c", f"open -o {failing}", "-c", "read -P 0x32 0 64k", "-c", "write -P 0x44 0 4k"])
    compare("too many failing children", setup(["0x32", "0x32", "0x32"]),
            ["-c", f"open -o {failing.replace('vote-threshold=2', 'vote-threshold=3')}",
             "-c", "read -P 0x32 0 64k", "-c", "write -P 0x44 0 4k"])
    fifo_failing = failing.replace("vote-threshold=2", "vote-threshold=1") + \
        ",file.read-pattern=fifo"
    compare("fifo skips a failing child", setup(["0x32", "0x21", "0x32"]),
            ["-c", f"open -o {fifo_failing}", "-c", "read -P 0x21 0 64k"])
    compare("--image-opts", setup(["0x32", "0x42", "0x32"]),
            ["--image-opts", "-c", "read -P 0x32 0 1M", "-c", "write -P 0x55 4k 4k", q])
    json_name = ('json:{"driver": "raw", "file": {"driver": "quorum", "vote-threshold": 2, '
                 '"children": [' + ", ".join(
                     f'{{"driver": "raw", "file": {{"driver": "file", "filename": "{f}"}}}}'
                     for f in files) + "]}}")
    compare("json: name", setup(["0x32", "0x32", "0x42"]),
            ["-c", "read -P 0x32 0 1M", "-c", "write -P 0x66 8k 4k", "-c", "info", json_name])

    results = []
    for tool in ("qemu-img", ours_img):
        setup(["0x32", None, "0x32"])()
        run("qemu-io", "-f", "raw", "-c", "write -P 0x32 0 64k", files[1])
        p = run([tool, "map", "--output=json", json_name], ok=False)
        results.append((p.returncode, normalise(p.stdout, tmp), normalise(p.stderr, tmp)))
    checker.same("qemu-img map of a quorum", results[0], results[1], "qemu-img", "e2kvm-img")

    # qcow2 over a quorum of two copies with a relative backing name (iotest 110): the image
    # opens, and the backing file's directory cannot be told.
    base = os.path.join(tmp, "t.qcow2.base")
    top = os.path.join(tmp, "t.qcow2")
    run("qemu-img", "create", "-q", "-f", "qcow2", base, "4M")
    run("qemu-img", "create", "-q", "-f", "qcow2", "-b", "t.qcow2.base", "-F", "qcow2", top)
    shutil.copy(top, top + ".copy")
    name = ('json:{"driver": "qcow2", "file": {"driver": "quorum", "vote-threshold": 1, '
            f'"children": [{{"driver": "file", "filename": "{top}"}}, '
            f'{{"driver": "file", "filename": "{top}.copy"}}]}}}}')
    results = []
    for tool in ("qemu-img", ours_img):
        p = run([tool, "info", name], ok=False)
        text = "\n".join(line for line in normalise(p.stdout, tmp).splitlines()
                         if not line.startswith("disk size"))
        results.append((p.returncode, text, normalise(p.stderr, tmp)))
    checker.same("qemu-img info of qcow2 over quorum", results[0], results[1], "qemu-img",
                 "e2kvm-img")


if __name__ == "__main__":
    sys.exit(main())
