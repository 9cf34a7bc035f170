#!/bin/bash
# PID 1 of the user-mode-linux guest (tests/peers/uml).
#
# The guest's root file system is the host's "/" (hostfs), so this script and
# peerutil.py are read straight from the working tree. Usage (from the
# generated $WORK/init wrapper): guest-init.sh WORKDIR
#
# It reads WORKDIR/params.sh (written by esp-peer.sh), brings up eth0, loads
# the ESP modules, installs one transport-mode SA and its policy with
# `ip xfrm`, runs the test action (send or receive UDP through the SA), dumps
# the xfrm state and statistics into WORKDIR, and powers off. It must never
# return (PID 1 exiting panics the guest kernel), so every path ends in
# `poweroff -f`, and a watchdog powers off if the action hangs.

WORK="$1"
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
PY=/usr/bin/python3

main() {
    set -u
    # shellcheck source=/dev/null
    . "$WORK/params.sh" || { echo "guest: cannot read $WORK/params.sh"; return 10; }

    mount -t proc proc /proc
    mount -t sysfs sys /sys
    uname -r > "$WORK/guest-kernel"
    echo "guest: kernel $(uname -r), mode $MODE, $LOCAL <-> $PEER"

    # Modules live in /usr/lib/uml/modules/<version>; MODROOT/lib/modules links
    # there (the host's /lib/modules belongs to the host kernel). The kernel's
    # own module requests (crypto templates such as "authenc(...)") go through
    # a wrapper that points modprobe at the same place.
    printf '#!/bin/sh\nexec /sbin/modprobe -d %s "$@"\n' "$MODROOT" > "$WORK/modprobe"
    chmod +x "$WORK/modprobe"
    echo "$WORK/modprobe" > /proc/sys/kernel/modprobe
    local m failed=""
    for m in cryptomgr af_key xfrm_user xfrm_algo esp4 esp6 authenc hmac sha1 md5 cbc aes gcm \
             ghash-generic seqiv echainiv ctr crypto_null ecb; do
        if ! modprobe -d "$MODROOT" "$m" 2>/dev/null; then
            # Built-in modules are fine; only a missing one is an error.
            grep -q "/$m.ko" "$MODROOT/lib/modules/$(uname -r)/modules.builtin" 2>/dev/null ||
                failed="$failed $m"
        fi
    done
    [ -z "$failed" ] || echo "guest: note: modprobe failed for:$failed (may be built in under another name)"

    ip link set lo up
    ip link set eth0 address "$GUEST_MAC" || return 11
    ip link set eth0 up || return 11
    if [[ $LOCAL == *:* ]]; then
        sysctl -qw net.ipv6.conf.eth0.accept_dad=0
        ip -6 addr add "$LOCAL/$PLEN" dev eth0 nodad || return 12
        ip -6 neigh replace "$PEER" lladdr "$PEER_MAC" dev eth0 nud permanent || return 12
    else
        ip addr add "$LOCAL/$PLEN" dev eth0 || return 12
        ip neigh replace "$PEER" lladdr "$PEER_MAC" dev eth0 nud permanent || return 12
    fi

    # One SA in the direction under test, and the policies that use it.
    if [ "$MODE" = send ]; then
        ip xfrm state add src "$LOCAL" dst "$PEER" proto esp spi "$SPI" mode transport reqid 1 \
            "${XFRM_ALGO[@]}" sel src "$LOCAL" dst "$PEER" proto udp sport "$LPORT" dport "$PPORT" ||
            { echo "guest: ip xfrm state add (out) failed"; return 13; }
        ip xfrm policy add src "$LOCAL" dst "$PEER" proto udp sport "$LPORT" dport "$PPORT" dir out \
            tmpl src "$LOCAL" dst "$PEER" proto esp reqid 1 mode transport level required ||
            { echo "guest: ip xfrm policy add (out) failed"; return 13; }
    else
        ip xfrm state add src "$PEER" dst "$LOCAL" proto esp spi "$SPI" mode transport reqid 2 \
            replay-window "$REPLAY_WINDOW" "${XFRM_ALGO[@]}" \
            sel src "$PEER" dst "$LOCAL" proto udp sport "$PPORT" dport "$LPORT" ||
            { echo "guest: ip xfrm state add (in) failed"; return 13; }
        ip xfrm policy add src "$PEER" dst "$LOCAL" proto udp sport "$PPORT" dport "$LPORT" dir in \
            tmpl src "$PEER" dst "$LOCAL" proto esp reqid 2 mode transport level required ||
            { echo "guest: ip xfrm policy add (in) failed"; return 13; }
    fi
    ip xfrm state > "$WORK/xfrm-state-before.txt" 2>&1
    ip xfrm policy > "$WORK/xfrm-policy.txt" 2>&1

    local rc
    if [ "$MODE" = send ]; then
        $PY "$PEERUTIL" guest-send --src "$LOCAL" --sport "$LPORT" --dst "$PEER" --dport "$PPORT" \
            --count "$COUNT" --size "$SIZE" --out "$WORK/sent.hex"
        rc=$?
    else
        $PY "$PEERUTIL" guest-recv --bind "$LOCAL" --port "$LPORT" --count "$COUNT" \
            --timeout "$RECV_TIMEOUT" --ready "$WORK/ready" --done "$WORK/injected" --out "$WORK/received.hex"
        rc=$?
    fi
    ip -s xfrm state > "$WORK/xfrm-state.txt" 2>&1
    cat /proc/net/xfrm_stat > "$WORK/xfrm_stat.txt" 2>&1
    ip -s link show dev eth0 > "$WORK/eth0.txt" 2>&1
    return $rc
}

if [ -z "$WORK" ] || [ ! -d "$WORK" ]; then
    echo "guest: usage: guest-init.sh WORKDIR"
else
    . "$WORK/params.sh" 2>/dev/null
    # Watchdog: whatever happens, the guest powers off.
    ( sleep "${GUEST_TIMEOUT:-60}"; echo "guest: watchdog fired after ${GUEST_TIMEOUT:-60}s";
      echo watchdog > "$WORK/guest.watchdog"; sync; poweroff -f ) &
    main 2>&1 | tee "$WORK/guest.log"
    echo "${PIPESTATUS[0]}" > "$WORK/guest.rc"
    echo "guest: done, rc $(cat "$WORK/guest.rc")"
fi
sync
poweroff -f
# Not reached; keep PID 1 alive if poweroff somehow returned.
sleep 3600
