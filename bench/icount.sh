#!/bin/bash
# Instructions per packet of the plaintext path, independent of machine load:
# runs the pipeline_icount example under callgrind for 1 000 and 11 000
# packets and prints the difference per packet.
#   bench/icount.sh [SIZE] [scan|parse|burst|copy]
# SIZE is the SIP message size (400 by default); a stage name measures that
# stage alone (`parse` includes the UDP checksum verify; `scan` includes the
# parse without it).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { apt-get update && apt-get install -y valgrind; }
cargo build --release -q -p bench --example pipeline_icount
size=${1:-400}
stage=${2:-}
run() {
    valgrind --tool=callgrind --callgrind-out-file=/dev/null \
        target/release/examples/pipeline_icount "$1" "$size" $stage 2>&1 |
        awk '/refs:/ { gsub(",", "", $NF); print $NF }'
}
a=$(run 1000)
b=$(run 11000)
echo "instructions per packet at ${size} B${stage:+ ($stage)}: $(( (b - a) / 10000 ))"
