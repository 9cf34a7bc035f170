//! UDP headers (RFC 768).
//!
//! Owns: the view [`Packet`] and [`Repr`]. Must never: panic in an accessor
//! once [`Packet::check_len`] has passed, or read past the UDP length.

use super::checksum;
use super::{Error, Result};
use core::net::IpAddr;

mod field {
    use core::ops::Range;
    pub const SRC_PORT: Range<usize> = 0..2;
    pub const DST_PORT: Range<usize> = 2..4;
    pub const LENGTH: Range<usize> = 4..6;
    pub const CHECKSUM: Range<usize> = 6..8;
}

/// UDP header length.
pub const HEADER_LEN: usize = 8;
/// IP protocol number of UDP.
pub const PROTOCOL: u8 = 17;
/// Byte offset of the checksum.
pub const CHECKSUM_OFFSET: usize = field::CHECKSUM.start;

#[inline]
fn be16(b: &[u8], r: core::ops::Range<usize>) -> u16 {
    let s = &b[r];
    u16::from_be_bytes([s[0], s[1]])
}

/// A read/write view of a UDP datagram.
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

    /// [`Error::Truncated`] if the buffer is shorter than the header or the
    /// length field, [`Error::Malformed`] if the length field is below 8.
    #[inline]
    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(Error::Truncated);
        }
        let l = self.len() as usize;
        if l < HEADER_LEN {
            return Err(Error::Malformed);
        }
        if l > len {
            return Err(Error::Truncated);
        }
        Ok(())
    }

    /// The wrapped buffer.
    #[inline]
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Source port.
    #[inline]
    pub fn src_port(&self) -> u16 {
        be16(self.buffer.as_ref(), field::SRC_PORT)
    }

    /// Destination port.
    #[inline]
    pub fn dst_port(&self) -> u16 {
        be16(self.buffer.as_ref(), field::DST_PORT)
    }

    /// Length field (header and payload).
    #[inline]
    pub fn len(&self) -> u16 {
        be16(self.buffer.as_ref(), field::LENGTH)
    }

    /// Whether the payload is empty.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() as usize <= HEADER_LEN
    }

    /// Checksum as stored (0 = none, IPv4 only).
    #[inline]
    pub fn checksum(&self) -> u16 {
        be16(self.buffer.as_ref(), field::CHECKSUM)
    }

    /// The datagram (header and payload) up to the length field.
    #[inline]
    pub fn datagram(&self) -> &[u8] {
        &self.buffer.as_ref()[..self.len() as usize]
    }

    /// The payload up to the length field.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..self.len() as usize]
    }

    /// Whether the checksum is right for these addresses. A zero checksum
    /// means "none" for IPv4 and is accepted; for IPv6 it is invalid
    /// (RFC 8200 §8.1) and rejected.
    #[inline]
    pub fn verify_checksum(&self, src: &IpAddr, dst: &IpAddr) -> bool {
        if self.checksum() == 0 {
            return src.is_ipv4();
        }
        checksum::verify_l4(src, dst, PROTOCOL, self.datagram())
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Set the source port.
    #[inline]
    pub fn set_src_port(&mut self, v: u16) {
        self.buffer.as_mut()[field::SRC_PORT].copy_from_slice(&v.to_be_bytes());
    }

    /// Set the destination port.
    #[inline]
    pub fn set_dst_port(&mut self, v: u16) {
        self.buffer.as_mut()[field::DST_PORT].copy_from_slice(&v.to_be_bytes());
    }

    /// Set the length field.
    #[inline]
    pub fn set_len(&mut self, v: u16) {
        self.buffer.as_mut()[field::LENGTH].copy_from_slice(&v.to_be_bytes());
    }

    /// Store a checksum value.
    #[inline]
    pub fn set_checksum(&mut self, v: u16) {
        self.buffer.as_mut()[field::CHECKSUM].copy_from_slice(&v.to_be_bytes());
    }

    /// Compute and store the checksum over the datagram (up to the length
    /// field); a computed zero is sent as 0xffff.
    #[inline]
    pub fn fill_checksum(&mut self, src: &IpAddr, dst: &IpAddr) {
        self.set_checksum(0);
        let c = checksum::compute_l4(src, dst, PROTOCOL, self.datagram());
        self.set_checksum(if c == 0 { 0xffff } else { c });
    }

    /// The payload up to the length field, mutable.
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let l = self.len() as usize;
        &mut self.buffer.as_mut()[HEADER_LEN..l]
    }
}

/// A parsed UDP header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Repr {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
}

impl Repr {
    /// Parse a datagram, verifying the checksum when `verify` is set:
    /// [`Error::Truncated`]/[`Error::Malformed`] from [`Packet::check_len`],
    /// [`Error::BadChecksum`].
    #[inline]
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>, src: &IpAddr, dst: &IpAddr, verify: bool) -> Result<Repr> {
        p.check_len()?;
        if verify && !p.verify_checksum(src, dst) {
            return Err(Error::BadChecksum);
        }
        Ok(Repr {
            src_port: p.src_port(),
            dst_port: p.dst_port(),
        })
    }

    /// Header length.
    #[inline]
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Write the header into the front of `buf`, whose next `payload_len`
    /// bytes hold the payload, and fill the checksum. [`Error::Truncated`] if
    /// `buf` is shorter than header and payload, [`Error::Malformed`] if the
    /// datagram does not fit a 16-bit length.
    #[inline]
    pub fn emit(&self, buf: &mut [u8], payload_len: usize, src: &IpAddr, dst: &IpAddr) -> Result<usize> {
        let total = HEADER_LEN.saturating_add(payload_len);
        if total > u16::MAX as usize {
            return Err(Error::Malformed);
        }
        let Some(d) = buf.get_mut(..total) else {
            return Err(Error::Truncated);
        };
        let mut p = Packet::new_unchecked(d);
        p.set_src_port(self.src_port);
        p.set_dst_port(self.dst_port);
        p.set_len(total as u16);
        p.fill_checksum(src, dst);
        Ok(HEADER_LEN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::{Ipv4Addr, Ipv6Addr};

    const SRC: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 168, 1, 1));
    const DST: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 168, 1, 2));

    #[test]
    fn parse_datagram() {
        let p = Packet::new_checked(&DATAGRAM[..]).unwrap();
        assert_eq!(p.src_port(), 5060);
        assert_eq!(p.dst_port(), 5062);
        assert_eq!(p.len(), 12);
        assert_eq!(p.payload(), b"SIP/");
        assert!(p.verify_checksum(&SRC, &DST));
        assert_eq!(
            Repr::parse(&p, &SRC, &DST, true),
            Ok(Repr {
                src_port: 5060,
                dst_port: 5062
            })
        );
        let mut b = DATAGRAM;
        b[11] ^= 0x20;
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!(Repr::parse(&p, &SRC, &DST, true), Err(Error::BadChecksum));
        assert!(Repr::parse(&p, &SRC, &DST, false).is_ok());
    }

    #[test]
    fn parse_zero_checksum() {
        let mut b = DATAGRAM;
        b[6] = 0;
        b[7] = 0;
        let p = Packet::new_checked(&b[..]).unwrap();
        assert!(p.verify_checksum(&SRC, &DST));
        let s6 = IpAddr::V6(Ipv6Addr::LOCALHOST);
        assert!(!p.verify_checksum(&s6, &s6));
    }

    #[test]
    fn check_len_cases() {
        assert_eq!(Packet::new_checked(&DATAGRAM[..7]).err(), Some(Error::Truncated));
        assert_eq!(Packet::new_checked(&DATAGRAM[..11]).err(), Some(Error::Truncated));
        let mut b = DATAGRAM;
        b[5] = 7;
        assert_eq!(Packet::new_checked(&b[..]).err(), Some(Error::Malformed));
        // A buffer longer than the length field is fine (IP padding).
        let mut v = DATAGRAM.to_vec();
        v.push(0);
        assert_eq!(Packet::new_checked(&v[..]).map(|p| p.payload().len()), Ok(4));
    }

    #[test]
    fn emit_datagram() {
        let mut b = [0u8; 12];
        b[8..].copy_from_slice(b"SIP/");
        let r = Repr {
            src_port: 5060,
            dst_port: 5062,
        };
        assert_eq!(r.emit(&mut b, 4, &SRC, &DST), Ok(8));
        assert_eq!(b, DATAGRAM);
        assert_eq!(r.emit(&mut b, 5, &SRC, &DST), Err(Error::Truncated));
        assert_eq!(r.emit(&mut b, 65528, &SRC, &DST), Err(Error::Malformed));
    }

    static DATAGRAM: [u8; 12] = [
        0x13, 0xc4, 0x13, 0xc6, 0x00, 0x0c, 0xb1, 0x7f, b'S', b'I', b'P', b'/',
    ];
}
