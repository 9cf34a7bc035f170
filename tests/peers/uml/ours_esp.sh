#!/bin/bash
# Adapter: gives our ESP tool the command line of scapy_esp.py, so run.sh can
# treat both alike (tests/peers/uml).
#
#   ours_esp.sh decap --pcap ESP.pcap --out PAYLOADS.hex [SA options]
#   ours_esp.sh encap --payloads PAYLOADS.hex --out ESP.pcap --src IP --dst IP
#                     --sport N --dport N [--src-mac M --dst-mac M] [SA options]
#   SA options: --alg --ealg --spi --auth-key --enc-key --salt (as esp-peer.sh)
#
# Our tool works pcap to pcap with an SA file in JSON (dataplane/src/esp/tool.rs):
#   $ESP_TOOL encap|decap SA.json IN.pcap OUT.pcap
# so decap turns the kernel's ESP frames into plain frames whose UDP payloads
# (lengths, ports and checksums checked by peerutil.py) must equal what the
# kernel sent; encap seals plain frames built by peerutil.py.
# ESP_TOOL is the command (word-split, so "pcscf-dp esp-tool" style works too).
#
# The SA names the kernel side "UE" (port 5064) and ours "P-CSCF" (5062),
# matching run.sh: inner ports on decap must be ue_port -> pcscf_port.

set -u
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PEERUTIL="$HERE/peerutil.py"
: "${ESP_TOOL:?ESP_TOOL must name our ESP tool}"

CMD="${1:-}"; shift
ALG="" EALG="" SPI="" AK="" EK="" SALT="" PCAP="" PAYLOADS="" OUT="" SRC="" DST="" SPORT="" DPORT=""
SRC_MAC=02:00:0a:63:00:01 DST_MAC=02:00:0a:63:00:02
while [ $# -gt 0 ]; do
    case "$1" in
        --alg) ALG="$2" ;; --ealg) EALG="$2" ;; --spi) SPI="$2" ;;
        --auth-key) AK="$2" ;; --enc-key) EK="$2" ;; --salt) SALT="$2" ;;
        --pcap) PCAP="$2" ;; --payloads) PAYLOADS="$2" ;; --out) OUT="$2" ;;
        --src) SRC="$2" ;; --dst) DST="$2" ;; --sport) SPORT="$2" ;; --dport) DPORT="$2" ;;
        --src-mac) SRC_MAC="$2" ;; --dst-mac) DST_MAC="$2" ;;
        *) echo "ours_esp: unknown argument '$1'" >&2; exit 2 ;;
    esac
    shift 2
done

TMP="$(mktemp -d /tmp/pdp-ours.XXXXXX)"
trap 'rm -rf "$TMP"' EXIT
# The integrity key field carries the HMAC key, or the AES key for aes-gmac.
{
    printf '{ "spi": %d, "integ": "%s", "encr": "%s", ' "$((SPI))" "$ALG" "$EALG"
    [ -n "$AK" ] && printf '"integ_key": "%s", ' "$AK"
    [ -n "$EK" ] && printf '"encr_key": "%s", ' "$EK"
    [ -n "$SALT" ] && printf '"salt": "%s", ' "$SALT"
    printf '"ue_port": 5064, "pcscf_port": 5062, "seq": 0, "allow_md5": true }\n'
} > "$TMP/sa.json"

# shellcheck disable=SC2086
case "$CMD" in
    decap)
        $ESP_TOOL decap "$TMP/sa.json" "$PCAP" "$TMP/plain.pcap" || { echo "ours_esp: our decap refused the kernel's frames" >&2; exit 1; }
        python3 "$PEERUTIL" udp-payloads --pcap "$TMP/plain.pcap" --sport 5064 --dport 5062 --out "$OUT" ;;
    encap)
        python3 "$PEERUTIL" plain-pcap --payloads "$PAYLOADS" --src "$SRC" --dst "$DST" --sport "$SPORT" \
            --dport "$DPORT" --src-mac "$SRC_MAC" --dst-mac "$DST_MAC" --out "$TMP/plain.pcap" || exit 1
        $ESP_TOOL encap "$TMP/sa.json" "$TMP/plain.pcap" "$OUT" || { echo "ours_esp: our encap failed" >&2; exit 1; } ;;
    *) echo "ours_esp: decap or encap" >&2; exit 2 ;;
esac
