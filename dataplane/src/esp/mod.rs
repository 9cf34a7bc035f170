//! # ESP (RFC 4303) transport mode, in place
//!
//! Owns: the ESP crypto trait and its providers ([`crypto`]), the lock-free
//! anti-replay window ([`replay`]), inbound and outbound SAs ([`sa`]), the
//! in-place decapsulation and encapsulation over any [`crate::buf::Buf`]
//! ([`transport`]), and a pcap-to-pcap tool for interop tests ([`tool`]).
//!
//! Algorithms (TS 33.203 Annex H): hmac-sha-1-96, hmac-md5-96 (policy
//! switch), aes-gmac, null integrity (with aes-gcm only); null, aes-cbc and
//! aes-gcm encryption. Keys come from [`control::keys`], derived once on the
//! control thread; the SA holds the precomputed key schedules.
//!
//! Must never: panic on network input, allocate per packet, derive keys on a
//! worker, log or print key bytes, hand a packet whose ICV failed to anything
//! but the drop counter, or accept one sequence number twice. Every failure
//! maps to exactly one `Esp*` [`crate::counters::DropReason`].
//!
//! See `README.md` in this directory for the crypto library choice (by
//! benchmark) and the UDP-encapsulation decision (refused, counted).

pub mod crypto;
pub mod replay;
pub mod sa;
pub mod tool;
pub mod transport;

pub use crypto::{EspCrypto, NullCrypto, SaCrypto};
pub use replay::{ReplayError, ReplayWindow, DEFAULT_WINDOW};
pub use sa::{AlgPolicy, InboundSa, OutboundSa, SaStats};
pub use tool::{pcap_transform, Direction, SaFile, ToolError};
pub use transport::{decap, decap_sa, encap, is_udp_encap, peek_spi, unknown_spi, Decapped, Encapped};
