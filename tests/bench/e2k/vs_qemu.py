#!/usr/bin/env python3
"""Times the E2K benchmark programs under e2kvm-user and under qemu-e2k (the OpenE2K user-mode
emulator, a JIT) on the same executables and prints the time ratio per program.

The programs (alu.s, checksum.s, memloop.s, recursion.s next to this script, plus any --exe ELF files) are
built with MCST's binutils (e2k-linux-as/-ld on PATH or in $E2K_BINUTILS/bin, -mcpu=elbrus-v3,
after the host cpp like qemu-e2k-tests' build) or, without them, with e2kvm-as. qemu-e2k is
$QEMU_E2K, or qemu-e2k on PATH; without it only e2kvm-user is timed. Times are the child's CPU
time (user + system), best of --repeat runs: steadier than wall time on a shared machine.

usage: vs_qemu.py --e2kvm-user PATH [--e2kvm-as PATH] [--qemu PATH] [--repeat N]
                  [--exe ELF]... [--smoke]
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
PROGRAMS = ["alu", "checksum", "memloop", "recursion"]


def find_tool(name, env_dir):
    if env_dir:
        path = os.path.join(env_dir, "bin", name)
        if os.access(path, os.X_OK):
            return path
    return shutil.which(name)


def build(name, out_dir, mcst, e2kvm_as):
    src = os.path.join(HERE, name + ".s")
    exe = os.path.join(out_dir, name)
    if mcst:
        as_, ld = mcst
        pp = subprocess.run(["cpp", "-x", "assembler-with-cpp", "-P", src], capture_output=True,
                            text=True, check=True).stdout
        subprocess.run([as_, "-mcpu=elbrus-v3", "-o", exe + ".o", "-"], input=pp, text=True,
                       check=True)
        subprocess.run([ld, "-o", exe, exe + ".o"], check=True)
    else:
        subprocess.run([e2kvm_as, "-f", "exec", "-o", exe, src], check=True)
    return exe


def cpu_time(cmd):
    """Runs cmd; returns (exit status, user+sys seconds of the child)."""
    pid = os.fork()
    if pid == 0:
        try:
            devnull = os.open(os.devnull, os.O_RDWR)
            os.dup2(devnull, 0)
            os.dup2(devnull, 1)
            os.execv(cmd[0], cmd)
        finally:
            os._exit(127)
    _, status, usage = os.wait4(pid, 0)
    return os.waitstatus_to_exitcode(status), usage.ru_utime + usage.ru_stime


def best(cmd, repeat):
    times = []
    for _ in range(repeat):
        rc, t = cpu_time(cmd)
        if rc != 0:
            return rc, None
        times.append(t)
    return 0, min(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--e2kvm-user", required=True)
    ap.add_argument("--e2kvm-as")
    ap.add_argument("--qemu", default=os.environ.get("QEMU_E2K") or shutil.which("qemu-e2k"))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--exe", action="append", default=[])
    ap.add_argument("--smoke", action="store_true", help="recursion only, once")
    args = ap.parse_args()

    binutils = os.environ.get("E2K_BINUTILS")
    as_, ld = find_tool("e2k-linux-as", binutils), find_tool("e2k-linux-ld", binutils)
    mcst = (as_, ld) if as_ and ld else None
    if not mcst and not args.e2kvm_as:
        sys.exit("vs_qemu.py: neither MCST's e2k-linux-as/ld nor --e2kvm-as to build with")
    names = ["recursion"] if args.smoke else PROGRAMS
    repeat = 1 if args.smoke else args.repeat
    status = 0
    with tempfile.TemporaryDirectory() as tmp:
        exes = [build(n, tmp, mcst, args.e2kvm_as) for n in names] + args.exe
        print(f"built with {'MCST binutils (' + mcst[0] + ')' if mcst else 'e2kvm-as'}; "
              f"qemu-e2k: {args.qemu or 'not found (set QEMU_E2K or put qemu-e2k on PATH)'}")
        print(f"{'program':<24} {'e2kvm-user s':>13} {'qemu-e2k s':>11} {'ratio':>7}")
        for exe in exes:
            rc, ours = best([args.e2kvm_user, exe], repeat)
            if ours is None:
                print(f"{os.path.basename(exe):<24} e2kvm-user exit {rc}")
                status = 1
                continue
            line = f"{os.path.basename(exe):<24} {ours:13.2f}"
            if args.qemu:
                rc, theirs = best([args.qemu, "-cpu", "e2s", exe], repeat)
                if theirs is None:
                    line += f" {'exit ' + str(rc):>11}"
                else:
                    line += f" {theirs:11.2f} {ours / theirs:6.2f}x"
            print(line, flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
