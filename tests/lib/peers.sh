# The peer programs a shell test compares against, as tests/lib/peers.py does for the Python
# ones: `require_peers TOOL...` returns if every tool is on PATH, otherwise prints which are
# missing and exits with 77, the SKIP_RETURN_CODE the test's registration declares, so ctest
# lists the test as skipped instead of counting it as passed. Source this file from bash.
PEERS_SKIP_RETURN_CODE=77

require_peers() {
    local tool absent=()
    for tool in "$@"; do
        command -v "$tool" >/dev/null 2>&1 || absent+=("$tool")
    done
    if [ ${#absent[@]} -gt 0 ]; then
        local list
        list=$(printf '%s, ' "${absent[@]}")
        echo "SKIP: ${list%, } not found on PATH (a peer this test compares with)"
        exit "$PEERS_SKIP_RETURN_CODE"
    fi
}
