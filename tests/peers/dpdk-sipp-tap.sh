#!/usr/bin/env bash
# The sipp peer test over DPDK: the same scenarios and namespaces as
# tests/peers/sipp/run.sh, with pcscf-dp built with `--features dpdk` driving
# both veths through DPDK's net_af_packet PMD (tests/peers/sipp/pcscf-dpdk.toml).
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build -q --release -p dataplane --features dpdk --bin pcscf-dp
mkdir -p target/dpdk
cp target/release/pcscf-dp target/dpdk/pcscf-dp
PCSCF_DP=target/dpdk/pcscf-dp PCSCF_CONFIG=tests/peers/sipp/pcscf-dpdk.toml tests/peers/sipp/run.sh
