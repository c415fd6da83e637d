#!/usr/bin/env python3
"""Interop: QEMU's image locks, ours against QEMU's tools and QEMU's against ours.
1. While e2kvm-nbd serves a qcow2 image for writing, qemu-img info and a qemu-io write are
   refused with QEMU's messages and qemu-img info -U works.
2. While qemu-io holds a qcow2 image for writing, each of e2kvm-img info/check/compare/
   convert/map and e2kvm-io -r is refused with the same lines as the same qemu-img/qemu-io
   command, and works with -U as qemu-img's and qemu-io's do; -U where qemu-img/qemu-io refuse
   it (check -r all, a writable e2kvm-io) is refused with their message; e2kvm-backup refuses
   the image and says to back it up through the VM (--qmp); all work once the image is let go.
3. A guest disk of e2kvm-system and of qemu-system-x86_64 (qcow2, and raw) is treated alike:
   whether qemu-img info, qemu-img info -U, a qemu-io write and e2kvm-img info are refused.
Usage: image_lock_interop.py E2KVM_IMG E2KVM_NBD E2KVM_IO E2KVM_BACKUP E2KVM_SYSTEM"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from checks import Checker, run  # noqa: E402
from peers import require  # noqa: E402
from processes import ServerProcess, wait_for_path  # noqa: E402

E2KVM_IMG, E2KVM_NBD, E2KVM_IO, E2KVM_BACKUP, E2KVM_SYSTEM = map(os.path.abspath, sys.argv[1:6])
QEMU_SYSTEM = shutil.which("qemu-system-x86_64")


def refusal(tool_output):
    """The lines of a refused open, without the program's name."""
    return [line.split(": ", 1)[-1] for line in tool_output.strip().splitlines()]


def held_by_qemu_io(checker, img):
    """Runs qemu-io holding `img` for writing until the returned process's stdin is closed."""
    holder = subprocess.Popen(["qemu-io", "-f", "qcow2", img], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    holder.stdin.write(b"read 0 512\n")
    holder.stdin.flush()
    holder.stdout.readline()  # the image is open once qemu-io answers
    return holder


def served_by_e2kvm_nbd(checker, tmp, img):
    sock = os.path.join(tmp, "s.sock")
    with ServerProcess([E2KVM_NBD, "-f", "qcow2", "-k", sock, img], unix_socket=sock):
        p = run("qemu-img", "info", img, ok=False)
        checker.check(p.returncode != 0 and refusal(p.stderr) == [
            "Could not open '%s': Failed to get shared \"write\" lock" % img,
            "Is another process using the image [%s]?" % img], "qemu-img info: %r" % p.stderr)
        p = run("qemu-io", "-f", "qcow2", "-c", "write 0 512", img, ok=False)
        checker.check(p.returncode != 0 and refusal(p.stderr) == [
            "can't open device %s: Failed to get \"write\" lock" % img,
            "Is another process using the image [%s]?" % img], "qemu-io write: %r" % p.stderr)
        p = run("qemu-img", "info", "-U", img, ok=False)
        checker.check(p.returncode == 0, "qemu-img info -U: %r" % p.stderr)


# (what, qemu's argv, ours): the tool's name is the first word, the rest are its arguments.
def tool_cases(img, other):
    return [
        ("info", ["qemu-img", "info", img], [E2KVM_IMG, "info", img]),
        ("check", ["qemu-img", "check", img], [E2KVM_IMG, "check", img]),
        ("compare", ["qemu-img", "compare", img, other], [E2KVM_IMG, "compare", img, other]),
        ("convert", ["qemu-img", "convert", "-O", "raw", img, "theirs.raw"],
         [E2KVM_IMG, "convert", "-O", "raw", img, "ours.raw"]),
        ("map", ["qemu-img", "map", img], [E2KVM_IMG, "map", img]),
        ("io -r", ["qemu-io", "-r", "-c", "read 0 512", img],
         [E2KVM_IO, "-r", "-c", "read 0 512", img]),
    ]


def with_force_share(argv):
    return argv[:2] + ["-U"] + argv[2:] if os.path.basename(argv[0]).endswith("-img") else \
        argv[:1] + ["-U"] + argv[1:]


def held_by_qemu(checker, img, other):
    holder = held_by_qemu_io(checker, img)
    try:
        for what, theirs_argv, ours_argv in tool_cases(img, other):
            theirs = run(theirs_argv, ok=False)
            ours = run(ours_argv, ok=False)
            checker.check(theirs.returncode != 0, "%s: qemu's tool was not refused" % what)
            checker.check(ours.returncode != 0, "%s: ours was not refused" % what)
            checker.same("%s refusal" % what, refusal(theirs.stderr), refusal(ours.stderr),
                         "qemu", "e2kvm")
            theirs = run(with_force_share(theirs_argv), ok=False)
            ours = run(with_force_share(ours_argv), ok=False)
            checker.check(theirs.returncode in (0, 1) and "lock" not in theirs.stderr,
                          "%s -U: qemu's tool: %r" % (what, theirs.stderr))
            checker.same("%s -U exit status" % what, theirs.returncode, ours.returncode,
                         "qemu", "e2kvm")
            checker.check("lock" not in ours.stderr, "%s -U: %r" % (what, ours.stderr))
        # -U where QEMU's tools refuse it: with a repair, with a writable image.
        for what, theirs_argv, ours_argv in [
                ("check -U -r all", ["qemu-img", "check", "-U", "-r", "all", img],
                 [E2KVM_IMG, "check", "-U", "-r", "all", img]),
                ("io -U (writable)", ["qemu-io", "-U", "-c", "read 0 512", img],
                 [E2KVM_IO, "-U", "-c", "read 0 512", img])]:
            theirs = run(theirs_argv, ok=False)
            ours = run(ours_argv, ok=False)
            checker.check(theirs.returncode != 0 and ours.returncode != 0,
                          "%s: not refused (qemu %d, e2kvm %d)" % (what, theirs.returncode,
                                                                    ours.returncode))
            checker.same("%s refusal" % what, refusal(theirs.stderr), refusal(ours.stderr),
                         "qemu", "e2kvm")
        p = run(E2KVM_BACKUP, "full", img, "repo", ok=False)
        checker.check(p.returncode != 0 and
                      'Failed to get "write" lock' in p.stderr and "--qmp" in p.stderr,
                      "e2kvm-backup of a held image: %d %r" % (p.returncode, p.stderr))
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    p = run(E2KVM_IMG, "info", img, ok=False)
    checker.check(p.returncode == 0, "e2kvm-img info once released: %r" % p.stderr)
    p = run(E2KVM_IO, "-c", "read 0 512", img, ok=False)
    checker.check(p.returncode == 0, "e2kvm-io once released: %r" % p.stderr)
    p = run(E2KVM_BACKUP, "full", img, "repo", ok=False)
    checker.check(p.returncode == 0, "e2kvm-backup once released: %r" % p.stderr)


def drive_outcomes(system, tmp, image, fmt):
    """What is refused while `system` runs with `image` as a -drive: a list of
    (command, refused, first line of the refusal)."""
    sock = os.path.join(tmp, "qmp.sock")
    if os.path.exists(sock):
        os.unlink(sock)
    # The drive is a guest's disk (a virtio-blk device): QEMU's device does not share write.
    drive = "id=drive0,file=%s,format=%s" % (image, fmt)
    if system == QEMU_SYSTEM:
        argv = [system, "-S", "-nodefaults", "-display", "none", "-drive", "if=none," + drive,
                "-device", "virtio-blk-pci,drive=drive0"]
    else:
        argv = [system, "-display", "none", "-serial", "none", "-S", "-drive",
                "if=virtio," + drive]
    argv += ["-qmp", "unix:%s,server=on,wait=off" % sock]
    vm = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        if not wait_for_path(sock, vm, timeout=30):
            return "did not start: %r" % vm.stderr.read1(4096) if vm.poll() is not None else \
                "no QMP socket"
        time.sleep(0.2)
        outcomes = []
        for argv in (["qemu-img", "info", "-f", fmt, image],
                     ["qemu-img", "info", "-U", "-f", fmt, image],
                     ["qemu-io", "-f", fmt, "-c", "write 0 512", image],
                     ["qemu-io", "-r", "-f", fmt, "-c", "read 0 512", image],
                     [E2KVM_IMG, "info", "-f", fmt, image]):
            p = run(argv, ok=False)
            lines = refusal(p.stderr) if p.returncode else []
            outcomes.append((" ".join([os.path.basename(argv[0])] + argv[1:-1]),
                             p.returncode != 0, lines[0] if lines else ""))
        return outcomes
    finally:
        vm.terminate()
        try:
            vm.wait(timeout=30)
        except subprocess.TimeoutExpired:
            vm.kill()
            vm.wait()


def held_by_a_vm(checker, tmp):
    for fmt in ("qcow2", "raw"):
        image = "vm-disk." + fmt
        run("qemu-img", "create", "-q", "-f", fmt, image, "1M")
        theirs = drive_outcomes(QEMU_SYSTEM, tmp, image, fmt)
        ours = drive_outcomes(E2KVM_SYSTEM, tmp, image, fmt)
        checker.same("what a %s -drive refuses" % fmt, theirs, ours, "qemu-system-x86_64",
                     "e2kvm-system")
        if fmt == "qcow2" and isinstance(ours, list):
            checker.check(ours[0][1] and not ours[1][1],
                          "qcow2 -drive: qemu-img info refused, -U allowed: %r" % ours)


def main():
    require("qemu-img", "qemu-io", "qemu-system-x86_64")
    checker = Checker(sys.stderr)
    tmp = tempfile.mkdtemp(prefix="e2kvm-lock-")
    try:
        os.chdir(tmp)
        img, other = "disk.qcow2", "other.qcow2"
        run("qemu-img", "create", "-q", "-f", "qcow2", img, "1M")
        run("qemu-img", "create", "-q", "-f", "qcow2", other, "1M")
        served_by_e2kvm_nbd(checker, tmp, img)
        held_by_qemu(checker, img, other)
        held_by_a_vm(checker, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return checker.exit_status("image locks: QEMU's tools and ours refuse each other's images")


if __name__ == "__main__":
    sys.exit(main())
