//! # control — the sans-IO protocol core of pcscf-dp
//!
//! Owns: the SIP parsing that signalling needs, sec-agree (RFC 3329 /
//! TS 33.203 Annex H), the TS 24.229 §5.2.2.2 registration procedures, the
//! SA-set state machine of table 5.2.2-1, identity assertion (TS 24.229
//! §5.2.6.3) and the Annex N/O bindings.
//!
//! Must never: open a socket, spawn a thread, read a clock or touch a packet
//! buffer. Inputs are events plus `now` ([`time::Instant`]); outputs are
//! transmits, table updates and deadlines. The `dataplane` crate depends on
//! this one, never the reverse.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod bindings;
pub mod identity;
pub mod keys;
pub mod registrar;
pub mod reply;
pub mod secagree;
pub mod sip;
pub mod time;
pub mod types;
