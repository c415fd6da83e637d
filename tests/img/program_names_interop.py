#!/usr/bin/env python3
"""Interop: e2kvm-img, e2kvm-io and e2kvm-nbd name themselves by argv[0], as QEMU's programs
do. Installed as symbolic links named qemu-img, qemu-io and qemu-nbd, the same failing command
lines print exactly what QEMU 7.2's programs print on stderr (usage errors, bad option values,
a bad size); run under their own names they print the same with e2kvm-img / e2kvm-io /
e2kvm-nbd instead, and through a link of any other name with that name.
Usage: program_names_interop.py E2KVM_IMG E2KVM_IO E2KVM_NBD"""
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from checks import Checker, run  # noqa: E402
import peers  # noqa: E402

peers.require("qemu-img", "qemu-io", "qemu-nbd")

OURS = {"qemu-img": os.path.abspath(sys.argv[1]), "qemu-io": os.path.abspath(sys.argv[2]),
        "qemu-nbd": os.path.abspath(sys.argv[3])}
# (program, arguments): command lines whose stderr QEMU's and ours agree on word for word.
CASES = [
    ("qemu-img", ["foo"]),
    ("qemu-img", []),
    ("qemu-img", ["create", "-f", "qcow2", "x.qcow2", "12Q"]),
    ("qemu-img", ["map", "--output=yaml", "x"]),
    ("qemu-io", ["-d", "bogus", "x"]),
    ("qemu-io", ["-t", "bogus", "x"]),
    ("qemu-nbd", []),
    ("qemu-nbd", ["a", "b"]),
]
checker = Checker()


def stderr_of(program, args, cwd):
    p = run([program] + args, ok=False, cwd=cwd, stdin="")
    return p.returncode, p.stderr


def main():
    tmp = tempfile.mkdtemp(prefix="e2kvm-names-")
    try:
        links = {}
        for name, target in OURS.items():
            for link in (name, "renamed-" + name):
                os.symlink(target, os.path.join(tmp, link))
            links[name] = os.path.join(tmp, name)
        for name, args in CASES:
            what = f"{name} {' '.join(args)}"
            real = shutil.which(name)
            expected = stderr_of(real, args, tmp)
            # QEMU's qemu-nbd names itself by the whole argv[0] in its "Try" hint.
            got = stderr_of(links[name], args, tmp)
            checker.same(f"{what}: as {name}", expected[0], got[0], "qemu", "e2kvm")
            checker.same(f"{what}: as {name}", expected[1].replace(real, links[name]), got[1],
                         "qemu", "e2kvm")
            own = name.replace("qemu-", "e2kvm-")
            got = stderr_of(OURS[name], args, tmp)
            checker.same(f"{what}: as {own}",
                         expected[1].replace(real, OURS[name]).replace(name + ":", own + ":")
                         .replace(f"'{name} ", f"'{own} "), got[1], "qemu (renamed)", "e2kvm")
            renamed = os.path.join(tmp, "renamed-" + name)
            got = stderr_of(renamed, args, tmp)
            checker.same(f"{what}: as renamed-{name}",
                         expected[1].replace(real, renamed)
                         .replace(name + ":", "renamed-" + name + ":")
                         .replace(f"'{name} ", f"'renamed-{name} "), got[1], "qemu (renamed)",
                         "e2kvm")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return checker.exit_status("program names: as QEMU's, taken from argv[0]")


sys.exit(main())
