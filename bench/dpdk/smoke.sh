#!/usr/bin/env bash
# DPDK smoke benchmark: io-forward on a virtual device, ours
# (dataplane/examples/dpdk_fwd.rs over DpdkQueue) against
# `dpdk-testpmd --forward-mode=io` in the same run, one forwarding core each.
# Prints one line per device and mode, with the ratio ours / testpmd.
# Reported, never asserted. Env: SECONDS_PER_RUN (default 5), DEVICES
# (default "null ring"), FWD_BIN (a prebuilt dpdk_fwd).
set -euo pipefail
cd "$(dirname "$0")/../.."
secs="${SECONDS_PER_RUN:-5}"
devices="${DEVICES:-null ring}"
if [[ -z "${FWD_BIN:-}" ]]; then
    cargo build -q --release -p dataplane --features dpdk --example dpdk_fwd
fi
fwd="${FWD_BIN:-target/release/examples/dpdk_fwd}"

testpmd_mpps() { # $1 = vdev spec
    # testpmd prints "Rx-pps:" per port every second; average the last
    # (secs-1) samples (the first covers start-up).
    local out
    # With --stats-period testpmd runs until SIGINT, then prints totals.
    out=$(timeout -s INT "$((secs + 2))" dpdk-testpmd -l 0,1 --no-huge --no-pci -m 512 \
        --file-prefix="tpmd-$$" --log-level='*:warning' --vdev="$1" -- \
        --forward-mode=io --total-num-mbufs=16384 --stats-period 1 --auto-start --tx-first </dev/null 2>&1 || true)
    echo "$out" | awk '/Rx-pps:/ {v[n++]=$2} END {s=0; c=0; for (i=1;i<n;i++){s+=v[i];c++} if (c) printf "%.3f\n", s/c/1e6; else print "nan"}'
}

printf '%-6s %-6s %12s %12s %8s\n' device mode ours_mpps testpmd_mpps ratio
for d in $devices; do
    case "$d" in
        null) prof=hw-profiles/vdev-null.toml; spec="net_null0,size=64,copy=0" ;;
        ring) prof=hw-profiles/vdev-ring.toml; spec="net_ring0" ;;
        *) echo "unknown device $d" >&2; exit 2 ;;
    esac
    tp=$(testpmd_mpps "$spec")
    for mode in io touch pipeline; do
        ours=$(taskset -c 1 "$fwd" "$prof" "" "$secs" "$mode" 2>/dev/null | sed -n 's/^mpps=//p')
        ratio=$(awk -v a="$ours" -v b="$tp" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "nan" }')
        printf '%-6s %-6s %12s %12s %8s\n' "$d" "$mode" "$ours" "$tp" "$ratio"
    done
done
