#!/usr/bin/env python3
"""Runs one E2K test program under e2kvm-user and checks its exit status and output against
the EXPECT-EXIT / EXPECT-STDOUT / EXPECT-STDERR comments in its source (default: exit 0)."""
import re
import subprocess
import sys


def main():
    runner, program, source = sys.argv[1:4]
    text = open(source, encoding="utf-8").read()
    exit_code = int((re.search(r"EXPECT-EXIT:\s*(\d+)", text) or [None, "0"])[1])
    out = re.search(r"EXPECT-STDOUT:\s*(.*)", text)
    err = re.search(r"EXPECT-STDERR:\s*(.*)", text)
    try:
        p = subprocess.run([runner, program], stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=120)
    except subprocess.TimeoutExpired:
        print(f"{program}: timed out")
        return 1
    stdout = p.stdout.decode(errors="replace")
    stderr = p.stderr.decode(errors="replace")
    ok = True
    if p.returncode != exit_code:
        print(f"{program}: exit status {p.returncode}, expected {exit_code}")
        ok = False
    if out and stdout != out.group(1).encode().decode("unicode_escape"):
        print(f"{program}: stdout {stdout!r}, expected {out.group(1)!r}")
        ok = False
    if err and err.group(1).strip() not in stderr:
        print(f"{program}: stderr lacks {err.group(1).strip()!r}")
        ok = False
    if not ok:
        print("stdout:", stdout)
        print("stderr:", stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
