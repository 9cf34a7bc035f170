//! pcap-to-pcap ESP transform for interop tests and the CLI
//! (`pcscf-dp esp encap|decap --sa FILE --in PCAP --out PCAP`, and
//! `cargo run -p dataplane --example esp_tool -- encap|decap SA.json IN OUT`).
//!
//! The SA file is JSON:
//! ```json
//! { "spi": 4096, "integ": "hmac-sha-1-96", "encr": "aes-cbc",
//!   "integ_key": "hex", "encr_key": "hex", "salt": "hex8",
//!   "ue_port": 5060, "pcscf_port": 5062,
//!   "seq": 0, "window": 1024, "allow_md5": false }
//! ```
//! Instead of `integ_key`/`encr_key`/`salt`, `"ck"` and `"ik"` (32 hex
//! digits each) derive the keys per TS 33.203 Annex I. `integ`/`encr` are
//! the Annex H names. `seq` is the last sequence number used by `encap`
//! (the first packet gets `seq + 1`).
//!
//! Frames are Ethernet (optionally one 802.1Q tag). `decap` writes each
//! packet's plain IP packet (Ethernet header kept) and fails on the first
//! packet it has to drop, naming the packet and the reason; `encap` likewise.
//!
//! Must never: print key bytes (errors name fields, never values).

use super::sa::{InboundSa, OutboundSa};
use super::transport::{decap_sa, encap, peek_spi};
use crate::buf::PacketBuf;
use crate::counters::DropReason;
use crate::pcapfile::{self, PcapWriter};
use control::keys::{derive_sa_keys, SaKeys};
use control::types::{EncrAlg, IntegAlg};
use zeroize::Zeroize;

/// Which way to transform.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Plain → ESP.
    Encap,
    /// ESP → plain.
    Decap,
}

/// The SA parameters of the tool, as read from JSON.
#[derive(Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SaFile {
    /// SPI.
    pub spi: u32,
    /// Integrity algorithm (Annex H name).
    pub integ: String,
    /// Encryption algorithm (Annex H name).
    pub encr: String,
    /// Integrity key, hex.
    #[serde(default)]
    pub integ_key: Option<String>,
    /// Encryption key, hex.
    #[serde(default)]
    pub encr_key: Option<String>,
    /// GCM/GMAC salt, hex (4 bytes).
    #[serde(default)]
    pub salt: Option<String>,
    /// AKA CK, hex (16 bytes): derive keys per Annex I.
    #[serde(default)]
    pub ck: Option<String>,
    /// AKA IK, hex (16 bytes).
    #[serde(default)]
    pub ik: Option<String>,
    /// UE port (inner source port on decap).
    #[serde(default)]
    pub ue_port: u16,
    /// P-CSCF port (inner destination port on decap).
    #[serde(default)]
    pub pcscf_port: u16,
    /// Last sequence number used (encap).
    #[serde(default)]
    pub seq: u32,
    /// Replay window (decap).
    #[serde(default)]
    pub window: Option<u32>,
    /// Allow HMAC-MD5-96.
    #[serde(default)]
    pub allow_md5: bool,
}

impl core::fmt::Debug for SaFile {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SaFile")
            .field("spi", &self.spi)
            .field("integ", &self.integ)
            .field("encr", &self.encr)
            .finish_non_exhaustive()
    }
}

impl Drop for SaFile {
    fn drop(&mut self) {
        for s in [
            &mut self.integ_key,
            &mut self.encr_key,
            &mut self.salt,
            &mut self.ck,
            &mut self.ik,
        ]
        .into_iter()
        .flatten()
        {
            s.zeroize();
        }
    }
}

/// A problem running the tool.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    /// The SA file is not valid JSON of the expected shape.
    #[error("SA file: {0}")]
    SaFile(String),
    /// The pcap file could not be read or written.
    #[error(transparent)]
    Pcap(#[from] pcapfile::PcapError),
    /// A packet was dropped.
    #[error("packet {index}: dropped: {reason}")]
    Dropped {
        /// Zero-based packet number.
        index: usize,
        /// The counter it would have been counted under.
        reason: &'static str,
    },
}

fn hex(field: &str, s: &str) -> Result<Vec<u8>, ToolError> {
    let s = s.trim().trim_start_matches("0x");
    if !s.len().is_multiple_of(2) {
        return Err(ToolError::SaFile(format!("{field}: odd number of hex digits")));
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16))
        .collect::<Result<Vec<u8>, _>>()
        .map_err(|_| ToolError::SaFile(format!("{field}: not hex")))
}

fn arr16(field: &str, s: &str) -> Result<[u8; 16], ToolError> {
    let mut v = hex(field, s)?;
    let r =
        <[u8; 16]>::try_from(v.as_slice()).map_err(|_| ToolError::SaFile(format!("{field}: need 16 bytes")));
    v.zeroize();
    r
}

impl SaFile {
    /// Parse from JSON text.
    pub fn from_json(s: &str) -> Result<Self, ToolError> {
        serde_json::from_str(s).map_err(|e| ToolError::SaFile(e.to_string()))
    }

    /// The key material.
    pub fn keys(&self) -> Result<SaKeys, ToolError> {
        let integ = IntegAlg::from_name(&self.integ)
            .ok_or_else(|| ToolError::SaFile(format!("unknown integ {:?}", self.integ)))?;
        let encr = EncrAlg::from_name(&self.encr)
            .ok_or_else(|| ToolError::SaFile(format!("unknown encr {:?}", self.encr)))?;
        if let (Some(ck), Some(ik)) = (&self.ck, &self.ik) {
            let (mut ck, mut ik) = (arr16("ck", ck)?, arr16("ik", ik)?);
            let k = derive_sa_keys(&ck, &ik, integ, encr);
            ck.zeroize();
            ik.zeroize();
            return Ok(k);
        }
        let mut ik = self
            .integ_key
            .as_deref()
            .map(|s| hex("integ_key", s))
            .transpose()?
            .unwrap_or_default();
        let mut ek = self
            .encr_key
            .as_deref()
            .map(|s| hex("encr_key", s))
            .transpose()?
            .unwrap_or_default();
        let salt = match &self.salt {
            Some(s) => <[u8; 4]>::try_from(hex("salt", s)?.as_slice())
                .map_err(|_| ToolError::SaFile("salt: need 4 bytes".into()))?,
            None => [0; 4],
        };
        let k = SaKeys::from_raw(integ, encr, &ik, &ek, salt)
            .ok_or_else(|| ToolError::SaFile("key lengths do not fit the algorithms".into()));
        ik.zeroize();
        ek.zeroize();
        k
    }
}

/// Offset of the IP header in an Ethernet frame (one VLAN tag allowed).
fn l3_offset(frame: &[u8]) -> Option<usize> {
    let et = u16::from_be_bytes([*frame.get(12)?, *frame.get(13)?]);
    match et {
        0x0800 | 0x86dd => Some(14),
        0x8100 => {
            let et2 = u16::from_be_bytes([*frame.get(16)?, *frame.get(17)?]);
            matches!(et2, 0x0800 | 0x86dd).then_some(18)
        }
        _ => None,
    }
}

/// Transform every frame of the pcap file `input` (bytes) with the SA in
/// `sa`, returning the output pcap file (bytes).
pub fn pcap_transform(dir: Direction, sa: &SaFile, input: &[u8]) -> Result<Vec<u8>, ToolError> {
    let keys = sa.keys()?;
    let records = pcapfile::parse(input)?;
    let mut out = PcapWriter::new(Vec::with_capacity(input.len() + records.len() * 64))?;
    let err = |index: usize, r: DropReason| ToolError::Dropped {
        index,
        reason: r.label(),
    };
    let map_build = |e: super::crypto::CryptoBuildError| ToolError::SaFile(e.to_string());
    match dir {
        Direction::Encap => {
            let osa = OutboundSa::new(sa.spi, &keys, sa.allow_md5).map_err(map_build)?;
            osa.set_last_seq(sa.seq);
            for (i, r) in records.iter().enumerate() {
                let mut b = PacketBuf::from_slice(&r.data).ok_or(err(i, DropReason::Oversized))?;
                let l3 = l3_offset(&r.data).ok_or(err(i, DropReason::EthUnsupportedType))?;
                encap(&mut b, l3, &osa).map_err(|e| err(i, e))?;
                out.write(r.ts_ns, crate::buf::Buf::data(&b))?;
            }
        }
        Direction::Decap => {
            let window = sa.window.unwrap_or(super::replay::DEFAULT_WINDOW);
            let isa = InboundSa::with_window(sa.spi, &keys, sa.ue_port, sa.pcscf_port, sa.allow_md5, window)
                .map_err(map_build)?;
            for (i, r) in records.iter().enumerate() {
                let mut b = PacketBuf::from_slice(&r.data).ok_or(err(i, DropReason::Oversized))?;
                let l3 = l3_offset(&r.data).ok_or(err(i, DropReason::EthUnsupportedType))?;
                let spi = peek_spi(&r.data, l3).map_err(|e| err(i, e))?;
                if spi != isa.spi {
                    return Err(err(i, DropReason::EspUnknownSpi));
                }
                decap_sa(&mut b, l3, &isa).map_err(|e| err(i, e))?;
                out.write(r.ts_ns, crate::buf::Buf::data(&b))?;
            }
        }
    }
    Ok(out.into_inner())
}
