#!/usr/bin/env python3
"""QMP human-monitor-command as QEMU 7.2 answers it, above all "qemu-io DEVICE \"COMMAND\"",
which QEMU's iotests use to write into a running VM's disk. The same sequence of HMP lines
(pattern writes, reads with -P that pass and that fail, write -z, discard, -v/-C output, info,
map, qemu-io's own errors, an unknown device, unknown HMP commands, broken quoting, a read-only
node, cpu-index) goes to qemu-system-x86_64 -machine none and to e2kvm, and for every line the
reply (the monitor's text, "\\r\\n" line ends) and what the server process printed on its
standard output and standard error (where QEMU's qemu-io prints its statistics and most errors)
must be the same once the timing figures are masked. Two passes:
  - node names: qmp_test_server (no machine) and QEMU, both given the images by blockdev-add;
  - drive ids: e2kvm-system -S (the serial echo guest) and QEMU -S, both given the images by
    -drive (QEMU's drives are if=none; e2kvm-system's read-only one is attached, since only
    attached drives have an id that QMP knows), plus info status, stop, cont, system_reset.
Afterwards qemu-img compares the image e2kvm wrote with the one QEMU wrote and qemu-io checks
the patterns in it. Missing QEMU tools fail the test.
usage: qmp_hmp_qemu_io.py QMP_TEST_SERVER E2KVM_SYSTEM GUEST_KERNEL"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from checks import Checker, run  # noqa: E402
import peers  # noqa: E402
from qmp_client import QmpClient  # noqa: E402

TEST_SERVER, SYSTEM, KERNEL = sys.argv[1:4]
checker = Checker(sys.stderr)
check = checker.check


def mask(text):
    """Timing figures out: "00.00 sec (1.234 MiB/sec and 56.7890 ops/sec)" and -C lines."""
    text = re.sub(r"(\d+:)?(\d+:)?\d\d\.\d\d sec \([^)]*/sec and [0-9.]+ ops/sec\)", "TIME", text)
    return re.sub(r"(?m)^(\d+),(\d+),[0-9:.]+,[0-9.]+,[0-9.]+$", r"\1,\2,TIME", text)


class Server:
    """A QMP server process whose standard output and error go to files, so that what a
    command printed there can be read after its reply."""

    def __init__(self, name, tmp, argv_with_qmp):
        self.name = name
        sock = os.path.join(tmp, name + ".qmp")
        self.out_path = os.path.join(tmp, name + ".out")
        self.err_path = os.path.join(tmp, name + ".err")
        argv = [a.replace("{qmp}", "unix:%s,server=on,wait=off" % sock) for a in argv_with_qmp]
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.proc = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        try:
            self.qmp = QmpClient(sock, connect_timeout=20)
        except Exception:
            self.proc.kill()
            self.proc.wait()
            raise RuntimeError("%s did not start: %s" % (" ".join(argv), self.stderr_all()))
        self.out_pos = 0
        self.err_pos = 0
        self.take_output()  # whatever the start printed is not part of any command

    def stderr_all(self):
        with open(self.err_path, "rb") as f:
            return f.read().decode(errors="replace")

    def take_output(self):
        with open(self.out_path, "rb") as f:
            f.seek(self.out_pos)
            out = f.read()
        with open(self.err_path, "rb") as f:
            f.seek(self.err_pos)
            err = f.read()
        self.out_pos += len(out)
        self.err_pos += len(err)
        return out.decode(errors="replace"), err.decode(errors="replace")

    def hmp(self, args):
        reply = self.qmp.cmd("human-monitor-command", **args)
        out, err = self.take_output()
        return reply, out, err

    def quit(self):
        r = self.qmp.cmd("quit")
        check(r == {"return": {}}, "%s: quit: %r" % (self.name, r))
        try:
            rc = self.proc.wait(timeout=30)
            check(rc == 0, "%s: exit status %r after quit: %s" % (self.name, rc,
                                                                  self.stderr_all()))
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            check(False, "%s: still running 30 s after quit" % self.name)
        self.qmp.close()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def qemu_io_lines(dev, ro):
    """The HMP lines of both passes; DEV is the writable device, RO a read-only one."""
    q = lambda command, device=dev: "qemu-io %s \"%s\"" % (device, command)  # noqa: E731
    return [
        q("write -P 0x67 0 64k"),
        q("read -P 0x67 0 64k"),
        q("read -P 0x68 0 4k"),                  # pattern mismatch
        q("write -P 0x68 64k 64k"),
        q("read -P 0x67 -s 512 -l 1k 0 4k"),
        q("read -P 0x68 -s 0 -l 1k 0 4k"),       # mismatch inside -s/-l
        q("write -z 128k 64k"),
        q("read -P 0 128k 64k"),
        q("write -P 0x5a 256k 4k"),
        q("write -z -u 256k 4k"),                # discard=ignore: written as zeros
        q("read -P 0 256k 4k"),
        q("discard 192k 64k"),
        q("read -v 64k 40"),
        q("write -C -P 0x67 0 512"),
        q("read -q -P 0x67 0 512"),
        q("write -P 0x67 0 0x1k"),               # warning into the reply
        q("length"),
        q("map"),
        q("info"),                               # format-specific part in the reply
        q("flush"),
        q("write -P 1 4M 512"),                  # past the end: write failed
        q("read 0 1x"),                          # parsing error
        q("read -z 0 1"),                        # getopt error on stderr
        q("read 0 1 -P"),
        q("read"),                               # bad argument count on stderr
        q("foo"),                                # not a qemu-io command
        q("quit"),                               # not one under HMP either
        q(""),
        q("write 0 512", ro),                    # read-only node
        q("write 0 1x", ro),                     # refused before the arguments are parsed
        q("read -P 0 0 4k", ro),
        "qemu-io nosuch \"read 0 512\"",         # unknown device
        "qemu-io -d %s \"read 0 512\"" % dev,    # -d wants a qdev id
        "qemu-io -x %s \"read 0 512\"" % dev,
        "qemu-io -",
        "qemu-io",
        "  qemu-io  %s" % dev,
        "qemu-io %s \"read 0 512" % dev,         # unterminated string
        "qemu-io %s read 0 512" % dev,           # unquoted command
        "qemu-io %s \"read\\t0 512\"" % dev,     # unsupported escape
        "qemu-io %s \"read \\\"0\\\" 512\"" % dev,
        "qemu-io \"%s\" \"read -P 0x67 0 512\"" % dev,
        "qemu-io %s \"read 0 512\" extra" % dev,
        "qemu-io/x %s \"read 0 1\"" % dev,
        "xyz",
        "  xyz abc",
        "/xyz",
        "info xyz",
        "stop extra",
        "info status extra",
        "",
        "   ",
    ]


def compare(pass_name, qemu, ours, lines):
    for args in lines:
        if isinstance(args, str):
            args = {"command-line": args}
        want = qemu.hmp(args)
        got = ours.hmp(args)
        want = tuple(mask(x) if isinstance(x, str) else x for x in want)
        got = tuple(mask(x) if isinstance(x, str) else x for x in got)
        for what, w, g in zip(("reply", "stdout", "stderr"), want, got):
            check(w == g, "%s: %r: %s: QEMU %r, e2kvm %r" % (pass_name, args, what, w, g))


def check_images(pass_name, qemu_img, our_img):
    p = run("qemu-img", "compare", "-f", "qcow2", "-F", "qcow2", qemu_img, our_img, ok=False)
    check(p.returncode == 0, "%s: qemu-img compare: %s%s" % (pass_name, p.stdout, p.stderr))
    p = run("qemu-img", "check", "-f", "qcow2", our_img, ok=False)
    check(p.returncode == 0, "%s: qemu-img check: %s%s" % (pass_name, p.stdout, p.stderr))
    reads = ["read -P 0x67 0 64k", "read -P 0x68 64k 64k", "read -P 0 128k 192k",
             "read -P 0 4092k 4k"]
    argv = ["qemu-io", "-r", "-f", "qcow2"] + sum([["-c", r] for r in reads], []) + [our_img]
    p = run(argv, ok=False)
    check(p.returncode == 0 and "verification failed" not in p.stdout
          and p.stdout.count("read ") == len(reads),
          "%s: qemu-io on the image e2kvm wrote: %s%s" % (pass_name, p.stdout, p.stderr))


def make_images(tmp, prefix):
    paths = {}
    for tag in ("rw", "ro"):
        path = os.path.join(tmp, "%s-%s.qcow2" % (prefix, tag))
        run("qemu-img", "create", "-f", "qcow2", path, "4M")
        paths[tag] = path
    return paths


def blockdev_add(server, images):
    for node, tag, ro in (("n0", "rw", False), ("n1", "ro", True)):
        r = server.qmp.cmd("blockdev-add", driver="qcow2", **{"node-name": node, "read-only": ro},
                           file={"driver": "file", "filename": images[tag]})
        check(r == {"return": {}}, "%s: blockdev-add %s: %r" % (server.name, node, r))


QEMU_BASE = ["qemu-system-x86_64", "-machine", "none", "-nodefaults", "-display", "none",
             "-qmp", "{qmp}"]


def node_name_pass(tmp):
    """qmp_test_server against QEMU, images added with blockdev-add."""
    qimg, oimg = make_images(tmp, "qemu-nodes"), make_images(tmp, "e2kvm-nodes")
    qemu = Server("qemu-nodes", tmp, QEMU_BASE)
    try:
        ours = Server("e2kvm-nodes", tmp, [TEST_SERVER, "{qmp}"])
    except Exception:
        qemu.kill()
        raise
    try:
        blockdev_add(qemu, qimg)
        blockdev_add(ours, oimg)
        lines = qemu_io_lines("n0", "n1")
        # Neither has a CPU: -machine none, and no machine at all.
        lines += [{"command-line": "qemu-io n0 \"read 0 1\"", "cpu-index": 0},
                  {"command-line": "info status", "cpu-index": "x"},
                  {"command-line": 5}]
        compare("node names", qemu, ours, lines)
        qemu.quit()
        ours.quit()
    finally:
        qemu.kill()
        ours.kill()
    check_images("node names", qimg["rw"], oimg["rw"])


def drive_id_pass(tmp):
    """e2kvm-system -S against QEMU -S, images given with -drive."""
    qimg, oimg = make_images(tmp, "qemu-drives"), make_images(tmp, "e2kvm-drives")
    qemu = Server("qemu-drives", tmp, QEMU_BASE + [
        "-S",
        "-drive", "if=none,id=drive0,file=%s,format=qcow2" % qimg["rw"],
        "-drive", "if=none,id=drive1,node-name=ro1,file=%s,format=qcow2,readonly=on" % qimg["ro"]])
    try:
        ours = Server("e2kvm-drives", tmp, [
            SYSTEM, "-S", "-display", "none", "-serial", "none", "-kernel", KERNEL, "-qmp", "{qmp}",
            "-drive", "if=none,id=drive0,file=%s,format=qcow2" % oimg["rw"],
            "-drive", "id=drive1,node-name=ro1,file=%s,format=qcow2,readonly=on" % oimg["ro"]])
    except Exception:
        qemu.kill()
        raise
    try:
        lines = ["info status"]
        lines += qemu_io_lines("drive0", "drive1")
        lines += [
            "qemu-io ro1 \"write -P 1 0 512\"",   # the read-only drive by its node name
            "qemu-io ro1 \"read -P 0 0 512\"",
            "cont", "info status", "stop", "info status", "c", "info status", "system_reset",
            "info status", "s", "info status", "stop|s", "system_reset extra",
            {"command-line": "info status", "cpu-index": 1},
        ]
        compare("drive ids", qemu, ours, lines)
        qemu.quit()
        ours.quit()
    finally:
        qemu.kill()
        ours.kill()
    check_images("drive ids", qimg["rw"], oimg["rw"])


def main():
    peers.require("qemu-system-x86_64", "qemu-img", "qemu-io")
    with tempfile.TemporaryDirectory(prefix="qmp-hmp-") as tmp:
        node_name_pass(tmp)
        drive_id_pass(tmp)
    return checker.exit_status("qmp_hmp_qemu_io: human-monitor-command answers as QEMU's")


if __name__ == "__main__":
    sys.exit(main())
