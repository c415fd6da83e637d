#!/usr/bin/env bash
# Runs the image fuzzer for a bounded time on a fresh seed corpus, after replaying the saved
# reproducers in tests/fuzz/crashes/. The seeds are made with qemu-img and qemu-io (missing:
# exit 77, reported as skipped). usage: run_fuzz.sh FUZZER SECONDS ARTIFACT_DIR
set -euo pipefail
fuzzer=$1 seconds=$2 artifacts=$3
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/peers.sh"
require_peers qemu-img qemu-io
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$artifacts" "$work/corpus"
shopt -s nullglob
saved=("$here"/crashes/{crash,leak,oom,timeout,slow-unit}-*)
if [ ${#saved[@]} -gt 0 ]; then
    echo "replaying ${#saved[@]} saved reproducer(s)"
    "$fuzzer" -rss_limit_mb=2048 -timeout=20 "${saved[@]}"
fi
"$here/make_seeds.sh" "$work/seeds"
"$fuzzer" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=20 -max_len=262144 \
    -print_final_stats=1 -artifact_prefix="$artifacts/" "$work/corpus" "$work/seeds"
