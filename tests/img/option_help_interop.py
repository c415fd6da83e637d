#!/usr/bin/env python3
"""Interop: "-o help" and "-o ?" of e2kvm-img create, convert and amend print the option lists
qemu-img prints (with and without a target file, raw and qcow2, help among other options or
in a later -o), and malformed -o arguments are refused with qemu-img's words.
Usage: option_help_interop.py E2KVM_IMG"""
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from checks import Checker, run  # noqa: E402
import peers  # noqa: E402

peers.require("qemu-img")

OUR_IMG = os.path.abspath(sys.argv[1])
checker = Checker()


def outcome(tool, args, cwd):
    p = run([tool] + args, ok=False, cwd=cwd, stdin="")
    return (p.returncode, p.stdout,
            p.stderr.replace("qemu-img:", "TOOL:").replace("e2kvm-img:", "TOOL:"))


def main():
    tmp = tempfile.mkdtemp(prefix="e2kvm-opthelp-")
    try:
        run(["qemu-img", "create", "-q", "-f", "qcow2", os.path.join(tmp, "t.qcow2"), "1M"])
        cases = []
        for fmt in ("qcow2", "raw"):
            for help_opt in ("help", "?"):
                for opts in ([help_opt], ["cluster_size=4k," + help_opt],
                             [help_opt + ",cluster_size=4k"], ["cluster_size=4k", help_opt]):
                    o = [x for opt in opts for x in ("-o", opt)]
                    cases.append(["create", "-f", fmt] + o + ["t.img", "128M"])
                    cases.append(["create", "-f", fmt] + o)
                    cases.append(["convert", "-O", fmt] + o + ["t.qcow2", "t.img"])
                    cases.append(["convert", "-O", fmt] + o)
        cases += [
            ["create", "-o", "help"],
            ["convert", "-o", "help"],
            ["create", "-f", "bochs", "-o", "help"],
            ["convert", "-O", "bochs", "-o", "help"],
            ["create", "-f", "foo", "-o", "help"],
            ["create", "-f", "qcow2", "-u", "-o", "backing_file=t.qcow2,,help", "-F", "qcow2",
             "t.img", "1M"],
            ["create", "-f", "qcow2", "-o", "backing_file=t.qcow2,", "-o", "help", "t.img"],
            ["create", "-f", "qcow2", "-o", "backing_file=t.qcow2", "-o", ",help", "t.img"],
            ["create", "-f", "qcow2", "-o", "backing_file=t.qcow2", "-o", ",,", "-o", "help",
             "t.img"],
            ["create", "-f", "qcow2", "-o", "", "t.img", "1M"],
            ["convert", "-O", "qcow2", "-o", "backing_file=t.qcow2,", "-o", "help", "t.qcow2",
             "t.img"],
            ["convert", "-O", "qcow2", "-o", ",help", "t.qcow2", "t.img"],
            ["convert", "-n", "-O", "qcow2", "-o", "help", "t.qcow2", "t.img"],
            ["amend", "-f", "qcow2", "-o", "help", "t.qcow2"],
            ["amend", "-f", "qcow2", "-o", ",help", "t.qcow2"],
            ["amend", "-f", "qcow2", "-o", "help"],
        ]
        for args in cases:
            for leftover in ("t.img",):
                path = os.path.join(tmp, leftover)
                if os.path.exists(path):
                    os.unlink(path)
            expected = outcome("qemu-img", args, tmp)
            if os.path.exists(os.path.join(tmp, "t.img")):
                os.unlink(os.path.join(tmp, "t.img"))
            got = outcome(OUR_IMG, args, tmp)
            what = " ".join(args)
            checker.same(what + " (exit code)", expected[0], got[0], "qemu", "e2kvm")
            checker.same(what + " (stdout)", expected[1], got[1], "qemu", "e2kvm")
            checker.same(what + " (stderr)", expected[2], got[2], "qemu", "e2kvm")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return checker.exit_status("-o help and option lists: as qemu-img")


sys.exit(main())
