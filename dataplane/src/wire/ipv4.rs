//! IPv4 headers (RFC 791), options allowed.
//!
//! Owns: the view [`Packet`] and [`Repr`]. Must never: panic in an accessor
//! once [`Packet::check_len`] has passed, reassemble fragments (a fragment is
//! reported, and the caller drops it), or read past the total length.

use super::checksum;
use super::{Error, Result};
use core::net::Ipv4Addr;

mod field {
    use core::ops::Range;
    pub const VER_IHL: usize = 0;
    pub const DSCP_ECN: usize = 1;
    pub const LENGTH: Range<usize> = 2..4;
    pub const IDENT: Range<usize> = 4..6;
    pub const FLG_OFF: Range<usize> = 6..8;
    pub const TTL: usize = 8;
    pub const PROTOCOL: usize = 9;
    pub const CHECKSUM: Range<usize> = 10..12;
    pub const SRC: Range<usize> = 12..16;
    pub const DST: Range<usize> = 16..20;
}

/// Length of a header without options.
pub const HEADER_LEN: usize = 20;
/// Longest header (IHL 15).
pub const MAX_HEADER_LEN: usize = 60;
/// Byte offset of the header checksum.
pub const CHECKSUM_OFFSET: usize = field::CHECKSUM.start;

const FLAG_DF: u16 = 0x4000;
const FLAG_MF: u16 = 0x2000;
const OFFSET_MASK: u16 = 0x1fff;

/// Option kinds that take a single byte.
const OPT_END: u8 = 0;
const OPT_NOP: u8 = 1;

/// A read/write view of an IPv4 header and its payload.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

#[inline]
fn be16(b: &[u8], r: core::ops::Range<usize>) -> u16 {
    let s = &b[r];
    u16::from_be_bytes([s[0], s[1]])
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

    /// Check that the header (options included) and the total length fit in
    /// the buffer: [`Error::Truncated`] if the buffer is shorter,
    /// [`Error::Malformed`] if IHL < 5 or total length < header length. The
    /// version is checked by [`Repr::parse`].
    #[inline]
    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(Error::Truncated);
        }
        let hl = self.header_len();
        if hl < HEADER_LEN {
            return Err(Error::Malformed);
        }
        let tl = self.total_len() as usize;
        if tl < hl {
            return Err(Error::Malformed);
        }
        if tl > len {
            return Err(Error::Truncated);
        }
        Ok(())
    }

    /// The wrapped buffer.
    #[inline]
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Version field (4 for IPv4).
    #[inline]
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[field::VER_IHL] >> 4
    }

    /// Header length in bytes, from IHL.
    #[inline]
    pub fn header_len(&self) -> usize {
        ((self.buffer.as_ref()[field::VER_IHL] & 0x0f) as usize) * 4
    }

    /// DSCP and ECN byte.
    #[inline]
    pub fn dscp_ecn(&self) -> u8 {
        self.buffer.as_ref()[field::DSCP_ECN]
    }

    /// Total length (header and payload).
    #[inline]
    pub fn total_len(&self) -> u16 {
        be16(self.buffer.as_ref(), field::LENGTH)
    }

    /// Identification.
    #[inline]
    pub fn ident(&self) -> u16 {
        be16(self.buffer.as_ref(), field::IDENT)
    }

    /// Don't-fragment flag.
    #[inline]
    pub fn dont_frag(&self) -> bool {
        be16(self.buffer.as_ref(), field::FLG_OFF) & FLAG_DF != 0
    }

    /// More-fragments flag.
    #[inline]
    pub fn more_frags(&self) -> bool {
        be16(self.buffer.as_ref(), field::FLG_OFF) & FLAG_MF != 0
    }

    /// Fragment offset in bytes.
    #[inline]
    pub fn frag_offset(&self) -> u16 {
        (be16(self.buffer.as_ref(), field::FLG_OFF) & OFFSET_MASK) << 3
    }

    /// Whether this is a fragment (MF set or offset non-zero).
    #[inline]
    pub fn is_fragment(&self) -> bool {
        be16(self.buffer.as_ref(), field::FLG_OFF) & (FLAG_MF | OFFSET_MASK) != 0
    }

    /// Time to live.
    #[inline]
    pub fn ttl(&self) -> u8 {
        self.buffer.as_ref()[field::TTL]
    }

    /// Upper-layer protocol number.
    #[inline]
    pub fn protocol(&self) -> u8 {
        self.buffer.as_ref()[field::PROTOCOL]
    }

    /// Header checksum as stored.
    #[inline]
    pub fn checksum(&self) -> u16 {
        be16(self.buffer.as_ref(), field::CHECKSUM)
    }

    /// Source address.
    #[inline]
    pub fn src_addr(&self) -> Ipv4Addr {
        let b = &self.buffer.as_ref()[field::SRC];
        Ipv4Addr::new(b[0], b[1], b[2], b[3])
    }

    /// Destination address.
    #[inline]
    pub fn dst_addr(&self) -> Ipv4Addr {
        let b = &self.buffer.as_ref()[field::DST];
        Ipv4Addr::new(b[0], b[1], b[2], b[3])
    }

    /// The option bytes (empty without options).
    #[inline]
    pub fn options(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..self.header_len()]
    }

    /// Walk the options: each kind other than End and No-Op needs a length
    /// byte >= 2 that stays inside the header. [`Error::BadOptions`] if not.
    #[inline]
    pub fn check_options(&self) -> Result<()> {
        check_options(self.options())
    }

    /// Whether the header checksum is correct.
    #[inline]
    pub fn verify_checksum(&self) -> bool {
        checksum::data(&self.buffer.as_ref()[..self.header_len()]) == 0xffff
    }

    /// The payload, up to the total length (Ethernet padding excluded).
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.header_len()..self.total_len() as usize]
    }
}

/// Walk IPv4 option bytes (see [`Packet::check_options`]).
#[inline]
pub fn check_options(mut opts: &[u8]) -> Result<()> {
    while let [kind, rest @ ..] = opts {
        match *kind {
            OPT_END => return Ok(()),
            OPT_NOP => opts = rest,
            _ => {
                let len = *rest.first().ok_or(Error::BadOptions)? as usize;
                if len < 2 || len > opts.len() {
                    return Err(Error::BadOptions);
                }
                opts = &opts[len..];
            }
        }
    }
    Ok(())
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Set version 4 and the header length (a multiple of 4, 20..=60).
    #[inline]
    pub fn set_version_and_header_len(&mut self, header_len: usize) {
        self.buffer.as_mut()[field::VER_IHL] = 0x40 | ((header_len / 4) as u8 & 0x0f);
    }

    /// Set DSCP and ECN.
    #[inline]
    pub fn set_dscp_ecn(&mut self, v: u8) {
        self.buffer.as_mut()[field::DSCP_ECN] = v;
    }

    /// Set the total length.
    #[inline]
    pub fn set_total_len(&mut self, v: u16) {
        self.buffer.as_mut()[field::LENGTH].copy_from_slice(&v.to_be_bytes());
    }

    /// Set the identification.
    #[inline]
    pub fn set_ident(&mut self, v: u16) {
        self.buffer.as_mut()[field::IDENT].copy_from_slice(&v.to_be_bytes());
    }

    /// Set flags and offset: DF as given, MF clear, offset zero.
    #[inline]
    pub fn set_unfragmented(&mut self, dont_frag: bool) {
        let v: u16 = if dont_frag { FLAG_DF } else { 0 };
        self.buffer.as_mut()[field::FLG_OFF].copy_from_slice(&v.to_be_bytes());
    }

    /// Set the TTL.
    #[inline]
    pub fn set_ttl(&mut self, v: u8) {
        self.buffer.as_mut()[field::TTL] = v;
    }

    /// Set the protocol.
    #[inline]
    pub fn set_protocol(&mut self, v: u8) {
        self.buffer.as_mut()[field::PROTOCOL] = v;
    }

    /// Store a checksum value.
    #[inline]
    pub fn set_checksum(&mut self, v: u16) {
        self.buffer.as_mut()[field::CHECKSUM].copy_from_slice(&v.to_be_bytes());
    }

    /// Set the source address.
    #[inline]
    pub fn set_src_addr(&mut self, a: Ipv4Addr) {
        self.buffer.as_mut()[field::SRC].copy_from_slice(&a.octets());
    }

    /// Set the destination address.
    #[inline]
    pub fn set_dst_addr(&mut self, a: Ipv4Addr) {
        self.buffer.as_mut()[field::DST].copy_from_slice(&a.octets());
    }

    /// Compute and store the header checksum.
    #[inline]
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let hl = self.header_len();
        let c = !checksum::data(&self.buffer.as_ref()[..hl]);
        self.set_checksum(c);
    }

    /// The payload up to the total length, mutable.
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let (hl, tl) = (self.header_len(), self.total_len() as usize);
        &mut self.buffer.as_mut()[hl..tl]
    }
}

/// A parsed IPv4 header (options are not represented; emit writes none).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Repr {
    /// Source address.
    pub src_addr: Ipv4Addr,
    /// Destination address.
    pub dst_addr: Ipv4Addr,
    /// Upper-layer protocol.
    pub protocol: u8,
    /// Payload length (total length minus header length).
    pub payload_len: usize,
    /// Time to live.
    pub ttl: u8,
}

impl Repr {
    /// Parse and validate a header: [`Error::Truncated`]/[`Error::Malformed`]
    /// from [`Packet::check_len`] or a version other than 4,
    /// [`Error::BadOptions`], [`Error::BadChecksum`], then [`Error::Fragment`].
    #[inline]
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>) -> Result<Repr> {
        p.check_len()?;
        if p.version() != 4 {
            return Err(Error::Malformed);
        }
        p.check_options()?;
        if !p.verify_checksum() {
            return Err(Error::BadChecksum);
        }
        if p.is_fragment() {
            return Err(Error::Fragment);
        }
        Ok(Repr {
            src_addr: p.src_addr(),
            dst_addr: p.dst_addr(),
            protocol: p.protocol(),
            payload_len: p.total_len() as usize - p.header_len(),
            ttl: p.ttl(),
        })
    }

    /// Header length this repr emits (no options).
    #[inline]
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Write the header into the front of `buf`, with DF set, identification
    /// zero (RFC 6864 §4.1 allows it for atomic datagrams) and a correct
    /// checksum. [`Error::Truncated`] if `buf` is shorter than 20 bytes,
    /// [`Error::Malformed`] if the payload does not fit a 16-bit total length.
    #[inline]
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let total = HEADER_LEN.saturating_add(self.payload_len);
        if total > u16::MAX as usize {
            return Err(Error::Malformed);
        }
        let Some(h) = buf.get_mut(..HEADER_LEN) else {
            return Err(Error::Truncated);
        };
        let mut p = Packet::new_unchecked(h);
        p.set_version_and_header_len(HEADER_LEN);
        p.set_dscp_ecn(0);
        p.set_total_len(total as u16);
        p.set_ident(0);
        p.set_unfragmented(true);
        p.set_ttl(self.ttl);
        p.set_protocol(self.protocol);
        p.set_src_addr(self.src_addr);
        p.set_dst_addr(self.dst_addr);
        p.fill_checksum();
        Ok(HEADER_LEN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_plain() {
        let p = Packet::new_checked(&PLAIN[..]).unwrap();
        assert_eq!(p.version(), 4);
        assert_eq!(p.header_len(), 20);
        assert_eq!(p.total_len(), 24);
        assert!(p.dont_frag());
        assert!(!p.is_fragment());
        assert!(p.verify_checksum());
        assert_eq!(p.payload(), &[1, 2, 3, 4]);
        let r = Repr::parse(&p).unwrap();
        assert_eq!(
            r,
            Repr {
                src_addr: Ipv4Addr::new(10, 0, 0, 2),
                dst_addr: Ipv4Addr::new(10, 0, 0, 1),
                protocol: 17,
                payload_len: 4,
                ttl: 64,
            }
        );
    }

    #[test]
    fn parse_with_options_and_padding() {
        let mut b = WITH_OPTIONS.to_vec();
        b.extend_from_slice(&[0; 6]); // Ethernet padding beyond total length
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!(p.header_len(), 24);
        assert_eq!(p.options(), &[0x94, 0x04, 0x00, 0x00]);
        assert_eq!(p.check_options(), Ok(()));
        assert_eq!(p.payload(), &[9, 9]);
        assert_eq!(Repr::parse(&p).map(|r| r.payload_len), Ok(2));
    }

    #[test]
    fn parse_bad_options() {
        assert_eq!(check_options(&[0x94, 0x05, 0, 0]), Err(Error::BadOptions));
        assert_eq!(check_options(&[0x01, 0x94]), Err(Error::BadOptions));
        assert_eq!(check_options(&[0x07, 0x01, 0, 0]), Err(Error::BadOptions));
        assert_eq!(check_options(&[0x01, 0x01, 0x00, 0xff]), Ok(()));
        assert_eq!(check_options(&[]), Ok(()));
    }

    #[test]
    fn parse_fragment_and_bad_checksum() {
        let mut b = PLAIN;
        b[6] = 0x20; // MF
        let p = Packet::new_unchecked(&mut b[..]);
        assert!(p.is_fragment());
        let mut p = p;
        p.fill_checksum();
        assert_eq!(Repr::parse(&p), Err(Error::Fragment));
        let mut b = PLAIN;
        b[7] = 0x01; // offset 8
        b[6] = 0x00;
        let mut p = Packet::new_unchecked(&mut b[..]);
        assert_eq!(p.frag_offset(), 8);
        p.fill_checksum();
        assert_eq!(Repr::parse(&p), Err(Error::Fragment));
        let mut b = PLAIN;
        b[11] ^= 1;
        assert_eq!(
            Repr::parse(&Packet::new_unchecked(&b[..])),
            Err(Error::BadChecksum)
        );
        let mut b = PLAIN;
        b[0] = 0x65;
        assert_eq!(Repr::parse(&Packet::new_unchecked(&b[..])), Err(Error::Malformed));
    }

    #[test]
    fn check_len_cases() {
        assert_eq!(Packet::new_checked(&PLAIN[..19]).err(), Some(Error::Truncated));
        assert_eq!(Packet::new_checked(&PLAIN[..23]).err(), Some(Error::Truncated));
        let mut b = PLAIN;
        b[0] = 0x44; // IHL 4
        assert_eq!(Packet::new_checked(&b[..]).err(), Some(Error::Malformed));
        let mut b = PLAIN;
        b[3] = 19; // total length < header
        assert_eq!(Packet::new_checked(&b[..]).err(), Some(Error::Malformed));
        let mut b = PLAIN;
        b[0] = 0x4f; // IHL 15 > buffer
        assert_eq!(Packet::new_checked(&b[..]).err(), Some(Error::Malformed));
        b[2] = 0x01;
        assert_eq!(Packet::new_checked(&b[..]).err(), Some(Error::Truncated));
    }

    #[test]
    fn emit_plain() {
        let r = Repr {
            src_addr: Ipv4Addr::new(10, 0, 0, 2),
            dst_addr: Ipv4Addr::new(10, 0, 0, 1),
            protocol: 17,
            payload_len: 4,
            ttl: 64,
        };
        let mut b = [0u8; 24];
        assert_eq!(r.emit(&mut b), Ok(20));
        b[20..].copy_from_slice(&[1, 2, 3, 4]);
        assert_eq!(b, PLAIN);
        assert_eq!(r.emit(&mut b[..19]), Err(Error::Truncated));
        let big = Repr {
            payload_len: 65516,
            ..r
        };
        assert_eq!(big.emit(&mut b), Err(Error::Malformed));
    }

    static PLAIN: [u8; 24] = [
        0x45, 0x00, 0x00, 0x18, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x26, 0xd3, 10, 0, 0, 2, 10, 0, 0, 1, 1,
        2, 3, 4,
    ];

    static WITH_OPTIONS: [u8; 26] = [
        0x46, 0x00, 0x00, 0x1a, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x91, 0xcc, 10, 0, 0, 2, 10, 0, 0, 1,
        0x94, 0x04, 0x00, 0x00, 9, 9,
    ];
}
