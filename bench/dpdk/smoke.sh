#!/usr/bin/env bash
# DPDK smoke benchmark: forwarding on virtual devices, ours
# (dataplane/examples/dpdk_fwd.rs over DpdkQueue) against
# `dpdk-testpmd --forward-mode=io` on the same device in the same run, one
# forwarding core each. Prints one line per device and mode, with the ratio
# ours / testpmd. Reported, never asserted.
#
# Devices:
#   null   net_null: infinite source and sink (RX allocates, TX frees).
#   ring   net_ring: a loopback ring; one burst in flight (--tx-first).
#   memif  net_memif between two processes: the measured side (ours, or
#          testpmd for the reference) is the memif server on FWD_CORE; a
#          second process, dpdk-testpmd --forward-mode=io as the memif client
#          on PEER_CORE, sends every frame back. Both sides put one burst in
#          flight. Copy mode: each frame is copied into and out of the shared
#          ring, as a NIC's DMA would.
# Modes of ours: io (bare rx/tx), touch (MAC swap), pipeline (every received
# mbuf is overwritten with a 400-byte SIP MESSAGE from a bound UE and run
# through the real plaintext path before it is sent).
#
# Env: SECONDS_PER_RUN (default 5), DEVICES (default "null ring memif"),
# MODES (default "io touch pipeline"), FWD_BIN (a prebuilt dpdk_fwd),
# FWD_CORE (default 1) and PEER_CORE (default 0): the cores of the measured
# forwarding loop and of the memif peer's; FWD_EAL_ARGS (further EAL
# arguments for dpdk_fwd, e.g. `-d DIR`); SMOKE_DEBUG=1 prints testpmd's
# samples. bench/dpdk/bundle.sh packs all of it for a machine without DPDK.
set -euo pipefail
cd "$(dirname "$0")/../.."
secs="${SECONDS_PER_RUN:-5}"
devices="${DEVICES:-null ring memif}"
modes="${MODES:-io touch pipeline}"
if (($(nproc --all) >= 2)); then fdef=1; else fdef=0; fi
fcore="${FWD_CORE:-$fdef}"
pcore="${PEER_CORE:-0}"
if [[ -z "${FWD_BIN:-}" ]]; then
    cargo build -q --release -p dataplane --features dpdk --example dpdk_fwd
fi
fwd="${FWD_BIN:-target/release/examples/dpdk_fwd}"
sock="/tmp/pcscf-smoke-memif-$$.sock"
tmp=$(mktemp -d)
peer_pid=""
cleanup() {
    if [[ -n "$peer_pid" ]]; then kill -INT "$peer_pid" 2>/dev/null || true; fi
    rm -rf "$tmp" "$sock"
}
trap cleanup EXIT

# Mean of testpmd's per-second "Rx-pps:" samples in Mpps, leaving out the
# zero samples (before a memif peer connects) and the first non-zero one
# (it covers start-up) unless it is the only one.
rx_pps() {
    awk '/Rx-pps:/ && $2 > 0 {v[n++]=$2}
         END {s=0; c=0; for (i=(n>1);i<n;i++){s+=v[i];c++} if (c) printf "%.3f\n", s/c/1e6; else print "nan"}' "$1"
}

# testpmd io-forward on one port, its forwarding lcore on $fcore.
# $1 = vdev spec, $2 = output file, $3 = run time in seconds.
testpmd_io() {
    # With --stats-period testpmd runs until SIGINT, then prints totals.
    timeout -s INT "$3" dpdk-testpmd -l "$pcore,$fcore" --main-lcore "$pcore" --no-huge --no-pci -m 512 \
        --file-prefix="tpmd-$$" --log-level='*:warning' --vdev="$1" -- \
        --forward-mode=io --total-num-mbufs=16384 --stats-period 1 --auto-start --tx-first \
        </dev/null >"$2" 2>&1 || true
}

# The memif peer: testpmd io-forward as the memif client on $PEER_CORE, in
# the background until cleanup_peer. It waits for the link (the server's
# socket), then sends one burst and returns every frame it receives.
start_peer() {
    dpdk-testpmd -l "$pcore,$fcore" --main-lcore "$fcore" --no-huge --no-pci -m 256 \
        --file-prefix="tpmd-peer-$$" --log-level='*:warning' \
        --vdev="net_memif0,role=client,socket=$sock" -- \
        --forward-mode=io --total-num-mbufs=8192 --stats-period 1 --auto-start --tx-first \
        </dev/null >"$tmp/peer.log" 2>&1 &
    peer_pid=$!
}
stop_peer() {
    if [[ -n "$peer_pid" ]]; then
        kill -INT "$peer_pid" 2>/dev/null || true
        wait "$peer_pid" 2>/dev/null || true
        peer_pid=""
    fi
}

# Reference rate on one device, in Mpps.
reference() { # $1 = device, $2 = vdev spec
    if [[ "$1" == memif ]]; then
        rm -f "$sock"
        testpmd_io "$2" "$tmp/ref.log" "$((secs + 4))" &
        local ref=$!
        sleep 1
        start_peer
        wait "$ref" || true
        stop_peer
    else
        # EAL start-up without hugepages takes 1-2 s of the run.
        testpmd_io "$2" "$tmp/ref.log" "$((secs + 3))"
    fi
    rx_pps "$tmp/ref.log"
    if [[ -n "${SMOKE_DEBUG:-}" ]]; then grep -E "Rx-pps" "$tmp/ref.log" >&2; fi
}

# Our rate on one device and mode, in Mpps ("nan" when it failed; its
# stderr is kept in $tmp/ours.err).
ours() { # $1 = device, $2 = profile, $3 = vdev spec, $4 = mode
    local out
    if [[ "$1" == memif ]]; then
        rm -f "$sock"
        FWD_CORE="$fcore" taskset -c "$fcore" "$fwd" "$2" "$3" "$secs" "$4" >"$tmp/ours.out" 2>"$tmp/ours.err" &
        local me=$!
        sleep 1
        start_peer
        wait "$me" || true
        stop_peer
        out=$(cat "$tmp/ours.out")
    else
        out=$(FWD_CORE="$fcore" taskset -c "$fcore" "$fwd" "$2" "$3" "$secs" "$4" 2>"$tmp/ours.err" || true)
    fi
    local r
    r=$(echo "$out" | sed -n 's/^mpps=//p')
    echo "${r:-nan}"
}

printf '%-6s %-9s %12s %12s %8s\n' device mode ours_mpps testpmd_mpps ratio
for d in $devices; do
    case "$d" in
        null) prof=hw-profiles/vdev-null.toml; spec="net_null0,size=64,copy=0" ;;
        ring) prof=hw-profiles/vdev-ring.toml; spec="net_ring0" ;;
        memif) prof=bench/dpdk/vdev-memif.toml; spec="net_memif0,role=server,socket=$sock" ;;
        *) echo "unknown device $d" >&2; exit 2 ;;
    esac
    tp=$(reference "$d" "$spec")
    for mode in $modes; do
        o=$(ours "$d" "$prof" "$spec" "$mode")
        if [[ "$o" == nan ]]; then
            echo "  ($d $mode failed: $(tail -n 1 "$tmp/ours.err"))" >&2
        fi
        ratio=$(awk -v a="$o" -v b="$tp" 'BEGIN { if (a == "nan" || b == "nan" || b <= 0) print "nan"; else printf "%.3f", a / b }')
        printf '%-6s %-9s %12s %12s %8s\n' "$d" "$mode" "$o" "$tp" "$ratio"
    done
done
