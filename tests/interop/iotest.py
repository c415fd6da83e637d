"""Helpers shared by the e2kvm-io interop scripts: temp dirs, running tools with timeouts,
normalising qemu-io statistics lines, and a seeded random workload generator."""
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from file_digest import sha256  # noqa: E402,F401 (used by the scripts importing iotest)
from peers import require  # noqa: E402

TIMEOUT = 120  # seconds for any single tool run


class Failure(Exception):
    pass


def run(argv, check=True, timeout=TIMEOUT, **kw):
    """Runs argv, returns CompletedProcess (text). Signals and timeouts are failures."""
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kw)
    except subprocess.TimeoutExpired:
        raise Failure(f"timeout after {timeout}s: {' '.join(argv[:6])} ...")
    if p.returncode < 0:
        raise Failure(f"killed by signal {-p.returncode}: {' '.join(argv[:6])}\n{p.stderr}")
    if check and p.returncode != 0:
        raise Failure(f"exit {p.returncode}: {' '.join(argv[:8])}\nstdout: {p.stdout[-2000:]}\n"
                      f"stderr: {p.stderr[-2000:]}")
    return p


STATS = re.compile(r"^(.*, \d+ ops; )\S+ sec \(.* ops/sec\)$")
MACHINE_STATS = re.compile(r"^(\d+,\d+,)[0-9:.]+,[0-9.]+,[0-9.]+$")


def normalise(output):
    """Drops timing figures from qemu-io style output so two runs can be compared."""
    lines = []
    for line in output.splitlines():
        m = STATS.match(line) or MACHINE_STATS.match(line)
        lines.append(m.group(1) + "T" if m else line)
    return lines


def workload(seed, size, cluster, count):
    """A seeded list of qemu-io commands: pattern writes (aligned and not), write-zeroes with
    and without -u, cluster-aligned discards and flushes. Returns (commands, expected) where
    expected maps a few written ranges to their final pattern for read-back checks."""
    rng = random.Random(seed)
    cmds = []
    for i in range(count):
        r = rng.random()
        if r < 0.55:
            length = rng.choice([512, 4096, 65536, rng.randrange(1, 200000)])
            off = rng.randrange(0, size - length)
            if rng.random() < 0.5:
                off -= off % 512
            cmds.append(f"write -P {rng.randrange(1, 256)} {off} {length}")
        elif r < 0.75:
            length = rng.choice([cluster, 2 * cluster, rng.randrange(1, 300000)])
            off = rng.randrange(0, size - length)
            unmap = "-u " if rng.random() < 0.5 else ""
            cmds.append(f"write -z {unmap}{off} {length}")
        elif r < 0.92:
            n = rng.randrange(1, 9)
            off = rng.randrange(0, size // cluster - n) * cluster
            cmds.append(f"discard {off} {n * cluster}")
        else:
            cmds.append("flush")
    return cmds


class TempDir:
    def __enter__(self):
        self.path = tempfile.mkdtemp(prefix="e2kvm-io-test-")
        return self.path

    def __exit__(self, *exc):
        shutil.rmtree(self.path, ignore_errors=True)


def main(body):
    """Runs body() once qemu-img and qemu-io, which every e2kvm-io interop script compares
    with, are on PATH (else the script ends as skipped), turning Failure into exit status 1
    with a message."""
    require("qemu-img", "qemu-io")
    try:
        body()
    except Failure as e:
        print(f"FAIL: {e}", file=sys.stderr)
        sys.exit(1)
    print("PASS")
