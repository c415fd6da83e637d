#!/usr/bin/env bash
# Writes a seed corpus of small valid images (qcow2 with 512 B clusters made by qemu-img:
# empty, with data, zero clusters, compressed (zlib and zstd), v2, backing name, bitmap, extended L2) and a
# random raw image into DIR.
set -euo pipefail
dir=$1
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$dir"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
q() { qemu-img "$@" >/dev/null; }
io() { qemu-io "$@" >/dev/null; }
q create -f qcow2 -o cluster_size=512 "$dir/empty.qcow2" 64k
q create -f qcow2 -o cluster_size=512 "$dir/data.qcow2" 64k
io -f qcow2 -c 'write -P 0x11 0 1k' -c 'write -z 4k 1k' -c 'write -z -u 8k 512' \
    -c 'write -P 0x22 60k 700' "$dir/data.qcow2"
q create -f qcow2 -o cluster_size=512,compat=0.10 "$dir/v2.qcow2" 64k
io -f qcow2 -c 'write -P 0x33 512 1k' "$dir/v2.qcow2"
q create -f raw "$tmp/src.raw" 32k
io -f raw -c 'write -P 0x44 0 8k' -c 'write -P 0x45 16k 4k' "$tmp/src.raw"
q convert -c -f raw -O qcow2 -o cluster_size=4k "$tmp/src.raw" "$dir/compressed.qcow2"
q convert -c -f raw -O qcow2 -o cluster_size=4k,compression_type=zstd "$tmp/src.raw" \
    "$dir/compressed-zstd.qcow2"
q create -f raw "$dir/base.raw" 64k
q create -f qcow2 -o cluster_size=512 -b base.raw -F raw "$dir/backing.qcow2" 64k
io -f qcow2 -c 'write -P 0x55 1k 1k' "$dir/backing.qcow2"
rm "$dir/base.raw"
q create -f qcow2 -o cluster_size=512 "$dir/bitmap.qcow2" 64k
q bitmap --add "$dir/bitmap.qcow2" b0
io -f qcow2 -c 'write -P 0x66 0 2k' "$dir/bitmap.qcow2"
q create -f qcow2 -o cluster_size=16k,extended_l2=on "$dir/extl2.qcow2" 64k
io -f qcow2 -c 'write -P 0x77 2k 3k' "$dir/extl2.qcow2"
head -c 4096 /dev/urandom >"$dir/random.raw"
