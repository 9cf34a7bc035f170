//! Transport-mode ESP (RFC 4303) decapsulation and encapsulation, in place,
//! on any [`Buf`], for IPv4 and IPv6 carrying UDP or TCP.
//!
//! Decap order: SPI lookup, anti-replay pre-check, ICV verification (before
//! anything looks at the ciphertext), decryption, anti-replay update,
//! padding and next-header checks, inner-port check against the SA, then the
//! rewrite: the IP header slides forward over the ESP header and IV (the
//! headroom grows back), the trailer and ICV are trimmed (the tailroom grows
//! back), and protocol/next header, lengths and the IPv4 header checksum are
//! fixed. Encap is the mirror image, using headroom and tailroom.
//!
//! UDP-encapsulated ESP (RFC 3948, UDP port 4500) is recognised and refused
//! with [`DropReason::EspUdpEncapUnsupported`]: 33.203's UDP-enc-tun mode is
//! tunnel mode behind NAT, which this data plane does not implement.
//!
//! Must never: panic on any input (every failure is a [`DropReason`]),
//! allocate, or let a packet whose ICV failed out of this module.

use super::crypto::{EspCrypto, OpenError, ESP_HDR_LEN};
use super::replay::ReplayError;
use super::sa::{InboundSa, OutboundSa};
use crate::buf::Buf;
use crate::counters::DropReason;

/// IP protocol number of ESP.
pub const IPPROTO_ESP: u8 = 50;
/// UDP port of RFC 3948 UDP-encapsulated ESP.
pub const NAT_T_PORT: u16 = 4500;

/// What the IP layer told us about a packet.
#[derive(Clone, Copy, Debug)]
struct IpInfo {
    v6: bool,
    /// Absolute offset of the byte that holds the protocol / next header of
    /// the payload after the IP header chain.
    proto_off: usize,
    proto: u8,
    /// Absolute offset of the payload (ESP or transport header).
    l4_off: usize,
    /// Absolute end of the IP packet.
    ip_end: usize,
}

#[inline]
fn be16(d: &[u8], o: usize) -> u16 {
    u16::from_be_bytes([d[o], d[o + 1]])
}

fn parse_ip(d: &[u8], l3: usize) -> Result<IpInfo, DropReason> {
    let first = *d.get(l3).ok_or(DropReason::Ipv4Malformed)?;
    match first >> 4 {
        4 => {
            if d.len() < l3 + 20 {
                return Err(DropReason::Ipv4Malformed);
            }
            let ihl = (first & 0x0f) as usize * 4;
            let total = be16(d, l3 + 2) as usize;
            if ihl < 20 || total < ihl || l3 + total > d.len() {
                return Err(DropReason::Ipv4Malformed);
            }
            let frag = be16(d, l3 + 6);
            if frag & 0x3fff != 0 {
                return Err(DropReason::Ipv4Fragment);
            }
            Ok(IpInfo {
                v6: false,
                proto_off: l3 + 9,
                proto: d[l3 + 9],
                l4_off: l3 + ihl,
                ip_end: l3 + total,
            })
        }
        6 => {
            if d.len() < l3 + 40 {
                return Err(DropReason::Ipv6Malformed);
            }
            let ip_end = l3 + 40 + be16(d, l3 + 4) as usize;
            if ip_end > d.len() {
                return Err(DropReason::Ipv6Malformed);
            }
            let mut proto_off = l3 + 6;
            let mut off = l3 + 40;
            for _ in 0..8 {
                match d[proto_off] {
                    // Hop-by-hop, routing, destination options.
                    0 | 43 | 60 => {
                        if off + 8 > ip_end {
                            return Err(DropReason::Ipv6BadExtHeader);
                        }
                        proto_off = off;
                        off += (d[off + 1] as usize + 1) * 8;
                        if off > ip_end {
                            return Err(DropReason::Ipv6BadExtHeader);
                        }
                    }
                    44 => return Err(DropReason::Ipv6Fragment),
                    p => {
                        return Ok(IpInfo {
                            v6: true,
                            proto_off,
                            proto: p,
                            l4_off: off,
                            ip_end,
                        })
                    }
                }
            }
            Err(DropReason::Ipv6BadExtHeader)
        }
        _ => Err(DropReason::Ipv4Malformed),
    }
}

/// RFC 1071 checksum of an IPv4 header (checksum field included as is).
fn ipv4_header_checksum(h: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for c in h.chunks(2) {
        let w = if c.len() == 2 {
            u16::from_be_bytes([c[0], c[1]])
        } else {
            (c[0] as u16) << 8
        };
        sum += w as u32;
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Rewrite the IP header(s) of a packet at `l3` whose payload changed by
/// `delta` bytes and whose payload protocol is now `proto`.
fn fix_ip(d: &mut [u8], l3: usize, ip: &IpInfo, proto: u8, new_len: usize) -> Result<(), DropReason> {
    d[ip.proto_off] = proto;
    if ip.v6 {
        let plen = new_len.checked_sub(40).ok_or(DropReason::Ipv6Malformed)?;
        let plen = u16::try_from(plen).map_err(|_| DropReason::Oversized)?;
        d[l3 + 4..l3 + 6].copy_from_slice(&plen.to_be_bytes());
    } else {
        let total = u16::try_from(new_len).map_err(|_| DropReason::Oversized)?;
        d[l3 + 2..l3 + 4].copy_from_slice(&total.to_be_bytes());
        let ihl = (d[l3] & 0x0f) as usize * 4;
        d[l3 + 10] = 0;
        d[l3 + 11] = 0;
        let c = ipv4_header_checksum(&d[l3..l3 + ihl]);
        d[l3 + 10..l3 + 12].copy_from_slice(&c.to_be_bytes());
    }
    Ok(())
}

/// Whether the IP packet at `l3` is RFC 3948 UDP-encapsulated ESP (UDP to or
/// from port 4500, not the one-byte NAT keepalive and not a non-ESP marker).
pub fn is_udp_encap(d: &[u8], l3: usize) -> bool {
    let Ok(ip) = parse_ip(d, l3) else { return false };
    if ip.proto != 17 || ip.l4_off + 8 > ip.ip_end {
        return false;
    }
    let (sp, dp) = (be16(d, ip.l4_off), be16(d, ip.l4_off + 2));
    if sp != NAT_T_PORT && dp != NAT_T_PORT {
        return false;
    }
    let body = &d[ip.l4_off + 8..ip.ip_end];
    let keepalive = body == [0xff];
    let non_esp_marker = body.len() >= 4 && body[..4] == [0, 0, 0, 0];
    !keepalive && !non_esp_marker
}

/// The SPI of the ESP packet at `l3`, for the table lookup.
pub fn peek_spi(d: &[u8], l3: usize) -> Result<u32, DropReason> {
    let ip = parse_ip(d, l3)?;
    if ip.proto != IPPROTO_ESP {
        return Err(if is_udp_encap(d, l3) {
            DropReason::EspUdpEncapUnsupported
        } else {
            DropReason::UnsupportedProtocol
        });
    }
    if ip.l4_off + ESP_HDR_LEN > ip.ip_end {
        return Err(DropReason::EspTruncated);
    }
    let o = ip.l4_off;
    Ok(u32::from_be_bytes([d[o], d[o + 1], d[o + 2], d[o + 3]]))
}

/// The lookup-miss path: an SPI that is not in the inbound table.
#[inline]
pub fn unknown_spi(_spi: u32) -> DropReason {
    DropReason::EspUnknownSpi
}

/// A successfully decapsulated packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decapped {
    /// SPI it arrived on.
    pub spi: u32,
    /// Its sequence number.
    pub seq: u32,
    /// The inner protocol (6 or 17).
    pub next_header: u8,
    /// Offset of the transport header in the rewritten buffer.
    pub l4_off: usize,
}

/// Decapsulate the transport-mode ESP packet whose IP header starts at `l3`
/// in `buf`, in place. `lookup` maps the SPI to its inbound SA.
///
/// On success the buffer holds the plain IP packet (link-layer bytes before
/// `l3` kept, link-layer padding after the IP packet removed). On failure
/// the buffer content is unspecified and the packet must be dropped with
/// the returned reason.
pub fn decap<'a, B: Buf + ?Sized>(
    buf: &mut B,
    l3: usize,
    lookup: impl FnOnce(u32) -> Option<&'a InboundSa>,
) -> Result<(Decapped, &'a InboundSa), DropReason> {
    let spi = peek_spi(buf.data(), l3)?;
    let sa = lookup(spi).ok_or_else(|| unknown_spi(spi))?;
    match decap_sa(buf, l3, sa) {
        Ok(d) => {
            sa.stats.ok(buf.len());
            Ok((d, sa))
        }
        Err(e) => {
            sa.stats.drop();
            Err(e)
        }
    }
}

fn replay_reason(e: ReplayError) -> DropReason {
    match e {
        ReplayError::Replay => DropReason::EspReplay,
        ReplayError::TooOld => DropReason::EspTooOld,
    }
}

/// Decapsulate with a known SA (the SPI is not checked against it).
pub fn decap_sa<B: Buf + ?Sized>(buf: &mut B, l3: usize, sa: &InboundSa) -> Result<Decapped, DropReason> {
    let ip = parse_ip(buf.data(), l3)?;
    if ip.proto != IPPROTO_ESP {
        return Err(DropReason::UnsupportedProtocol);
    }
    let crypto = &sa.crypto;
    let (iv_len, icv_len) = (crypto.iv_len(), crypto.icv_len());
    let esp = ip.l4_off;
    let esp_len = ip.ip_end - esp;
    if esp_len < ESP_HDR_LEN + iv_len + 2 + icv_len {
        return Err(DropReason::EspTruncated);
    }
    let d = buf.data_mut();
    let spi = u32::from_be_bytes([d[esp], d[esp + 1], d[esp + 2], d[esp + 3]]);
    let seq = u32::from_be_bytes([d[esp + 4], d[esp + 5], d[esp + 6], d[esp + 7]]);
    sa.replay.check(seq).map_err(replay_reason)?;
    crypto.open(&mut d[esp..ip.ip_end]).map_err(|e| match e {
        OpenError::BadIcv => DropReason::EspBadIcv,
        OpenError::Truncated => DropReason::EspTruncated,
        OpenError::BadLength => DropReason::EspBadLength,
    })?;
    sa.replay.accept(seq).map_err(replay_reason)?;

    // Trailer (RFC 4303 §2.4–2.6).
    let pt = esp + ESP_HDR_LEN + iv_len;
    let pt_end = ip.ip_end - icv_len;
    let nh = d[pt_end - 1];
    let pad = d[pt_end - 2] as usize;
    if pad + 2 > pt_end - pt {
        return Err(DropReason::EspBadPadding);
    }
    let pad_start = pt_end - 2 - pad;
    if d[pad_start..pt_end - 2]
        .iter()
        .enumerate()
        .any(|(i, &b)| b as usize != i + 1)
    {
        return Err(DropReason::EspBadPadding);
    }
    let min_l4 = match nh {
        17 => 8,
        6 => 20,
        _ => return Err(DropReason::EspBadNextHeader),
    };
    if pad_start - pt < min_l4 {
        return Err(DropReason::EspTruncated);
    }
    let (sport, dport) = (be16(d, pt), be16(d, pt + 2));
    if sport != sa.ue_port || dport != sa.pcscf_port {
        return Err(DropReason::EspPortMismatch);
    }

    // Rewrite: IP length and protocol, then slide the headers forward.
    let hdr_rm = ESP_HDR_LEN + iv_len;
    let new_ip_len = pad_start - l3 - hdr_rm;
    fix_ip(d, l3, &ip, nh, new_ip_len)?;
    d.copy_within(0..esp, hdr_rm);
    let tail_rm = buf.len() - pad_start;
    buf.trim(tail_rm).map_err(|_| DropReason::EspTruncated)?;
    buf.adj(hdr_rm).map_err(|_| DropReason::EspTruncated)?;
    Ok(Decapped {
        spi,
        seq,
        next_header: nh,
        l4_off: esp,
    })
}

/// A successfully encapsulated packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Encapped {
    /// The sequence number used.
    pub seq: u32,
    /// Offset of the ESP header in the rewritten buffer.
    pub esp_off: usize,
}

/// Encapsulate the IP packet (carrying UDP or TCP) whose header starts at
/// `l3` in `buf`, in place, with the outbound SA `sa`.
///
/// Fails with [`DropReason::EspSeqOverflow`] once the SA's sequence space is
/// used up (the SA then reports [`OutboundSa::is_exhausted`]), with
/// [`DropReason::Oversized`] when the result would not fit, and with
/// [`DropReason::UnsupportedProtocol`] for payloads other than UDP or TCP.
pub fn encap<B: Buf + ?Sized>(buf: &mut B, l3: usize, sa: &OutboundSa) -> Result<Encapped, DropReason> {
    match encap_inner(buf, l3, sa) {
        Ok(e) => {
            sa.stats.ok(buf.len());
            Ok(e)
        }
        Err(e) => {
            sa.stats.drop();
            Err(e)
        }
    }
}

fn encap_inner<B: Buf + ?Sized>(buf: &mut B, l3: usize, sa: &OutboundSa) -> Result<Encapped, DropReason> {
    let ip = parse_ip(buf.data(), l3)?;
    if ip.proto != 6 && ip.proto != 17 {
        return Err(DropReason::UnsupportedProtocol);
    }
    let crypto = &sa.crypto;
    let (iv_len, icv_len, bs) = (crypto.iv_len(), crypto.icv_len(), crypto.block_size());
    let payload = ip.ip_end - ip.l4_off;
    let pad = (bs - (payload + 2) % bs) % bs;
    let hdr = ESP_HDR_LEN + iv_len;
    let tail = pad + 2 + icv_len;
    let extra = buf.len() - ip.ip_end;
    if buf.headroom() < hdr || buf.tailroom() + extra < tail {
        return Err(DropReason::Oversized);
    }
    let new_ip_len = ip.ip_end - l3 + hdr + tail;
    if new_ip_len > u16::MAX as usize + if ip.v6 { 40 } else { 0 } {
        return Err(DropReason::Oversized);
    }
    let seq = sa.next_seq().ok_or(DropReason::EspSeqOverflow)?;

    buf.trim(extra).map_err(|_| DropReason::Oversized)?;
    buf.insert_front(ip.l4_off, hdr)
        .map_err(|_| DropReason::Oversized)?;
    buf.append(tail).map_err(|_| DropReason::Oversized)?;
    let d = buf.data_mut();
    let esp = ip.l4_off;
    d[esp..esp + 4].copy_from_slice(&sa.spi.to_be_bytes());
    d[esp + 4..esp + 8].copy_from_slice(&seq.to_be_bytes());
    crypto.write_iv(seq as u64, &mut d[esp + ESP_HDR_LEN..esp + hdr]);
    let t = esp + hdr + payload;
    for (i, b) in d[t..t + pad].iter_mut().enumerate() {
        *b = i as u8 + 1;
    }
    d[t + pad] = pad as u8;
    d[t + pad + 1] = ip.proto;
    fix_ip(d, l3, &ip, IPPROTO_ESP, new_ip_len)?;
    let end = t + pad + 2 + icv_len;
    crypto.seal(&mut d[esp..end]).map_err(|_| DropReason::Oversized)?;
    Ok(Encapped { seq, esp_off: esp })
}

#[cfg(test)]
mod tests;
