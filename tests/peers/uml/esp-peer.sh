#!/bin/bash
# A Linux-kernel ESP peer under user-mode-linux (tests/peers/uml).
#
# The host kernel here has no ESP, so a UML kernel (Debian's user-mode-linux)
# plays the peer. It boots with the host's "/" as root (hostfs), with eth0 on a
# tap device that lives in a private network namespace, installs one
# transport-mode SA with `ip xfrm`, and either sends or receives UDP through it.
#
#   esp-peer.sh send    --alg A --ealg E --spi N [keys] --count N --out PCAP [--payloads FILE]
#       The kernel encapsulates COUNT UDP datagrams; the ESP frames are captured
#       on the host side of the tap into PCAP (Ethernet), and the plaintext
#       payloads the kernel sent are written to FILE (hex, one per line).
#   esp-peer.sh receive --alg A --ealg E --spi N [keys] --in PCAP [--count N] [--expect FILE] [--got FILE]
#       The ESP frames of PCAP (Ethernet or raw IP) are written onto the tap
#       (MACs rewritten); the kernel must accept them and deliver the payloads
#       to a UDP socket. With --expect, the delivered payloads must equal FILE.
#   esp-peer.sh payloads --count N --size S
#       Print the payloads `send` uses (and `receive` expects by default).
#
# Algorithms (TS 33.203 names): --alg hmac-sha-1-96|hmac-md5-96|aes-gmac|null
#                               --ealg null|aes-cbc|aes-gcm
# Keys (hex): --auth-key (HMAC key; for aes-gmac the AES key),
#             --enc-key (AES-CBC or AES-GCM key), --salt (4-byte GCM/GMAC salt).
# Addresses: --local IP (the kernel, default 10.99.0.2), --peer IP (us, 10.99.0.1),
#            --prefix LEN, --lport/--pport (UDP ports, default 5064/5062),
#            --guest-mac/--peer-mac.
# Other: --size BYTES (payload base size, 200), --timeout S (whole run, 90),
#        --workdir DIR (kept; default a temp dir that is removed on success),
#        --keep (keep the temp dir), -v (show the guest console).
#
# Exit status: 0 on success; 1 on a test failure; 2 on a usage error; 3 when
# the peer cannot start (no UML, no tap, the guest did not boot). The reason is
# always printed on stderr.

set -u
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PEERUTIL="$HERE/peerutil.py"
GUEST_INIT="$HERE/guest-init.sh"

MODE="${1:-}"
[ $# -gt 0 ] && shift

ALG="" EALG="" SPI="" AUTH_KEY="" ENC_KEY="" SALT=""
LOCAL=10.99.0.2 PEER=10.99.0.1 PLEN="" LPORT=5064 PPORT=5062
GUEST_MAC=02:00:0a:63:00:02 PEER_MAC=02:00:0a:63:00:01
COUNT="" SIZE=200 TIMEOUT=90 OUT="" IN="" PAYLOADS="" EXPECT="" GOT=""
WORKDIR="" KEEP=0 VERBOSE=0 REPLAY_WINDOW=32 UML_MEM=192M

die() { echo "esp-peer: $*" >&2; exit 2; }
fail() { echo "esp-peer: FAIL: $*" >&2; FAILED=1; exit 1; }
cannot_start() { echo "esp-peer: PEER CANNOT START: $*" >&2; FAILED=1; exit 3; }

while [ $# -gt 0 ]; do
    case "$1" in
        --alg) ALG="$2"; shift 2 ;;
        --ealg) EALG="$2"; shift 2 ;;
        --spi) SPI="$2"; shift 2 ;;
        --auth-key) AUTH_KEY="${2#0x}"; shift 2 ;;
        --enc-key) ENC_KEY="${2#0x}"; shift 2 ;;
        --salt) SALT="${2#0x}"; shift 2 ;;
        --local) LOCAL="$2"; shift 2 ;;
        --peer) PEER="$2"; shift 2 ;;
        --prefix) PLEN="$2"; shift 2 ;;
        --lport) LPORT="$2"; shift 2 ;;
        --pport) PPORT="$2"; shift 2 ;;
        --guest-mac) GUEST_MAC="$2"; shift 2 ;;
        --peer-mac) PEER_MAC="$2"; shift 2 ;;
        --count) COUNT="$2"; shift 2 ;;
        --size) SIZE="$2"; shift 2 ;;
        --timeout) TIMEOUT="$2"; shift 2 ;;
        --replay-window) REPLAY_WINDOW="$2"; shift 2 ;;
        --out) OUT="$2"; shift 2 ;;
        --in) IN="$2"; shift 2 ;;
        --payloads) PAYLOADS="$2"; shift 2 ;;
        --expect) EXPECT="$2"; shift 2 ;;
        --got) GOT="$2"; shift 2 ;;
        --workdir) WORKDIR="$2"; shift 2 ;;
        --keep) KEEP=1; shift ;;
        -v|--verbose) VERBOSE=1; shift ;;
        -h|--help) sed -n '2,/^$/s/^# \{0,1\}//p' "$0"; exit 0 ;;
        *) die "unknown argument '$1' (see --help)" ;;
    esac
done

case "$MODE" in
    payloads)
        [ -n "$COUNT" ] || die "payloads needs --count"
        exec python3 "$PEERUTIL" payloads --count "$COUNT" --size "$SIZE" ;;
    send|receive) ;;
    -h|--help|"") sed -n '2,/^$/s/^# \{0,1\}//p' "$0"; exit 2 ;;
    *) die "unknown mode '$MODE' (send, receive or payloads)" ;;
esac

# ------------------------------------------------------------------ arguments

hexlen() { [[ $1 =~ ^([0-9a-fA-F]{2})+$ ]] && echo $(( ${#1} / 2 )) || echo 0; }
need_key() { # name value bytes
    local n; n=$(hexlen "$2")
    [ "$n" = "$3" ] || die "$1 must be $3 bytes of hex, got '${2}'"
}
[ -n "$SPI" ] || die "--spi is required"
[[ $SPI =~ ^(0x[0-9a-fA-F]{1,8}|[0-9]+)$ ]] || die "--spi '$SPI' is not a number"
SPI=$(printf '0x%08x' "$SPI")
[ $((SPI)) -ge 256 ] || die "--spi must be >= 256 (RFC 4303 reserves 1-255)"

# Map the 33.203 names to Linux xfrm algorithms. Linux holds either one AEAD
# or an auth+enc pair per SA, so aes-gmac works only with ealg null, and
# aes-gcm only with alg null (which is also what 33.203 allows for aes-gcm).
XFRM_ALGO=()
case "$ALG/$EALG" in
    hmac-sha-1-96/null|hmac-sha-1-96/aes-cbc|hmac-md5-96/null|hmac-md5-96/aes-cbc)
        if [ "$ALG" = hmac-sha-1-96 ]; then
            need_key --auth-key "$AUTH_KEY" 20
            XFRM_ALGO+=(auth-trunc 'hmac(sha1)' "0x$AUTH_KEY" 96)
        else
            need_key --auth-key "$AUTH_KEY" 16
            XFRM_ALGO+=(auth-trunc 'hmac(md5)' "0x$AUTH_KEY" 96)
        fi
        if [ "$EALG" = aes-cbc ]; then
            need_key --enc-key "$ENC_KEY" 16
            XFRM_ALGO+=(enc 'cbc(aes)' "0x$ENC_KEY")
        else
            XFRM_ALGO+=(enc 'ecb(cipher_null)' '')
        fi ;;
    null/aes-gcm)
        need_key --enc-key "$ENC_KEY" 16; need_key --salt "$SALT" 4
        XFRM_ALGO+=(aead 'rfc4106(gcm(aes))' "0x$ENC_KEY$SALT" 128) ;;
    aes-gmac/null)
        need_key --auth-key "$AUTH_KEY" 16; need_key --salt "$SALT" 4
        XFRM_ALGO+=(aead 'rfc4543(gcm(aes))' "0x$AUTH_KEY$SALT" 128) ;;
    aes-gmac/aes-cbc)
        die "aes-gmac with aes-cbc cannot be expressed in Linux xfrm (one AEAD or one auth+enc pair per SA)" ;;
    *) die "unsupported --alg/--ealg pair '$ALG/$EALG'" ;;
esac

if [[ $LOCAL == *:* ]]; then PLEN="${PLEN:-64}"; else PLEN="${PLEN:-24}"; fi
[[ $COUNT =~ ^[0-9]*$ ]] || die "--count must be a number"
if [ "$MODE" = send ]; then
    [ -n "$OUT" ] || die "send needs --out PCAP"
    COUNT="${COUNT:-10}"
else
    [ -n "$IN" ] || die "receive needs --in PCAP"
    [ -r "$IN" ] || die "cannot read --in '$IN'"
    if [ -z "$COUNT" ]; then
        COUNT=$(python3 "$PEERUTIL" pcap-esp --pcap "$IN" --print-count) || die "cannot read --in '$IN'"
    fi
    [ "$COUNT" -gt 0 ] || die "--in '$IN' holds no ESP frame"
fi

# ------------------------------------------------------------------ prerequisites

[ "$(id -u)" = 0 ] || cannot_start "must run as root (network namespace, tap device)"
command -v linux >/dev/null || cannot_start "no 'linux' binary: apt-get install -y user-mode-linux"
command -v ip >/dev/null || cannot_start "no 'ip' (iproute2)"
command -v python3 >/dev/null || cannot_start "no python3"
[ -x /usr/bin/python3 ] || cannot_start "the guest needs /usr/bin/python3 (it runs on the host's root)"
[ "$MODE" = receive ] || command -v tcpdump >/dev/null || cannot_start "no tcpdump: apt-get install -y tcpdump"
[ -c /dev/net/tun ] || cannot_start "/dev/net/tun is missing (needed for the tap device)"
UML_VERSION=$(linux --version 2>/dev/null | head -n1)
MODDIR=/usr/lib/uml/modules/$UML_VERSION
[ -d "$MODDIR" ] || cannot_start "no UML modules at $MODDIR: apt-get install -y user-mode-linux"

# ------------------------------------------------------------------ set-up

FAILED=1
NS="pdp-uml-$$"
TAP=pdpuml0
if [ -n "$WORKDIR" ]; then
    mkdir -p "$WORKDIR" || die "cannot create --workdir $WORKDIR"
    WORK="$(cd "$WORKDIR" && pwd)"; KEEP=1
else
    WORK="$(mktemp -d /tmp/pdp-uml.XXXXXX)"
fi
[[ $WORK =~ ^[A-Za-z0-9_./-]+$ ]] || die "work dir '$WORK' has odd characters"
rm -f "$WORK"/{ready,injected,guest.rc,guest.watchdog,sent.hex,received.hex,guest-kernel}
TCPDUMP_PID="" UML_PID=""

cleanup() {
    local rc=$?
    if [ -n "$UML_PID" ] && kill -0 "$UML_PID" 2>/dev/null; then
        kill "$UML_PID" 2>/dev/null; sleep 1; kill -9 "$UML_PID" 2>/dev/null
    fi
    if [ -n "$TCPDUMP_PID" ] && kill -0 "$TCPDUMP_PID" 2>/dev/null; then
        kill "$TCPDUMP_PID" 2>/dev/null; wait "$TCPDUMP_PID" 2>/dev/null
    fi
    ip netns del "$NS" 2>/dev/null
    if [ "$rc" != 0 ] || [ "$KEEP" = 1 ]; then
        echo "esp-peer: logs kept in $WORK" >&2
    else
        rm -rf "$WORK"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ip netns add "$NS" || cannot_start "ip netns add $NS failed"
ip -n "$NS" link set lo up
ip -n "$NS" tuntap add dev "$TAP" mode tap || cannot_start "cannot create tap $TAP in $NS"
ip -n "$NS" link set "$TAP" address "$PEER_MAC"
# The host side of the tap is a wire, not a host: no addresses, no IPv6 chatter.
ip netns exec "$NS" sysctl -qw "net.ipv6.conf.$TAP.disable_ipv6=1" 2>/dev/null
ip -n "$NS" link set "$TAP" up || cannot_start "cannot bring up $TAP"

mkdir -p "$WORK/modroot/lib" "$WORK/uml"
ln -sfn /usr/lib/uml/modules "$WORK/modroot/lib/modules"
{
    printf 'MODE=%q\nLOCAL=%q\nPEER=%q\nPLEN=%q\nLPORT=%q\nPPORT=%q\nSPI=%q\n' \
        "$MODE" "$LOCAL" "$PEER" "$PLEN" "$LPORT" "$PPORT" "$SPI"
    printf 'GUEST_MAC=%q\nPEER_MAC=%q\nCOUNT=%q\nSIZE=%q\nREPLAY_WINDOW=%q\n' \
        "$GUEST_MAC" "$PEER_MAC" "${COUNT:-0}" "$SIZE" "$REPLAY_WINDOW"
    printf 'MODROOT=%q\nPEERUTIL=%q\n' "$WORK/modroot" "$PEERUTIL"
    printf 'GUEST_TIMEOUT=%q\nRECV_TIMEOUT=%q\n' "$((TIMEOUT - 5))" "$((TIMEOUT - 20))"
    declare -p XFRM_ALGO
} > "$WORK/params.sh"
printf '#!/bin/sh\nexec /bin/bash %s %s\n' "$GUEST_INIT" "$WORK" > "$WORK/init"
chmod +x "$WORK/init"

if [ "$MODE" = send ]; then
    OUT_ABS="$(cd "$(dirname "$OUT")" && pwd)/$(basename "$OUT")" || die "bad --out '$OUT'"
    rm -f "$OUT_ABS"
    ip netns exec "$NS" tcpdump -i "$TAP" --immediate-mode -U -n -s 0 -w "$OUT_ABS" 'ip proto 50 or ip6 proto 50' \
        > "$WORK/tcpdump.log" 2>&1 &
    TCPDUMP_PID=$!
    for _ in $(seq 50); do
        grep -q 'listening on' "$WORK/tcpdump.log" 2>/dev/null && break
        kill -0 "$TCPDUMP_PID" 2>/dev/null || cannot_start "tcpdump died: $(cat "$WORK/tcpdump.log")"
        sleep 0.1
    done
    grep -q 'listening on' "$WORK/tcpdump.log" || cannot_start "tcpdump did not start: $(cat "$WORK/tcpdump.log")"
fi

# ------------------------------------------------------------------ boot

console_tail() { echo "---- guest console (last 30 lines) ----" >&2; tail -n 30 "$WORK/console.log" >&2; }
START=$(date +%s)
# shellcheck disable=SC2086
timeout -k 5 "$TIMEOUT" ip netns exec "$NS" linux mem="$UML_MEM" uml_dir="$WORK/uml" umid="pdp$$" \
    rootfstype=hostfs rootflags=/ rw "eth0=tuntap,$TAP" con=null con0=fd:0,fd:1 \
    init="$WORK/init" < /dev/null > "$WORK/console.log" 2>&1 &
UML_PID=$!

if [ "$MODE" = receive ]; then
    # Wait until the guest has its SA and a bound socket, then inject.
    while [ ! -e "$WORK/ready" ]; do
        if ! kill -0 "$UML_PID" 2>/dev/null; then
            console_tail
            [ -e "$WORK/guest.rc" ] && fail "guest ended before it was ready (guest rc $(cat "$WORK/guest.rc")): $(tail -n 3 "$WORK/guest.log")"
            cannot_start "UML exited before the guest was ready (did it boot? see console above)"
        fi
        if [ $(( $(date +%s) - START )) -gt $((TIMEOUT - 15)) ]; then
            console_tail; cannot_start "guest not ready after $((TIMEOUT - 15))s"
        fi
        sleep 0.2
    done
    ip netns exec "$NS" python3 "$PEERUTIL" inject --iface "$TAP" --pcap "$IN" \
        --dst-mac "$GUEST_MAC" --src-mac "$PEER_MAC" --esp-only > "$WORK/inject.log" 2>&1 ||
        { cat "$WORK/inject.log" >&2; fail "could not inject $IN"; }
    cat "$WORK/inject.log"
    touch "$WORK/injected"
fi

wait "$UML_PID"; UML_RC=$?
UML_PID=""
[ "$VERBOSE" = 1 ] && cat "$WORK/console.log"
if [ "$UML_RC" = 124 ] || [ "$UML_RC" = 137 ]; then
    console_tail; fail "UML did not power off within ${TIMEOUT}s"
fi
if [ ! -e "$WORK/guest-kernel" ]; then
    console_tail; cannot_start "the guest never ran its init (UML exit status $UML_RC)"
fi
if [ ! -e "$WORK/guest.rc" ]; then
    console_tail; fail "the guest did not finish its action$([ -e "$WORK/guest.watchdog" ] && echo ' (watchdog fired)')"
fi
if [ "$(cat "$WORK/guest.rc")" != 0 ]; then
    console_tail; fail "guest action failed (rc $(cat "$WORK/guest.rc")): $(grep '^guest:' "$WORK/guest.log" | tail -n 3)"
fi
echo "esp-peer: guest kernel $(cat "$WORK/guest-kernel"), $ALG/$EALG, SPI $SPI, $(( $(date +%s) - START ))s"

# ------------------------------------------------------------------ verdict

if [ "$MODE" = send ]; then
    # Let the capture catch up (bounded) before stopping tcpdump.
    for _ in $(seq 30); do
        n=$(python3 "$PEERUTIL" pcap-esp --pcap "$OUT_ABS" --print-count 2>/dev/null || echo 0)
        [ "$n" -ge "$COUNT" ] && break
        sleep 0.1
    done
    sleep 0.2
    kill -INT "$TCPDUMP_PID" 2>/dev/null; wait "$TCPDUMP_PID" 2>/dev/null; TCPDUMP_PID=""
    [ -n "$PAYLOADS" ] && cp "$WORK/sent.hex" "$PAYLOADS"
    python3 "$PEERUTIL" pcap-esp --pcap "$OUT_ABS" --count "$COUNT" --spi "$SPI" ||
        { cat "$WORK/xfrm-state.txt" >&2; fail "the capture does not hold the $COUNT ESP frames the kernel should have sent"; }
else
    [ -n "$GOT" ] && cp "$WORK/received.hex" "$GOT"
    NGOT=$(grep -c . "$WORK/received.hex")
    if [ -z "$EXPECT" ]; then
        EXPECT="$WORK/expect.hex"
        python3 "$PEERUTIL" payloads --count "$COUNT" --size "$SIZE" > "$EXPECT"
    fi
    if ! python3 "$PEERUTIL" compare --expect "$EXPECT" --got "$WORK/received.hex"; then
        echo "---- kernel xfrm counters (non-zero) ----" >&2
        awk '$2 != 0' "$WORK/xfrm_stat.txt" >&2
        cat "$WORK/xfrm-state.txt" >&2
        fail "the kernel did not deliver the expected payloads ($NGOT delivered)"
    fi
fi
FAILED=0
exit 0
