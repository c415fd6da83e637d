#!/usr/bin/env python3
"""Interop: blkdebug error injection in e2kvm-io as in qemu-io. The same image, config file and
commands through both programs give the same standard output, standard error and exit status:
errors injected at qcow2 and raw events (l2_load, read_aio, write_aio, cluster_alloc...),
once, sector, iotype and state rules, rules given inline with --image-opts, the messages of
break / remove_break / resume, and the flush failures qcow2 reports on close. With E2KVM_IMG,
qemu-img commands over blkdebug too: an injected error is the plain errno in QEMU's words
(compare: "Error while reading offset N of NAME: Input/output error", status 4).
Usage: blkdebug_interop.py E2KVM_IO [E2KVM_IMG]"""
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
E2KVM_IMG = os.path.abspath(sys.argv[2]) if len(sys.argv) > 2 else None
checker = Checker()


def normalise(text, tmp, program):
    text = re.sub(r"; [0-9:. ]+sec \(.*\)", "", text)
    return text.replace(tmp, "TMP").replace(program + ":", "PROG:")


def compare(what, tmp, args, setup, programs=("qemu-io", E2KVM_IO)):
    """Runs setup() (fresh image), then qemu-io ARGS; again, then e2kvm-io ARGS."""
    results = []
    for program in programs:
        setup()
        p = run([program] + args, ok=False)
        name = os.path.basename(program)
        results.append((p.returncode, normalise(p.stdout, tmp, name),
                        normalise(p.stderr, tmp, name)))
    checker.same(what, results[0], results[1], programs[0], os.path.basename(programs[1]))


def config(path, text):
    with open(path, "w") as f:
        f.write(text)


def inject(event, errno=5, **extra):
    lines = ["[inject-error]", f'event = "{event}"', f'errno = "{errno}"']
    lines += [f'{k} = "{v}"' for k, v in extra.items()]
    return "\n".join(lines) + "\n"


def main():
    tmp = tempfile.mkdtemp(prefix="e2kvm-blkdebug-")
    try:
        img = os.path.join(tmp, "t.qcow2")
        raw = os.path.join(tmp, "t.raw")
        conf = os.path.join(tmp, "blkdebug.conf")

        def fresh_qcow2(data=True):
            def setup():
                run("qemu-img", "create", "-q", "-f", "qcow2", img, "4M")
                if data:
                    run("qemu-io", "-f", "qcow2", "-c", "write -P 0x5a 0 256k", img)
            return setup

        def fresh_raw():
            run("qemu-img", "create", "-q", "-f", "raw", raw, "4M")
            run("qemu-io", "-f", "raw", "-c", "write -P 0x5a 0 256k", raw)

        bd = f"blkdebug:{conf}:{img}"
        rd = f"blkdebug:{conf}:{raw}"
        qcow2_cases = [
            # An L2 table load fails the read once; the next load works.
            ("l2_load once", inject("l2_load", 5, once="on"), True,
             ["-c", "read -P 0x5a 0 4k", "-c", "read -P 0x5a 0 4k"]),
            # Without once the rule stays active: every later request fails, the flushes on
            # close too (qcow2 reports them).
            ("l2_load", inject("l2_load", 28), True,
             ["-c", "read 0 4k", "-c", "write 0 4k", "-c", "read 0 4k"]),
            ("read_aio sector", inject("read_aio", 5, sector=16), True,
             ["-c", "read -P 0x5a 0 4k", "-c", "read 8k 4k", "-c", "read -P 0x5a 64k 4k"]),
            ("write_aio once", inject("write_aio", 5, once="on"), False,
             ["-c", "write -P 1 0 64k", "-c", "write -P 2 0 64k", "-c", "read -P 2 0 64k"]),
            ("cluster_alloc once", inject("cluster_alloc", 28, once="on"), False,
             ["-c", "write 0 64k", "-c", "write 0 64k", "-c", "read 0 64k"]),
            ("iotype flush", inject("write_aio", 5, iotype="flush", once="on"), True,
             ["-c", "read -P 0x5a 0 4k", "-c", "write -P 3 0 4k", "-c", "read -P 3 0 4k"]),
            ("states",
             '[set-state]\nevent = "read_aio"\nstate = "1"\nnew_state = "2"\n'
             + inject("read_aio", 5, state=2, once="on"), True,
             ["-c", "read 0 4k", "-c", "read 0 4k", "-c", "read 0 4k"]),
            ("break messages", "", True,
             ["-c", "break no_such_event A", "-c", "break write_aio A", "-c", "resume A",
              "-c", "remove_break A", "-c", "remove_break A", "-c", "write 0 4k"]),
        ]
        for what, text, data, commands in qcow2_cases:
            config(conf, text)
            compare(f"qcow2: {what}", tmp, ["-f", "qcow2"] + commands + [bd], fresh_qcow2(data))
        # Zero writes over clusters that already read as zero change no L2 entry: no L2
        # update (and no failure from a rule on it), with and without unmap.
        def zeroed_qcow2():
            fresh_qcow2()()
            run("qemu-io", "-f", "qcow2", "-c", "write -z -u 0 64k", "-c", "write -z 64k 64k",
                img)
        config(conf, inject("l2_update", 5, immediately="on"))
        compare("qcow2: zero writes over zero clusters", tmp,
                ["-f", "qcow2", "-c", "write -z -u 0 64k", "-c", "write -z 64k 64k",
                 "-c", "write -z 0 128k", bd], zeroed_qcow2)
        compare("qcow2: zero write over data", tmp,
                ["-f", "qcow2", "-c", "write -z 128k 64k", bd], zeroed_qcow2)
        # file.align: unaligned writes read the units they partly cover first (pwritev_rmw_*
        # events) and overlapping requests wait for them (QEMU's iotest 077). The waiting
        # request is quiet: e2kvm-io prints completions in its own order.
        compare("raw: align, read-modify-write and a request waiting for it", tmp,
                ["-c", f"open -o driver=raw,file.align=4k blkdebug::{raw}",
                 "-c", "aio_write -P 10 0x200 0x200", "-c", "aio_flush",
                 "-c", "break pwritev_rmw_after_tail A", "-c", "aio_write -P 10 0x5000 0x200",
                 "-c", "wait_break A", "-c", "aio_write -q -P 11 0x5200 0x200", "-c", "resume A",
                 "-c", "aio_flush", "-c", "break pwritev_rmw_after_head B",
                 "-c", "aio_write -P 12 0x7e00 0x400", "-c", "wait_break B", "-c", "resume B",
                 "-c", "aio_flush", "-c", "read -P 10 0x200 0x200", "-c", "read -P 0x5a 0 0x200",
                 "-c", "read -P 10 0x5000 0x200", "-c", "read -P 11 0x5200 0x200",
                 "-c", "read -P 12 0x7e00 0x400", "-c", "read -P 0x5a 0x8200 0x200"], fresh_raw)
        # A write that allocates a cluster, held at a breakpoint; a second write to the same
        # cluster waits for that allocation, so the first completes (and prints) first, as
        # QEMU's iotest 271 shows.
        compare("qcow2: a request waiting on another's allocation completes after it", tmp,
                ["-c", f"open -o driver=qcow2 blkdebug::{img}", "-c", "break write_aio A",
                 "-c", "aio_write -P 10 30k 2k", "-c", "wait_break A",
                 "-c", "aio_write -P 11 20k 2k", "-c", "resume A", "-c", "aio_flush",
                 "-c", "read -P 10 30k 2k", "-c", "read -P 11 20k 2k"],
                fresh_qcow2(False))
        # The same with extended L2 entries and two waiting writes (iotest 271), many times
        # (ours 30): the held write lets its waiters go a moment before its own end, and still
        # prints first (the waiters' order between themselves is free, as in QEMU).
        for program, attempts in (("qemu-io", 5), (E2KVM_IO, 30)):
            firsts = []
            for attempt in range(attempts):
                run("qemu-img", "create", "-q", "-f", "qcow2", "-o", "extended_l2=on", img, "1M")
                # (Typed in, as the iotest does: the commands come one by one.)
                p = run([program], ok=False, stdin="".join(c + "\n" for c in (
                    f"open -o driver=qcow2 blkdebug::{img}", "break write_aio A",
                    "aio_write -P 10 30k 2k", "wait_break A", "aio_write -P 11 20k 2k",
                    "aio_write -P 12 40k 2k", "resume A", "aio_flush")))
                wrote = re.findall(r"wrote \d+/\d+ bytes at offset \d+", p.stdout)
                firsts.append(wrote[0] if wrote else p.stdout + p.stderr)
            checker.same("%s, extended L2: the held write completes before its waiters"
                         % os.path.basename(program),
                         ["wrote 2048/2048 bytes at offset 30720"] * attempts, firsts)
        config(conf, inject("read_aio", 5, once="on"))
        compare("raw: read_aio once", tmp,
                ["-f", "raw", "-c", "read 0 4k", "-c", "read -P 0x5a 0 4k", rd], fresh_raw)
        config(conf, inject("write_aio", 28))
        compare("raw: write_aio", tmp,
                ["-f", "raw", "-c", "read 0 4k", "-c", "write 0 4k", "-c", "read 0 4k", rd],
                fresh_raw)
        compare("blkdebug::IMAGE without rules", tmp,
                ["-f", "qcow2", "-c", "read -P 0x5a 0 4k", "-c", "write 0 4k",
                 f"blkdebug::{img}"], fresh_qcow2())
        compare("break without blkdebug", tmp,
                ["-f", "qcow2", "-c", "break write_aio A", "-c", "resume A", img],
                fresh_qcow2())
        opts = (f"driver=qcow2,file.driver=blkdebug,file.image.filename={img},"
                "file.inject-error.0.event=l2_load,file.inject-error.0.errno=28,"
                "file.inject-error.0.once=on")
        compare("--image-opts inline rule", tmp,
                ["--image-opts", "-c", "read 0 4k", "-c", "read -P 0x5a 0 4k", opts],
                fresh_qcow2())
        if E2KVM_IMG:
            img2 = os.path.join(tmp, "t2.qcow2")
            config(conf, inject("read_aio", 5))

            def two_images(second_size):
                def setup():
                    fresh_qcow2()()
                    run("qemu-img", "create", "-q", "-f", "qcow2", img2, second_size)
                return setup
            for size in ("4M", "0"):
                compare(f"qemu-img compare, read error (second image {size})", tmp,
                        ["compare", bd, img2], two_images(size), ("qemu-img", E2KVM_IMG))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return checker.exit_status("blkdebug: e2kvm-io as qemu-io")


sys.exit(main())
