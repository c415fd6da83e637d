"""The command line that runs a machine with its QMP monitor on stdin/stdout, for tests that
give the same QMP session to qemu-system-x86_64 (-machine none) and to e2kvm-system."""
import json
import subprocess


def stdio_qmp_argv(tool, system):
    """`tool` is "qemu" for qemu-system-x86_64, anything else for e2kvm-system at `system`."""
    prog = ["qemu-system-x86_64", "-machine", "none"] if tool == "qemu" else [
        system, "-accel", "qtest"]
    return prog + ["-nodefaults", "-display", "none", "-nographic", "-qmp", "stdio",
                   "-serial", "none"]


def stdio_qmp_replies(tool, system, extra, commands, timeout=60):
    """Runs one QMP session (`commands`, dicts sent one per line) on the machine of
    stdio_qmp_argv plus `extra` arguments. Returns the JSON messages it wrote, without the
    greeting and events, and its exit status; stderr and lines that are not JSON are left out."""
    text = "".join(json.dumps(c) + "\n" for c in commands)
    p = subprocess.run(stdio_qmp_argv(tool, system) + extra, input=text,
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                       timeout=timeout)
    replies = []
    for line in p.stdout.splitlines():
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        if "QMP" not in msg and "event" not in msg:
            replies.append(msg)
    return replies, p.returncode
