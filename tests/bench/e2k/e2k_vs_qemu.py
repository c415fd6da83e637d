#!/usr/bin/env python3
"""Runs the same E2K Linux executables under e2kvm-user and under qemu-e2k (OpenE2K's
user-mode emulator, when one is found) and prints, per program, the best of N runs of each
(CPU time of the emulator process, robust on a shared machine; wall time too) and the ratio
e2kvm-user / qemu-e2k (below 1: we are faster). Exit codes must agree; a program that fails
under either is reported and makes the run fail.

qemu-e2k is not packaged: build it as ../shared/e2k-peers/README.md says, then point QEMU_E2K
at it (default: qemu-e2k on PATH, else $HOME/e2k-peers/build/qemu-e2k/qemu-e2k). Without it the
e2kvm-user figures are printed alone, marked "peer: none".

Usage: e2k_vs_qemu.py [--runs N] E2KVM_USER PROGRAM...
  (PROGRAM: executables built by e2k_bench_programs - alu, checksum, recursion - or MCST-built
   ones such as the qemu-e2k-tests suite's)"""
import os
import resource
import shutil
import subprocess
import sys
import time


def find_qemu_e2k():
    for candidate in (os.environ.get("QEMU_E2K"), shutil.which("qemu-e2k"),
                      os.path.expanduser("~/e2k-peers/build/qemu-e2k/qemu-e2k")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def timed(cmd):
    """(exit code, cpu seconds, wall seconds) of one run of `cmd`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=600)
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return r.returncode, cpu, wall, r.stderr.decode(errors="replace").strip()


def best(cmd, runs):
    results = [timed(cmd) for _ in range(runs)]
    codes = {r[0] for r in results}
    return (results[0][0] if len(codes) == 1 else None, min(r[1] for r in results),
            min(r[2] for r in results), results[0][3])


def main():
    args = sys.argv[1:]
    runs = 3
    if len(args) >= 2 and args[0] == "--runs":
        runs = int(args[1])
        args = args[2:]
    if len(args) < 2:
        print(__doc__)
        return 2
    ours, programs = args[0], args[1:]
    peer = find_qemu_e2k()
    peer_cmd = [peer, "-cpu", "e2s"] if peer else None
    print(f"e2kvm-user: {ours}\nqemu-e2k:   {peer or 'none found (set QEMU_E2K)'}\n"
          f"best of {runs} runs, CPU seconds")
    status = 0
    ratios = []
    for prog in programs:
        name = os.path.basename(prog)
        code, cpu, wall, err = best([ours, prog], runs)
        line = f"{name:<24} e2kvm-user {cpu:7.3f} s (wall {wall:6.3f}) exit {code}"
        if code != 0:
            status = 1
            line += f"  [{err.splitlines()[-1] if err else 'failed'}]"
        if peer_cmd:
            pcode, pcpu, pwall, perr = best(peer_cmd + [prog], runs)
            line += f" | qemu-e2k {pcpu:7.3f} s (wall {pwall:6.3f}) exit {pcode}"
            if pcode != code:
                status = 1
                line += "  [exit codes differ]"
            elif pcpu > 0:
                ratio = cpu / pcpu
                ratios.append(ratio)
                line += f" | ratio {ratio:5.2f}"
        else:
            line += " | peer: none"
        print(line)
    if ratios:
        geo = 1.0
        for r in ratios:
            geo *= r
        geo **= 1.0 / len(ratios)
        print(f"geometric mean ratio e2kvm-user / qemu-e2k: {geo:.2f} over {len(ratios)} programs")
    return status


if __name__ == "__main__":
    sys.exit(main())
