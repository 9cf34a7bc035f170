#!/bin/bash
# Same-run A/B timing of two builds of bench/examples/pipeline_icount
# (e.g. a worktree of an older commit against the current tree), for a
# machine whose speed drifts over minutes: the two binaries run
# interleaved, pinned to one core, and each run's user time minus that of
# a run with a single packet (table and frame set-up) gives ns per packet.
# Prints min and median per binary. Reported, never asserted.
#   bench/ab.sh BIN_A BIN_B [ROUNDS=10] [PACKETS=4000000] [SIZE=400] [burst|scan|parse]
# PIPELINE_UES / PIPELINE_SENDERS pass through (see pipeline_icount.rs).
set -euo pipefail
a=$1 b=$2 rounds=${3:-10} n=${4:-4000000} size=${5:-400} stage=${6:-}
core=$(($(nproc) > 1 ? 1 : 0))
# The user time goes to its own file: the program's stderr (its line on
# where its code runs) stays out of the figures.
tfile=$(mktemp)
trap 'rm -f "$tfile"' EXIT
utime() { /usr/bin/time -f %U -o "$tfile" taskset -c "$core" "$1" "$2" "$size" $stage >/dev/null 2>&1; cat "$tfile"; }
for _ in $(seq "$rounds"); do
    for x in A B; do
        bin=$a; [[ $x == B ]] && bin=$b
        echo "$x $(utime "$bin" "$n") $(utime "$bin" 1)"
    done
done | awk -v n="$n" '
    { v[$1] = v[$1] " " ($2 - $3) * 1e9 / n }
    END {
        for (k in v) {
            m = split(v[k], t, " ")
            for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (t[j] < t[i]) { x = t[i]; t[i] = t[j]; t[j] = x }
            printf "%s min %.1f median %.1f ns/packet (%d runs)\n", k, t[1], t[int((m + 1) / 2)], m
        }
    }'
