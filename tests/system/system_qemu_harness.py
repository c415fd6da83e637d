#!/usr/bin/env python3
"""e2kvm-system started the way QEMU's iotests start QEMU_PROG, next to qemu-system-x86_64:
`-machine help` lists a default board; bash tests' `-nographic -qmp stdio -serial none
-nodefaults -display none -accel qtest` answers QMP on stdin/stdout with the same message
kinds in the same order (the SHUTDOWN of quit before its reply); python tests' `-chardev
socket,id=mon,path=P -mon chardev=mon,mode=control` connects to a socket the test listens on.
usage: system_qemu_harness.py E2KVM_SYSTEM"""
import json
import os
import socket
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from checks import Checker  # noqa: E402
import peers  # noqa: E402

peers.require("qemu-system-x86_64")
SYSTEM = sys.argv[1]
checker = Checker(sys.stderr)
check = checker.check

out = subprocess.run([SYSTEM, "-machine", "help"], capture_output=True, text=True, timeout=30)
check(out.returncode == 0 and any(line.endswith("(default)") for line in out.stdout.splitlines()),
      "-machine help: %r" % (out.stdout + out.stderr))


def stdio_kinds(argv):
    script = "".join(json.dumps(m) + "\n" for m in (
        {"execute": "qmp_capabilities"}, {"execute": "query-status"},
        {"execute": "query-block-jobs"}, {"execute": "nosuch"}, {"execute": "quit"}))
    p = subprocess.run(argv + ["-nographic", "-qmp", "stdio", "-serial", "none", "-nodefaults",
                               "-display", "none"], input=script, capture_output=True,
                       text=True, timeout=60)
    kinds = []
    for line in p.stdout.splitlines():
        m = json.loads(line)
        kinds.append("greeting" if "QMP" in m else m.get("event") or
                     ("error:" + m["error"]["class"] if "error" in m else "return"))
    return p.returncode, kinds


ours = stdio_kinds([SYSTEM, "-accel", "qtest", "-object", "iothread,id=io0", "-monitor", "none"])
# Debian's qemu-system has no qtest accelerator.
qemu = stdio_kinds(["qemu-system-x86_64", "-machine", "none", "-accel", "tcg"])
checker.same("-qmp stdio session (exit status, message kinds)", qemu, ours, "qemu", "ours")

with tempfile.TemporaryDirectory(prefix="e2kvm-harness-") as tmp:
    path = os.path.join(tmp, "mon.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(1)
    listener.settimeout(30)
    p = subprocess.Popen([SYSTEM, "-display", "none", "-serial", "none", "-accel", "qtest",
                          "-chardev", "socket,id=mon,path=" + path, "-mon",
                          "chardev=mon,mode=control"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    try:
        conn, _ = listener.accept()
        f = conn.makefile("rwb")
        greeting = json.loads(f.readline())
        check("QMP" in greeting, "greeting over the connected chardev: %r" % greeting)
        for cmd in ("qmp_capabilities", "query-status"):
            f.write((json.dumps({"execute": cmd}) + "\n").encode())
            f.flush()
            r = json.loads(f.readline())
            check("return" in r, "%s over the connected chardev: %r" % (cmd, r))
        f.write(b'{"execute": "quit"}\n')
        f.flush()
        check(p.wait(30) == 0, "quit over the connected chardev")
    finally:
        if p.poll() is None:
            p.kill()
sys.exit(checker.exit_status("system_qemu_harness: all checks passed"))
