//! ARP (RFC 826) for IPv4 over Ethernet, so the data plane can answer ARP
//! requests for its own addresses.
//!
//! Owns: the view [`Packet`], [`Operation`] and [`Repr`]. Must never: panic
//! in an accessor once [`Packet::check_len`] has passed, or accept hardware
//! or protocol types other than Ethernet/IPv4 in [`Repr::parse`].

use super::ethernet::{ethertype, MacAddr};
use super::{Error, Result};
use core::net::Ipv4Addr;

mod field {
    use core::ops::Range;
    pub const HTYPE: Range<usize> = 0..2;
    pub const PTYPE: Range<usize> = 2..4;
    pub const HLEN: usize = 4;
    pub const PLEN: usize = 5;
    pub const OPER: Range<usize> = 6..8;
    pub const SHA: Range<usize> = 8..14;
    pub const SPA: Range<usize> = 14..18;
    pub const THA: Range<usize> = 18..24;
    pub const TPA: Range<usize> = 24..28;
}

/// Length of an Ethernet/IPv4 ARP packet.
pub const PACKET_LEN: usize = 28;
/// Hardware type Ethernet.
pub const HTYPE_ETHERNET: u16 = 1;

/// ARP operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    /// Who has `target_ip`?
    Request,
    /// `source_ip` is at `source_mac`.
    Reply,
}

impl Operation {
    #[inline]
    fn code(self) -> u16 {
        match self {
            Operation::Request => 1,
            Operation::Reply => 2,
        }
    }
}

#[inline]
fn ip_at(b: &[u8], r: core::ops::Range<usize>) -> Ipv4Addr {
    let s = &b[r];
    Ipv4Addr::new(s[0], s[1], s[2], s[3])
}

#[inline]
fn mac_at(b: &[u8], r: core::ops::Range<usize>) -> MacAddr {
    let s = &b[r];
    MacAddr([s[0], s[1], s[2], s[3], s[4], s[5]])
}

/// A read/write view of an Ethernet/IPv4 ARP packet.
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

    /// Check that the 28 bytes of an Ethernet/IPv4 ARP packet are present.
    #[inline]
    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < PACKET_LEN {
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

    /// Hardware type.
    #[inline]
    pub fn htype(&self) -> u16 {
        let b = &self.buffer.as_ref()[field::HTYPE];
        u16::from_be_bytes([b[0], b[1]])
    }

    /// Protocol type.
    #[inline]
    pub fn ptype(&self) -> u16 {
        let b = &self.buffer.as_ref()[field::PTYPE];
        u16::from_be_bytes([b[0], b[1]])
    }

    /// Hardware address length.
    #[inline]
    pub fn hlen(&self) -> u8 {
        self.buffer.as_ref()[field::HLEN]
    }

    /// Protocol address length.
    #[inline]
    pub fn plen(&self) -> u8 {
        self.buffer.as_ref()[field::PLEN]
    }

    /// Raw operation code.
    #[inline]
    pub fn oper(&self) -> u16 {
        let b = &self.buffer.as_ref()[field::OPER];
        u16::from_be_bytes([b[0], b[1]])
    }

    /// Whether this is Ethernet/IPv4 ARP (the only kind the other accessors
    /// describe correctly).
    #[inline]
    pub fn is_ethernet_ipv4(&self) -> bool {
        self.htype() == HTYPE_ETHERNET
            && self.ptype() == ethertype::IPV4
            && self.hlen() == 6
            && self.plen() == 4
    }

    /// Sender hardware address.
    #[inline]
    pub fn source_mac(&self) -> MacAddr {
        mac_at(self.buffer.as_ref(), field::SHA)
    }

    /// Sender protocol address.
    #[inline]
    pub fn source_ip(&self) -> Ipv4Addr {
        ip_at(self.buffer.as_ref(), field::SPA)
    }

    /// Target hardware address.
    #[inline]
    pub fn target_mac(&self) -> MacAddr {
        mac_at(self.buffer.as_ref(), field::THA)
    }

    /// Target protocol address.
    #[inline]
    pub fn target_ip(&self) -> Ipv4Addr {
        ip_at(self.buffer.as_ref(), field::TPA)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Write the fixed Ethernet/IPv4 type fields.
    #[inline]
    pub fn set_ethernet_ipv4(&mut self) {
        let b = self.buffer.as_mut();
        b[field::HTYPE].copy_from_slice(&HTYPE_ETHERNET.to_be_bytes());
        b[field::PTYPE].copy_from_slice(&ethertype::IPV4.to_be_bytes());
        b[field::HLEN] = 6;
        b[field::PLEN] = 4;
    }

    /// Set the operation.
    #[inline]
    pub fn set_oper(&mut self, op: Operation) {
        self.buffer.as_mut()[field::OPER].copy_from_slice(&op.code().to_be_bytes());
    }

    /// Set the sender hardware address.
    #[inline]
    pub fn set_source_mac(&mut self, a: MacAddr) {
        self.buffer.as_mut()[field::SHA].copy_from_slice(&a.0);
    }

    /// Set the sender protocol address.
    #[inline]
    pub fn set_source_ip(&mut self, a: Ipv4Addr) {
        self.buffer.as_mut()[field::SPA].copy_from_slice(&a.octets());
    }

    /// Set the target hardware address.
    #[inline]
    pub fn set_target_mac(&mut self, a: MacAddr) {
        self.buffer.as_mut()[field::THA].copy_from_slice(&a.0);
    }

    /// Set the target protocol address.
    #[inline]
    pub fn set_target_ip(&mut self, a: Ipv4Addr) {
        self.buffer.as_mut()[field::TPA].copy_from_slice(&a.octets());
    }
}

/// A parsed Ethernet/IPv4 ARP packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Repr {
    /// Request or reply.
    pub operation: Operation,
    /// Sender hardware address.
    pub source_mac: MacAddr,
    /// Sender protocol address.
    pub source_ip: Ipv4Addr,
    /// Target hardware address (zero in a request).
    pub target_mac: MacAddr,
    /// Target protocol address.
    pub target_ip: Ipv4Addr,
}

impl Repr {
    /// Parse a packet: [`Error::Truncated`] if short, [`Error::Unsupported`]
    /// for other hardware/protocol types, [`Error::Malformed`] for an unknown
    /// operation.
    #[inline]
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>) -> Result<Repr> {
        p.check_len()?;
        if !p.is_ethernet_ipv4() {
            return Err(Error::Unsupported);
        }
        let operation = match p.oper() {
            1 => Operation::Request,
            2 => Operation::Reply,
            _ => return Err(Error::Malformed),
        };
        Ok(Repr {
            operation,
            source_mac: p.source_mac(),
            source_ip: p.source_ip(),
            target_mac: p.target_mac(),
            target_ip: p.target_ip(),
        })
    }

    /// The reply `our_mac` sends to this request (`None` if this is not a
    /// request). Gratuitous requests (source IP = target IP) get no reply.
    #[inline]
    pub fn reply(&self, our_mac: MacAddr) -> Option<Repr> {
        (self.operation == Operation::Request && self.source_ip != self.target_ip).then_some(Repr {
            operation: Operation::Reply,
            source_mac: our_mac,
            source_ip: self.target_ip,
            target_mac: self.source_mac,
            target_ip: self.source_ip,
        })
    }

    /// Bytes [`Repr::emit`] writes.
    #[inline]
    pub const fn buffer_len(&self) -> usize {
        PACKET_LEN
    }

    /// Write the packet into `p`.
    #[inline]
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, p: &mut Packet<T>) -> Result<()> {
        p.check_len()?;
        p.set_ethernet_ipv4();
        p.set_oper(self.operation);
        p.set_source_mac(self.source_mac);
        p.set_source_ip(self.source_ip);
        p.set_target_mac(self.target_mac);
        p.set_target_ip(self.target_ip);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_request() {
        let p = Packet::new_checked(&REQUEST[..]).unwrap();
        let r = Repr::parse(&p).unwrap();
        assert_eq!(r.operation, Operation::Request);
        assert_eq!(r.source_mac, MacAddr([2, 0, 0, 0, 0, 2]));
        assert_eq!(r.source_ip, Ipv4Addr::new(10, 0, 0, 2));
        assert_eq!(r.target_mac, MacAddr([0; 6]));
        assert_eq!(r.target_ip, Ipv4Addr::new(10, 0, 0, 1));
    }

    #[test]
    fn parse_rejects_other_types() {
        let mut b = REQUEST;
        b[1] = 6; // IEEE 802
        assert_eq!(
            Repr::parse(&Packet::new_unchecked(&b[..])),
            Err(Error::Unsupported)
        );
        let mut b = REQUEST;
        b[7] = 3; // RARP request
        assert_eq!(Repr::parse(&Packet::new_unchecked(&b[..])), Err(Error::Malformed));
    }

    #[test]
    fn check_len_short() {
        assert_eq!(Packet::new_checked(&REQUEST[..27]).err(), Some(Error::Truncated));
        assert!(Packet::new_checked(&REQUEST[..]).is_ok());
    }

    #[test]
    fn emit_reply() {
        let req = Repr::parse(&Packet::new_unchecked(&REQUEST[..])).unwrap();
        let rep = req.reply(MacAddr([2, 0, 0, 0, 0, 1])).unwrap();
        let mut buf = [0u8; PACKET_LEN];
        rep.emit(&mut Packet::new_unchecked(&mut buf[..])).unwrap();
        assert_eq!(buf, REPLY);
        assert_eq!(rep.reply(MacAddr::BROADCAST), None);
        let mut short = [0u8; 10];
        assert_eq!(
            rep.emit(&mut Packet::new_unchecked(&mut short[..])),
            Err(Error::Truncated)
        );
    }

    static REQUEST: [u8; 28] = [
        0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x01, // eth/ipv4 request
        2, 0, 0, 0, 0, 2, 10, 0, 0, 2, // sender
        0, 0, 0, 0, 0, 0, 10, 0, 0, 1, // target
    ];

    static REPLY: [u8; 28] = [
        0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x02, // eth/ipv4 reply
        2, 0, 0, 0, 0, 1, 10, 0, 0, 1, // sender
        2, 0, 0, 0, 0, 2, 10, 0, 0, 2, // target
    ];
}
