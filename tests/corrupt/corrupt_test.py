#!/usr/bin/env python3
"""Opens every image of the hand-made corrupt qcow2 corpus (qcow2_corpus.py) with e2kvm-io
(read, map, write, flush) and, when given, e2kvm-img (info, check). Each must end with a
non-zero exit and a one-line error naming the problem; nothing may crash (signal),
hang, or print a sanitizer report. The valid image of the corpus must work.
usage: corrupt_test.py E2KVM_IO [E2KVM_IMG]"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import qcow2_corpus  # noqa: E402
from checks import Checker  # noqa: E402

SANITIZER = re.compile(r"AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|"
                       r"runtime error:")
TIMEOUT = 30


def run(argv):
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT,
                           errors="replace")
    except subprocess.TimeoutExpired:
        return None
    return p


def scrub(text, names):
    """Removes file names (which contain the case names) so the regex sees only the message."""
    for n in sorted(names, key=len, reverse=True):
        text = text.replace(n, "<file>")
    return text


def judge(name, what, p, regex, must_fail, names=()):
    """Returns a problem description or None."""
    if p is None:
        return f"{name}: {what}: hung (no exit within {TIMEOUT}s)"
    if p.returncode < 0:
        return f"{name}: {what}: killed by signal {-p.returncode}\n{p.stderr[-3000:]}"
    if SANITIZER.search(p.stderr):
        return f"{name}: {what}: sanitizer report\n{p.stderr[-3000:]}"
    if not must_fail:
        return None
    if p.returncode == 0:
        return f"{name}: {what}: exit 0 on a corrupt image\nstdout: {p.stdout[-1500:]}"
    lines = [l for l in scrub(p.stderr, names).splitlines() if re.search(regex, l)]
    if not lines:
        return (f"{name}: {what}: exit {p.returncode} but no error line matching {regex!r}:\n"
                f"stderr: {p.stderr[-1500:]}\nstdout: {p.stdout[-800:]}")
    return None


def main():
    e2kvm_io = sys.argv[1]
    e2kvm_img = sys.argv[2] if len(sys.argv) > 2 and sys.argv[2] else None
    checker = Checker(sys.stderr, deferred=True, separator="\n\n")
    tmp = tempfile.mkdtemp(prefix="e2kvm-corrupt-")
    try:
        corpus = qcow2_corpus.write_corpus(os.path.join(tmp, "corpus"))
        valid = os.path.join(tmp, "corpus", "valid.qcow2")
        p = run([e2kvm_io, "-f", "qcow2", "-c", "read -q -P 0xab 0 64k", "-c",
                 "read -q -P 0 64k 64k", "-c", "write -q -P 1 128k 4k", "-c", "flush", valid])
        if p is None or p.returncode != 0 or p.stdout.strip():
            checker.fail(f"valid image: e2kvm-io failed: "
                         f"{p and (p.returncode, p.stdout, p.stderr)}")
        names = [os.path.basename(p) for p, _ in corpus.values()] + ["valid.qcow2", tmp]
        for name, (path, regex) in sorted(corpus.items()):
            work = os.path.join(tmp, "work")
            shutil.rmtree(work, ignore_errors=True)
            shutil.copytree(os.path.join(tmp, "corpus"), work)
            target = os.path.join(work, os.path.basename(path))
            # Read-only pass: no crash, no hang (a clean read may be legitimate).
            p = run([e2kvm_io, "-r", "-f", "qcow2", "-c", "read 0 64k", "-c", "map", target])
            problem = judge(name, "e2kvm-io -r read/map", p, regex, False)
            # Read-write pass: must fail with a clear message.
            if not problem:
                p = run([e2kvm_io, "-f", "qcow2", "-c", "read 0 64k", "-c", "map", "-c",
                         "write -P 1 128k 4k", "-c", "write -P 2 3M 64k", "-c", "flush",
                         target])
                problem = judge(name, "e2kvm-io read/map/write", p, regex, True, names)
            if not problem and e2kvm_img and name.startswith("backing-"):
                # A loop is a property of the chain, not of one image's metadata (check looks
                # at one layer): the chain walk must refuse it.
                p = run([e2kvm_img, "info", "--backing-chain", target])
                problem = judge(name, "e2kvm-img info --backing-chain", p, regex, True, names)
            elif not problem and e2kvm_img:
                p = run([e2kvm_img, "info", target])
                problem = judge(name, "e2kvm-img info", p, regex, False)
                if not problem:
                    p = run([e2kvm_img, "check", target])
                    problem = judge(name, "e2kvm-img check", p, r".", True)
            if problem:
                checker.fail(problem)
                print(f"FAIL {name}")
            else:
                print(f"ok   {name}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    sys.exit(checker.exit_status(f"PASS: {len(corpus)} corrupt images rejected cleanly",
                                 f"{{count}} of {len(corpus) + 1} images (corrupt ones and the "
                                 "valid one) mishandled"))


if __name__ == "__main__":
    main()
