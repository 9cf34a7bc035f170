#!/usr/bin/env bash
# Pack the DPDK smoke benchmark for a quiet Linux x86-64 machine that has no
# DPDK installed: dpdk_fwd, dpdk-testpmd, every shared library they load
# (glibc and its loader included, so the target's own libraries do not
# matter) and the PMDs the benchmark uses. Run there from a checkout of the
# repository (smoke.sh reads hw-profiles/ and bench/dpdk/vdev-memif.toml):
#
#   B=$PWD/target/dpdk-bundle
#   PATH=$B/bin:$PATH FWD_EAL_ARGS="-d $B/pmds" FWD_BIN=$B/bin/dpdk_fwd \
#       FWD_CORE=3 PEER_CORE=5 SECONDS_PER_RUN=4 bash bench/dpdk/smoke.sh
#
# The wrappers in bin/ start each program through the bundled loader with
# --library-path; the testpmd wrapper adds `-d pmds` itself. PMDs are
# loaded from pmds/ only (named *.so: the EAL skips other names in a -d
# directory); the vdev bus sits in lib/, where the PMDs' own dependency on it
# finds it, so nothing is loaded twice. Output: target/dpdk-bundle (~21 MiB).
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build -q --release -p dataplane --features dpdk --example dpdk_fwd
pmd_dir=$(pkg-config --variable=pmdsdir libdpdk 2>/dev/null || true)
[[ -d "$pmd_dir" ]] || pmd_dir=/usr/lib/x86_64-linux-gnu/dpdk/pmds-23.0
B=target/dpdk-bundle
rm -rf "$B"
mkdir -p "$B/lib" "$B/pmds" "$B/bin"
for d in mempool_ring net_null net_ring net_memif; do
    cp -L "$pmd_dir/librte_$d.so.23" "$B/pmds/librte_$d.so"
done
cp -L "$pmd_dir/librte_bus_vdev.so.23" "$B/lib/"
cp target/release/examples/dpdk_fwd "$B/bin/dpdk_fwd.real"
strip "$B/bin/dpdk_fwd.real"
cp -L "$(command -v dpdk-testpmd)" "$B/bin/dpdk-testpmd.real"
for f in "$B"/bin/*.real "$B"/pmds/* "$B"/lib/librte_bus_vdev.so.23; do
    ldd "$f" | awk '$3 ~ /^\// {print $3}'
done | sort -u | while read -r l; do
    cp -Ln "$l" "$B/lib/" 2>/dev/null || true
done
cp -L /lib64/ld-linux-x86-64.so.2 "$B/lib/"
wrapper() { # $1 = program, $2 = extra arguments
    cat >"$B/bin/$1" <<EOF
#!/bin/sh
B=\$(cd "\$(dirname "\$0")/.." && pwd)
exec "\$B/lib/ld-linux-x86-64.so.2" --library-path "\$B/lib" "\$B/bin/$1.real" $2 "\$@"
EOF
    chmod +x "$B/bin/$1"
}
wrapper dpdk_fwd ""
wrapper dpdk-testpmd '-d "$B/pmds"'
du -sh "$B"
