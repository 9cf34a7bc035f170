//! ESP header (RFC 4303 §2) and recognition of UDP-encapsulated ESP
//! (RFC 3948) on port 4500.
//!
//! Owns: the view [`Packet`] (SPI, sequence number, and the opaque rest:
//! IV, ciphertext, padding, ICV), [`Repr`] and [`classify_udp_encap`]. Must
//! never: interpret the encrypted part (that is the `esp` module's job), or
//! panic in an accessor once [`Packet::check_len`] has passed.

use super::{Error, Result};

mod field {
    use core::ops::Range;
    pub const SPI: Range<usize> = 0..4;
    pub const SEQ: Range<usize> = 4..8;
}

/// ESP header length (SPI and sequence number).
pub const HEADER_LEN: usize = 8;
/// IP protocol number of ESP.
pub const PROTOCOL: u8 = 50;
/// UDP port of RFC 3948 encapsulation (shared with IKE).
pub const UDP_ENCAP_PORT: u16 = 4500;
/// The one-byte NAT-keepalive payload (RFC 3948 §2.3).
pub const NAT_KEEPALIVE: u8 = 0xff;
/// Length of the non-ESP marker that prefixes IKE on port 4500.
pub const NON_ESP_MARKER_LEN: usize = 4;

#[inline]
fn be32(b: &[u8], r: core::ops::Range<usize>) -> u32 {
    let s = &b[r];
    u32::from_be_bytes([s[0], s[1], s[2], s[3]])
}

/// A read/write view of an ESP packet.
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

    /// [`Error::Truncated`] if the 8-byte header is not all there. Whether
    /// IV and ICV fit depends on the SA and is checked by the ESP module.
    #[inline]
    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < HEADER_LEN {
            Err(Error::Truncated)
        } else {
            Ok(())
        }
    }

    /// The wrapped buffer.
    #[inline]
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Security parameters index.
    #[inline]
    pub fn spi(&self) -> u32 {
        be32(self.buffer.as_ref(), field::SPI)
    }

    /// Sequence number (low 32 bits).
    #[inline]
    pub fn seq(&self) -> u32 {
        be32(self.buffer.as_ref(), field::SEQ)
    }

    /// IV, ciphertext (with padding and trailer) and ICV.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Set the SPI.
    #[inline]
    pub fn set_spi(&mut self, v: u32) {
        self.buffer.as_mut()[field::SPI].copy_from_slice(&v.to_be_bytes());
    }

    /// Set the sequence number.
    #[inline]
    pub fn set_seq(&mut self, v: u32) {
        self.buffer.as_mut()[field::SEQ].copy_from_slice(&v.to_be_bytes());
    }

    /// IV, ciphertext and ICV, mutable.
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[HEADER_LEN..]
    }
}

/// A parsed ESP header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Repr {
    /// Security parameters index.
    pub spi: u32,
    /// Sequence number.
    pub seq: u32,
}

impl Repr {
    /// Parse the header ([`Error::Truncated`] if short).
    #[inline]
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>) -> Result<Repr> {
        p.check_len()?;
        Ok(Repr {
            spi: p.spi(),
            seq: p.seq(),
        })
    }

    /// Header length.
    #[inline]
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Write the header into the front of `buf`.
    #[inline]
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let Some(h) = buf.get_mut(..HEADER_LEN) else {
            return Err(Error::Truncated);
        };
        let mut p = Packet::new_unchecked(h);
        p.set_spi(self.spi);
        p.set_seq(self.seq);
        Ok(HEADER_LEN)
    }
}

/// What a UDP payload on port 4500 carries (RFC 3948 §2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UdpEncap<'a> {
    /// An ESP packet (header onwards); the SPI is non-zero.
    Esp(&'a [u8]),
    /// An IKE message, the 4-byte non-ESP marker removed.
    NonEsp(&'a [u8]),
    /// A NAT-keepalive (the single byte 0xFF).
    Keepalive,
}

/// Classify the payload of a UDP datagram on port 4500:
/// a single 0xFF is a keepalive, four zero bytes start an IKE message, and
/// anything else of at least 8 bytes is ESP. [`Error::Truncated`] for other
/// short payloads.
#[inline]
pub fn classify_udp_encap(payload: &[u8]) -> Result<UdpEncap<'_>> {
    match payload {
        [NAT_KEEPALIVE] => Ok(UdpEncap::Keepalive),
        [0, 0, 0, 0, rest @ ..] => Ok(UdpEncap::NonEsp(rest)),
        p if p.len() >= HEADER_LEN => Ok(UdpEncap::Esp(p)),
        _ => Err(Error::Truncated),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_header() {
        let p = Packet::new_checked(&PACKET[..]).unwrap();
        assert_eq!(p.spi(), 0x0000_1001);
        assert_eq!(p.seq(), 7);
        assert_eq!(p.payload(), &PACKET[8..]);
        assert_eq!(Repr::parse(&p), Ok(Repr { spi: 0x1001, seq: 7 }));
    }

    #[test]
    fn check_len_short() {
        assert_eq!(Packet::new_checked(&PACKET[..7]).err(), Some(Error::Truncated));
        assert!(Packet::new_checked(&PACKET[..8]).is_ok());
    }

    #[test]
    fn emit_header() {
        let mut b = [0u8; 8];
        assert_eq!(Repr { spi: 0x1001, seq: 7 }.emit(&mut b), Ok(8));
        assert_eq!(b, PACKET[..8]);
        assert_eq!(Repr { spi: 1, seq: 1 }.emit(&mut b[..7]), Err(Error::Truncated));
    }

    #[test]
    fn parse_udp_encap() {
        assert_eq!(classify_udp_encap(&[0xff]), Ok(UdpEncap::Keepalive));
        assert_eq!(
            classify_udp_encap(&[0, 0, 0, 0, 1, 2]),
            Ok(UdpEncap::NonEsp(&[1, 2]))
        );
        assert_eq!(classify_udp_encap(&PACKET), Ok(UdpEncap::Esp(&PACKET)));
        assert_eq!(classify_udp_encap(&PACKET[..7]), Err(Error::Truncated));
        assert_eq!(classify_udp_encap(&[]), Err(Error::Truncated));
        assert_eq!(classify_udp_encap(&[0xfe]), Err(Error::Truncated));
    }

    static PACKET: [u8; 20] = [
        0x00, 0x00, 0x10, 0x01, // SPI
        0x00, 0x00, 0x00, 0x07, // seq
        0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, // IV
        0xbb, 0xbb, 0xbb, 0xbb, // ciphertext, ICV
    ];
}
