//! Checked, zero-copy wire views (smoltcp style) and the whole-frame
//! classifier the workers run first.
//!
//! Contract:
//! - Each header module has a `Packet<T: AsRef<[u8]>>` view with
//!   `new_unchecked`, `new_checked` and `check_len`; once `check_len` has
//!   passed no accessor panics. Setters live in a separate
//!   `impl<T: AsRef<[u8]> + AsMut<[u8]>>`. Each has a `Repr` with `parse`,
//!   `emit` and `buffer_len`.
//! - [`parse_frame`] turns an untrusted frame into a small [`Parsed`] summary
//!   (offsets, addresses, ports, SPI) or exactly one [`DropReason`]. It never
//!   copies the frame, never allocates and never panics, whatever the bytes.
//! - [`HeadersRepr::emit_udp`] and [`rewrite_udp_in_place`] (re)write the
//!   Ethernet/IP/UDP headers of a datagram whose payload was edited, with
//!   correct lengths and checksums.
//!
//! Must never: reassemble fragments, keep state between frames, or read
//! beyond the lengths the IP and UDP headers declare (Ethernet padding is
//! ignored).

pub mod arp;
pub mod checksum;
pub mod esp;
pub mod ethernet;
pub mod ipv4;
pub mod ipv6;
pub mod ndp;
pub mod tcp;
pub mod template;
pub mod udp;

pub use ethernet::MacAddr;

use crate::counters::DropReason;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use core::ops::Range;

/// Why a view or repr refused some bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The buffer is shorter than the header or a length field says.
    #[error("truncated")]
    Truncated,
    /// A field holds a value the protocol does not allow.
    #[error("malformed")]
    Malformed,
    /// An IP fragment (no reassembly here).
    #[error("fragment")]
    Fragment,
    /// Valid, but a variant this data plane does not handle.
    #[error("unsupported")]
    Unsupported,
    /// A checksum does not match.
    #[error("bad checksum")]
    BadChecksum,
    /// More than two stacked VLAN tags.
    #[error("too many VLAN tags")]
    TooManyTags,
    /// IPv4 options that run past the header.
    #[error("bad IPv4 options")]
    BadOptions,
    /// An IPv6 extension header chain that is truncated, too long or
    /// out of order.
    #[error("bad IPv6 extension header")]
    BadExtHeader,
}

/// Result of the wire views.
pub type Result<T> = core::result::Result<T, Error>;

/// IP protocol numbers the classifier knows.
pub mod ip_proto {
    /// TCP.
    pub const TCP: u8 = super::tcp::PROTOCOL;
    /// UDP.
    pub const UDP: u8 = super::udp::PROTOCOL;
    /// ESP.
    pub const ESP: u8 = super::esp::PROTOCOL;
}

/// Network layer of a classified frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum L3 {
    /// IPv4.
    V4,
    /// IPv6.
    V6,
    /// An Ethernet/IPv4 ARP packet, for the caller to answer (see
    /// [`arp_reply_in_place`]). `src`/`dst` are the sender/target IPs.
    Arp,
    /// A valid IPv6 Neighbor Solicitation, for the caller to answer (see
    /// [`ndp::advert_in_place`]). `src` is the IP source (unspecified for
    /// duplicate address detection), `dst` the target address.
    Ndp,
}

/// What a UDP datagram to or from port 4500 carries (RFC 3948).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encap {
    /// Not port 4500, or not UDP.
    None,
    /// UDP-encapsulated ESP: [`Parsed::spi`]/[`Parsed::seq`] are set and the
    /// ESP header starts at [`Parsed::payload_off`].
    Esp,
    /// IKE behind a non-ESP marker.
    NonEsp,
    /// NAT-keepalive (one 0xFF byte).
    Keepalive,
}

/// Summary of a classified frame. Offsets are from the start of the frame;
/// all lie within it. Fields that do not apply are zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Parsed {
    /// Network layer.
    pub l3: L3,
    /// Upper-layer protocol (after IPv6 extension headers); 0 for ARP.
    pub proto: u8,
    /// IPv4 TTL or IPv6 hop limit; 0 for ARP.
    pub ttl: u8,
    /// RFC 3948 classification of a UDP datagram on port 4500.
    pub encap: Encap,
    /// Ethernet header length, tags included (14, 18 or 22).
    pub l2_len: u16,
    /// EtherType after the tags.
    pub ethertype: u16,
    /// VLAN ids (12 bits) of the outer and inner tag.
    pub vlan: [Option<u16>; 2],
    /// Offset of the network header (equals `l2_len`).
    pub l3_off: u16,
    /// Network header length: IPv4 with options, IPv6 with extension
    /// headers, 28 for ARP.
    pub l3_len: u16,
    /// Offset of the upper-layer header.
    pub l4_off: u16,
    /// Upper-layer length from the IP length fields (not the frame length).
    pub l4_len: u16,
    /// UDP/TCP source port.
    pub src_port: u16,
    /// UDP/TCP destination port.
    pub dst_port: u16,
    /// Offset of the UDP/TCP payload, or of the ESP payload (IV onwards).
    pub payload_off: u16,
    /// Length of that payload (UDP: from the UDP length field).
    pub payload_len: u16,
    /// ESP SPI (IP protocol 50, or [`Encap::Esp`]).
    pub spi: u32,
    /// ESP sequence number.
    pub seq: u32,
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
}

impl Parsed {
    /// Network header byte range.
    #[inline]
    pub fn l3_range(&self) -> Range<usize> {
        self.l3_off as usize..self.l3_off as usize + self.l3_len as usize
    }

    /// Upper-layer byte range (header and payload).
    #[inline]
    pub fn l4_range(&self) -> Range<usize> {
        self.l4_off as usize..self.l4_off as usize + self.l4_len as usize
    }

    /// Payload byte range.
    #[inline]
    pub fn payload_range(&self) -> Range<usize> {
        self.payload_off as usize..self.payload_off as usize + self.payload_len as usize
    }

    /// The payload in `frame` (the frame this was parsed from; another one
    /// gives an empty slice if the range does not fit).
    #[inline]
    pub fn payload<'a>(&self, frame: &'a [u8]) -> &'a [u8] {
        frame.get(self.payload_range()).unwrap_or(&[])
    }

    /// The payload in `frame`, mutable.
    #[inline]
    pub fn payload_mut<'a>(&self, frame: &'a mut [u8]) -> &'a mut [u8] {
        frame.get_mut(self.payload_range()).unwrap_or(&mut [])
    }

    /// Whether this is UDP over IP.
    #[inline]
    pub fn is_udp(&self) -> bool {
        self.l3 != L3::Arp && self.proto == ip_proto::UDP
    }

    /// Whether this is TCP over IP.
    #[inline]
    pub fn is_tcp(&self) -> bool {
        self.l3 != L3::Arp && self.proto == ip_proto::TCP
    }

    /// Whether this is ESP, directly over IP or UDP-encapsulated.
    #[inline]
    pub fn is_esp(&self) -> bool {
        (self.l3 != L3::Arp && self.proto == ip_proto::ESP) || self.encap == Encap::Esp
    }

    /// Source transport address.
    #[inline]
    pub fn src_socket(&self) -> SocketAddr {
        SocketAddr::new(self.src, self.src_port)
    }

    /// Destination transport address.
    #[inline]
    pub fn dst_socket(&self) -> SocketAddr {
        SocketAddr::new(self.dst, self.dst_port)
    }
}

#[inline(always)]
fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

#[inline(always)]
fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

#[inline(always)]
fn is_tag(t: u16) -> bool {
    t == ethernet::ethertype::VLAN || t == ethernet::ethertype::QINQ
}

/// A source address that must never appear on the wire.
#[inline(always)]
fn bad_src_v4(a: u32) -> bool {
    a == 0 || (a >> 28) == 0xe || a == u32::MAX || (a >> 24) == 127
}

/// A destination address that must never appear on the wire.
#[inline(always)]
fn bad_dst_v4(a: u32) -> bool {
    a == 0 || (a >> 24) == 127
}

#[inline(always)]
fn bad_src_v6(a: u128) -> bool {
    a == 0 || a == 1 || (a >> 120) == 0xff
}

#[inline(always)]
fn bad_dst_v6(a: u128) -> bool {
    a == 0 || a == 1
}

/// Classify a whole Ethernet frame.
///
/// Checks, in order, with the drop reason each gives:
/// - frame over 65535 bytes → `Oversized`;
/// - Ethernet header or a tag truncated → `EthTruncated`; a third tag →
///   `EthTooManyTags`; EtherType other than IPv4, IPv6 or ARP →
///   `EthUnsupportedType` (also for ARP that is not Ethernet/IPv4; truncated
///   ARP → `EthTruncated`). ARP returns `Ok` with [`L3::Arp`];
/// - IPv4: truncated header, version, IHL, total length → `Ipv4Malformed`;
///   options → `Ipv4BadOptions`; header checksum → `Ipv4BadChecksum`;
///   MF or offset → `Ipv4Fragment`;
/// - IPv6: truncated, version, payload length → `Ipv6Malformed`;
///   extension chain → `Ipv6BadExtHeader`; Fragment header → `Ipv6Fragment`;
/// - source unspecified, multicast, broadcast or loopback, or destination
///   unspecified or loopback → `BadAddress`;
/// - UDP length out of range → `UdpMalformed`; checksum wrong when
///   `verify_l4_checksum`, or zero over IPv6 (always) → `UdpBadChecksum`;
///   on port 4500, a payload that is neither keepalive, non-ESP marker nor
///   an 8-byte ESP header → `EspTruncated`;
/// - TCP data offset out of range → `TcpMalformed`; checksum →
///   `TcpBadChecksum` (when `verify_l4_checksum`);
/// - ESP shorter than 8 bytes → `EspTruncated`;
/// - any other protocol → `UnsupportedProtocol`.
#[inline(always)]
pub fn parse_frame(frame: &[u8], verify_l4_checksum: bool) -> core::result::Result<Parsed, DropReason> {
    if let Some(p) = parse_ipv4_udp(frame, verify_l4_checksum) {
        return Ok(p);
    }
    parse_frame_general(frame, verify_l4_checksum)
}

/// The common case of [`parse_frame`] in one pass: an untagged IPv4
/// frame without options carrying a whole, valid UDP datagram that is not
/// on the RFC 3948 port. Returns exactly what [`parse_frame`] returns for
/// such a frame, or None for anything else (an error included: the general
/// path then finds the reason). For a caller that handles the common case
/// apart, knowing what it implies (IPv4, UDP, no encapsulation).
#[inline(always)]
pub fn parse_ipv4_udp(frame: &[u8], verify_l4_checksum: bool) -> Option<Parsed> {
    const L3: usize = ethernet::HEADER_LEN;
    const L4: usize = L3 + ipv4::HEADER_LEN;
    let h = frame.first_chunk::<{ L4 + udp::HEADER_LEN }>()?;
    if frame.len() > u16::MAX as usize
        || be16(h, 12) != ethernet::ethertype::IPV4
        || h[L3] != 0x45
        || h[L3 + 9] != ip_proto::UDP
    {
        return None;
    }
    let tl = be16(h, L3 + 2) as usize;
    let ulen = be16(h, L4 + 4) as usize;
    if tl > frame.len() - L3 || ulen < udp::HEADER_LEN || ipv4::HEADER_LEN + ulen > tl {
        return None;
    }
    // RFC 3948 traffic goes to the general parse; its checksum must not
    // be summed here first.
    if be16(h, L4) == esp::UDP_ENCAP_PORT || be16(h, L4 + 2) == esp::UDP_ENCAP_PORT {
        return None;
    }
    // The UDP checksum before the header and address checks, while little
    // else is live across the kernel call (fewer registers saved around
    // it: the fields below are read again after it); any failure here or
    // below gives None, so the order of the checks does not matter.
    if verify_l4_checksum && be16(h, L4 + 6) != 0 {
        let seg = frame.get(L4..L4 + ulen)?;
        // The pseudo-header as the wire holds it (addresses, protocol word,
        // the UDP length field again), in native-endian words.
        let ne32 = |at: usize| u64::from(u32::from_ne_bytes([h[at], h[at + 1], h[at + 2], h[at + 3]]));
        let pseudo = ne32(L3 + 12) + ne32(L3 + 16) + u64::from(u16::from_ne_bytes([h[L4 + 4], h[L4 + 5]]));
        if !checksum::data_ne_plus_ok(seg, pseudo + checksum::ne_word_lo(ip_proto::UDP)) {
            return None;
        }
    }
    let h = frame.first_chunk::<{ L4 + udp::HEADER_LEN }>()?;
    let tl = be16(h, L3 + 2) as usize;
    let ulen = be16(h, L4 + 4) as usize;
    let (src_port, dst_port) = (be16(h, L4), be16(h, L4 + 2));
    let ip: &[u8; ipv4::HEADER_LEN] = h[L3..L4].try_into().ok()?;
    if !checksum::ipv4_header20_ok(ip) || be16(ip, 6) & 0x3fff != 0 {
        return None;
    }
    // The addresses as the wire holds them: `bad_src_v4`/`bad_dst_v4`
    // asked of the bytes (all-zero, all-ones and the first octet do not
    // depend on byte order), and `Ipv4Addr` built from the bytes, with no
    // byte swap.
    let sb = [ip[12], ip[13], ip[14], ip[15]];
    let db = [ip[16], ip[17], ip[18], ip[19]];
    let (s_ne, d_ne) = (u32::from_ne_bytes(sb), u32::from_ne_bytes(db));
    let bad_src = s_ne == 0 || s_ne == u32::MAX || sb[0] == 127 || sb[0] >> 4 == 0xe;
    let bad_dst = d_ne == 0 || db[0] == 127;
    if bad_src || bad_dst {
        return None;
    }
    Some(Parsed {
        l3: L3::V4,
        proto: ip_proto::UDP,
        ttl: ip[8],
        encap: Encap::None,
        l2_len: L3 as u16,
        ethertype: ethernet::ethertype::IPV4,
        vlan: [None, None],
        l3_off: L3 as u16,
        l3_len: ipv4::HEADER_LEN as u16,
        l4_off: L4 as u16,
        l4_len: (tl - ipv4::HEADER_LEN) as u16,
        src_port,
        dst_port,
        payload_off: (L4 + udp::HEADER_LEN) as u16,
        payload_len: (ulen - udp::HEADER_LEN) as u16,
        spi: 0,
        seq: 0,
        src: IpAddr::V4(Ipv4Addr::from(sb)),
        dst: IpAddr::V4(Ipv4Addr::from(db)),
    })
}

/// [`parse_frame`] for every kind of frame.
///
/// Callers that already tried [`parse_ipv4_udp`] use it directly, so a
/// frame that path refuses is not parsed (and summed) by it a second time.
#[inline(never)]
pub fn parse_frame_general(
    frame: &[u8],
    verify_l4_checksum: bool,
) -> core::result::Result<Parsed, DropReason> {
    if frame.len() > u16::MAX as usize {
        return Err(DropReason::Oversized);
    }
    if frame.len() < ethernet::HEADER_LEN {
        return Err(DropReason::EthTruncated);
    }
    let mut l2 = ethernet::HEADER_LEN;
    let mut ethertype = be16(frame, 12);
    let mut vlan = [None, None];
    if is_tag(ethertype) {
        if frame.len() < l2 + 4 {
            return Err(DropReason::EthTruncated);
        }
        vlan[0] = Some(be16(frame, 14) & 0x0fff);
        ethertype = be16(frame, 16);
        l2 += 4;
        if is_tag(ethertype) {
            if frame.len() < l2 + 4 {
                return Err(DropReason::EthTruncated);
            }
            vlan[1] = Some(be16(frame, 18) & 0x0fff);
            ethertype = be16(frame, 20);
            l2 += 4;
            if is_tag(ethertype) {
                return Err(DropReason::EthTooManyTags);
            }
        }
    }
    let rest = &frame[l2..];
    let l3 = match ethertype {
        ethernet::ethertype::IPV4 => parse_ipv4(rest)?,
        ethernet::ethertype::IPV6 => parse_ipv6(rest)?,
        ethernet::ethertype::ARP => return parse_arp(rest, l2, ethertype, vlan),
        _ => return Err(DropReason::EthUnsupportedType),
    };
    let l4_off = l2 + l3.hdr_len;
    let l4 = &rest[l3.hdr_len..l3.hdr_len + l3.l4_len];
    let mut p = Parsed {
        l3: l3.kind,
        proto: l3.proto,
        ttl: l3.ttl,
        encap: Encap::None,
        l2_len: l2 as u16,
        ethertype,
        vlan,
        l3_off: l2 as u16,
        l3_len: l3.hdr_len as u16,
        l4_off: l4_off as u16,
        l4_len: l3.l4_len as u16,
        src_port: 0,
        dst_port: 0,
        payload_off: 0,
        payload_len: 0,
        spi: 0,
        seq: 0,
        src: l3.src,
        dst: l3.dst,
    };
    match l3.proto {
        ip_proto::UDP => {
            if l4.len() < udp::HEADER_LEN {
                return Err(DropReason::UdpMalformed);
            }
            let ulen = be16(l4, 4) as usize;
            if ulen < udp::HEADER_LEN || ulen > l4.len() {
                return Err(DropReason::UdpMalformed);
            }
            let csum = be16(l4, 6);
            if csum == 0 {
                if l3.kind == L3::V6 {
                    return Err(DropReason::UdpBadChecksum);
                }
            } else if verify_l4_checksum
                && checksum::combine(&[
                    l3.addr_sum,
                    ulen as u16,
                    ip_proto::UDP as u16,
                    checksum::data(&l4[..ulen]),
                ]) != 0xffff
            {
                return Err(DropReason::UdpBadChecksum);
            }
            p.src_port = be16(l4, 0);
            p.dst_port = be16(l4, 2);
            p.payload_off = (l4_off + udp::HEADER_LEN) as u16;
            p.payload_len = (ulen - udp::HEADER_LEN) as u16;
            if p.src_port == esp::UDP_ENCAP_PORT || p.dst_port == esp::UDP_ENCAP_PORT {
                match esp::classify_udp_encap(&l4[udp::HEADER_LEN..ulen]) {
                    Ok(esp::UdpEncap::Esp(e)) => {
                        p.encap = Encap::Esp;
                        p.spi = be32(e, 0);
                        p.seq = be32(e, 4);
                    }
                    Ok(esp::UdpEncap::NonEsp(_)) => p.encap = Encap::NonEsp,
                    Ok(esp::UdpEncap::Keepalive) => p.encap = Encap::Keepalive,
                    Err(_) => return Err(DropReason::EspTruncated),
                }
            }
        }
        ip_proto::TCP => {
            if l4.len() < tcp::HEADER_LEN {
                return Err(DropReason::TcpMalformed);
            }
            let hl = ((l4[12] >> 4) as usize) * 4;
            if hl < tcp::HEADER_LEN || hl > l4.len() {
                return Err(DropReason::TcpMalformed);
            }
            if verify_l4_checksum {
                let len = l4.len() as u32;
                let ph =
                    checksum::combine(&[l3.addr_sum, (len >> 16) as u16, len as u16, ip_proto::TCP as u16]);
                if checksum::combine(&[ph, checksum::data(l4)]) != 0xffff {
                    return Err(DropReason::TcpBadChecksum);
                }
            }
            p.src_port = be16(l4, 0);
            p.dst_port = be16(l4, 2);
            p.payload_off = (l4_off + hl) as u16;
            p.payload_len = (l4.len() - hl) as u16;
        }
        ip_proto::ESP => {
            if l4.len() < esp::HEADER_LEN {
                return Err(DropReason::EspTruncated);
            }
            p.spi = be32(l4, 0);
            p.seq = be32(l4, 4);
            p.payload_off = (l4_off + esp::HEADER_LEN) as u16;
            p.payload_len = (l4.len() - esp::HEADER_LEN) as u16;
        }
        ndp::ICMPV6 if l3.kind == L3::V6 => return ndp::classify(frame, p),
        _ => return Err(DropReason::UnsupportedProtocol),
    }
    Ok(p)
}

/// What the network layer hands the transport layer.
struct L3Info {
    kind: L3,
    proto: u8,
    ttl: u8,
    /// Header length (IPv4 options / IPv6 extension headers included).
    hdr_len: usize,
    /// Upper-layer length from the IP length fields.
    l4_len: usize,
    /// Folded sum of source and destination addresses (pseudo-header part).
    addr_sum: u16,
    src: IpAddr,
    dst: IpAddr,
}

#[inline(always)]
fn parse_ipv4(b: &[u8]) -> core::result::Result<L3Info, DropReason> {
    if b.len() < ipv4::HEADER_LEN {
        return Err(DropReason::Ipv4Malformed);
    }
    let vihl = b[0];
    let hl = ((vihl & 0x0f) as usize) * 4;
    let tl = be16(b, 2) as usize;
    if vihl >> 4 != 4 || hl < ipv4::HEADER_LEN || tl < hl || tl > b.len() {
        return Err(DropReason::Ipv4Malformed);
    }
    let hdr = &b[..hl];
    if hl > ipv4::HEADER_LEN && ipv4::check_options(&hdr[ipv4::HEADER_LEN..]).is_err() {
        return Err(DropReason::Ipv4BadOptions);
    }
    if checksum::ipv4_header(hdr) != 0xffff {
        return Err(DropReason::Ipv4BadChecksum);
    }
    if be16(hdr, 6) & 0x3fff != 0 {
        return Err(DropReason::Ipv4Fragment);
    }
    let s = be32(hdr, 12);
    let d = be32(hdr, 16);
    if bad_src_v4(s) || bad_dst_v4(d) {
        return Err(DropReason::BadAddress);
    }
    Ok(L3Info {
        kind: L3::V4,
        proto: hdr[9],
        ttl: hdr[8],
        hdr_len: hl,
        l4_len: tl - hl,
        addr_sum: checksum::fold_words(&[s >> 16, s & 0xffff, d >> 16, d & 0xffff]),
        src: IpAddr::V4(Ipv4Addr::from(s)),
        dst: IpAddr::V4(Ipv4Addr::from(d)),
    })
}

#[inline(always)]
fn parse_ipv6(b: &[u8]) -> core::result::Result<L3Info, DropReason> {
    if b.len() < ipv6::HEADER_LEN || b[0] >> 4 != 6 {
        return Err(DropReason::Ipv6Malformed);
    }
    let end = ipv6::HEADER_LEN + be16(b, 4) as usize;
    if end > b.len() {
        return Err(DropReason::Ipv6Malformed);
    }
    let pkt = ipv6::Packet::new_unchecked(&b[..end]);
    let ul = match pkt.upper_layer() {
        Ok(ul) => ul,
        Err(Error::Fragment) => return Err(DropReason::Ipv6Fragment),
        Err(_) => return Err(DropReason::Ipv6BadExtHeader),
    };
    let mut sb = [0u8; 16];
    sb.copy_from_slice(&b[8..24]);
    let mut db = [0u8; 16];
    db.copy_from_slice(&b[24..40]);
    let (s, d) = (u128::from_be_bytes(sb), u128::from_be_bytes(db));
    // Duplicate address detection sends Neighbor Solicitations from the
    // unspecified address (checked further by `ndp::classify`).
    let dad = s == 0 && ul.protocol == ndp::ICMPV6;
    if (bad_src_v6(s) && !dad) || bad_dst_v6(d) {
        return Err(DropReason::BadAddress);
    }
    Ok(L3Info {
        kind: L3::V6,
        proto: ul.protocol,
        ttl: b[7],
        hdr_len: ul.offset,
        l4_len: end - ul.offset,
        addr_sum: checksum::data(&b[8..40]),
        src: IpAddr::V6(Ipv6Addr::from(s)),
        dst: IpAddr::V6(Ipv6Addr::from(d)),
    })
}

#[cold]
fn parse_arp(
    b: &[u8],
    l2: usize,
    ethertype: u16,
    vlan: [Option<u16>; 2],
) -> core::result::Result<Parsed, DropReason> {
    let pkt = arp::Packet::new_checked(b).map_err(|_| DropReason::EthTruncated)?;
    if !pkt.is_ethernet_ipv4() {
        return Err(DropReason::EthUnsupportedType);
    }
    Ok(Parsed {
        l3: L3::Arp,
        proto: 0,
        ttl: 0,
        encap: Encap::None,
        l2_len: l2 as u16,
        ethertype,
        vlan,
        l3_off: l2 as u16,
        l3_len: arp::PACKET_LEN as u16,
        l4_off: (l2 + arp::PACKET_LEN) as u16,
        l4_len: 0,
        src_port: 0,
        dst_port: 0,
        payload_off: (l2 + arp::PACKET_LEN) as u16,
        payload_len: 0,
        spi: 0,
        seq: 0,
        src: IpAddr::V4(pkt.source_ip()),
        dst: IpAddr::V4(pkt.target_ip()),
    })
}

/// Turn an ARP request in `frame` (classified as [`L3::Arp`]) into our
/// reply, in place, if `is_ours` says its target IP is one of ours. Returns
/// the length to transmit (padded with zeros to the 60-byte Ethernet minimum
/// where the frame has room), or `None` if there is nothing to answer.
#[inline]
pub fn arp_reply_in_place(
    frame: &mut [u8],
    p: &Parsed,
    our_mac: MacAddr,
    is_ours: impl FnOnce(Ipv4Addr) -> bool,
) -> Option<usize> {
    if p.l3 != L3::Arp {
        return None;
    }
    let l2 = p.l2_len as usize;
    let end = l2 + arp::PACKET_LEN;
    let mut pkt = arp::Packet::new_checked(frame.get_mut(l2..end)?).ok()?;
    let req = arp::Repr::parse(&pkt).ok()?;
    if !is_ours(req.target_ip) {
        return None;
    }
    let rep = req.reply(our_mac)?;
    rep.emit(&mut pkt).ok()?;
    let mut eth = ethernet::Packet::new_unchecked(&mut *frame);
    eth.set_dst_addr(req.source_mac);
    eth.set_src_addr(our_mac);
    let len = end.max(60).min(frame.len());
    if let Some(pad) = frame.get_mut(end..len) {
        pad.fill(0);
    }
    Some(len)
}

/// Everything needed to write the Ethernet, IP and UDP headers of an
/// outgoing datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeadersRepr {
    /// Ethernet source.
    pub eth_src: MacAddr,
    /// Ethernet destination.
    pub eth_dst: MacAddr,
    /// VLAN tags to emit, as TCI values (see [`ethernet::Repr::tags`]).
    /// [`rewrite_udp_in_place`] ignores this and keeps the frame's tags.
    pub vlan: [Option<u16>; 2],
    /// IP source (same family as `dst`).
    pub src: IpAddr,
    /// IP destination.
    pub dst: IpAddr,
    /// TTL or hop limit.
    pub hop_limit: u8,
    /// UDP source port.
    pub src_port: u16,
    /// UDP destination port.
    pub dst_port: u16,
}

impl HeadersRepr {
    /// The headers of a received datagram as they are (MACs, tags with
    /// their PCP, addresses, TTL, ports), to be edited into the outgoing
    /// ones. `None` if `frame` is not what `p` describes.
    #[inline]
    pub fn from_parsed(frame: &[u8], p: &Parsed) -> Option<HeadersRepr> {
        let eth = ethernet::Packet::new_checked(frame).ok()?;
        Some(HeadersRepr {
            eth_src: eth.src_addr(),
            eth_dst: eth.dst_addr(),
            vlan: [eth.vlan_tci(0), eth.vlan_tci(1)],
            src: p.src,
            dst: p.dst,
            hop_limit: p.ttl,
            src_port: p.src_port,
            dst_port: p.dst_port,
        })
    }

    /// Offset of the IP header.
    #[inline]
    pub fn l3_offset(&self) -> usize {
        ethernet::HEADER_LEN
            + (self.vlan[0].is_some() as usize + self.vlan[1].is_some() as usize) * ethernet::VLAN_TAG_LEN
    }

    /// IP header length (20 or 40; none of ours carry options).
    #[inline]
    pub fn ip_header_len(&self) -> usize {
        if self.src.is_ipv4() {
            ipv4::HEADER_LEN
        } else {
            ipv6::HEADER_LEN
        }
    }

    /// Offset of the UDP payload: the length [`HeadersRepr::emit_udp`] writes.
    #[inline]
    pub fn udp_header_len(&self) -> usize {
        self.l3_offset() + self.ip_header_len() + udp::HEADER_LEN
    }

    /// Write the Ethernet and IP headers into the front of `buf` for an
    /// upper layer of `l4_len` bytes with protocol `protocol`; returns the L4
    /// offset. [`Error::Unsupported`] for mixed address families,
    /// [`Error::Truncated`] if `buf` cannot hold the headers and `l4_len`,
    /// [`Error::Malformed`] if the IP length field would overflow.
    #[inline]
    pub fn emit_ip(&self, buf: &mut [u8], protocol: u8, l4_len: usize) -> Result<usize> {
        let l3 = self.l3_offset();
        let l4 = l3 + self.ip_header_len();
        if buf.len() < l4.saturating_add(l4_len) {
            return Err(Error::Truncated);
        }
        let ethertype = match (self.src, self.dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                let r = ipv4::Repr {
                    src_addr: s,
                    dst_addr: d,
                    protocol,
                    payload_len: l4_len,
                    ttl: self.hop_limit,
                };
                r.emit(&mut buf[l3..])?;
                ethernet::ethertype::IPV4
            }
            (IpAddr::V6(s), IpAddr::V6(d)) => {
                let r = ipv6::Repr {
                    src_addr: s,
                    dst_addr: d,
                    next_header: protocol,
                    payload_len: l4_len,
                    hop_limit: self.hop_limit,
                };
                r.emit(&mut buf[l3..])?;
                ethernet::ethertype::IPV6
            }
            _ => return Err(Error::Unsupported),
        };
        ethernet::Repr {
            src: self.eth_src,
            dst: self.eth_dst,
            tags: self.vlan,
            ethertype,
        }
        .emit(buf)?;
        Ok(l4)
    }

    /// Write Ethernet, IP and UDP headers into the front of `buf`, in front
    /// of the `payload_len` payload bytes that must already sit at
    /// `buf[self.udp_header_len()..]`, with lengths and both checksums
    /// filled (the UDP checksum over the whole payload). Returns the header
    /// length. Errors as [`HeadersRepr::emit_ip`].
    #[inline]
    pub fn emit_udp(&self, buf: &mut [u8], payload_len: usize) -> Result<usize> {
        let l4 = self.emit_ip(buf, ip_proto::UDP, udp::HEADER_LEN.saturating_add(payload_len))?;
        let r = udp::Repr {
            src_port: self.src_port,
            dst_port: self.dst_port,
        };
        r.emit(&mut buf[l4..], payload_len, &self.src, &self.dst)?;
        Ok(l4 + udp::HEADER_LEN)
    }
}

/// Rewrite, in place, the headers of a UDP datagram that `p` describes and
/// whose payload (still at `p.payload_off`) is now `new_payload_len` bytes:
/// new MACs, addresses, ports and TTL/hop limit from `h`, new IP and UDP
/// lengths, the IPv4 header checksum updated incrementally (RFC 1624) and
/// the UDP checksum recomputed. VLAN tags, IPv4 options, DSCP and IPv6
/// extension headers are kept as received (use [`HeadersRepr::emit_udp`] to
/// change the layout). Returns the new frame length, `p.payload_off +
/// new_payload_len`; the caller sizes the buffer to it.
///
/// Errors: [`Error::Unsupported`] if `p` is not UDP over IP or `h` is of
/// another address family, [`Error::Truncated`] if `frame` is shorter than
/// the new length or than `p` says, [`Error::Malformed`] if a length field
/// would overflow.
pub fn rewrite_udp_in_place(
    frame: &mut [u8],
    p: &Parsed,
    h: &HeadersRepr,
    new_payload_len: usize,
) -> Result<usize> {
    if !p.is_udp() {
        return Err(Error::Unsupported);
    }
    let l3_off = p.l3_off as usize;
    let l4_off = p.l4_off as usize;
    let udp_len = udp::HEADER_LEN.saturating_add(new_payload_len);
    let new_len = l4_off.saturating_add(udp_len);
    if frame.len() < new_len || l4_off < l3_off {
        return Err(Error::Truncated);
    }
    let ip = &mut frame[l3_off..l4_off];
    match (p.l3, h.src, h.dst) {
        (L3::V4, IpAddr::V4(s), IpAddr::V4(d)) => {
            let total = ip.len().saturating_add(udp_len);
            if total > u16::MAX as usize {
                return Err(Error::Malformed);
            }
            let Some(fixed) = ip.get_mut(..ipv4::HEADER_LEN) else {
                return Err(Error::Truncated);
            };
            let mut old = [0u8; ipv4::HEADER_LEN];
            old.copy_from_slice(fixed);
            let mut v = ipv4::Packet::new_unchecked(fixed);
            v.set_ttl(h.hop_limit);
            v.set_total_len(total as u16);
            v.set_src_addr(s);
            v.set_dst_addr(d);
            let c = ipv4::Packet::new_unchecked(&old[..]).checksum();
            let c = checksum::update(c, &old[..10], &v.into_inner()[..10]);
            let fixed = &mut ip[..ipv4::HEADER_LEN];
            let c = checksum::update(c, &old[12..], &fixed[12..]);
            ipv4::Packet::new_unchecked(fixed).set_checksum(c);
        }
        (L3::V6, IpAddr::V6(s), IpAddr::V6(d)) => {
            let Some(ext_len) = ip.len().checked_sub(ipv6::HEADER_LEN) else {
                return Err(Error::Truncated);
            };
            let payload = ext_len.saturating_add(udp_len);
            if payload > u16::MAX as usize {
                return Err(Error::Malformed);
            }
            let mut v = ipv6::Packet::new_unchecked(ip);
            v.set_hop_limit(h.hop_limit);
            v.set_payload_len(payload as u16);
            v.set_src_addr(s);
            v.set_dst_addr(d);
        }
        _ => return Err(Error::Unsupported),
    }
    let mut eth = ethernet::Packet::new_unchecked(&mut *frame);
    eth.set_src_addr(h.eth_src);
    eth.set_dst_addr(h.eth_dst);
    let mut u = udp::Packet::new_unchecked(&mut frame[l4_off..new_len]);
    u.set_src_port(h.src_port);
    u.set_dst_port(h.dst_port);
    u.set_len(udp_len as u16);
    u.fill_checksum(&h.src, &h.dst);
    Ok(new_len)
}

#[cfg(test)]
mod tests;
