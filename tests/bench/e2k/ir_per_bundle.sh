#!/usr/bin/env bash
# Host instructions per guest bundle of the E2K interpreter, counted by callgrind inside
# Cpu::run on shortened copies of the benchmark programs (noise-free, unlike wall time).
#   tests/bench/e2k/ir_per_bundle.sh BUILD_DIR [--no-jit | --in-place-jit]
# (needs valgrind; not run by ctest; the flags are e2k_bench's)
set -euo pipefail
build=$(cd "${1:?usage: ir_per_bundle.sh BUILD_DIR [--no-jit | --in-place-jit]}" && pwd)
jit_flag=${2:-}
here=$(cd "$(dirname "$0")" && pwd)
as=$build/app/e2kvm-as/e2kvm-as
bench=$build/tests/bench/e2k/e2k_bench
command -v valgrind >/dev/null || { echo "ir_per_bundle: valgrind is not installed" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# 1 M loop iterations instead of 50 M; 4 MiB instead of 64 MiB; fib(22) instead of fib(30).
sed 's/50000000/1000000/' "$here/alu.s" >"$tmp/alu.s"
sed 's/0x4000000/0x400000/g; s/0x400001000000/0x4000100000/' "$here/checksum.s" >"$tmp/checksum.s"
sed 's/addd,0 0, 30, %dr28/addd,0 0, 22, %dr28/; s/832040/17711/' "$here/recursion.s" \
    >"$tmp/recursion.s"
# memloop: a 256 KiB buffer summed 16 times instead of 4 MiB 128 times.
sed 's/0x400000/0x40000/g; s/addd,0 0, 128, %dr15/addd,0 0, 16, %dr15/; s/0x80002000000/0x100040000/' \
    "$here/memloop.s" >"$tmp/memloop.s"
printf '%-10s %14s %10s %12s\n' program instructions bundles "per bundle"
for p in alu checksum memloop recursion; do
    "$as" -f exec -o "$tmp/$p" "$tmp/$p.s"
    out=$(cd "$tmp" && valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.$p" \
        --toggle-collect='e2kvm::emu::Cpu::run(unsigned long)' "$bench" $jit_flag "./$p" 2>&1)
    grep -q 'exit 0' <<<"$out" || { echo "ir_per_bundle: $p failed:" >&2; echo "$out" >&2; exit 1; }
    ir=$(grep -oP 'Collected : \K[0-9]+' <<<"$out")
    bundles=$(grep -oP '[0-9]+(?= bundles )' <<<"$out" | head -1)
    printf '%-10s %14s %10s %12.1f\n' "$p" "$ir" "$bundles" "$(bc -l <<<"$ir / $bundles")"
done
