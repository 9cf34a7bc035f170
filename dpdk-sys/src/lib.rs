//! # dpdk-sys — raw bindings to the system DPDK
//!
//! Owns the FFI surface between pcscf-dp and DPDK 22.11 (Debian's LTS, found
//! by pkg-config; the version is pinned once, in `build.rs`): bindgen output
//! for the EAL, ethdev, mbuf, mempool and lcore APIs, plus `pcscf_*`
//! functions from a C shim (`shim/shim.c`) for DPDK's static-inline fast path
//! (`rte_eth_rx_burst`, `rte_eth_tx_burst`, `rte_pktmbuf_alloc`/`free`/bulk,
//! the mbuf data helpers, `rte_prefetch0`, `rte_lcore_id`, `rte_errno`).
//!
//! Must never: hold policy or state, or be used outside
//! `dataplane::port::dpdk` (the one safe wrapper). Everything here is
//! `unsafe` raw FFI.
//!
//! Without the `link` feature this crate is empty: the build script runs no
//! pkg-config and no compiler, and nothing here can be called, so no code can
//! silently run against stubs. With `link`, a missing DPDK fails the build
//! with install instructions.
#![no_std]
#![allow(non_camel_case_types, non_upper_case_globals, non_snake_case, missing_docs)]
#![allow(clippy::all, clippy::pedantic, unnecessary_transmutes)]

#[cfg(feature = "link")]
include!(concat!(env!("OUT_DIR"), "/bindings.rs"));

/// The DPDK version this crate was built against, as pkg-config reported it.
#[cfg(feature = "link")]
pub const DPDK_PKG_VERSION: &str = env!("PCSCF_DPDK_VERSION");
