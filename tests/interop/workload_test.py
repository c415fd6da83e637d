#!/usr/bin/env python3
"""Interop (a): the same seeded random workload applied by e2kvm-io to our image and by
qemu-io to QEMU's; the images must compare identical, ours must pass `qemu-img check`, and
the two tools must print the same lines.
usage: workload_test.py E2KVM_IO [E2KVM_IMG] [--format qcow2|raw] [--seed N] [--ops N]"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from iotest import Failure, TempDir, main, normalise, run, workload  # noqa: E402

SIZE = 256 << 20
CLUSTER = 64 << 10


def create(tool_img, fmt, path):
    if tool_img and not os.path.exists(tool_img):
        raise Failure(f"{tool_img} does not exist")
    if fmt == "qcow2" and tool_img:
        run([tool_img, "create", "-q", "-f", "qcow2", "-o", f"cluster_size={CLUSTER}", path,
             str(SIZE)])
    else:
        opts = ["-o", f"cluster_size={CLUSTER}"] if fmt == "qcow2" else []
        run(["qemu-img", "create", "-q", "-f", fmt] + opts + [path, str(SIZE)])


def body():
    ap = argparse.ArgumentParser()
    ap.add_argument("e2kvm_io")
    ap.add_argument("e2kvm_img", nargs="?", default="")
    ap.add_argument("--format", default="qcow2")
    ap.add_argument("--seed", type=int, default=20261123)
    ap.add_argument("--ops", type=int, default=400)
    a = ap.parse_args()
    cmds = workload(a.seed, SIZE, CLUSTER, a.ops)
    with TempDir() as d:
        ours, theirs = os.path.join(d, "ours." + a.format), os.path.join(d, "qemu." + a.format)
        create(a.e2kvm_img, a.format, ours)
        run(["qemu-img", "create", "-q", "-f", a.format]
            + (["-o", f"cluster_size={CLUSTER}"] if a.format == "qcow2" else [])
            + [theirs, str(SIZE)])
        script = "\n".join(cmds) + "\n"
        argv_tail = ["-f", a.format, "-d", "unmap"]
        p_ours = run([a.e2kvm_io] + argv_tail + [ours], input=script)
        p_theirs = run(["qemu-io"] + argv_tail + [theirs], input=script)
        # Both print their prompt (named by argv[0]) before each line they read.
        ours_out = [l.replace("e2kvm-io> ", "") for l in normalise(p_ours.stdout)]
        ours_out = [l for l in ours_out if l]
        theirs_out = [l.replace("qemu-io> ", "") for l in normalise(p_theirs.stdout)]
        theirs_out = [l for l in theirs_out if l]
        if ours_out != theirs_out:
            for i, (x, y) in enumerate(zip(ours_out, theirs_out)):
                if x != y:
                    raise Failure(f"output differs at line {i}: ours {x!r}, qemu-io {y!r}")
            raise Failure(f"output length differs: {len(ours_out)} vs {len(theirs_out)} lines")
        if a.format == "qcow2":
            c = run(["qemu-img", "check", "-f", "qcow2", ours], check=False)
            if c.returncode != 0:
                raise Failure(f"qemu-img check on our image: exit {c.returncode}\n{c.stdout}"
                              f"{c.stderr}")
        cmp = run(["qemu-img", "compare", "-f", a.format, "-F", a.format, ours, theirs],
                  check=False)
        if cmp.returncode != 0:
            raise Failure(f"qemu-img compare: exit {cmp.returncode}: {cmp.stdout}{cmp.stderr}")
        # Our reader on QEMU's image must agree with QEMU's own conversion to raw.
        dump, ref = os.path.join(d, "dump.raw"), os.path.join(d, "ref.raw")
        run([a.e2kvm_io, "-r", "-f", a.format, "-c", f"dump {dump}", theirs])
        run(["qemu-img", "convert", "-f", a.format, "-O", "raw", theirs, ref])
        if run(["cmp", "-s", dump, ref], check=False).returncode != 0:
            raise Failure("our read of QEMU's image differs from qemu-img convert -O raw")
        # The allocation map must agree too (both images were written the same way).
        m_ours = run([a.e2kvm_io, "-r", "-f", a.format, "-c", "map", ours]).stdout
        m_theirs = run(["qemu-io", "-r", "-f", a.format, "-c", "map", theirs]).stdout
        if a.format == "qcow2" and m_ours != m_theirs:
            print("note: allocation maps differ (allowed, contents are identical)\n--- ours\n"
                  f"{m_ours}--- qemu\n{m_theirs}", file=sys.stderr)
        print(f"{a.format}: {len(cmds)} commands, images identical, outputs identical")


if __name__ == "__main__":
    main(body)
