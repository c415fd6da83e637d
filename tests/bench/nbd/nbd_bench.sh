#!/usr/bin/env bash
# NBD server benchmark: e2kvm-nbd vs qemu-nbd vs `nbdkit file`, served by socket activation.
#  1. nbdcopy of a 512 MiB random raw image to null: (median of RUNS runs, page cache warm)
#  2. nbdinfo --map --totals of a 1 TiB sparse raw image (block status), ours vs qemu-nbd
#  3. nbdinfo --map=qemu:dirty-bitmap:b --totals of a 1 TiB qcow2 whose bitmap has 100 000
#     dirty ranges (64 KiB granularity), exported with -B b, ours vs qemu-nbd
#  4. the same walk and nbdcopy against servers left running: walk time and the server's own
#     CPU time, without process start-up and client work (needs nbd_status_bench built)
#  5. what the clients allow: the CPU time nbdcopy and nbdinfo spend themselves, which no server
#     can remove, and so the best ratio to qemu-nbd that any server could reach in 1 and 3
# A failed client or server run, block status or extent counts that differ between e2kvm-nbd and
# qemu-nbd, or a bitmap without its 100 000 dirty ranges end the run with exit 1 (a missing
# peer: exit 77).
# Usage: nbd_bench.sh E2KVM_NBD [RUNS] [SIZE_MIB]   (not run by ctest; e2kvm-img and e2kvm-io
#        are taken from the same build tree as E2KVM_NBD)
set -euo pipefail
shopt -s inherit_errexit # a failed run inside $(timeit ...) ends the benchmark
. "$(dirname "$0")/../../lib/peers.sh"
require_peers nbdcopy nbdinfo nbdkit qemu-img qemu-nbd bc
E2KVM_NBD=$(realpath "$1")
RUNS=${2:-5}
SIZE_MIB=${3:-512}
TMP=$(mktemp -d /tmp/e2kvm-nbd-bench-XXXXXX)
trap 'rm -rf "$TMP"' EXIT

img=$TMP/big.raw
head -c $((SIZE_MIB << 20)) /dev/urandom > "$img"
cat "$img" > /dev/null
sparse=$TMP/sparse.raw
truncate -s 1T "$sparse"
for off in 0 1000 500000 999999; do # a few data islands (MiB offsets)
    dd if=/dev/urandom of="$sparse" bs=1M count=1 seek=$off conv=notrunc status=none
done

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
timeit() { # command... -> seconds
    local t0 t1
    t0=$(date +%s.%N)
    "$@" > /dev/null || { echo "nbd_bench: failed: $*" >&2; return 1; }
    t1=$(date +%s.%N)
    echo "$t1 - $t0" | bc -l
}
measure() { # label, server command...
    local label=$1; shift
    local times=()
    for ((i = 0; i < RUNS; i++)); do
        times+=("$(timeit nbdcopy -- [ "$@" ] null:)")
    done
    printf '%s\n' "${times[@]}" | median
}

declare -A T Q
T[e2kvm]=$(measure e2kvm "$E2KVM_NBD" -r -f raw "$img")
T[e2kvm_multi]=$(measure e2kvm-e4 "$E2KVM_NBD" -r -f raw -e 4 "$img")
T[qemu]=$(measure qemu qemu-nbd -r -f raw "$img")
T[qemu_multi]=$(measure qemu-e4 qemu-nbd -r -f raw -e 4 "$img")
T[nbdkit]=$(measure nbdkit nbdkit -r file "$img")

echo "nbdcopy ${SIZE_MIB} MiB raw -> null: (median of $RUNS, seconds, MiB/s)"
for k in e2kvm qemu nbdkit e2kvm_multi qemu_multi; do
    printf '  %-12s %7.3f s  %8.0f MiB/s\n' "$k" "${T[$k]}" "$(echo "$SIZE_MIB / ${T[$k]}" | bc -l)"
done
printf '  ratio e2kvm-nbd / qemu-nbd throughput: %.2fx (-e 1), %.2fx (-e 4)\n' \
    "$(echo "${T[qemu]} / ${T[e2kvm]}" | bc -l)" "$(echo "${T[qemu_multi]} / ${T[e2kvm_multi]}" | bc -l)"
printf '  ratio e2kvm-nbd / nbdkit throughput:   %.2fx (-e 1), %.2fx (-e 4)\n' \
    "$(echo "${T[nbdkit]} / ${T[e2kvm]}" | bc -l)" "$(echo "${T[nbdkit]} / ${T[e2kvm_multi]}" | bc -l)"

qimg=$TMP/big.qcow2
qemu-img convert -f raw -O qcow2 "$img" "$qimg"
cat "$qimg" > /dev/null
Q[e2kvm]=$(measure e2kvm "$E2KVM_NBD" -r -f qcow2 "$qimg")
Q[qemu]=$(measure qemu qemu-nbd -r -f qcow2 "$qimg")
echo "nbdcopy ${SIZE_MIB} MiB qcow2 -> null: (median of $RUNS, seconds, MiB/s)"
for k in e2kvm qemu; do
    printf '  %-12s %7.3f s  %8.0f MiB/s\n' "$k" "${Q[$k]}" "$(echo "$SIZE_MIB / ${Q[$k]}" | bc -l)"
done
printf '  ratio e2kvm-nbd / qemu-nbd throughput: %.2fx\n' "$(echo "${Q[qemu]} / ${Q[e2kvm]}" | bc -l)"

mapours=()
mapqemu=()
for ((i = 0; i < RUNS; i++)); do
    mapours+=("$(timeit nbdinfo --map --totals -- [ "$E2KVM_NBD" -r -f raw "$sparse" ])")
    mapqemu+=("$(timeit nbdinfo --map --totals -- [ qemu-nbd -r -f raw "$sparse" ])")
done
mo=$(printf '%s\n' "${mapours[@]}" | median)
mq=$(printf '%s\n' "${mapqemu[@]}" | median)
# same_output LABEL OURS QEMU: both non-empty and equal, else the benchmark fails.
same_output() {
    if [ -z "$2" ] || [ "$2" != "$3" ]; then
        printf 'nbd_bench: FAIL: %s differ\n--- e2kvm-nbd\n%s\n--- qemu-nbd\n%s\n' "$1" "$2" "$3" >&2
        exit 1
    fi
}
ours_totals=$(nbdinfo --map --totals -- [ "$E2KVM_NBD" -r -f raw "$sparse" ])
qemu_totals=$(nbdinfo --map --totals -- [ qemu-nbd -r -f raw "$sparse" ])
same_output "block status totals of the sparse raw image" "$ours_totals" "$qemu_totals"
echo "nbdinfo --map --totals, 1 TiB sparse raw: (median of $RUNS, seconds)"
printf '  e2kvm %.3f s   qemu %.3f s   ratio %.2fx\n' "$mo" "$mq" "$(echo "$mq / $mo" | bc -l)"

# 3. A 1 TiB qcow2 with a persistent bitmap holding 100 000 dirty ranges. The ranges are made
# with zero writes (no data clusters), recorded by the bitmap like any guest write.
BIN=$(dirname "$(dirname "$E2KVM_NBD")")
bm=$TMP/bitmap.qcow2
qemu-img create -q -f qcow2 "$bm" 1T
"$BIN/e2kvm-img/e2kvm-img" bitmap --add -g 65536 "$bm" b
python3 -c '
import random
random.seed(223)
slots = random.sample(range((1 << 40) // (128 << 10)), 100000)  # 128 KiB slots: never adjacent
for s in slots:
    print("write -z %d 65536" % (s * (128 << 10)))
' | "$BIN/e2kvm-io/e2kvm-io" -t unsafe -f qcow2 "$bm" > /dev/null
bmours=()
bmqemu=()
for ((i = 0; i < RUNS; i++)); do
    bmours+=("$(timeit nbdinfo --map=qemu:dirty-bitmap:b --totals -- [ "$E2KVM_NBD" -r -f qcow2 -B b "$bm" ])")
    bmqemu+=("$(timeit nbdinfo --map=qemu:dirty-bitmap:b --totals -- [ qemu-nbd -r -f qcow2 -B b "$bm" ])")
done
bo=$(printf '%s\n' "${bmours[@]}" | median)
bq=$(printf '%s\n' "${bmqemu[@]}" | median)
ours_totals=$(nbdinfo --map=qemu:dirty-bitmap:b --totals -- [ "$E2KVM_NBD" -r -f qcow2 -B b "$bm" ])
qemu_totals=$(nbdinfo --map=qemu:dirty-bitmap:b --totals -- [ qemu-nbd -r -f qcow2 -B b "$bm" ])
same_output "dirty-bitmap totals" "$ours_totals" "$qemu_totals"
# The 100 000 zero writes of 64 KiB must all be in the bitmap.
dirty=$(awk '$3 == 1 { print $1 }' <<< "$qemu_totals")
[ "$dirty" = $((100000 * 65536)) ] \
    || { echo "nbd_bench: FAIL: bitmap b has ${dirty:-no} dirty bytes, not 100000 x 64 KiB" >&2; exit 1; }
echo "nbdinfo --map=qemu:dirty-bitmap:b --totals, 1 TiB qcow2, 100000 dirty ranges: (median of $RUNS, seconds)"
echo "$ours_totals" | sed 's/^/    /'
printf '  e2kvm %.3f s   qemu %.3f s   ratio %.2fx\n' "$bo" "$bq" "$(echo "$bq / $bo" | bc -l)"

# 4. Server-side cost, with the servers left running on Unix sockets so that neither process
# start-up nor nbdinfo's own work is counted:
#  - nbd_status_bench walks the bitmap context as nbdinfo --map does (median walk time), and
#  - the server's own CPU time (utime + stime from /proc) per walk and per 512 MiB nbdcopy.
STATUS_BENCH=$(dirname "$BIN")/tests/bench/nbd/nbd_status_bench
[ -x "$STATUS_BENCH" ] || { echo "build nbd_status_bench first ($STATUS_BENCH)" >&2; exit 1; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
wait_socket() {
    for ((i = 0; i < 100; i++)); do [ -S "$1" ] && return 0; sleep 0.05; done
    echo "nbd_bench: FAIL: no server on $1" >&2
    return 1
}
"$E2KVM_NBD" -r -f qcow2 -B b -t -k "$TMP/ours-bm.sock" "$bm" & OURS_BM=$!
qemu-nbd -r -f qcow2 -B b -t -k "$TMP/qemu-bm.sock" "$bm" & QEMU_BM=$!
"$E2KVM_NBD" -r -f raw -t -k "$TMP/ours-raw.sock" "$img" & OURS_RAW=$!
qemu-nbd -r -f raw -t -k "$TMP/qemu-raw.sock" "$img" & QEMU_RAW=$!
trap 'kill $OURS_BM $QEMU_BM $OURS_RAW $QEMU_RAW 2>/dev/null; rm -rf "$TMP"' EXIT
for s in ours-bm qemu-bm ours-raw qemu-raw; do wait_socket "$TMP/$s.sock"; done
HZ=$(getconf CLK_TCK)
WALKS=$((RUNS * 10))
status_walk() { # name pid -> "median_ms cpu_ms_per_walk extents"
    local t0 t1 line
    t0=$(cpu_ticks "$2")
    line=$("$STATUS_BENCH" "nbd+unix:///?socket=$TMP/$1.sock" qemu:dirty-bitmap:b "$WALKS")
    t1=$(cpu_ticks "$2")
    [[ $line =~ median\ ([0-9.]+)\ ms.*\ ([0-9]+)\ extents ]] \
        || { echo "nbd_bench: FAIL: unexpected nbd_status_bench output: $line" >&2; return 1; }
    echo "${BASH_REMATCH[1]} $(echo "($t1 - $t0) * 1000 / $HZ / ($WALKS + 1)" | bc -l) ${BASH_REMATCH[2]}"
}
# (through variables: a failure inside a here-string's $(...) would go unnoticed)
walk=$(status_walk ours-bm $OURS_BM)
read -r ow oc oe <<< "$walk"
walk=$(status_walk qemu-bm $QEMU_BM)
read -r qw qc qe <<< "$walk"
[ "$oe" = "$qe" ] \
    || { echo "nbd_bench: FAIL: block status walk: $oe extents from e2kvm-nbd, $qe from qemu-nbd" >&2; exit 1; }
echo "block status walk of qemu:dirty-bitmap:b (1 TiB, 100000 ranges) on a running server: (median of $WALKS walks)"
printf '  e2kvm %.2f ms/walk, server CPU %.2f ms/walk   qemu %.2f ms/walk, server CPU %.2f ms/walk\n' "$ow" "$oc" "$qw" "$qc"
printf '  ratio: %.2fx walk time, %.2fx server CPU\n' "$(echo "$qw / $ow" | bc -l)" "$(echo "$qc / $oc" | bc -l)"
copy_cpu() { # name pid -> server CPU ms per copy
    local t0 t1
    t0=$(cpu_ticks "$2")
    for ((i = 0; i < RUNS; i++)); do nbdcopy "nbd+unix:///?socket=$TMP/$1.sock" null:; done
    t1=$(cpu_ticks "$2")
    echo "($t1 - $t0) * 1000 / $HZ / $RUNS" | bc -l
}
oc=$(copy_cpu ours-raw $OURS_RAW)
qc=$(copy_cpu qemu-raw $QEMU_RAW)
echo "server CPU per nbdcopy of ${SIZE_MIB} MiB raw (one connection, $RUNS copies):"
printf '  e2kvm %.0f ms   qemu %.0f ms   ratio %.2fx\n' "$oc" "$qc" "$(echo "$qc / $oc" | bc -l)"

# 5. Limits set by the clients. A one-connection nbdcopy is a single thread: its run cannot be
# shorter than its own CPU time, however little the server costs. Likewise nbdinfo --map cannot
# finish before nbdinfo has started, a socket-activated server has started (the cheapest one we
# know: nbdkit's null plugin) and nbdinfo has processed the extents. Dividing qemu-nbd's times
# by these floors gives the best ratio any server could reach on this machine.
own_cpu() { # command... -> CPU ms of the command itself (it starts no server)
    python3 -c '
import resource, subprocess, sys
def cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime
before = cpu()  # not zero when python3 is started through a wrapper
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, check=True)
print((cpu() - before) * 1000)' "$@"
}
copycpu=()
copycpuq=()
mapcpu=()
sizecpu=()
nullstart=()
for ((i = 0; i < RUNS; i++)); do
    copycpu+=("$(own_cpu nbdcopy "nbd+unix:///?socket=$TMP/ours-raw.sock" null:)")
    copycpuq+=("$(own_cpu nbdcopy "nbd+unix:///?socket=$TMP/qemu-raw.sock" null:)")
    mapcpu+=("$(own_cpu nbdinfo --map=qemu:dirty-bitmap:b --totals "nbd+unix:///?socket=$TMP/ours-bm.sock")")
    sizecpu+=("$(own_cpu nbdinfo --size "nbd+unix:///?socket=$TMP/ours-bm.sock")")
    nullstart+=("$(timeit nbdinfo --size -- [ nbdkit null 1T ])")
done
cc=$(printf '%s\n' "${copycpu[@]}" | median)
ccq=$(printf '%s\n' "${copycpuq[@]}" | median)
mc=$(printf '%s\n' "${mapcpu[@]}" | median)
sc=$(printf '%s\n' "${sizecpu[@]}" | median)
ns=$(printf '%s\n' "${nullstart[@]}" | median)
floor_map=$(echo "$ns * 1000 + $mc - $sc" | bc -l)
echo "limits set by the clients: (median of $RUNS)"
cmin=$(printf '%s\n%s\n' "$cc" "$ccq" | sort -n | head -1)
printf '  nbdcopy %s MiB raw, its own CPU: %.0f ms from e2kvm-nbd, %.0f ms from qemu-nbd\n' "$SIZE_MIB" "$cc" "$ccq"
printf '  -> best possible ratio to qemu-nbd (-e 1): %.2fx (e2kvm-nbd: %.2fx)\n' \
    "$(echo "${T[qemu]} * 1000 / $cmin" | bc -l)" "$(echo "${T[qemu]} / ${T[e2kvm]}" | bc -l)"
printf '  nbdinfo --map of the bitmap, its own CPU: %.0f ms (of which start-up and --size: %.0f ms)\n' "$mc" "$sc"
printf '  nbdinfo --size -- [ nbdkit null ] (cheapest server start): %.0f ms\n' "$(echo "$ns * 1000" | bc -l)"
printf '  -> floor for section 3: %.0f ms; best possible ratio to qemu-nbd: %.2fx (e2kvm-nbd: %.2fx)\n' \
    "$floor_map" "$(echo "$bq * 1000 / $floor_map" | bc -l)" "$(echo "$bq / $bo" | bc -l)"
