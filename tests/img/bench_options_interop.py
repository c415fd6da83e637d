#!/usr/bin/env python3
"""Interop: e2kvm-img bench against qemu-img bench (what it prints, what it writes, how it
refuses bad values and locked images), qemu-img's wording for unknown options and missing
option arguments, create's lock check on an existing image (and none on a backing file a VM
writes), and -U against force-share=off in image options (e2kvm-img info, e2kvm-io open).
Usage: bench_options_interop.py E2KVM_IMG E2KVM_IO"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from checks import Checker, run  # noqa: E402
import peers  # noqa: E402

peers.require("qemu-img", "qemu-io")

OUR_IMG = os.path.abspath(sys.argv[1])
OUR_IO = os.path.abspath(sys.argv[2])
checker = Checker()


def outcome(argv, cwd, tool):
    p = run(argv, ok=False, cwd=cwd, stdin="")
    text = (p.stdout + p.stderr).replace(tool, "TOOL")
    # Timings differ from run to run.
    text = re.sub(r"Run completed in \d+\.\d{3} seconds\.", "Run completed in T seconds.", text)
    return p.returncode, text


def compare(what, args, cwd, setup=None, ours=OUR_IMG, theirs="qemu-img"):
    """Runs `args` with QEMU's tool and ours (after `setup()` each time) and compares exit code
    and output."""
    results = []
    for tool, name in ((theirs, theirs), (ours, os.path.basename(ours))):
        if setup:
            setup()
        results.append(outcome([tool] + args, cwd, name))
    checker.same(what + " (exit code)", results[0][0], results[1][0], "qemu", "e2kvm")
    checker.same(what, results[0][1], results[1][1], "qemu", "e2kvm")


def contents(path):
    with open(path, "rb") as f:
        return f.read()


def main():
    tmp = tempfile.mkdtemp(prefix="e2kvm-bench-")
    img = os.path.join(tmp, "t.qcow2")
    raw = os.path.join(tmp, "t.raw")
    try:
        def fresh():
            run(["qemu-img", "create", "-q", "-f", "qcow2", img, "1M"])
            run(["qemu-img", "create", "-q", "-f", "raw", raw, "1M"])

        bench_cases = [
            ["-c", "10", img],
            ["-c", "100", "-d", "4", "-s", "512", "-S", "1536", "-o", "4k", img],
            ["-c", "40", "-w", "--pattern", "0x5a", "-s", "1k", "-S", "3k", "-o", "1000",
             "-d", "8", "--flush-interval", "16", "-t", "none", "-f", "raw", raw],
            ["-c", "30", "-w", "--pattern", "7", "-s", "64k", "-o", "960k", "-d", "2",
             "--flush-interval", "4", "--no-drain", "-t", "directsync", "-n", img],
            ["-c", "3", "-n", img],
            ["-c", "3", "-i", "native", "-t", "writeback", img],
            ["-c", "3", "-i", "io_uring", "-t", "unsafe", img],
            ["-q", "-U", "-c", "3", "-s", "512", img],
            ["-c", "3", "-s", "1M", "-o", "512", img],  # past the end: a failed request
            ["-c", "x", img],
            ["-d", "-1", img],
            ["-s", "1Q", img],
            ["-o", "-5", img],
            ["-S", "3G", img],
            ["--pattern", "256", img],
            ["--flush-interval", "0x", "-w", img],
            ["--flush-interval", "8", img],
            ["--flush-interval", "8", "-w", img],
            ["-t", "bogus", img],
            ["-i", "bogus", img],
            ["-U", "-w", img],
            ["-c", "1", img, img],
            ["-c", "1", os.path.join(tmp, "missing")],
        ]
        for args in bench_cases:
            compare("bench " + " ".join(args), ["bench"] + args, tmp, fresh)

        # What the write runs leave in the images: the same bytes with either tool.
        for args, path in ((["-c", "40", "-w", "--pattern", "0x5a", "-s", "1k", "-S", "3k",
                             "-o", "1000", "-f", "raw", raw], raw),
                           (["-c", "30", "-w", "--pattern", "7", "-s", "64k", "-o", "960k",
                             img], img)):
            images = []
            for tool in ("qemu-img", OUR_IMG):
                fresh()
                run([tool, "bench"] + args)
                conv = os.path.join(tmp, "out-%d.raw" % len(images))
                run(["qemu-img", "convert", "-O", "raw", path, conv])
                images.append(contents(conv))
            checker.check(images[0] == images[1], "bench %s: written data as qemu-img's"
                          % " ".join(args))
            checker.check(any(images[1]), "bench %s: wrote something" % " ".join(args))

        # qemu-img's wording for unknown options and missing option arguments.
        fresh()
        for args in (["amend", "-o", "size=32M", "-U", img], ["commit", "-U", img],
                     ["resize", "-U", img, "32M"], ["commit", "-qU", img],
                     ["commit", "-Uq", img], ["info", "--bogus", img], ["commit", "-f"],
                     ["info", "--output"], ["check", "-Z", img]):
            compare(" ".join(args), args, tmp)

        # A VM (here qemu-io) writing the image: create refuses to overwrite it, but an
        # overlay of it may be created; with the VM reading it, the overwrite is refused too.
        base = os.path.join(tmp, "t.qcow2.base")
        overlay = os.path.join(tmp, "t.qcow2.overlay")
        for holder in (["qemu-io", img], ["qemu-io", "-r", img]):
            fresh()
            run(["qemu-img", "create", "-q", "-f", "qcow2", base, "1M"])
            vm = subprocess.Popen(holder, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, cwd=tmp)
            try:
                # Wait until the holder has the image open (its lock is taken).
                for _ in range(100):
                    p = run(["qemu-img", "info", img], ok=False)
                    if p.returncode:
                        break
                    if holder[1] == "-r":
                        p = run(["qemu-io", "-c", "close", img], ok=False)
                        if p.returncode:
                            break
                    subprocess.run(["sleep", "0.05"])
                compare("create over an image held by %s" % " ".join(holder[:-1]),
                        ["create", "-f", "qcow2", "t.qcow2", "-b", "t.qcow2.base", "-F",
                         "qcow2"], tmp)

                def no_overlay():
                    if os.path.exists(overlay):
                        os.unlink(overlay)

                compare("create an overlay of an image held by %s" % " ".join(holder[:-1]),
                        ["create", "-q", "-f", "qcow2", "-b", "t.qcow2", "-F", "qcow2",
                         "t.qcow2.overlay"], tmp, no_overlay)
            finally:
                vm.stdin.close()
                vm.wait(timeout=30)

        # -U asks to share; force-share=off in the image options contradicts it.
        compare("info -U force-share=off", ["info", "-U", "--image-opts",
                                            "driver=null-co,force-share=off"], tmp)
        compare("info -U force-share=on", ["info", "-U", "--image-opts",
                                           "driver=null-co,force-share=on"], tmp)
        compare("qemu-io open -U force-share=off",
                ["-c", "open -r -U -o driver=null-co,force-share=off"], tmp, None, OUR_IO,
                "qemu-io")
        compare("qemu-io open -U force-share=on",
                ["-c", "open -r -U -o driver=null-co,force-share=on"], tmp, None, OUR_IO,
                "qemu-io")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return checker.exit_status("bench, option wording and create locks: as qemu-img")


sys.exit(main())
