#!/usr/bin/env bash
# Power-cut consistency of e2kvm-nbd's qcow2 writes: runs the shared power-cut harness
# (../shared/powercut/run.sh, or $E2KVM_POWERCUT_DIR/run.sh) for a few runs: every image a disk
# could hold after a cut must pass `qemu-img check` (leaks allowed) and keep every block the
# writer saw flushed. Exit 77 (skipped) without the harness, qemu-img or python3-libnbd.
# usage: powercut_test.sh E2KVM_NBD E2KVM_IMG [RUNS=2] [STATES=30] [WRITES=200]
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
nbd=$1 img=$2 runs=${3:-2} states=${4:-30} writes=${5:-200}
harness=${E2KVM_POWERCUT_DIR:-$root/../shared/powercut}
if [ ! -x "$harness/run.sh" ] && [ ! -f "$harness/run.sh" ]; then
    echo "SKIP: power-cut harness not found at $harness (set E2KVM_POWERCUT_DIR)"
    exit 77
fi
command -v qemu-img >/dev/null || { echo "SKIP: qemu-img not found"; exit 77; }
command -v cc >/dev/null || { echo "SKIP: cc not found (the harness builds its shim)"; exit 77; }
/usr/bin/python3 -c 'import nbd' 2>/dev/null || { echo "SKIP: python3-libnbd missing"; exit 77; }
out=$(mktemp -d "${TMPDIR:-/tmp}/powercut.XXXXXX")
trap 'rm -rf "$out"' EXIT
timeout 600 bash "$harness/run.sh" "$nbd" "$img" "$runs" "$out" "$states" "$writes"
rc=$?
if [ $rc -ne 0 ]; then
    for f in "$out"/run*/states.jsonl; do
        grep -h '"check_rc": 2\|"lost": [1-9]\|"bad": [1-9]' "$f" | head -3
    done
    cat "$out"/run*/server.err 2>/dev/null | head -5
fi
exit $rc
