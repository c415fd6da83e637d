#!/usr/bin/env python3
"""Crash consistency: e2kvm-io runs a long random command list (pattern writes, write-zeroes,
discards, a flush every few commands) on a qcow2 image and is killed with SIGKILL at a random
moment, many rounds on the same image. After each kill `qemu-img check` must find no
corruption (exit 0, or 3 = leaked clusters only), and every byte written before the last
completed flush must read back (through QEMU's own reader), except ranges touched by
commands that ran after that flush.
usage: crash_test.py E2KVM_IO [--rounds N] [--seed N] [--format qcow2|raw]"""
import argparse
import os
import re
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from checks import Checker  # noqa: E402
from peers import require  # noqa: E402

SIZE = 16 << 20
CLUSTER = 64 << 10


def commands(rng, count):
    """Returns a list of (command text, (offset, length) touched or None, kind)."""
    out = []
    since_flush = 0
    for _ in range(count):
        if since_flush >= rng.randrange(4, 16):
            out.append(("flush", None, "flush"))
            out.append(("length", None, "marker"))
            since_flush = 0
            continue
        r = rng.random()
        if r < 0.65:
            length = rng.choice([512, 4096, 65536, 131072, rng.randrange(1, 100000)])
            off = rng.randrange(0, SIZE - length)
            out.append((f"write -P {rng.randrange(1, 256)} {off} {length}", (off, length),
                        "write"))
        elif r < 0.85:
            length = rng.choice([CLUSTER, rng.randrange(1, 200000)])
            off = rng.randrange(0, SIZE - length)
            flag = "-u " if rng.random() < 0.5 else ""
            out.append((f"write -z {flag}{off} {length}", (off, length), "write"))
        else:
            n = rng.randrange(1, 4)
            off = rng.randrange(0, SIZE // CLUSTER - n) * CLUSTER
            out.append((f"discard {off} {n * CLUSTER}", (off, n * CLUSTER), "discard"))
        since_flush += 1
    return out


def apply(model, cmd):
    text, rng_, _ = cmd
    if rng_ is None:
        return
    off, length = rng_
    if text.startswith("write -P"):
        model[off:off + length] = bytes([int(text.split()[2])]) * length
    else:  # write -z and discard (with -d unmap) both read back as zero (no backing file)
        model[off:off + length] = bytes(length)


def completed_count(stdout, cmds):
    """Number of commands whose completion line is in stdout (output is flushed per command)."""
    # The prompt: "e2kvm-io> ", or "qemu-io> " when qemu-io itself is the writer (for reference).
    stdout = re.sub(r"(?:qemu|e2kvm)-io> ", "", stdout)
    lines = [l for l in stdout.splitlines() if l.startswith(("wrote ", "discard ")) or
             l.endswith(" MiB")]
    done = 0
    li = 0
    for text, _, kind in cmds:
        if kind == "flush":
            # flush prints nothing; it is known complete once the following marker printed.
            if li < len(lines) and lines[li].endswith(" MiB"):
                done += 1
                continue
            break
        if li >= len(lines):
            break
        li += 1
        done += 1
    return done


def read_image(path, fmt, tmp):
    raw = os.path.join(tmp, "readback.raw")
    subprocess.run(["qemu-img", "convert", "-f", fmt, "-O", "raw", path, raw], check=True,
                   timeout=120)
    data = bytearray(os.path.getsize(raw))
    with open(raw, "rb", buffering=0) as f:
        f.readinto(data)
    os.unlink(raw)
    return data


def abort_round(a, tmp):
    """e2kvm-io's `abort` (abort(3) without closing the image) after a flushed and an
    unflushed write: the image must check clean and the flushed write must read back."""
    img = os.path.join(tmp, "abort." + a.format)
    subprocess.run(["qemu-img", "create", "-q", "-f", a.format, img, str(SIZE)], check=True)
    p = subprocess.run([a.e2kvm_io, "-f", a.format, "-t", "writeback", "-c", "write -P 7 0 64k",
                        "-c", "flush", "-c", "write -P 8 1M 64k", "-c", "abort", img],
                       capture_output=True, text=True, timeout=60)
    if p.returncode != -signal.SIGABRT:
        return [f"abort: e2kvm-io exit {p.returncode}, expected SIGABRT\n{p.stderr[-1000:]}"]
    if a.format == "qcow2":
        c = subprocess.run(["qemu-img", "check", img], capture_output=True, text=True,
                           timeout=60)
        if c.returncode not in (0, 3):
            return [f"abort: qemu-img check exit {c.returncode}\n{c.stdout[-2000:]}"]
    r = subprocess.run(["qemu-io", "-f", a.format, "-r", "-c", "read -P 7 0 64k", img],
                       capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        return [f"abort: flushed data lost after abort\n{r.stdout[-1000:]}"]
    print("abort round: check ok, flushed data present")
    return []


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("e2kvm_io")
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--seed", type=int, default=int(time.time()))
    ap.add_argument("--format", default="qcow2")
    a = ap.parse_args()
    require("qemu-img", "qemu-io")
    rng = random.Random(a.seed)
    print(f"seed {a.seed}")
    tmp = tempfile.mkdtemp(prefix="e2kvm-crash-")
    checker = Checker(sys.stderr, deferred=True)
    failures = checker.failures
    killed_mid_run = 0
    try:
        img = os.path.join(tmp, "disk." + a.format)
        subprocess.run(["qemu-img", "create", "-q", "-f", a.format, img, str(SIZE)], check=True)
        model = bytearray(SIZE)
        for rnd in range(a.rounds):
            cmds = commands(rng, 1500)
            script = "".join(c[0] + "\n" for c in cmds)
            # writeback: only the explicit flushes make data durable, as in a guest.
            proc = subprocess.Popen([a.e2kvm_io, "-f", a.format, "-d", "unmap", "-t",
                                     "writeback", img],
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE)
            chunks = []
            reader = threading.Thread(target=lambda: chunks.append(proc.stdout.read()))
            reader.start()
            errs = []
            err_reader = threading.Thread(target=lambda: errs.append(proc.stderr.read()))
            err_reader.start()

            def feed():
                try:
                    proc.stdin.write(script.encode())
                    proc.stdin.close()
                except (BrokenPipeError, ValueError):
                    pass
            feeder = threading.Thread(target=feed)
            feeder.start()
            time.sleep(rng.uniform(0.02, 0.4))
            try:
                proc.send_signal(signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(timeout=30)
            feeder.join(timeout=30)
            reader.join(timeout=30)
            err_reader.join(timeout=30)
            stdout = chunks[0].decode(errors="replace") if chunks else ""
            stderr = errs[0].decode(errors="replace") if errs else ""
            if proc.returncode != -signal.SIGKILL:
                if proc.returncode != 0:
                    failures.append(f"round {rnd}: e2kvm-io exited {proc.returncode} before "
                                    f"the kill:\n{stderr[-2000:]}")
                    break
            else:
                killed_mid_run += 1
            done = completed_count(stdout, cmds)
            # Last flush whose completion is known.
            last_flush = -1
            for i in range(done):
                if cmds[i][2] == "flush":
                    last_flush = i
            if a.format == "qcow2":
                c = subprocess.run(["qemu-img", "check", "-f", "qcow2", img],
                                   capture_output=True, text=True, timeout=120)
                if c.returncode not in (0, 3):
                    failures.append(f"round {rnd}: qemu-img check exit {c.returncode} after kill "
                                    f"at command {done}:\n{c.stdout[-3000:]}{c.stderr[-1000:]}")
                    break
            expected = bytearray(model)
            for i in range(last_flush + 1):
                apply(expected, cmds[i])
            # Ranges that commands after the last known flush may have touched (all completed
            # ones plus the one that was running) are undetermined.
            uncertain = [cmds[i][1] for i in range(last_flush + 1, min(done + 1, len(cmds)))
                         if cmds[i][1]]
            actual = read_image(img, a.format, tmp)
            if len(actual) != SIZE:
                failures.append(f"round {rnd}: disk size {len(actual)} after crash")
                break
            check = bytearray(expected)
            for off, length in uncertain:
                check[off:off + length] = actual[off:off + length]
            if check != actual:
                first = next(i for i in range(SIZE) if check[i] != actual[i])
                failures.append(f"round {rnd}: flushed data lost: first difference at offset "
                                f"{first} (expected {check[first]:#x}, found {actual[first]:#x}); "
                                f"{done} commands completed, last flush at {last_flush}")
                break
            model = actual  # the uncertain ranges now hold whatever survived
            print(f"round {rnd}: {done} commands done, last flush #{last_flush}, "
                  f"{len(uncertain)} uncertain ranges, check ok")
        if not failures:
            failures += abort_round(a, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if not failures:
        checker.check(killed_mid_run > 0,
                      "FAIL: the writer was never killed mid-run (it finished too fast)")
    sys.exit(checker.exit_status(f"PASS: {a.rounds} rounds, {killed_mid_run} killed mid-run",
                                 f"FAIL (seed {a.seed})"))


if __name__ == "__main__":
    main()
