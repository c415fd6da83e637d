#!/usr/bin/env bash
# Starts the real e2kvm under xvfb-run with empty XDG config/data directories (so the Demo VM is
# created from the built demo disk), runs it, lets --screenshot-dir save three PNGs, and checks
# them: they exist, are real PNGs, and are not blank. Also checks the library file and the
# demo disk the first start created, with qemu-img and with qemu-nbd + nbdinfo (missing peers:
# exit 77, which ctest shows as skipped). Usage: gui_smoke.sh E2KVM GUEST_DIR CHECK_PNG
set -euo pipefail
app=$1 guest=$2 check=$3
. "$(dirname "$0")/../lib/peers.sh"
require_peers xvfb-run Xvfb xauth qemu-img qemu-nbd nbdinfo
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export XDG_CONFIG_HOME=$tmp/config XDG_DATA_HOME=$tmp/data XDG_RUNTIME_DIR=$tmp/run
mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
export E2KVM_GUEST_DIR=$guest
unset QT_QPA_PLATFORM

start=$(date +%s%N)
status=0
timeout 150 xvfb-run -a -s "-screen 0 1600x1200x24" "$app" --vm Demo --run \
    --screenshot-dir "$tmp/out" >"$tmp/log" 2>&1 || status=$?
end=$(date +%s%N)
cat "$tmp/log"
if [ "$status" -ne 0 ]; then
    echo "FAIL: e2kvm exited with $status"
    exit 1
fi
echo "launch to exit: $(( (end - start) / 1000000 )) ms"
grep -q "first frame" "$tmp/log" || { echo "FAIL: no first-frame line"; exit 1; }

test -f "$XDG_CONFIG_HOME/e2kvm/vms/Demo.json" || { echo "FAIL: Demo.json missing"; exit 1; }
demo=$XDG_DATA_HOME/e2kvm/demo.qcow2
test -f "$demo" || { echo "FAIL: demo.qcow2 missing"; exit 1; }
# The demo disk is a valid qcow2 with the persistent bitmap "backup".
qemu-img info --output=json "$demo" | python3 -c '
import json, sys
info = json.load(sys.stdin)
assert info["format"] == "qcow2", info
names = [b["name"] for b in info.get("format-specific", {}).get("data", {}).get("bitmaps", [])]
assert "backup" in names, names
print("demo.qcow2: qcow2 with bitmaps", names)'
qemu-img check "$demo" || { echo "FAIL: qemu-img check of demo.qcow2"; exit 1; }

# The app typed three keys into the demo guest, which wrote three records to its disk: the
# persistent bitmap stored on exit must show a dirty range (read by QEMU's tools over NBD).
map=$(timeout 60 nbdinfo --map=qemu:dirty-bitmap:backup -- \
      [ qemu-nbd -r -f qcow2 -B backup "$demo" ]) \
    || { echo "FAIL: nbdinfo --map of bitmap 'backup' served by qemu-nbd"; exit 1; }
echo "dirty-bitmap map: $map"
echo "$map" | awk '$3 == 1 { dirty = 1 } END { exit dirty ? 0 : 1 }' \
    || { echo "FAIL: no dirty range in bitmap 'backup' after typing into the guest"; exit 1; }

for shot in console bitmaps exports; do
    python3 "$check" "$tmp/out/$shot.png"
done
# The console shows the demo guest: many colours (text, title bar, moving box).
python3 "$check" --min-colours 8 "$tmp/out/console.png"
if [ -n "${E2KVM_SMOKE_KEEP:-}" ]; then
    mkdir -p "$E2KVM_SMOKE_KEEP" && cp "$tmp"/out/*.png "$E2KVM_SMOKE_KEEP"/
fi
echo "PASS"
