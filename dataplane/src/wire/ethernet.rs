//! Ethernet II frames with up to two VLAN tags (802.1Q `0x8100`, 802.1ad
//! `0x88a8`).
//!
//! Owns: the header view [`Packet`], the MAC address type [`MacAddr`] and
//! [`Repr`]. Must never: panic in an accessor once [`Packet::check_len`] has
//! passed, or accept a third stacked tag.

use super::{Error, Result};

/// A 48-bit Ethernet MAC address.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MacAddr(pub [u8; 6]);

impl MacAddr {
    /// The broadcast address `ff:ff:ff:ff:ff:ff`.
    pub const BROADCAST: MacAddr = MacAddr([0xff; 6]);

    /// The address from the first six bytes of `b`, if there are six.
    #[inline]
    pub fn from_bytes(bytes: &[u8]) -> Option<MacAddr> {
        match bytes {
            [a, b, c, d, e, f, ..] => Some(MacAddr([*a, *b, *c, *d, *e, *f])),
            _ => None,
        }
    }

    /// The six bytes.
    #[inline]
    pub const fn octets(&self) -> [u8; 6] {
        self.0
    }

    /// Whether this is the broadcast address.
    #[inline]
    pub fn is_broadcast(&self) -> bool {
        *self == Self::BROADCAST
    }

    /// Whether the group bit is set (multicast or broadcast).
    #[inline]
    pub fn is_multicast(&self) -> bool {
        self.0[0] & 1 != 0
    }

    /// Whether this is a unicast address.
    #[inline]
    pub fn is_unicast(&self) -> bool {
        !self.is_multicast()
    }
}

impl From<[u8; 6]> for MacAddr {
    #[inline]
    fn from(b: [u8; 6]) -> MacAddr {
        MacAddr(b)
    }
}

impl From<MacAddr> for [u8; 6] {
    #[inline]
    fn from(m: MacAddr) -> [u8; 6] {
        m.0
    }
}

impl core::fmt::Display for MacAddr {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let b = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            b[0], b[1], b[2], b[3], b[4], b[5]
        )
    }
}

impl core::str::FromStr for MacAddr {
    type Err = Error;
    fn from_str(s: &str) -> Result<MacAddr> {
        let mut out = [0u8; 6];
        let mut n = 0;
        for part in s.split([':', '-']) {
            if n == 6 || part.len() != 2 {
                return Err(Error::Malformed);
            }
            out[n] = u8::from_str_radix(part, 16).map_err(|_| Error::Malformed)?;
            n += 1;
        }
        if n == 6 {
            Ok(MacAddr(out))
        } else {
            Err(Error::Malformed)
        }
    }
}

/// EtherType values this crate knows.
pub mod ethertype {
    /// IPv4.
    pub const IPV4: u16 = 0x0800;
    /// ARP.
    pub const ARP: u16 = 0x0806;
    /// IPv6.
    pub const IPV6: u16 = 0x86dd;
    /// 802.1Q customer VLAN tag.
    pub const VLAN: u16 = 0x8100;
    /// 802.1ad service VLAN tag (Q-in-Q outer tag).
    pub const QINQ: u16 = 0x88a8;
}

mod field {
    use core::ops::Range;
    pub const DST: Range<usize> = 0..6;
    pub const SRC: Range<usize> = 6..12;
    pub const ETHERTYPE: usize = 12;
}

/// Length of an untagged Ethernet header.
pub const HEADER_LEN: usize = 14;
/// Length of one VLAN tag (TPID + TCI).
pub const VLAN_TAG_LEN: usize = 4;
/// Most VLAN tags accepted.
pub const MAX_TAGS: usize = 2;
/// Longest header this view accepts (two tags).
pub const MAX_HEADER_LEN: usize = HEADER_LEN + MAX_TAGS * VLAN_TAG_LEN;

#[inline]
fn is_tag(tpid: u16) -> bool {
    tpid == ethertype::VLAN || tpid == ethertype::QINQ
}

#[inline]
fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

/// A read/write view of an Ethernet II header, VLAN tags included.
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

    /// Check that the whole header, tags included, is present and that there
    /// are at most [`MAX_TAGS`] tags. Returns [`Error::Truncated`] or
    /// [`Error::TooManyTags`].
    #[inline]
    pub fn check_len(&self) -> Result<()> {
        let b = self.buffer.as_ref();
        if b.len() < HEADER_LEN {
            return Err(Error::Truncated);
        }
        if !is_tag(be16(b, field::ETHERTYPE)) {
            return Ok(());
        }
        if b.len() < HEADER_LEN + VLAN_TAG_LEN {
            return Err(Error::Truncated);
        }
        if !is_tag(be16(b, field::ETHERTYPE + VLAN_TAG_LEN)) {
            return Ok(());
        }
        if b.len() < MAX_HEADER_LEN {
            return Err(Error::Truncated);
        }
        if is_tag(be16(b, field::ETHERTYPE + 2 * VLAN_TAG_LEN)) {
            return Err(Error::TooManyTags);
        }
        Ok(())
    }

    /// The wrapped buffer.
    #[inline]
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Number of VLAN tags (0, 1 or 2).
    #[inline]
    pub fn tag_count(&self) -> usize {
        let b = self.buffer.as_ref();
        if !is_tag(be16(b, field::ETHERTYPE)) {
            0
        } else if !is_tag(be16(b, field::ETHERTYPE + VLAN_TAG_LEN)) {
            1
        } else {
            2
        }
    }

    /// Header length: 14, 18 or 22 bytes.
    #[inline]
    pub fn header_len(&self) -> usize {
        HEADER_LEN + self.tag_count() * VLAN_TAG_LEN
    }

    /// Destination MAC address.
    #[inline]
    pub fn dst_addr(&self) -> MacAddr {
        let b = &self.buffer.as_ref()[field::DST];
        MacAddr([b[0], b[1], b[2], b[3], b[4], b[5]])
    }

    /// Source MAC address.
    #[inline]
    pub fn src_addr(&self) -> MacAddr {
        let b = &self.buffer.as_ref()[field::SRC];
        MacAddr([b[0], b[1], b[2], b[3], b[4], b[5]])
    }

    /// TPID of tag `i` (0 = outer), if present.
    #[inline]
    pub fn vlan_tpid(&self, i: usize) -> Option<u16> {
        (i < self.tag_count()).then(|| be16(self.buffer.as_ref(), field::ETHERTYPE + i * VLAN_TAG_LEN))
    }

    /// Tag control information (PCP, DEI, VID) of tag `i` (0 = outer), if present.
    #[inline]
    pub fn vlan_tci(&self, i: usize) -> Option<u16> {
        (i < self.tag_count()).then(|| be16(self.buffer.as_ref(), field::ETHERTYPE + 2 + i * VLAN_TAG_LEN))
    }

    /// VLAN id (12 bits) of tag `i` (0 = outer), if present.
    #[inline]
    pub fn vlan_id(&self, i: usize) -> Option<u16> {
        self.vlan_tci(i).map(|t| t & 0x0fff)
    }

    /// The EtherType after the tags (the payload's type).
    #[inline]
    pub fn ethertype(&self) -> u16 {
        be16(self.buffer.as_ref(), self.header_len() - 2)
    }

    /// The bytes after the header.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.header_len()..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Set the destination MAC address.
    #[inline]
    pub fn set_dst_addr(&mut self, a: MacAddr) {
        self.buffer.as_mut()[field::DST].copy_from_slice(&a.0);
    }

    /// Set the source MAC address.
    #[inline]
    pub fn set_src_addr(&mut self, a: MacAddr) {
        self.buffer.as_mut()[field::SRC].copy_from_slice(&a.0);
    }

    /// Set the EtherType after the existing tags.
    #[inline]
    pub fn set_ethertype(&mut self, t: u16) {
        let at = self.header_len() - 2;
        self.buffer.as_mut()[at..at + 2].copy_from_slice(&t.to_be_bytes());
    }

    /// Set the VID of existing tag `i`, keeping PCP and DEI. Returns whether
    /// the tag exists.
    #[inline]
    pub fn set_vlan_id(&mut self, i: usize, vid: u16) -> bool {
        let Some(tci) = self.vlan_tci(i) else { return false };
        let at = field::ETHERTYPE + 2 + i * VLAN_TAG_LEN;
        let tci = (tci & 0xf000) | (vid & 0x0fff);
        self.buffer.as_mut()[at..at + 2].copy_from_slice(&tci.to_be_bytes());
        true
    }

    /// The bytes after the header, mutable.
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let hl = self.header_len();
        &mut self.buffer.as_mut()[hl..]
    }
}

/// A parsed Ethernet header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Repr {
    /// Source MAC.
    pub src: MacAddr,
    /// Destination MAC.
    pub dst: MacAddr,
    /// Tag control information (PCP, DEI, VID) of the outer and inner tag.
    /// Emitted in order, skipping `None`; with two tags the outer one gets
    /// TPID 0x88a8, a single tag 0x8100.
    pub tags: [Option<u16>; 2],
    /// EtherType of the payload.
    pub ethertype: u16,
}

impl Repr {
    /// Parse a checked packet.
    #[inline]
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>) -> Result<Repr> {
        p.check_len()?;
        Ok(Repr {
            src: p.src_addr(),
            dst: p.dst_addr(),
            tags: [p.vlan_tci(0), p.vlan_tci(1)],
            ethertype: p.ethertype(),
        })
    }

    /// Number of tags that will be emitted.
    #[inline]
    pub fn tag_count(&self) -> usize {
        self.tags[0].is_some() as usize + self.tags[1].is_some() as usize
    }

    /// Header length this repr emits.
    #[inline]
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN + self.tag_count() * VLAN_TAG_LEN
    }

    /// Write the header into the front of `buf`. Returns [`Error::Truncated`]
    /// if `buf` is shorter than [`Repr::buffer_len`].
    #[inline]
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let len = self.buffer_len();
        let Some(b) = buf.get_mut(..len) else {
            return Err(Error::Truncated);
        };
        b[field::DST].copy_from_slice(&self.dst.0);
        b[field::SRC].copy_from_slice(&self.src.0);
        let n = self.tag_count();
        let mut at = field::ETHERTYPE;
        for tci in self.tags.iter().flatten() {
            let tpid = if n == 2 && at == field::ETHERTYPE {
                ethertype::QINQ
            } else {
                ethertype::VLAN
            };
            b[at..at + 2].copy_from_slice(&tpid.to_be_bytes());
            b[at + 2..at + 4].copy_from_slice(&tci.to_be_bytes());
            at += VLAN_TAG_LEN;
        }
        b[at..at + 2].copy_from_slice(&self.ethertype.to_be_bytes());
        Ok(len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_untagged() {
        let p = Packet::new_checked(&FRAME_UNTAGGED[..]).unwrap();
        assert_eq!(p.header_len(), 14);
        assert_eq!(p.tag_count(), 0);
        assert_eq!(p.dst_addr(), MacAddr([0x02, 0, 0, 0, 0, 0x01]));
        assert_eq!(p.src_addr(), MacAddr([0x02, 0, 0, 0, 0, 0x02]));
        assert_eq!(p.ethertype(), ethertype::IPV4);
        assert_eq!(p.vlan_id(0), None);
        assert_eq!(p.payload(), &[0xaa, 0xbb]);
    }

    #[test]
    fn parse_qinq() {
        let p = Packet::new_checked(&FRAME_QINQ[..]).unwrap();
        assert_eq!(p.header_len(), 22);
        assert_eq!(p.tag_count(), 2);
        assert_eq!(p.vlan_tpid(0), Some(ethertype::QINQ));
        assert_eq!(p.vlan_id(0), Some(100));
        assert_eq!(p.vlan_tci(1), Some(0x6000 | 200));
        assert_eq!(p.vlan_id(1), Some(200));
        assert_eq!(p.ethertype(), ethertype::IPV6);
        let r = Repr::parse(&p).unwrap();
        assert_eq!(r.tags, [Some(100), Some(0x6000 | 200)]);
    }

    #[test]
    fn check_len_truncated_and_too_many() {
        assert_eq!(
            Packet::new_checked(&FRAME_UNTAGGED[..13]).err(),
            Some(Error::Truncated)
        );
        assert_eq!(
            Packet::new_checked(&FRAME_QINQ[..17]).err(),
            Some(Error::Truncated)
        );
        assert_eq!(
            Packet::new_checked(&FRAME_QINQ[..21]).err(),
            Some(Error::Truncated)
        );
        assert!(Packet::new_checked(&FRAME_QINQ[..22]).is_ok());
        let mut three = FRAME_QINQ.to_vec();
        three[20] = 0x81;
        three[21] = 0x00;
        three.extend_from_slice(&[0, 1, 0x08, 0x00]);
        assert_eq!(Packet::new_checked(&three[..]).err(), Some(Error::TooManyTags));
    }

    #[test]
    fn emit_roundtrip_and_setters() {
        let r = Repr {
            src: MacAddr([2, 0, 0, 0, 0, 2]),
            dst: MacAddr([2, 0, 0, 0, 0, 1]),
            tags: [Some(100), Some(0x6000 | 200)],
            ethertype: ethertype::IPV6,
        };
        let mut buf = [0u8; 22];
        assert_eq!(r.emit(&mut buf), Ok(22));
        assert_eq!(&buf[..], &FRAME_QINQ[..22]);
        assert_eq!(r.emit(&mut buf[..21]), Err(Error::Truncated));
        let mut p = Packet::new_checked(&mut buf[..]).unwrap();
        p.set_dst_addr(MacAddr::BROADCAST);
        assert!(p.set_vlan_id(1, 7));
        assert!(!p.set_vlan_id(2, 7));
        p.set_ethertype(ethertype::IPV4);
        assert_eq!(p.vlan_tci(1), Some(0x6007));
        assert_eq!(p.ethertype(), ethertype::IPV4);
        assert!(p.dst_addr().is_broadcast());
    }

    #[test]
    fn parse_mac_text() {
        let m: MacAddr = "02:00:00:0a:bb:FF".parse().unwrap();
        assert_eq!(m, MacAddr([2, 0, 0, 0x0a, 0xbb, 0xff]));
        assert_eq!(m.to_string(), "02:00:00:0a:bb:ff");
        assert!("02:00:00:0a:bb".parse::<MacAddr>().is_err());
        assert!("02:00:00:0a:bb:ff:00".parse::<MacAddr>().is_err());
        assert!("zz:00:00:0a:bb:ff".parse::<MacAddr>().is_err());
    }

    static FRAME_UNTAGGED: [u8; 16] = [
        0x02, 0, 0, 0, 0, 0x01, 0x02, 0, 0, 0, 0, 0x02, 0x08, 0x00, 0xaa, 0xbb,
    ];

    static FRAME_QINQ: [u8; 24] = [
        0x02, 0, 0, 0, 0, 0x01, 0x02, 0, 0, 0, 0, 0x02, // macs
        0x88, 0xa8, 0x00, 100, // outer tag, VID 100
        0x81, 0x00, 0x60, 200, // inner tag, PCP 3, VID 200
        0x86, 0xdd, // IPv6
        0x60, 0x00,
    ];
}
