//! # dataplane — the pcscf-dp packet path
//!
//! Owns everything that touches packets or threads: buffers and ports
//! ([`buf`], [`port`]), checked zero-copy wire views ([`wire`]), ESP
//! ([`esp`]), the lock-free tables ([`table`]), the SIP fast path
//! ([`sipfast`], [`pipeline`]), pinned workers ([`worker`]), the control-thread
//! runner ([`runner`]) and the `pcscf-dp` binary.
//!
//! Depends on `control` for protocol logic; `control` never depends on this
//! crate. `unsafe` is denied everywhere except the modules that must use it
//! (the lock-free table's reclamation, the `mem` port's ring, the raw-socket port, the clearing of
//! key schedules in `esp::crypto::Wiped`, the SSE2 kernels in [`simd`], moving the code onto
//! huge pages in [`hugetext`], and the DPDK binding), each of which
//! justifies every block with a `SAFETY:` comment.
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod app;
pub mod buf;
pub mod config;
pub mod counters;
pub mod demo;
#[cfg(feature = "dpdk")]
pub mod dpdk_run;
pub mod esp;
pub mod hugetext;
pub mod pcapfile;
pub mod pipeline;
pub mod port;
pub mod profile;
pub mod runner;
pub mod simd;
pub mod sipfast;
pub mod state;
pub mod table;
pub mod testgen;
pub mod wire;
pub mod worker;
