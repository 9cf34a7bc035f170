#!/usr/bin/env bash
# ESP interop against peers we did not write: scapy (every algorithm pair,
# both directions, IPv4/IPv6, UDP/TCP) and tshark (decrypts our output with
# esp.icv_good). Installs what it needs; exits non-zero with the reason on
# any failure. The user-mode-linux kernel peer lives elsewhere (another
# owner). Usage: tests/peers/esp/run.sh
set -euo pipefail
cd "$(dirname "$0")/../../.."
fail() { echo "esp peers: FAIL: $*" >&2; exit 1; }

python3 -c 'import scapy.layers.ipsec, cryptography' 2>/dev/null \
  || pip install --quiet scapy cryptography \
  || fail "cannot install scapy/cryptography with pip"
command -v tshark >/dev/null \
  || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y tshark) \
  || fail "cannot install tshark"

cargo build --quiet -p dataplane --example esp_tool || fail "cannot build esp_tool"
TOOL="$(pwd)/target/debug/examples/esp_tool"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

rc=0
echo "== scapy <-> pcscf-dp (every pair, both directions)"
python3 tests/peers/esp/scapy_peer.py "$TOOL" "$WORK" 2> >(grep -v 'MAC address' >&2) || { echo "scapy peer failed" >&2; rc=1; }
echo "== tshark decrypts pcscf-dp output"
python3 tests/peers/esp/tshark_peer.py "$TOOL" "$WORK" 2> >(grep -v 'MAC address' >&2) || { echo "tshark peer failed" >&2; rc=1; }
[ "$rc" = 0 ] || fail "see FAIL lines above"
echo "esp peers: all passed"
