#!/usr/bin/env bash
# Benchmark: `convert` of a 1 GiB raw image (mixed data, zero-filled data and holes, made
# reproducibly) to qcow2 and of a qcow2 image to raw, e2kvm-img against qemu-img in the same
# run. Prints the median and the best of several runs of each and the ratios (ours / qemu-img;
# < 1 = faster). The tools take turns going first; on a loaded machine the best-of figure is
# the steadier one.
# Every result of both tools is checked with `qemu-img compare` against the source (and
# `qemu-img check` for qcow2); a failed conversion or a differing result ends the run with
# exit 1, and a missing qemu-img (or bc) with exit 77 (skipped, for ctest).
#
# usage: bench_convert.sh [--smoke] [--runs N] [--size-mib N] PATH/TO/e2kvm-img
#   --smoke: 64 MiB, one run: a quick correctness run for ctest (no timing claims).
set -euo pipefail
shopt -s inherit_errexit # a failed conversion inside $(time_convert ...) ends the run
. "$(dirname "$0")/../../lib/peers.sh"
require_peers qemu-img bc

runs=6
size_mib=1024
smoke=0
while [ $# -gt 1 ]; do
    case "$1" in
    --smoke) smoke=1; runs=1; size_mib=64; shift ;;
    --runs) runs=$2; shift 2 ;;
    --size-mib) size_mib=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done
ours=$(realpath "${1:?usage: bench_convert.sh [--smoke] [--runs N] [--size-mib N] e2kvm-img}")
qemu=$(command -v qemu-img)

work=$(mktemp -d "${TMPDIR:-/tmp}/bench-convert.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"

# The source: per MiB, in a fixed pattern: a hole, pseudo-random data, half data half hole,
# zeros written as data, data with a 4 KiB hole inside.
python3 - "$size_mib" src.raw <<'EOF'
import random, sys
mib, path = int(sys.argv[1]), sys.argv[2]
rng = random.Random(20261123)
block = rng.randbytes(1 << 20)
with open(path, "wb") as f:
    f.truncate(mib << 20)
    for i in range(mib):
        kind = i % 5
        data = (i.to_bytes(8, "little") + block[8:])
        f.seek(i << 20)
        if kind == 1:
            f.write(data)
        elif kind == 2:
            f.write(data[: 1 << 19])
        elif kind == 3:
            f.write(bytes(1 << 20))
        elif kind == 4:
            f.write(data[:1 << 18])
            f.seek((i << 20) + (1 << 18) + 4096)
            f.write(data[(1 << 18) + 4096:])
EOF
"$qemu" convert -f raw -O qcow2 src.raw src.qcow2

now() { date +%s.%N; }

# time_convert TOOL ARGS...: prints seconds for one run. Dirty pages of the previous run are
# written back first (untimed), so that no run pays for another one's writeback.
time_convert() {
    local t0 t1
    sync
    sleep 0.5
    t0=$(now)
    "$@" >/dev/null || { echo "bench_convert: failed: $*" >&2; return 1; }
    t1=$(now)
    echo "$t1 - $t0" | bc -l
}

median() { sort -g | awk '{a[NR]=$1} END {printf "%.3f", (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

bench() { # label src srcfmt dstfmt
    local label=$1 src=$2 sfmt=$3 dfmt=$4 qt=() ot=() i
    for ((i = 0; i < runs; i++)); do
        rm -f q.out o.out
        # Alternate which tool goes first.
        if ((i % 2 == 0)); then
            qt+=("$(time_convert "$qemu" convert -f "$sfmt" -O "$dfmt" "$src" q.out)")
            ot+=("$(time_convert "$ours" convert -f "$sfmt" -O "$dfmt" "$src" o.out)")
        else
            ot+=("$(time_convert "$ours" convert -f "$sfmt" -O "$dfmt" "$src" o.out)")
            qt+=("$(time_convert "$qemu" convert -f "$sfmt" -O "$dfmt" "$src" q.out)")
        fi
    done
    local out tool
    for out in o.out q.out; do
        tool=e2kvm-img
        [ "$out" = q.out ] && tool=qemu-img
        "$qemu" compare -f "$sfmt" -F "$dfmt" "$src" "$out" >/dev/null \
            || { echo "$label: $tool output differs from the source" >&2; exit 1; }
        if [ "$dfmt" = qcow2 ]; then
            "$qemu" check "$out" >/dev/null \
                || { echo "$label: qemu-img check of $tool's output failed" >&2; exit 1; }
        fi
    done
    local qm om qb ob
    qm=$(printf '%s\n' "${qt[@]}" | median)
    om=$(printf '%s\n' "${ot[@]}" | median)
    qb=$(printf '%s\n' "${qt[@]}" | sort -g | head -1)
    ob=$(printf '%s\n' "${ot[@]}" | sort -g | head -1)
    printf '%-11s median: qemu-img %6.3f s  e2kvm-img %6.3f s  ratio %.2f | best: %6.3f s  %6.3f s  ratio %.2f  (%d MiB, %d runs)\n' \
        "$label" "$qm" "$om" "$(echo "$om / $qm" | bc -l)" "$qb" "$ob" "$(echo "$ob / $qb" | bc -l)" \
        "$size_mib" "$runs"
    echo "             runs: qemu-img ${qt[*]} / e2kvm-img ${ot[*]}" | sed 's/\([0-9]\.[0-9][0-9][0-9]\)[0-9]*/\1/g'
    rm -f q.out o.out
}

bench "raw->qcow2" src.raw raw qcow2
bench "qcow2->raw" src.qcow2 qcow2 raw
bench "raw->raw" src.raw raw raw
[ "$smoke" = 1 ] && echo "smoke run ok"
exit 0
