//! IPv6 fixed header (RFC 8200) and a bounded walker over extension headers.
//!
//! Owns: the view [`Packet`], [`Repr`], the walker [`Packet::upper_layer`]
//! and the extension header numbers in [`next_header`]. Must never: panic in
//! an accessor once [`Packet::check_len`] has passed, walk more than
//! [`MAX_EXT_HEADERS`] headers, reassemble fragments, or read past the payload
//! length.

use super::{Error, Result};
use core::net::Ipv6Addr;

mod field {
    use core::ops::Range;
    pub const VER_TC_FLOW: Range<usize> = 0..4;
    pub const LENGTH: Range<usize> = 4..6;
    pub const NXT_HDR: usize = 6;
    pub const HOP_LIMIT: usize = 7;
    pub const SRC: Range<usize> = 8..24;
    pub const DST: Range<usize> = 24..40;
}

/// Length of the fixed header.
pub const HEADER_LEN: usize = 40;
/// Most extension headers walked before the chain is refused.
pub const MAX_EXT_HEADERS: usize = 8;

/// Next-header values the walker knows.
pub mod next_header {
    /// Hop-by-hop options (only directly after the fixed header).
    pub const HOP_BY_HOP: u8 = 0;
    /// Routing header.
    pub const ROUTING: u8 = 43;
    /// Fragment header.
    pub const FRAGMENT: u8 = 44;
    /// Authentication header (length in 4-byte units).
    pub const AH: u8 = 51;
    /// No next header.
    pub const NO_NEXT: u8 = 59;
    /// Destination options.
    pub const DEST_OPTS: u8 = 60;
}

/// Where the upper-layer header starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UpperLayer {
    /// Upper-layer protocol (UDP, TCP, ESP, ... or 59 for none).
    pub protocol: u8,
    /// Offset of the upper-layer header from the start of the IPv6 header,
    /// i.e. the IPv6 header length with its extension headers.
    pub offset: usize,
}

#[inline]
fn addr(b: &[u8], r: core::ops::Range<usize>) -> Ipv6Addr {
    let s = &b[r];
    let mut o = [0u8; 16];
    o.copy_from_slice(s);
    Ipv6Addr::from(o)
}

/// A read/write view of an IPv6 header and its payload.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wrap a buffer without checking it; accessors may panic on a short one.
    #[inline]
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// Wrap a buffer after [`Packet::check_len`].
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// Check that the fixed header and the payload length fit in the buffer
    /// ([`Error::Truncated`] if not). The version is checked by
    /// [`Repr::parse`].
    #[inline]
    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN || len < HEADER_LEN + self.payload_len() as usize {
            return Err(Error::Truncated);
        }
        Ok(())
    }

    /// The wrapped buffer.
    #[inline]
    pub fn into_inner(self) -> T {
        self.buffer
    }

    #[inline]
    fn word0(&self) -> u32 {
        let b = &self.buffer.as_ref()[field::VER_TC_FLOW];
        u32::from_be_bytes([b[0], b[1], b[2], b[3]])
    }

    /// Version (6).
    #[inline]
    pub fn version(&self) -> u8 {
        (self.word0() >> 28) as u8
    }

    /// Traffic class.
    #[inline]
    pub fn traffic_class(&self) -> u8 {
        (self.word0() >> 20) as u8
    }

    /// Flow label (20 bits).
    #[inline]
    pub fn flow_label(&self) -> u32 {
        self.word0() & 0x000f_ffff
    }

    /// Payload length (extension headers included).
    #[inline]
    pub fn payload_len(&self) -> u16 {
        let b = &self.buffer.as_ref()[field::LENGTH];
        u16::from_be_bytes([b[0], b[1]])
    }

    /// Next header of the fixed header.
    #[inline]
    pub fn next_header(&self) -> u8 {
        self.buffer.as_ref()[field::NXT_HDR]
    }

    /// Hop limit.
    #[inline]
    pub fn hop_limit(&self) -> u8 {
        self.buffer.as_ref()[field::HOP_LIMIT]
    }

    /// Source address.
    #[inline]
    pub fn src_addr(&self) -> Ipv6Addr {
        addr(self.buffer.as_ref(), field::SRC)
    }

    /// Destination address.
    #[inline]
    pub fn dst_addr(&self) -> Ipv6Addr {
        addr(self.buffer.as_ref(), field::DST)
    }

    /// The payload (extension headers included), up to the payload length.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..HEADER_LEN + self.payload_len() as usize]
    }

    /// Walk the extension headers to the upper-layer header.
    ///
    /// Hop-by-hop (first only), Routing (segments left must be 0: we are the
    /// final destination), Destination Options and AH are skipped; anything
    /// else is the upper layer. [`Error::Fragment`] on a Fragment header,
    /// [`Error::BadExtHeader`] on a header that runs past the payload, a
    /// misplaced hop-by-hop header, a routing header still in transit, or a
    /// chain longer than [`MAX_EXT_HEADERS`].
    #[inline]
    pub fn upper_layer(&self) -> Result<UpperLayer> {
        let end = HEADER_LEN + self.payload_len() as usize;
        let b = self.buffer.as_ref().get(..end).ok_or(Error::Truncated)?;
        walk(b, self.next_header())
    }
}

/// Walk the chain in `b` (the whole IPv6 packet, cut at its payload length)
/// starting with next header `nh` at offset 40.
#[inline]
fn walk(b: &[u8], mut nh: u8) -> Result<UpperLayer> {
    let mut off = HEADER_LEN;
    let mut count = 0;
    loop {
        let len = match nh {
            next_header::HOP_BY_HOP | next_header::ROUTING | next_header::DEST_OPTS | next_header::AH => {
                if count == MAX_EXT_HEADERS || (nh == next_header::HOP_BY_HOP && count != 0) {
                    return Err(Error::BadExtHeader);
                }
                let (Some(&next), Some(&hlen)) = (b.get(off), b.get(off + 1)) else {
                    return Err(Error::BadExtHeader);
                };
                if nh == next_header::ROUTING && !matches!(b.get(off + 3), Some(0)) {
                    return Err(Error::BadExtHeader);
                }
                let len = if nh == next_header::AH {
                    (hlen as usize + 2) * 4
                } else {
                    (hlen as usize + 1) * 8
                };
                nh = next;
                len
            }
            next_header::FRAGMENT => return Err(Error::Fragment),
            protocol => {
                return Ok(UpperLayer {
                    protocol,
                    offset: off,
                })
            }
        };
        off += len;
        if off > b.len() {
            return Err(Error::BadExtHeader);
        }
        count += 1;
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Set version 6, traffic class and flow label.
    #[inline]
    pub fn set_version_tc_flow(&mut self, traffic_class: u8, flow_label: u32) {
        let w = (6u32 << 28) | ((traffic_class as u32) << 20) | (flow_label & 0x000f_ffff);
        self.buffer.as_mut()[field::VER_TC_FLOW].copy_from_slice(&w.to_be_bytes());
    }

    /// Set the payload length.
    #[inline]
    pub fn set_payload_len(&mut self, v: u16) {
        self.buffer.as_mut()[field::LENGTH].copy_from_slice(&v.to_be_bytes());
    }

    /// Set the next header of the fixed header.
    #[inline]
    pub fn set_next_header(&mut self, v: u8) {
        self.buffer.as_mut()[field::NXT_HDR] = v;
    }

    /// Set the hop limit.
    #[inline]
    pub fn set_hop_limit(&mut self, v: u8) {
        self.buffer.as_mut()[field::HOP_LIMIT] = v;
    }

    /// Set the source address.
    #[inline]
    pub fn set_src_addr(&mut self, a: Ipv6Addr) {
        self.buffer.as_mut()[field::SRC].copy_from_slice(&a.octets());
    }

    /// Set the destination address.
    #[inline]
    pub fn set_dst_addr(&mut self, a: Ipv6Addr) {
        self.buffer.as_mut()[field::DST].copy_from_slice(&a.octets());
    }

    /// The payload up to the payload length, mutable.
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let end = HEADER_LEN + self.payload_len() as usize;
        &mut self.buffer.as_mut()[HEADER_LEN..end]
    }
}

/// A parsed IPv6 header, extension headers walked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Repr {
    /// Source address.
    pub src_addr: Ipv6Addr,
    /// Destination address.
    pub dst_addr: Ipv6Addr,
    /// Upper-layer protocol (after extension headers on parse; the fixed
    /// header's next header on emit, which writes no extension headers).
    pub next_header: u8,
    /// Upper-layer length: the payload length minus extension headers.
    pub payload_len: usize,
    /// Hop limit.
    pub hop_limit: u8,
}

impl Repr {
    /// Parse a header and walk its extension headers: [`Error::Truncated`],
    /// [`Error::Malformed`] (version), then the walker's errors.
    #[inline]
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>) -> Result<Repr> {
        p.check_len()?;
        if p.version() != 6 {
            return Err(Error::Malformed);
        }
        let ul = p.upper_layer()?;
        Ok(Repr {
            src_addr: p.src_addr(),
            dst_addr: p.dst_addr(),
            next_header: ul.protocol,
            payload_len: HEADER_LEN + p.payload_len() as usize - ul.offset,
            hop_limit: p.hop_limit(),
        })
    }

    /// Header length this repr emits.
    #[inline]
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Write the fixed header into the front of `buf`. [`Error::Truncated`]
    /// if `buf` is short, [`Error::Malformed`] if the payload is over 65535.
    #[inline]
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        if self.payload_len > u16::MAX as usize {
            return Err(Error::Malformed);
        }
        let Some(h) = buf.get_mut(..HEADER_LEN) else {
            return Err(Error::Truncated);
        };
        let mut p = Packet::new_unchecked(h);
        p.set_version_tc_flow(0, 0);
        p.set_payload_len(self.payload_len as u16);
        p.set_next_header(self.next_header);
        p.set_hop_limit(self.hop_limit);
        p.set_src_addr(self.src_addr);
        p.set_dst_addr(self.dst_addr);
        Ok(HEADER_LEN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(nh: u8, ext: &[u8], upper: &[u8]) -> Vec<u8> {
        let mut v = FIXED.to_vec();
        v[6] = nh;
        let pl = (ext.len() + upper.len()) as u16;
        v[4..6].copy_from_slice(&pl.to_be_bytes());
        v.extend_from_slice(ext);
        v.extend_from_slice(upper);
        v
    }

    #[test]
    fn parse_fixed() {
        let b = packet(17, &[], &[0; 8]);
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!(p.version(), 6);
        assert_eq!(p.traffic_class(), 0xb8);
        assert_eq!(p.flow_label(), 0x12345);
        assert_eq!(p.hop_limit(), 64);
        assert_eq!(p.src_addr(), "2001:db8::2".parse::<Ipv6Addr>().unwrap());
        assert_eq!(p.dst_addr(), "2001:db8::1".parse::<Ipv6Addr>().unwrap());
        assert_eq!(
            p.upper_layer(),
            Ok(UpperLayer {
                protocol: 17,
                offset: 40
            })
        );
        let r = Repr::parse(&p).unwrap();
        assert_eq!(r.payload_len, 8);
        assert_eq!(r.next_header, 17);
    }

    #[test]
    fn parse_ext_chain() {
        // HBH(8) -> DestOpts(16) -> Routing(8, segments left 0) -> AH(12) -> UDP
        let mut ext = vec![60, 0, 1, 4, 0, 0, 0, 0];
        ext.extend_from_slice(&[43, 1, 1, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        ext.extend_from_slice(&[51, 0, 0, 0, 0, 0, 0, 0]);
        ext.extend_from_slice(&[17, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1]);
        let b = packet(0, &ext, &[0; 8]);
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!(
            p.upper_layer(),
            Ok(UpperLayer {
                protocol: 17,
                offset: 40 + 44
            })
        );
        assert_eq!(Repr::parse(&p).map(|r| r.payload_len), Ok(8));
    }

    #[test]
    fn parse_ext_errors() {
        // Fragment header.
        let b = packet(44, &[17, 0, 0, 0, 0, 0, 0, 1], &[0; 8]);
        assert_eq!(Packet::new_unchecked(&b[..]).upper_layer(), Err(Error::Fragment));
        // Fragment after a destination options header.
        let b = packet(60, &[44, 0, 1, 4, 0, 0, 0, 0, 17, 0, 0, 0, 0, 0, 0, 1], &[]);
        assert_eq!(Packet::new_unchecked(&b[..]).upper_layer(), Err(Error::Fragment));
        // Header runs past the payload.
        let b = packet(60, &[17, 2, 1, 4, 0, 0, 0, 0], &[]);
        assert_eq!(
            Packet::new_unchecked(&b[..]).upper_layer(),
            Err(Error::BadExtHeader)
        );
        // Header with only one byte present.
        let b = packet(60, &[17], &[]);
        assert_eq!(
            Packet::new_unchecked(&b[..]).upper_layer(),
            Err(Error::BadExtHeader)
        );
        // Hop-by-hop not first.
        let b = packet(60, &[0, 0, 1, 4, 0, 0, 0, 0, 17, 0, 1, 4, 0, 0, 0, 0], &[]);
        assert_eq!(
            Packet::new_unchecked(&b[..]).upper_layer(),
            Err(Error::BadExtHeader)
        );
        // Routing header in transit.
        let b = packet(43, &[17, 0, 0, 1, 0, 0, 0, 0], &[]);
        assert_eq!(
            Packet::new_unchecked(&b[..]).upper_layer(),
            Err(Error::BadExtHeader)
        );
        // Too many headers: 8 destination options are fine, 9 are not.
        let mut ext = Vec::new();
        for _ in 0..8 {
            ext.extend_from_slice(&[60, 0, 1, 4, 0, 0, 0, 0]);
        }
        let last = ext.len() - 8;
        ext[last] = 17;
        let b = packet(60, &ext, &[]);
        assert_eq!(
            Packet::new_unchecked(&b[..]).upper_layer().map(|u| u.offset),
            Ok(40 + 64)
        );
        ext[last] = 60;
        ext.extend_from_slice(&[17, 0, 1, 4, 0, 0, 0, 0]);
        let b = packet(60, &ext, &[]);
        assert_eq!(
            Packet::new_unchecked(&b[..]).upper_layer(),
            Err(Error::BadExtHeader)
        );
        // Version.
        let mut b = packet(17, &[], &[0; 8]);
        b[0] = 0x40;
        assert_eq!(Repr::parse(&Packet::new_unchecked(&b[..])), Err(Error::Malformed));
    }

    #[test]
    fn check_len_cases() {
        let b = packet(17, &[], &[0; 8]);
        assert_eq!(Packet::new_checked(&b[..39]).err(), Some(Error::Truncated));
        assert_eq!(Packet::new_checked(&b[..47]).err(), Some(Error::Truncated));
        assert!(Packet::new_checked(&b[..48]).is_ok());
    }

    #[test]
    fn emit_fixed() {
        let r = Repr {
            src_addr: "2001:db8::2".parse().unwrap(),
            dst_addr: "2001:db8::1".parse().unwrap(),
            next_header: 17,
            payload_len: 8,
            hop_limit: 64,
        };
        let mut b = [0u8; 48];
        assert_eq!(r.emit(&mut b), Ok(40));
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!(Repr::parse(&p), Ok(r));
        assert_eq!(r.emit(&mut b[..39]), Err(Error::Truncated));
        assert_eq!(
            Repr {
                payload_len: 70000,
                ..r
            }
            .emit(&mut b),
            Err(Error::Malformed)
        );
    }

    static FIXED: [u8; 40] = [
        0x6b, 0x81, 0x23, 0x45, 0x00, 0x00, 17, 64, // ver/tc/flow, len, nh, hl
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, // src
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, // dst
    ];
}
