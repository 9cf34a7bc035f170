#!/bin/bash
# sipp peer test of the plaintext path (issue 2, item 8).
#
# Two sipp instances (Debian sip-tester) we did not write prove the path:
#   pdp-ue   (10.77.0.2)  sipp UE: uac_message.xml then uac_options.xml
#   pdp-dp                pcscf-dp run --config pcscf.toml, af_packet on dp-acc/dp-core
#   pdp-core (10.77.1.2)  sipp core: core_uas.xml, which fails the call unless
#                         P-Asserted-Identity is the right IMPU and the UE's
#                         P-Preferred-Identity and forged PAI are gone.
# Each UE request must get the core's 200 OK back through pcscf-dp.
#
# Usage: run.sh [--calls N] [--selftest] [--standin] [--keep]
#   --selftest  check the scenarios alone on loopback (no pcscf-dp): what
#               pcscf-dp should emit must pass, and five wrong variants must fail.
#   --standin   run the whole topology with standin_pcscf.py instead of
#               pcscf-dp: validates this harness only, proves nothing about us.
#   --calls N   requests per scenario (default 20).
# The binary is $PCSCF_DP, else target/release/pcscf-dp (built if missing);
# the configuration $PCSCF_CONFIG, else pcscf.toml beside this script
# (pcscf-dpdk.toml runs the same test over DPDK's net_af_packet PMD).
# Exit status: 0 passed; 1 failed (sipp stats, logs and pcscf-dp output are
# printed); 3 a prerequisite could not be set up.

set -u
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"
CALLS=20 SELFTEST=0 KEEP=0
while [ $# -gt 0 ]; do
    case "$1" in
        --calls) CALLS="$2"; shift 2 ;;
        --selftest) SELFTEST=1; shift ;;
        --standin) PCSCF_DP="$HERE/standin_pcscf.py"; shift ;;
        --keep) KEEP=1; shift ;;
        -h|--help) sed -n '2,/^$/s/^# \{0,1\}//p' "$0"; exit 0 ;;
        *) echo "sipp-peer: unknown argument '$1'" >&2; exit 2 ;;
    esac
done

log() { echo "sipp-peer: $*"; }
cannot() { echo "sipp-peer: CANNOT START: $*" >&2; exit 3; }
[ "$(id -u)" = 0 ] || cannot "must run as root (network namespaces)"

# ------------------------------------------------------------------ install (idempotent)
need=()
command -v sipp >/dev/null || need+=(sip-tester)
command -v ethtool >/dev/null || need+=(ethtool)
command -v tcpdump >/dev/null || need+=(tcpdump)
command -v ip >/dev/null || need+=(iproute2)
if [ ${#need[@]} -gt 0 ]; then
    log "installing ${need[*]}"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}") >/dev/null ||
        cannot "apt-get install ${need[*]} failed"
fi

TMP="$(mktemp -d /tmp/pdp-sipp.XXXXXX)"
PIDS=()
FAILED=1
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    sleep 0.2
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
    ip netns del pdp-ue 2>/dev/null
    ip netns del pdp-core 2>/dev/null
    ip netns del pdp-dp 2>/dev/null
    if [ "$FAILED" = 0 ] && [ "$KEEP" = 0 ]; then rm -rf "$TMP"; else echo "sipp-peer: logs in $TMP" >&2; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

UE_HDR_MSG=(-key ue_hdr1 "P-Preferred-Identity: <tel:+15550101>"
            -key ue_hdr2 "P-Asserted-Identity: <sip:forged-by-ue@evil.example>")
UE_HDR_OPT=(-key ue_hdr1 "P-Asserted-Identity: <sip:forged-by-ue@evil.example>"
            -key ue_hdr2 "Subject: OPTIONS through pcscf-dp")

# sipp_pair NAME UAC_SCENARIO CORE_NS CORE_IP UE_NS UE_IP TARGET KEYS...
# Runs the core and the UE, bounded; returns 0 only if both sipp exit 0.
sipp_pair() {
    local name=$1 scen=$2 cns=$3 cip=$4 uns=$5 uip=$6 target=$7; shift 7
    local d="$TMP/$name"; mkdir -p "$d"
    local cx=() ux=()
    [ -n "$cns" ] && cx=(ip netns exec "$cns")
    [ -n "$uns" ] && ux=(ip netns exec "$uns")
    (cd "$d" && exec timeout -k 5 60 "${cx[@]}" sipp -sf "$HERE/core_uas.xml" -i "$cip" -p 5060 \
        -m "$CALLS" -nostdin -timeout 40s -timeout_error \
        -trace_err -error_file "$d/core_errors.log" -trace_msg -message_file "$d/core_messages.log" \
        -trace_logs -log_file "$d/core_logs.log" > "$d/core_screen.txt" 2>&1) &
    local cpid=$!; PIDS+=("$cpid")
    sleep 0.5
    (cd "$d" && exec timeout -k 5 60 "${ux[@]}" sipp -sf "$HERE/$scen" -i "$uip" -p 5060 "$target" \
        -m "$CALLS" -r 20 -nostdin -timeout 40s -timeout_error -recv_timeout 5000 "$@" \
        -trace_err -error_file "$d/ue_errors.log" -trace_msg -message_file "$d/ue_messages.log" \
        > "$d/ue_screen.txt" 2>&1)
    local urc=$?
    wait "$cpid"; local crc=$?
    echo "$urc $crc" > "$d/rc"
    [ "$urc" = 0 ] && [ "$crc" = 0 ]
}

show_sipp() { # dir
    local d=$1 f
    for f in ue_screen.txt core_screen.txt; do
        [ -e "$d/$f" ] || continue
        echo "---- $f (statistics) ----"; grep -E 'Successful call|Failed call|Total|Call Rate|Unexpected|Dead|Timeout' "$d/$f" | head -20
    done
    for f in ue_errors.log core_errors.log; do
        [ -s "$d/$f" ] && { echo "---- $f ----"; head -c 3000 "$d/$f"; echo; }
    done
    for f in core_messages.log ue_messages.log; do
        [ -s "$d/$f" ] && { echo "---- $f (first 60 lines) ----"; head -n 60 "$d/$f"; }
    done
}

# ------------------------------------------------------------------ self-test
if [ "$SELFTEST" = 1 ]; then
    ok=0 bad=0
    expect() { # want(pass|fail) label scenario hdr1 hdr2
        local want=$1 label=$2 scen=$3
        if sipp_pair "self-$label" "$scen" "" 127.0.0.1 "" 127.0.0.2 127.0.0.1:5060 \
            -key ue_hdr1 "$4" -key ue_hdr2 "$5"; then got=pass; else got=fail; fi
        # A wanted failure must be the core's check (core sipp exit 1, UE 0),
        # not sipp failing to start.
        [ "$got" = fail ] && [ "$(cat "$TMP/self-$label/rc")" != "0 1" ] && got="fail-for-another-reason"
        if [ "$got" = "$want" ]; then ok=$((ok + 1)); log "ok   selftest $label ($want)"
        else bad=$((bad + 1)); log "FAIL selftest $label: wanted $want, got $got"; show_sipp "$TMP/self-$label"; fi
    }
    CALLS=2
    expect pass message-asserted uac_message.xml "P-Asserted-Identity: <tel:+15550101>" "Subject: x"
    expect pass options-asserted uac_options.xml "P-Asserted-Identity: <sip:alice@ims.example>" "Subject: x"
    expect fail no-pai uac_options.xml "Subject: a" "Subject: b"
    expect fail wrong-impu uac_message.xml "P-Asserted-Identity: <sip:alice@ims.example>" "Subject: x"
    expect fail ppi-left uac_message.xml "P-Asserted-Identity: <tel:+15550101>" "P-Preferred-Identity: <tel:+15550101>"
    expect fail forged-left uac_options.xml "P-Asserted-Identity: <sip:alice@ims.example>" "X-Note: <sip:forged-by-ue@evil.example>"
    expect fail two-pai uac_message.xml "P-Asserted-Identity: <tel:+15550101>" "P-Asserted-Identity: <sip:alice@ims.example>"
    log "selftest: $ok ok, $bad failed"
    [ "$bad" = 0 ] && FAILED=0
    exit "$bad"
fi

# ------------------------------------------------------------------ pcscf-dp binary
BIN="${PCSCF_DP:-}"
if [ -z "$BIN" ]; then
    BIN="$ROOT/target/release/pcscf-dp"
    if [ ! -x "$BIN" ]; then
        log "building pcscf-dp (cargo build --release -p dataplane --bin pcscf-dp)"
        (cd "$ROOT" && cargo build -q --release -p dataplane --bin pcscf-dp) || { echo "sipp-peer: FAIL: pcscf-dp does not build" >&2; exit 1; }
    fi
fi
[ -x "$BIN" ] || { echo "sipp-peer: FAIL: no pcscf-dp binary at $BIN" >&2; exit 1; }

# ------------------------------------------------------------------ topology
UE_MAC=02:77:00:00:00:02 ACC_MAC=02:77:00:00:00:01
CORE_MAC=02:77:01:00:00:02 DPC_MAC=02:77:01:00:00:01
for ns in pdp-ue pdp-core pdp-dp; do ip netns del "$ns" 2>/dev/null; ip netns add "$ns" || cannot "ip netns add $ns"; done
ip -n pdp-ue link add ue0 type veth peer name dp-acc netns pdp-dp || cannot "veth ue0/dp-acc"
ip -n pdp-core link add core0 type veth peer name dp-core netns pdp-dp || cannot "veth core0/dp-core"
setup_if() { # ns ifname mac
    ip -n "$1" link set "$2" address "$3"
    ip netns exec "$1" sysctl -qw "net.ipv6.conf.$2.disable_ipv6=1"
    # veth would otherwise hand af_packet frames with partial checksums.
    ip netns exec "$1" ethtool -K "$2" tx off rx off tso off gso off gro off >/dev/null 2>&1 ||
        cannot "ethtool -K $2 in $1"
    ip -n "$1" link set "$2" up
    ip -n "$1" link set lo up
}
setup_if pdp-ue ue0 "$UE_MAC"
setup_if pdp-dp dp-acc "$ACC_MAC"
setup_if pdp-dp dp-core "$DPC_MAC"
setup_if pdp-core core0 "$CORE_MAC"
ip -n pdp-ue addr add 10.77.0.2/24 dev ue0
ip -n pdp-core addr add 10.77.1.2/24 dev core0
# Static neighbours: the test does not depend on pcscf-dp answering ARP.
ip -n pdp-ue neigh replace 10.77.0.1 lladdr "$ACC_MAC" dev ue0 nud permanent
ip -n pdp-core neigh replace 10.77.1.1 lladdr "$DPC_MAC" dev core0 nud permanent

# ------------------------------------------------------------------ pcscf-dp
DURATION=90
ip netns exec pdp-dp timeout -s INT -k 10 $((DURATION + 10)) "$BIN" run --config "${PCSCF_CONFIG:-$HERE/pcscf.toml}" \
    --duration "$DURATION" > "$TMP/pcscf-dp.log" 2>&1 &
DP_PID=$!; PIDS+=("$DP_PID")
# Ready when it has packet sockets on both ports (/proc/net/packet is per netns).
ifidx() { ip netns exec pdp-dp cat "/sys/class/net/$1/ifindex"; }
ACC_IDX=$(ifidx dp-acc) CORE_IDX=$(ifidx dp-core)
ready=0
for _ in $(seq 100); do
    kill -0 "$DP_PID" 2>/dev/null || break
    if ip netns exec pdp-dp awk -v a="$ACC_IDX" -v c="$CORE_IDX" \
        'NR > 1 { if ($5 == a) fa = 1; if ($5 == c) fc = 1 } END { exit !(fa && fc) }' /proc/net/packet; then
        ready=1; break
    fi
    sleep 0.1
done
if [ "$ready" = 0 ]; then
    echo "---- pcscf-dp output ----" >&2; cat "$TMP/pcscf-dp.log" >&2
    if kill -0 "$DP_PID" 2>/dev/null; then
        echo "sipp-peer: FAIL: pcscf-dp did not open both af_packet ports within 10 s" >&2
    else
        wait "$DP_PID"; echo "sipp-peer: FAIL: pcscf-dp exited (status $?) before opening both af_packet ports" >&2
    fi
    exit 1
fi
log "pcscf-dp is up ($BIN)"

ip netns exec pdp-ue tcpdump -i ue0 -n -s 0 -U -w "$TMP/ue0.pcap" udp > "$TMP/tcpdump-ue.log" 2>&1 &
PIDS+=($!)
ip netns exec pdp-core tcpdump -i core0 -n -s 0 -U -w "$TMP/core0.pcap" udp > "$TMP/tcpdump-core.log" 2>&1 &
PIDS+=($!)
sleep 1

# ------------------------------------------------------------------ tests
RESULTS=()
run_case() { # name scenario keys...
    local name=$1 scen=$2; shift 2
    if sipp_pair "$name" "$scen" pdp-core 10.77.1.2 pdp-ue 10.77.0.2 10.77.0.1:5060 "$@"; then
        RESULTS+=("ok   $name: $CALLS requests asserted correctly and answered"); return 0
    fi
    RESULTS+=("FAIL $name (sipp exit codes ue/core: $(cat "$TMP/$name/rc" 2>/dev/null))")
    show_sipp "$TMP/$name"
    return 1
}
fails=0
run_case message uac_message.xml "${UE_HDR_MSG[@]}" || fails=$((fails + 1))
run_case options uac_options.xml "${UE_HDR_OPT[@]}" || fails=$((fails + 1))

# Stop pcscf-dp cleanly (Ctrl-C path) and show its final counters.
kill -INT "$DP_PID" 2>/dev/null
for _ in $(seq 100); do kill -0 "$DP_PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$DP_PID" 2>/dev/null && { RESULTS+=("FAIL pcscf-dp did not stop within 10 s of SIGINT"); fails=$((fails + 1)); }
wait "$DP_PID" 2>/dev/null; DP_RC=$?
if [ "$DP_RC" != 0 ] && [ "$DP_RC" != 130 ]; then
    RESULTS+=("FAIL pcscf-dp exited with status $DP_RC"); fails=$((fails + 1))
fi
echo "---- pcscf-dp output (last 40 lines) ----"; tail -n 40 "$TMP/pcscf-dp.log"
if [ "$fails" != 0 ]; then
    for p in ue0 core0; do
        echo "---- $p capture ----"; timeout 10 tcpdump -r "$TMP/$p.pcap" -n -A 2>/dev/null | head -n 80
    done
fi
for r in "${RESULTS[@]}"; do log "$r"; done
[ "$fails" = 0 ] && FAILED=0
exit "$([ "$fails" = 0 ] && echo 0 || echo 1)"
