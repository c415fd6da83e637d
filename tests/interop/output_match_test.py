#!/usr/bin/env python3
"""e2kvm-io prints what qemu-io prints: for each command (good ones and every kind of bad
argument), stdout (timings removed) and exit status must be equal and every stderr line of
qemu-io must appear in ours (ours may add one line of detail). Raw and qcow2 images.
usage: output_match_test.py E2KVM_IO"""
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from iotest import Failure, TempDir, main, normalise, run  # noqa: E402

COMMANDS = [
    "read 0 2M", "read 1M 512", "read 0 0", "read -1 512", "read 0 -5", "read x 512",
    "read 0 3G", "read 0 1k", "read 0 1.5k", "read 0 0x200", "read 0 1e3", "read -P 256 0 512",
    "read -P ab 0 512", "read -P 0xab", "read -z 0 512", "write -z -P 1 0 512", "write -u 0 512",
    "write -z -f 0 512", "read -p 0 512", "discard -q 0 512", "discard 1 512",
    "read -P 0 -s 0 1 1", "write 0 2147483648", "read 0 2147483647", "flush x", "length x",
    "map x", "r 0 512", "w 0 512", "read -C 0 512", "read -l 10 -P 0 0 512", "read 0 010",
    "read 0 1.5", "read 0 0x1.8k", "read 0 1.5b", "read 0 0.3k", "read 010 1", "read 0x 1",
    "read 0 1.k", "read 0 .5k", "read 0 +5", "read 0 18446744073709551615",
    "read 0 9223372036854775808", "read 0 8E", "read -P 0 -s 1k 0 2k", "read -v 0 0",
    "read -v -P 0x11 4090 40", "read -v 8180 40", "write -b -z 0 512", "write -c -f 0 512",
    "write -z -s x 0 1", "write -c 0 511", "write -c 1 512", "write -u 1 1", "discard 0 3G",
    "discard -z 0 1", "discard 0 1 2", "help foo", "help flush", "help map", "length",
    "read -C -v 0 4", "read -q -P 1 0 1", "write 3 10k", "read -vq 0 3", "write -z -f 0 3G",
    "map", "read -P 0x11 0 8k", "read -P 0x11 -s 4k -l 4k 0 16k", "read 9223372036854775807 1",
    "read 16M 0", "read 16M 1", "write 16M 0", "write 16M 1", "foo", "read", "write -P 017 0 1",
    "write -z 1 5", "write -z -u 4097 70000", "write -n 0 1", "read -s 5 0 512",
    "read -P 0 -l 600 0 512", "write -P 0x100 0 1", "write -P -1 0 1",
]


def prepare(template, path, fmt):
    """A fresh copy of the template (raw: rebuilt sparse, copying would fill the holes)."""
    if fmt == "qcow2":
        shutil.copyfile(template, path)
        return
    with open(path, "wb") as f:
        f.write(b"\x11" * 8192)
        f.truncate(16 << 20)


def body():
    e2kvm_io = sys.argv[1]
    with TempDir() as d:
        for fmt in ("raw", "qcow2"):
            template = os.path.join(d, "template." + fmt)
            run(["qemu-img", "create", "-q", "-f", fmt, template, "16M"])
            run(["qemu-io", "-f", fmt, "-c", "write -P 0x11 0 8k", template])
            if fmt == "qcow2":
                COMMANDS.append("info")
            for cmd in COMMANDS:
                a, b = os.path.join(d, "a." + fmt), os.path.join(d, "b." + fmt)
                for path in (a, b):
                    prepare(template, path, fmt)
                q = run(["qemu-io", "-f", fmt, "-c", cmd, a], check=False)
                o = run([e2kvm_io, "-f", fmt, "-c", cmd, b], check=False)
                where = f"{fmt}: '{cmd}'"
                if q.returncode != o.returncode:
                    raise Failure(f"{where}: exit {o.returncode}, qemu-io {q.returncode}\n"
                                  f"ours: {o.stdout}{o.stderr}\nqemu-io: {q.stdout}{q.stderr}")
                if normalise(q.stdout) != normalise(o.stdout):
                    raise Failure(f"{where}: stdout differs\n--- ours\n{o.stdout}--- qemu-io\n"
                                  f"{q.stdout}")
                ours_err = [l.replace("e2kvm-io: ", "", 1) for l in o.stderr.splitlines()]
                for line in q.stderr.splitlines():
                    if line.startswith("WARNING") or line.startswith("         "):
                        continue
                    if line.replace("qemu-io: ", "", 1) not in ours_err:
                        raise Failure(f"{where}: qemu-io's stderr line {line!r} missing from "
                                      f"ours:\n{o.stderr}")
            print(f"ok: {fmt}: {len(COMMANDS)} commands print the same")

        # Commands whose effect on the allocation map must be the same (qemu-io discards by
        # default; -d ignore turns discards into no-ops).
        template = os.path.join(d, "template.qcow2")
        for opts, cmd in ((), "discard 0 64k"), (("-d", "ignore"), "discard 0 64k"), \
                         (("-d", "unmap"), "discard 0 128k"), ((), "write -z -u 0 64k"):
            maps = []
            for tool in ("qemu-io", e2kvm_io):
                path = os.path.join(d, "m.qcow2")
                shutil.copyfile(template, path)
                run([tool, "-f", "qcow2", *opts, "-c", "write -P 1 0 128k", "-c", cmd, path])
                maps.append(run(["qemu-img", "map", "--output=json", path]).stdout)
            if maps[0] != maps[1]:
                raise Failure(f"{' '.join(opts)} '{cmd}': map differs\n--- qemu-io\n{maps[0]}"
                              f"--- ours\n{maps[1]}")
        print("ok: discard and unmapping zero writes change the map as qemu-io's do")


if __name__ == "__main__":
    main(body)
