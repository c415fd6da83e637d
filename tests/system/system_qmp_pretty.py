#!/usr/bin/env python3
"""-qmp-pretty stdio (iotests 191, 195, 227 start QEMU_PROG so) next to qemu-system-x86_64
-machine none: after the greeting, a session's messages (an empty return, an empty array, an
error, an object with nested members, the SHUTDOWN event of quit) are laid out line for line
as QEMU's are (timestamps and line-end carriage returns aside).
usage: system_qmp_pretty.py E2KVM_SYSTEM"""
import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from checks import Checker  # noqa: E402
import peers  # noqa: E402

peers.require("qemu-system-x86_64")
SYSTEM = sys.argv[1]
checker = Checker(sys.stderr)

SCRIPT = [
    {"execute": "qmp_capabilities"},
    {"execute": "query-block-jobs"},
    {"execute": "nosuch"},
    {"execute": "block-dirty-bitmap-add", "arguments": {"node": "x"}},
    {"execute": "query-block-jobs", "id": {"a": [1, "two", {}], "b": []}},
    {"execute": "quit"},
]


def session(argv):
    script = "".join(json.dumps(m) + "\n" for m in SCRIPT)
    p = subprocess.run(argv + ["-machine", "none", "-nodefaults", "-display", "none",
                               "-monitor", "none", "-qmp-pretty", "stdio"],
                       input=script, capture_output=True, text=True, timeout=60)
    lines = p.stdout.replace("\r", "").split("\n")
    # The greeting (its version differs) ends at the first "}" in column 0.
    end = lines.index("}") if "}" in lines else len(lines)
    rest = "\n".join(lines[end + 1:])
    rest = re.sub(r'("(?:micro)?seconds": )\d+', r"\1N", rest)
    return p.returncode, lines[0] if lines else "", rest


qemu = session(["qemu-system-x86_64", "-accel", "tcg"])
ours = session([SYSTEM])
checker.same("-qmp-pretty stdio session (exit status, first line, messages)", qemu, ours,
             "qemu", "ours")
sys.exit(checker.exit_status("system_qmp_pretty: all checks passed"))
