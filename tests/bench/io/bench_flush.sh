#!/usr/bin/env bash
# 4 KiB random allocating writes on a fresh qcow2 (each write allocates a new 64 KiB cluster)
# with a flush after every N writes, e2kvm-io vs qemu-io in the same run (commands on stdin,
# -t writeback so that only the explicit flushes sync). Prints ops/s for each N and the ratio
# (ours / qemu's; > 1 means we are faster). This is what ordered metadata costs: each flush
# must make the data, refcounts and L2 entries durable in a crash-safe order.
# usage: bench_flush.sh [E2KVM_IO] [WRITES] [N...]   (defaults: build/rel's e2kvm-io, 4000,
#        N = 1 8 64)
set -euo pipefail
shopt -s inherit_errexit
root=$(cd "$(dirname "$0")/../../.." && pwd)
. "$root/tests/lib/peers.sh"
require_peers qemu-img qemu-io
ours=${1:-$root/build/rel/app/e2kvm-io/e2kvm-io}
writes=${2:-4000}
shift $(($# > 2 ? 2 : $#))
every=("$@")
[ ${#every[@]} -gt 0 ] || every=(1 8 64)
[ -x "$ours" ] || { echo "bench_flush: $ours not built" >&2; exit 1; }
work=$(mktemp -d "${TMPDIR:-/var/tmp}/bench_flush.XXXXXX")
trap 'rm -rf "$work"' EXIT
size=$((4 << 30))

now() { date +%s.%N; }
# run_once TOOL CMDFILE -> ops/s on a fresh image; fails if the tool reported an error
run_once() {
    local tool=$1 cmds=$2 t0 t1
    rm -f "$work/img.qcow2"
    qemu-img create -q -f qcow2 "$work/img.qcow2" "$size"
    t0=$(now)
    if ! "$tool" -f qcow2 -t writeback "$work/img.qcow2" <"$cmds" >"$work/out.txt" 2>&1 ||
        grep -q "failed" "$work/out.txt"; then
        echo "bench_flush: $tool failed:" >&2
        head -5 "$work/out.txt" >&2
        return 1
    fi
    t1=$(now)
    qemu-img check -q "$work/img.qcow2" >&2
    python3 -c "import sys; print('%.0f' % ($writes / (float(sys.argv[2]) - float(sys.argv[1]))))" \
        "$t0" "$t1"
}

echo "4 KiB random allocating writes, $writes writes, qcow2 64 KiB clusters, -t writeback"
printf '%-14s %12s %12s %8s\n' "flush every" "e2kvm ops/s" "qemu ops/s" "ratio"
for n in "${every[@]}"; do
    python3 - "$work/cmds.txt" "$writes" "$n" "$size" <<'PY'
import random, sys
path, writes, every, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rng = random.Random(7)
clusters = rng.sample(range(size // 65536), writes)  # distinct: every write allocates
with open(path, "w") as f:
    for i, c in enumerate(clusters, 1):
        f.write(f"write -q -P {i % 255 + 1} {c * 65536 + rng.randrange(16) * 4096} 4k\n")
        if i % every == 0:
            f.write("flush\n")
    f.write("flush\n")
PY
    a=$(run_once "$ours" "$work/cmds.txt")
    b=$(run_once qemu-io "$work/cmds.txt")
    printf '%-14s %12s %12s %8s\n' "$n writes" "$a" "$b" \
        "$(python3 -c "import sys; print('%.2f' % (float(sys.argv[1]) / float(sys.argv[2])))" "$a" "$b")"
done
