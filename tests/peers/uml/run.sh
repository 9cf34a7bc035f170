#!/bin/bash
# Cross-check our ESP against the Linux kernel under user-mode-linux.
#
# For every TS 33.203 algorithm pair that Linux xfrm can express, over IPv4 and
# IPv6:
#   kernel -> us : the kernel (esp-peer.sh send) encapsulates UDP datagrams; the
#                  captured ESP must decapsulate to exactly the payloads it sent.
#   us -> kernel : we encapsulate the payloads; the kernel (esp-peer.sh receive)
#                  must accept every frame and deliver exactly those payloads.
# "us" is scapy (--scapy: validates the harness) and our ESP tool (--ours).
# A negative control per pair (one flipped ICV byte per frame, sealed by scapy)
# must be refused by the kernel, which proves the receive check can fail.
#
# Usage: run.sh [--scapy] [--ours] [--pairs "alg/ealg ..."] [--families "4 6"]
#               [--no-negative] [--keep]
#   default: --scapy --ours, all pairs, both families.
#
# Our tool is $ESP_TOOL, else built from dataplane/examples/esp_tool.rs
# (cargo build -p dataplane --example esp_tool); it is driven through
# ours_esp.sh (`esp_tool encap|decap SA.json IN.pcap OUT.pcap`). If it does not
# exist the run fails and says so.
#
# Exit status: 0 all passed; 1 a check failed; 3 a peer could not start.

set -u
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"
PEER="$HERE/esp-peer.sh"
PEERUTIL="$HERE/peerutil.py"
SCAPY_ESP="$HERE/scapy_esp.py"

DO_SCAPY=0 DO_OURS=0 NEGATIVE=1 KEEP=0
PAIRS="hmac-sha-1-96/aes-cbc hmac-sha-1-96/null null/aes-gcm hmac-md5-96/aes-cbc hmac-md5-96/null aes-gmac/null"
FAMILIES="4 6"
COUNT=8
while [ $# -gt 0 ]; do
    case "$1" in
        --scapy) DO_SCAPY=1; shift ;;
        --ours) DO_OURS=1; shift ;;
        --pairs) PAIRS="$2"; shift 2 ;;
        --families) FAMILIES="$2"; shift 2 ;;
        --count) COUNT="$2"; shift 2 ;;
        --no-negative) NEGATIVE=0; shift ;;
        --keep) KEEP=1; shift ;;
        -h|--help) sed -n '2,/^$/s/^# \{0,1\}//p' "$0"; exit 0 ;;
        *) echo "run.sh: unknown argument '$1'" >&2; exit 2 ;;
    esac
done
[ "$DO_SCAPY$DO_OURS" = 00 ] && DO_SCAPY=1 DO_OURS=1

log() { echo "uml-peer: $*"; }
[ "$(id -u)" = 0 ] || { echo "uml-peer: PEER CANNOT START: must run as root" >&2; exit 3; }

# ------------------------------------------------------------------ install (idempotent)

apt_need=()
command -v linux >/dev/null || apt_need+=(user-mode-linux)
command -v modprobe >/dev/null || apt_need+=(kmod)
command -v tcpdump >/dev/null || apt_need+=(tcpdump)
[ -x /usr/bin/python3 ] || apt_need+=(python3)
if [ ${#apt_need[@]} -gt 0 ]; then
    log "installing ${apt_need[*]}"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${apt_need[@]}") >/dev/null ||
        { echo "uml-peer: PEER CANNOT START: apt-get install ${apt_need[*]} failed" >&2; exit 3; }
fi
if [ "$DO_SCAPY" = 1 ] || [ "$NEGATIVE" = 1 ]; then
    python3 -c 'import scapy.layers.ipsec, cryptography' 2>/dev/null ||
        python3 -m pip install -q scapy cryptography >/dev/null 2>&1 ||
        { echo "uml-peer: PEER CANNOT START: pip install scapy cryptography failed" >&2; exit 3; }
fi

# ------------------------------------------------------------------ our tool

if [ "$DO_OURS" = 1 ]; then
    if [ -z "${ESP_TOOL:-}" ]; then
        if [ -f "$ROOT/dataplane/examples/esp_tool.rs" ]; then
            log "building our ESP tool (cargo build -p dataplane --example esp_tool)"
            (cd "$ROOT" && cargo build -q -p dataplane --example esp_tool) ||
                { echo "uml-peer: FAIL: our ESP tool does not build" >&2; exit 1; }
            ESP_TOOL="$ROOT/target/debug/examples/esp_tool"
        else
            echo "uml-peer: FAIL: our ESP tool is not there: no \$ESP_TOOL and no" \
                 "dataplane/examples/esp_tool.rs (run with --scapy to check the harness alone)" >&2
            exit 1
        fi
    fi
    export ESP_TOOL
    # shellcheck disable=SC2086
    command -v ${ESP_TOOL%% *} >/dev/null || { echo "uml-peer: FAIL: ESP tool '$ESP_TOOL' is not executable" >&2; exit 1; }
fi

# ------------------------------------------------------------------ matrix

WORK="$(mktemp -d /tmp/pdp-uml-run.XXXXXX)"
cleanup() { local rc=$?; [ "$rc" = 0 ] && [ "$KEEP" = 0 ] && rm -rf "$WORK"; [ "$rc" != 0 ] && echo "uml-peer: files in $WORK"; exit "$rc"; }
trap cleanup EXIT
PASS=0 FAILS=()

# Fixed test keys (never real ones). Sizes per 33.203 Annex I.
key_args() { # alg/ealg -> esp-peer.sh / tool key options
    case "$1" in
        hmac-sha-1-96/*) echo -n "--auth-key 0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b00000000 " ;;
        hmac-md5-96/*) echo -n "--auth-key 0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c " ;;
        aes-gmac/*) echo -n "--auth-key feffe9928665731c6d6a8f9467308308 --salt cafebabe " ;;
    esac
    case "$1" in
        */aes-cbc) echo -n "--enc-key 56e47a38c5598974bc46903dba290349 " ;;
        */aes-gcm) echo -n "--enc-key ad7a2bd03eac835a6f620fdcb506b345 --salt 12153524 " ;;
    esac
}

check() { # name command... ; records the result
    local name="$1"; shift
    if "$@" > "$WORK/last.log" 2>&1; then
        PASS=$((PASS + 1)); log "ok   $name"
    else
        FAILS+=("$name"); log "FAIL $name"; sed 's/^/    /' "$WORK/last.log"
        grep -q 'PEER CANNOT START' "$WORK/last.log" && CANNOT_START=1
    fi
}
CANNOT_START=0

# kernel -> tool: boot once, check with each tool.
kernel_to_tool() { # pair fam spi
    local pair=$1 fam=$2 spi=$3 tag; tag="$(echo "$pair" | tr / _)-v$fam"
    local -a addr; addr_args addr "$fam" kernel
    # shellcheck disable=SC2046
    "$PEER" send --alg "${pair%/*}" --ealg "${pair#*/}" --spi "$spi" $(key_args "$pair") "${addr[@]}" \
        --count "$COUNT" --out "$WORK/$tag-k.pcap" --payloads "$WORK/$tag-k.hex" --workdir "$WORK/$tag-k.peer" || return 1
    local t
    for t in "${TOOLS[@]}"; do
        # shellcheck disable=SC2046
        "$(tool_cmd "$t")" decap --alg "${pair%/*}" --ealg "${pair#*/}" --spi "$spi" $(key_args "$pair") \
            --pcap "$WORK/$tag-k.pcap" --out "$WORK/$tag-k.$t.hex" || { echo "$t decap failed"; return 1; }
        python3 "$PEERUTIL" compare --expect "$WORK/$tag-k.hex" --got "$WORK/$tag-k.$t.hex" ||
            { echo "$t: payloads differ from what the kernel sent"; return 1; }
    done
}

tool_to_kernel() { # tool pair fam spi [negative]
    local t=$1 pair=$2 fam=$3 spi=$4 neg=${5:-0} tag; tag="$(echo "$pair" | tr / _)-v$fam-$t"
    local -a addr; addr_args addr "$fam" tool
    python3 "$PEERUTIL" payloads --count "$COUNT" --size 200 > "$WORK/$tag.hex"
    # shellcheck disable=SC2046
    "$(tool_cmd "$t")" encap --alg "${pair%/*}" --ealg "${pair#*/}" --spi "$spi" $(key_args "$pair") \
        --payloads "$WORK/$tag.hex" --out "$WORK/$tag.pcap" "${addr[@]}" || { echo "$t encap failed"; return 1; }
    local -a kaddr; addr_args kaddr "$fam" kernel
    if [ "$neg" = 1 ]; then
        python3 - "$WORK/$tag.pcap" <<'EOF' || return 1
import sys
from scapy.all import rdpcap, wrpcap, Ether
pk = rdpcap(sys.argv[1])
out = []
for p in pk:
    b = bytearray(bytes(p))
    b[-1] ^= 0x01          # last byte: inside the ICV for every pair
    out.append(Ether(bytes(b)))
wrpcap(sys.argv[1], out)
EOF
        local rc
        # shellcheck disable=SC2046
        "$PEER" receive --alg "${pair%/*}" --ealg "${pair#*/}" --spi "$spi" $(key_args "$pair") \
            "${kaddr[@]}" --in "$WORK/$tag.pcap" --expect "$WORK/$tag.hex" --workdir "$WORK/$tag$neg.peer" --got "$WORK/$tag.got"
        rc=$?
        # 1 = the peer ran and the payloads were not delivered; anything else is not a pass.
        [ "$rc" = 1 ] || { echo "expected the kernel to refuse (esp-peer rc 1), got rc $rc"; return 1; }
        [ -e "$WORK/$tag.got" ] && [ ! -s "$WORK/$tag.got" ] ||
            { echo "the kernel delivered tampered payloads"; return 1; }
        echo "the kernel refused all $COUNT tampered frames"
        return 0
    fi
    # shellcheck disable=SC2046
    "$PEER" receive --alg "${pair%/*}" --ealg "${pair#*/}" --spi "$spi" $(key_args "$pair") \
        "${kaddr[@]}" --in "$WORK/$tag.pcap" --expect "$WORK/$tag.hex" --workdir "$WORK/$tag$neg.peer"
}

# Addresses: the kernel is the UE side (10.99.0.2 / fd00:99::2), we are the
# P-CSCF side; kernel port 5064 (port-uc), ours 5062 (port-ps).
addr_args() { # outvar fam who
    local -n ref=$1
    local k l
    if [ "$2" = 6 ]; then k=fd00:99::2 l=fd00:99::1; else k=10.99.0.2 l=10.99.0.1; fi
    if [ "$3" = kernel ]; then
        ref=(--local "$k" --peer "$l" --lport 5064 --pport 5062)
    else
        ref=(--src "$l" --dst "$k" --sport 5062 --dport 5064)
    fi
}

tool_cmd() { if [ "$1" = scapy ]; then echo "$SCAPY_ESP"; else echo "$HERE/ours_esp.sh"; fi; }
TOOLS=()
[ "$DO_SCAPY" = 1 ] && TOOLS+=(scapy)
[ "$DO_OURS" = 1 ] && TOOLS+=(ours)
chmod +x "$SCAPY_ESP" 2>/dev/null

spi=$((0x1000))
for pair in $PAIRS; do
    for fam in $FAMILIES; do
        spi=$((spi + 1))
        check "kernel->[${TOOLS[*]}] $pair IPv$fam" kernel_to_tool "$pair" "$fam" "$spi"
        for t in "${TOOLS[@]}"; do
            spi=$((spi + 1))
            check "$t->kernel $pair IPv$fam" tool_to_kernel "$t" "$pair" "$fam" "$spi"
        done
        if [ "$NEGATIVE" = 1 ] && [ "$fam" = "${FAMILIES%% *}" ]; then
            spi=$((spi + 1))
            check "negative: tampered ICV refused by kernel, $pair IPv$fam" tool_to_kernel scapy "$pair" "$fam" "$spi" 1
        fi
    done
done

log "$PASS passed, ${#FAILS[@]} failed"
for f in "${FAILS[@]}"; do log "  failed: $f"; done
[ "$CANNOT_START" = 1 ] && exit 3
[ ${#FAILS[@]} = 0 ]
