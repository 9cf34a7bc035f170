//! Inbound and outbound ESP SAs as the workers see them: immutable key
//! schedules built once on the control thread, plus the few atomics that
//! change per packet (anti-replay window, sequence counter, statistics).
//!
//! Must never: derive keys on a worker, let the outbound sequence number
//! wrap (RFC 4303 §3.3.3: the SA must be replaced instead), or print keys
//! (`Debug` shows the algorithms only).

use super::crypto::{CryptoBuildError, EspCrypto, SaCrypto};
use super::replay::{ReplayWindow, DEFAULT_WINDOW};
use control::keys::SaKeys;
use control::types::{EncrAlg, IntegAlg};
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Which algorithms the configuration allows, and in which order of
/// preference the control core should pick them (TS 33.203 Annex H names).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlgPolicy {
    /// Allowed (integrity, encryption) pairs, most preferred first.
    pub preference: Vec<(IntegAlg, EncrAlg)>,
    /// Whether HMAC-MD5-96 (removed from 33.203, still offered by UEs) may
    /// be used.
    pub allow_md5: bool,
}

impl Default for AlgPolicy {
    fn default() -> Self {
        AlgPolicy {
            preference: vec![
                (IntegAlg::Null, EncrAlg::AesGcm),
                (IntegAlg::AesGmac, EncrAlg::Null),
                (IntegAlg::HmacSha196, EncrAlg::AesCbc),
                (IntegAlg::HmacSha196, EncrAlg::Null),
            ],
            allow_md5: false,
        }
    }
}

impl AlgPolicy {
    /// Whether a pair is allowed.
    pub fn allows(&self, integ: IntegAlg, encr: EncrAlg) -> bool {
        control::keys::is_valid_combination(integ, encr)
            && (self.allow_md5 || integ != IntegAlg::HmacMd596)
            && self.preference.contains(&(integ, encr))
    }

    /// The most preferred allowed pair among those `offered`.
    pub fn choose(&self, offered: &[(IntegAlg, EncrAlg)]) -> Option<(IntegAlg, EncrAlg)> {
        self.preference
            .iter()
            .copied()
            .find(|p| offered.contains(p) && self.allows(p.0, p.1))
    }
}

/// Per-SA statistics, relaxed atomics.
#[derive(Debug, Default)]
pub struct SaStats {
    /// Packets that passed (decapsulated or encapsulated).
    pub packets: AtomicU64,
    /// Bytes of those packets (ESP packet length).
    pub bytes: AtomicU64,
    /// Packets dropped on this SA (any reason after the SPI lookup).
    pub drops: AtomicU64,
}

impl SaStats {
    #[inline]
    pub(crate) fn ok(&self, bytes: usize) {
        self.packets.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(bytes as u64, Ordering::Relaxed);
    }
    #[inline]
    pub(crate) fn drop(&self) {
        self.drops.fetch_add(1, Ordering::Relaxed);
    }
}

/// An inbound SA (UE → P-CSCF), found by SPI.
pub struct InboundSa {
    /// The SPI (chosen by the P-CSCF).
    pub spi: u32,
    /// Inner source port the UE must use (its protected client or server
    /// port).
    pub ue_port: u16,
    /// Inner destination port at the P-CSCF (port-ps or port-pc).
    pub pcscf_port: u16,
    pub(crate) crypto: SaCrypto,
    pub(crate) replay: ReplayWindow,
    /// Statistics.
    pub stats: SaStats,
}

impl core::fmt::Debug for InboundSa {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("InboundSa")
            .field("spi", &format_args!("{:#010x}", self.spi))
            .field("alg", &self.crypto)
            .field("ue_port", &self.ue_port)
            .field("pcscf_port", &self.pcscf_port)
            .field("window", &self.replay.window())
            .finish_non_exhaustive()
    }
}

impl InboundSa {
    /// Build an inbound SA with the default (1024) replay window.
    pub fn new(
        spi: u32,
        keys: &SaKeys,
        ue_port: u16,
        pcscf_port: u16,
        allow_md5: bool,
    ) -> Result<Self, CryptoBuildError> {
        Self::with_window(spi, keys, ue_port, pcscf_port, allow_md5, DEFAULT_WINDOW)
    }

    /// Build an inbound SA with a replay window of `window` packets.
    pub fn with_window(
        spi: u32,
        keys: &SaKeys,
        ue_port: u16,
        pcscf_port: u16,
        allow_md5: bool,
        window: u32,
    ) -> Result<Self, CryptoBuildError> {
        Ok(InboundSa {
            spi,
            ue_port,
            pcscf_port,
            crypto: SaCrypto::new(keys, allow_md5)?,
            replay: ReplayWindow::new(window),
            stats: SaStats::default(),
        })
    }

    /// An SA with the null transform (fuzzing and cost measurement only).
    pub fn null(spi: u32, ue_port: u16, pcscf_port: u16) -> Self {
        InboundSa {
            spi,
            ue_port,
            pcscf_port,
            crypto: SaCrypto::null(),
            replay: ReplayWindow::new(DEFAULT_WINDOW),
            stats: SaStats::default(),
        }
    }

    /// The transform.
    pub fn crypto(&self) -> &SaCrypto {
        &self.crypto
    }

    /// The anti-replay window.
    pub fn replay(&self) -> &ReplayWindow {
        &self.replay
    }
}

/// An outbound SA (P-CSCF → UE).
pub struct OutboundSa {
    /// The SPI (chosen by the UE).
    pub spi: u32,
    pub(crate) crypto: SaCrypto,
    /// Last sequence number used (the first packet carries 1).
    seq: AtomicU64,
    exhausted: AtomicBool,
    /// Statistics.
    pub stats: SaStats,
}

impl core::fmt::Debug for OutboundSa {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("OutboundSa")
            .field("spi", &format_args!("{:#010x}", self.spi))
            .field("alg", &self.crypto)
            .field("seq", &self.seq.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl OutboundSa {
    /// Build an outbound SA.
    pub fn new(spi: u32, keys: &SaKeys, allow_md5: bool) -> Result<Self, CryptoBuildError> {
        Ok(OutboundSa {
            spi,
            crypto: SaCrypto::new(keys, allow_md5)?,
            seq: AtomicU64::new(0),
            exhausted: AtomicBool::new(false),
            stats: SaStats::default(),
        })
    }

    /// An SA with the null transform (fuzzing and cost measurement only).
    pub fn null(spi: u32) -> Self {
        OutboundSa {
            spi,
            crypto: SaCrypto::null(),
            seq: AtomicU64::new(0),
            exhausted: AtomicBool::new(false),
            stats: SaStats::default(),
        }
    }

    /// Start the counter so that the next packet carries `last + 1` (tests
    /// and the overflow path).
    pub fn set_last_seq(&self, last: u32) {
        self.seq.store(last as u64, Ordering::Relaxed);
    }

    /// The transform.
    pub fn crypto(&self) -> &SaCrypto {
        &self.crypto
    }

    /// The next sequence number, or `None` once 2^32 - 1 has been used: the
    /// counter never wraps, and [`OutboundSa::is_exhausted`] turns true so
    /// the control thread replaces the SA.
    #[inline]
    pub fn next_seq(&self) -> Option<u32> {
        let s = self.seq.fetch_add(1, Ordering::Relaxed) + 1;
        if s > u32::MAX as u64 {
            // Keep the counter pinned so it can never come back round.
            self.seq.store(u32::MAX as u64 + 1, Ordering::Relaxed);
            self.exhausted.store(true, Ordering::Release);
            None
        } else {
            Some(s as u32)
        }
    }

    /// Whether the sequence space is used up (polled by the control thread,
    /// which must replace the SA).
    pub fn is_exhausted(&self) -> bool {
        self.exhausted.load(Ordering::Acquire)
    }

    /// ESP overhead of one packet with `payload` bytes of transport payload.
    pub fn overhead(&self, payload: usize) -> usize {
        let b = self.crypto.block_size();
        let pad = (b - (payload + 2) % b) % b;
        super::crypto::ESP_HDR_LEN + self.crypto.iv_len() + pad + 2 + self.crypto.icv_len()
    }
}
