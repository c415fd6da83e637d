#!/usr/bin/env python3
"""-monitor stdio (QEMU's human monitor on stdin/stdout, as iotests 028 and 102 drive it)
next to qemu-system-x86_64 -machine none: the greeting, the prompt, the echo of typed lines
(the line editor's cursor moves), enter as '\\r' or '\\n', and the answers of qemu-io,
info block-jobs, drive_backup (a job copying the drive; its options and argument errors),
an unknown command and quit (no prompt after it, exit status 0); the backup's target is
compared with its source. Also the stdio conflicts with -qmp stdio and -serial stdio.
usage: system_hmp_stdio.py E2KVM_SYSTEM"""
import os
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from checks import Checker, run  # noqa: E402
import peers  # noqa: E402

peers.require("qemu-system-x86_64", "qemu-img")
SYSTEM = sys.argv[1]
checker = Checker(sys.stderr)
check = checker.check

# Each step is typed, then given time to finish (the backup job copies 1 MiB).
STEPS = [
    'qemu-io drv0 "write -P 0x5a 0 64k"\n',
    "qemu-io drv0 map\n",
    "\n",
    "info block-jobs\n",
    "drive_backup -n -f drv0 TARGET\n",
    "info block-jobs\n",
    "drive_backup -x\n",
    "drive_backup drv0\n",
    "drive_backup nosuch TARGET\n",
    "foo bar\n",
    "ab\r\ncd\r",
    "quit\n",
]


def session(argv, tmp):
    image = os.path.join(tmp, "disk.qcow2")
    target = os.path.join(tmp, "target.qcow2")
    for path in (image, target):
        if os.path.exists(path):
            os.unlink(path)
        run("qemu-img", "create", "-q", "-f", "qcow2", path, "1M")
    p = subprocess.Popen(argv + ["-nographic", "-monitor", "stdio", "-serial", "none",
                                 "-nodefaults", "-display", "none", "-machine", "none",
                                 "-drive", "if=none,id=drv0,file=" + image],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    try:
        time.sleep(1)
        for step in STEPS:
            p.stdin.write(step.replace("TARGET", target).encode())
            p.stdin.flush()
            time.sleep(1)
        out, err = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
    text = out.decode(errors="replace").replace(tmp, "TMP")
    text = re.sub(r"^QEMU \d+\.\d+\.\d+ monitor", "QEMU X.Y.Z monitor", text)
    # qemu-io's timing line differs run to run.
    text = re.sub(r"\d+ ops; .*sec\)", "N ops; TIMING", text)
    same = run("qemu-img", "compare", "-q", image, target, ok=False).returncode
    return p.returncode, text, err.decode(errors="replace"), same


with tempfile.TemporaryDirectory(prefix="e2kvm-hmp-") as tmp:
    qemu = session(["qemu-system-x86_64", "-accel", "tcg"], tmp)
    ours = session([SYSTEM], tmp)
checker.same("-monitor stdio session (exit status, output)", qemu[:2], ours[:2], "qemu", "ours")
check(ours[3] == 0, "drive_backup's target equals its source (qemu-img compare: %d)" % ours[3])
check(qemu[3] == 0, "qemu-system's drive_backup target equals its source")


def option_error(argv):
    p = subprocess.run(argv + ["-machine", "none", "-nodefaults", "-display", "none"],
                       capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    first = p.stderr.splitlines()[0] if p.stderr else ""
    return p.returncode != 0, first.split(": ", 1)[-1]


for extra in (["-qmp", "stdio", "-monitor", "stdio"], ["-monitor", "stdio", "-qmp", "stdio"],
              ["-monitor", "stdio", "-serial", "stdio"]):
    checker.same("stdio conflict " + " ".join(extra),
                 option_error(["qemu-system-x86_64"] + extra), option_error([SYSTEM] + extra),
                 "qemu", "ours")
sys.exit(checker.exit_status("system_hmp_stdio: all checks passed"))
