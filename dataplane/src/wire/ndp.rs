//! IPv6 Neighbor Discovery, the part a host needs so that the router in
//! front of a port can find our MAC address: answering a Neighbor
//! Solicitation for one of our addresses with a Neighbor Advertisement
//! (RFC 4861 §7.1.1 validation, §7.2.4 response). The IPv4 counterpart is
//! ARP ([`super::arp_reply_in_place`]).
//!
//! Owns: `classify` (called by `parse_frame` for ICMPv6) and
//! [`advert_in_place`].
//!
//! Must never: answer a solicitation that fails any validity check, answer
//! for an address that is not ours, or panic on any input.

use core::net::{IpAddr, Ipv6Addr};

use super::{checksum, ethernet, ipv6, MacAddr, Parsed, L3};
use crate::counters::DropReason;

/// ICMPv6 (RFC 8200 next header value).
pub const ICMPV6: u8 = 58;
const NS: u8 = 135;
const NA: u8 = 136;
/// ICMPv6 part of a solicitation or an advertisement without options.
const ND_LEN: usize = 24;
/// Bytes from the IPv6 header to the end of our advertisement (one Target
/// Link-Layer Address option).
pub const ADVERT_L3_LEN: usize = ipv6::HEADER_LEN + ND_LEN + 8;

/// Classify an ICMPv6 message whose IPv6 header is `ip` (no extension
/// headers are allowed in ND: `l4_off` must be right behind it): a valid
/// Neighbor Solicitation becomes [`L3::Ndp`], with `src` the IP source and
/// `dst` the target address; any other ICMPv6 message is an unsupported
/// protocol; an invalid solicitation is `NdMalformed`.
pub(super) fn classify(frame: &[u8], mut p: Parsed) -> Result<Parsed, DropReason> {
    let l3 = p.l3_off as usize;
    let l4 = p.l4_off as usize;
    let Some(icmp) = frame.get(l4..l4 + p.l4_len as usize) else {
        return Err(DropReason::NdMalformed);
    };
    if icmp.first() != Some(&NS) {
        return Err(DropReason::UnsupportedProtocol);
    }
    // RFC 4861 §7.1.1.
    let (IpAddr::V6(src), IpAddr::V6(dst)) = (p.src, p.dst) else {
        return Err(DropReason::NdMalformed);
    };
    if l4 != l3 + ipv6::HEADER_LEN || p.ttl != 255 || icmp.len() < ND_LEN || icmp[1] != 0 {
        return Err(DropReason::NdMalformed);
    }
    let ph = checksum::pseudo_header(&p.src, &p.dst, ICMPV6, icmp.len() as u32);
    if checksum::combine(&[ph, checksum::data(icmp)]) != 0xffff {
        return Err(DropReason::NdMalformed);
    }
    let mut t = [0u8; 16];
    t.copy_from_slice(&icmp[8..24]);
    let target = Ipv6Addr::from(t);
    if target.is_multicast() {
        return Err(DropReason::NdMalformed);
    }
    let mut opts = &icmp[ND_LEN..];
    let mut slla = false;
    while !opts.is_empty() {
        let n = usize::from(*opts.get(1).ok_or(DropReason::NdMalformed)?) * 8;
        if n == 0 || n > opts.len() {
            return Err(DropReason::NdMalformed);
        }
        slla |= opts[0] == 1;
        opts = &opts[n..];
    }
    if src.is_unspecified() {
        // Duplicate address detection: to the solicited-node group, and
        // without a source link-layer address.
        let o = dst.octets();
        let solicited = o[..13] == [0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff];
        if !solicited || slla {
            return Err(DropReason::NdMalformed);
        }
    }
    p.l3 = L3::Ndp;
    p.dst = IpAddr::V6(target);
    p.payload_off = (l4 + ND_LEN) as u16;
    p.payload_len = (icmp.len() - ND_LEN) as u16;
    Ok(p)
}

/// Turn a Neighbor Solicitation in `frame` (classified as [`L3::Ndp`]) into
/// our advertisement, in place, if `is_ours` says its target is one of our
/// addresses. `frame` must be at least `p.l2_len + ADVERT_L3_LEN` bytes (the
/// caller grows the buffer first). Returns the length to transmit, or `None`
/// if there is nothing to answer. The Ethernet header keeps its VLAN tags.
pub fn advert_in_place(
    frame: &mut [u8],
    p: &Parsed,
    our_mac: MacAddr,
    is_ours: impl FnOnce(Ipv6Addr) -> bool,
) -> Option<usize> {
    let (L3::Ndp, IpAddr::V6(src), IpAddr::V6(target)) = (p.l3, p.src, p.dst) else {
        return None;
    };
    if !is_ours(target) {
        return None;
    }
    let l3 = p.l3_off as usize;
    let end = l3 + ADVERT_L3_LEN;
    let frame = frame.get_mut(..end)?;
    // To the soliciting node; a DAD probe gets its answer on all-nodes.
    let dad = src.is_unspecified();
    let (dst, dst_mac) = if dad {
        (
            Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1),
            MacAddr([0x33, 0x33, 0, 0, 0, 1]),
        )
    } else {
        let e = ethernet::Packet::new_checked(&*frame).ok()?;
        (src, e.src_addr())
    };
    {
        let mut e = ethernet::Packet::new_unchecked(&mut *frame);
        e.set_dst_addr(dst_mac);
        e.set_src_addr(our_mac);
    }
    let ip = &mut frame[l3..];
    ip[..4].copy_from_slice(&[0x60, 0, 0, 0]);
    ip[4..6].copy_from_slice(&((ND_LEN + 8) as u16).to_be_bytes());
    ip[6] = ICMPV6;
    ip[7] = 255;
    ip[8..24].copy_from_slice(&target.octets());
    ip[24..40].copy_from_slice(&dst.octets());
    let icmp = &mut ip[ipv6::HEADER_LEN..];
    icmp[0] = NA;
    icmp[1] = 0;
    icmp[2..4].fill(0);
    // Router = 0 (we are a host on this link), Solicited unless DAD,
    // Override = 1.
    icmp[4..8].copy_from_slice(&[if dad { 0x20 } else { 0x60 }, 0, 0, 0]);
    icmp[8..24].copy_from_slice(&target.octets());
    icmp[24] = 2; // Target Link-Layer Address
    icmp[25] = 1;
    icmp[26..32].copy_from_slice(&our_mac.0);
    let ph = checksum::pseudo_header(&IpAddr::V6(target), &IpAddr::V6(dst), ICMPV6, (ND_LEN + 8) as u32);
    let c = !checksum::combine(&[ph, checksum::data(&icmp[..ND_LEN + 8])]);
    icmp[2..4].copy_from_slice(&c.to_be_bytes());
    Some(end)
}

#[cfg(test)]
mod tests {
    use super::super::parse_frame;
    use super::*;

    const OUR_MAC: MacAddr = MacAddr([2, 0, 0, 0, 1, 1]);
    const PEER_MAC: [u8; 6] = [2, 0, 0, 0, 9, 9];

    fn ours() -> Ipv6Addr {
        "fd00:77::1".parse().unwrap()
    }

    /// An NS frame from `src` to `dst` for `target`, optionally with a
    /// source link-layer address option.
    fn ns(src: Ipv6Addr, dst: Ipv6Addr, target: Ipv6Addr, slla: bool, hop: u8) -> Vec<u8> {
        let mut icmp = vec![NS, 0, 0, 0, 0, 0, 0, 0];
        icmp.extend_from_slice(&target.octets());
        if slla {
            icmp.extend_from_slice(&[1, 1]);
            icmp.extend_from_slice(&PEER_MAC);
        }
        let ph = checksum::pseudo_header(&src.into(), &dst.into(), ICMPV6, icmp.len() as u32);
        let c = !checksum::combine(&[ph, checksum::data(&icmp)]);
        icmp[2..4].copy_from_slice(&c.to_be_bytes());
        let mut f = Vec::new();
        f.extend_from_slice(&[0x33, 0x33, 0xff, 0, 0, 1]);
        f.extend_from_slice(&PEER_MAC);
        f.extend_from_slice(&[0x86, 0xdd, 0x60, 0, 0, 0]);
        f.extend_from_slice(&(icmp.len() as u16).to_be_bytes());
        f.extend_from_slice(&[ICMPV6, hop]);
        f.extend_from_slice(&src.octets());
        f.extend_from_slice(&dst.octets());
        f.extend_from_slice(&icmp);
        f
    }

    fn solicited_node(a: Ipv6Addr) -> Ipv6Addr {
        let o = a.octets();
        Ipv6Addr::new(
            0xff02,
            0,
            0,
            0,
            0,
            1,
            0xff00 | u16::from(o[13]),
            u16::from_be_bytes([o[14], o[15]]),
        )
    }

    fn answer(f: &[u8]) -> Option<Vec<u8>> {
        let p = parse_frame(f, true).ok()?;
        let mut b = f.to_vec();
        b.resize(p.l2_len as usize + ADVERT_L3_LEN, 0);
        let n = advert_in_place(&mut b, &p, OUR_MAC, |t| t == ours())?;
        b.truncate(n);
        Some(b)
    }

    fn check_na(b: &[u8], dst: Ipv6Addr, flags: u8) {
        assert_eq!(b.len(), 14 + ADVERT_L3_LEN);
        assert_eq!(&b[6..12], &OUR_MAC.0);
        assert_eq!(b[20], ICMPV6);
        assert_eq!(b[21], 255, "hop limit");
        assert_eq!(&b[22..38], &ours().octets(), "from the target address");
        assert_eq!(&b[38..54], &dst.octets());
        let icmp = &b[54..];
        assert_eq!((icmp[0], icmp[1], icmp[4]), (NA, 0, flags));
        assert_eq!(&icmp[8..24], &ours().octets());
        assert_eq!(&icmp[24..32], &[2, 1, 2, 0, 0, 0, 1, 1]);
        let ph = checksum::pseudo_header(&IpAddr::V6(ours()), &IpAddr::V6(dst), ICMPV6, 32);
        assert_eq!(checksum::combine(&[ph, checksum::data(icmp)]), 0xffff, "checksum");
    }

    #[test]
    fn solicitation_for_our_address_is_answered_solicited_and_override() {
        let peer: Ipv6Addr = "fd00:77::99".parse().unwrap();
        for slla in [true, false] {
            let f = ns(peer, solicited_node(ours()), ours(), slla, 255);
            let b = answer(&f).expect("answered");
            assert_eq!(&b[0..6], &PEER_MAC, "to the soliciting node's MAC");
            check_na(&b, peer, 0x60);
        }
        // Unicast solicitation (neighbor unreachability detection) too.
        let b = answer(&ns(peer, ours(), ours(), true, 255)).expect("answered");
        check_na(&b, peer, 0x60);
    }

    #[test]
    fn duplicate_address_probe_is_defended_on_all_nodes() {
        let f = ns(Ipv6Addr::UNSPECIFIED, solicited_node(ours()), ours(), false, 255);
        let b = answer(&f).expect("answered");
        assert_eq!(&b[0..6], &[0x33, 0x33, 0, 0, 0, 1]);
        check_na(&b, "ff02::1".parse().unwrap(), 0x20);
    }

    #[test]
    fn invalid_or_foreign_solicitations_are_not_answered() {
        let peer: Ipv6Addr = "fd00:77::99".parse().unwrap();
        let other: Ipv6Addr = "fd00:77::2".parse().unwrap();
        let sn = solicited_node(ours());
        assert_eq!(
            answer(&ns(peer, solicited_node(other), other, true, 255)),
            None,
            "not ours"
        );
        let reason = |f: &[u8]| parse_frame(f, true).err();
        assert_eq!(
            reason(&ns(peer, sn, ours(), true, 254)),
            Some(DropReason::NdMalformed),
            "hop limit"
        );
        let mut bad = ns(peer, sn, ours(), true, 255);
        let n = bad.len();
        bad[n - 1] ^= 1;
        assert_eq!(reason(&bad), Some(DropReason::NdMalformed), "checksum");
        let mc: Ipv6Addr = "ff02::1".parse().unwrap();
        assert_eq!(
            reason(&ns(peer, sn, mc, true, 255)),
            Some(DropReason::NdMalformed),
            "multicast target"
        );
        // DAD with a source link-layer option, or not to the solicited-node group.
        assert_eq!(
            reason(&ns(Ipv6Addr::UNSPECIFIED, sn, ours(), true, 255)),
            Some(DropReason::NdMalformed)
        );
        assert_eq!(
            reason(&ns(Ipv6Addr::UNSPECIFIED, peer, ours(), false, 255)),
            Some(DropReason::NdMalformed)
        );
        // A zero-length option.
        let mut z = ns(peer, sn, ours(), true, 255);
        let at = z.len() - 7;
        z[at] = 0;
        assert_eq!(reason(&z), Some(DropReason::NdMalformed));
        // Another ICMPv6 message (an echo request) is not ours to handle.
        let mut echo = ns(peer, ours(), ours(), false, 64);
        echo[54] = 128;
        assert_eq!(reason(&echo), Some(DropReason::UnsupportedProtocol));
        // Truncated ICMPv6 body.
        let mut t = ns(peer, sn, ours(), false, 255);
        t.truncate(t.len() - 4);
        t[18..20].copy_from_slice(&20u16.to_be_bytes());
        assert_eq!(reason(&t), Some(DropReason::NdMalformed));
    }
}
