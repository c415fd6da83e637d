#!/usr/bin/env bash
# 4 KiB random reads and writes on a 1 GiB qcow2 and raw image, e2kvm-io vs qemu-io in the same
# run (one process per measurement, commands from a file on stdin, both with -t writeback so
# that no flush follows each write), printing ops/s for both and the ratio (ours / qemu's;
# > 1 means we are faster). A tool that reports an error, or write runs that leave the two
# tools' images different, end the run with exit 1 (a missing qemu-img/qemu-io: exit 77).
# usage: bench_io.sh [E2KVM_IO] [OPS]     (defaults: build/rel's e2kvm-io, 20000 ops)
set -euo pipefail
shopt -s inherit_errexit # a failure inside $(measure_pair ...) ends the run
root=$(cd "$(dirname "$0")/../../.." && pwd)
. "$root/tests/lib/peers.sh"
require_peers qemu-img qemu-io
ours=${1:-$root/build/rel/app/e2kvm-io/e2kvm-io}
ops=${2:-20000}
size=$((1 << 30))
[ -x "$ours" ] || { echo "bench_io: $ours not built" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Command files: random 4 KiB-aligned offsets, same for both tools.
python3 - "$work" "$ops" "$size" <<'PY'
import random, sys
d, n, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(42)
blocks = size // 4096
with open(f"{d}/reads.txt", "w") as f:
    for _ in range(n):
        f.write(f"read -q {rng.randrange(blocks) * 4096} 4k\n")
with open(f"{d}/writes.txt", "w") as f:
    for _ in range(n):
        f.write(f"write -q -P {rng.randrange(1, 256)} {rng.randrange(blocks) * 4096} 4k\n")
PY

now() { date +%s.%N; }
# run_once TOOL FMT IMAGE CMDFILE -> ops/s; fails if the tool reported an error
run_once() {
    local tool=$1 fmt=$2 img=$3 cmds=$4 t0 t1
    t0=$(now)
    if ! "$tool" -f "$fmt" -t writeback "$img" <"$cmds" >"$work/out.txt" 2>&1 ||
        grep -q "failed" "$work/out.txt"; then
        echo "bench_io: $(basename "$tool") failed on $fmt:" >&2
        grep -m3 -i "fail\\|can't" "$work/out.txt" >&2 || true
        return 1
    fi
    t1=$(now)
    python3 -c "print(f'{$ops / ($t1 - $t0):.0f}')"
}
# measure_pair FMT IMAGE_OURS IMAGE_QEMU CMDFILE [FRESH] -> "ours qemu": best ops/s of 3
# alternating runs (the machine may be shared); with FRESH the images are recreated empty.
measure_pair() {
    local fmt=$1 img_ours=$2 img_qemu=$3 cmds=$4 fresh=${5:-} best_ours=0 best_qemu=0 r
    for _ in 1 2 3; do
        if [ -n "$fresh" ]; then
            qemu-img create -q -f "$fmt" "$img_ours" "$size"
            qemu-img create -q -f "$fmt" "$img_qemu" "$size"
        fi
        r=$(run_once "$ours" "$fmt" "$img_ours" "$cmds")
        [ "$r" -gt "$best_ours" ] && best_ours=$r
        r=$(run_once qemu-io "$fmt" "$img_qemu" "$cmds")
        [ "$r" -gt "$best_qemu" ] && best_qemu=$r
    done
    echo "$best_ours $best_qemu"
}
row() { # label ours theirs
    python3 -c "
a, b = float('$2'), float('$3')
print(f'{\"$1\":<34} {a:>12.0f} {b:>12.0f} {a / b:>8.2f}')"
}

printf '%-34s %12s %12s %8s\n' "4 KiB random, $ops ops" "e2kvm-io/s" "qemu-io/s" "ratio"
for fmt in qcow2 raw; do
    full=$work/full.$fmt
    qemu-img create -q -f "$fmt" "$full" "$size"
    qemu-io -f "$fmt" -c "write -q -P 0x5a 0 1G" "$full" >/dev/null
    # (results go through variables: a failure in an argument's $(...) would go unnoticed)
    r=$(measure_pair "$fmt" "$full" "$full" "$work/reads.txt")
    row "$fmt read (allocated)" $r
    r=$(measure_pair "$fmt" "$full" "$full" "$work/writes.txt")
    row "$fmt overwrite" $r
    rm -f "$full"
    r=$(measure_pair "$fmt" "$work/empty-ours.$fmt" "$work/empty-qemu.$fmt" "$work/writes.txt" \
        fresh)
    row "$fmt write to empty image" $r
    qemu-img compare -q -f "$fmt" -F "$fmt" "$work/empty-ours.$fmt" "$work/empty-qemu.$fmt" || {
        echo "bench_io: FAIL: $fmt images differ after the write run (e2kvm-io vs qemu-io)" >&2
        exit 1
    }
    rm -f "$work"/empty-*
done
