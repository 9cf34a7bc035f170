//! Whole-frame tests: the classifier's drop reasons, emit/rewrite, and
//! property tests that no input panics.

use super::*;
use proptest::prelude::*;

const MAC_A: MacAddr = MacAddr([2, 0, 0, 0, 0, 1]);
const MAC_B: MacAddr = MacAddr([2, 0, 0, 0, 0, 2]);
const SIP: &[u8] = b"OPTIONS sip:p SIP/2.0\r\n\r\n";

fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(a, b, c, d))
}

fn v6(last: u16) -> IpAddr {
    IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, last))
}

fn headers(src: IpAddr, dst: IpAddr, vlan: [Option<u16>; 2]) -> HeadersRepr {
    HeadersRepr {
        eth_src: MAC_B,
        eth_dst: MAC_A,
        vlan,
        src,
        dst,
        hop_limit: 64,
        src_port: 5060,
        dst_port: 5062,
    }
}

/// A valid frame built by `emit_udp`.
fn build(h: &HeadersRepr, payload: &[u8]) -> Vec<u8> {
    let hl = h.udp_header_len();
    let mut f = vec![0u8; hl + payload.len()];
    f[hl..].copy_from_slice(payload);
    assert_eq!(h.emit_udp(&mut f, payload.len()), Ok(hl));
    f
}

fn refill_v4(f: &mut [u8], l3: usize) {
    ipv4::Packet::new_unchecked(&mut f[l3..]).fill_checksum();
}

fn reason(f: &[u8]) -> Option<DropReason> {
    parse_frame(f, true).err()
}

#[test]
fn parse_udp4_vlan_vector() {
    let p = parse_frame(&UDP4_VLAN, true).unwrap();
    assert_eq!(p.l3, L3::V4);
    assert_eq!(p.l2_len, 18);
    assert_eq!(p.l3_off, 18);
    assert_eq!(p.vlan, [Some(10), None]);
    assert_eq!(p.ethertype, ethernet::ethertype::IPV4);
    assert_eq!(p.l3_len, 20);
    assert_eq!(p.l4_off, 38);
    assert_eq!(p.l4_len, 8 + SIP.len() as u16);
    assert_eq!(p.proto, ip_proto::UDP);
    assert_eq!(p.ttl, 64);
    assert_eq!(p.src, v4(10, 0, 0, 2));
    assert_eq!(p.dst, v4(10, 0, 0, 1));
    assert_eq!((p.src_port, p.dst_port), (5060, 5062));
    assert_eq!(p.payload_off, 46);
    assert_eq!(p.payload(&UDP4_VLAN), SIP);
    assert_eq!(p.encap, Encap::None);
    assert!(p.is_udp() && !p.is_tcp() && !p.is_esp());
    assert_eq!(p.src_socket(), SocketAddr::new(v4(10, 0, 0, 2), 5060));
}

#[test]
fn parse_udp6_vector() {
    let p = parse_frame(&UDP6, true).unwrap();
    assert_eq!(p.l3, L3::V6);
    assert_eq!(p.l2_len, 14);
    assert_eq!(p.vlan, [None, None]);
    assert_eq!(p.l3_len, 40);
    assert_eq!(p.l4_off, 54);
    assert_eq!(p.src, v6(2));
    assert_eq!(p.dst, v6(1));
    assert_eq!(p.ttl, 64);
    assert_eq!(p.payload(&UDP6), SIP);
}

#[test]
fn emit_udp_matches_vectors() {
    let f = build(&headers(v4(10, 0, 0, 2), v4(10, 0, 0, 1), [Some(10), None]), SIP);
    assert_eq!(&f[..], &UDP4_VLAN[..]);
    let f = build(&headers(v6(2), v6(1), [None, None]), SIP);
    assert_eq!(&f[..], &UDP6[..]);
}

#[test]
fn emit_udp_errors() {
    let h = headers(v4(10, 0, 0, 2), v6(1), [None, None]);
    let mut b = [0u8; 100];
    assert_eq!(h.emit_udp(&mut b, 10), Err(Error::Unsupported));
    let h = headers(v4(10, 0, 0, 2), v4(10, 0, 0, 1), [None, None]);
    assert_eq!(h.emit_udp(&mut b, 100 - 42 + 1), Err(Error::Truncated));
    assert_eq!(h.emit_udp(&mut b, 100 - 42), Ok(42));
    let mut big = vec![0u8; 70000];
    assert_eq!(h.emit_udp(&mut big, 65535 - 28 + 1), Err(Error::Malformed));
    assert_eq!(h.emit_udp(&mut big, 65535 - 28), Ok(42));
    // Absurd lengths from a caller are errors, not overflows.
    assert_eq!(h.emit_udp(&mut big, usize::MAX), Err(Error::Truncated));
    assert_eq!(h.emit_ip(&mut big, 17, usize::MAX), Err(Error::Truncated));
    let (a, d) = (h.src, h.dst);
    let u = udp::Repr {
        src_port: 1,
        dst_port: 2,
    };
    assert_eq!(u.emit(&mut big, usize::MAX, &a, &d), Err(Error::Malformed));
    let t = tcp::Repr {
        src_port: 1,
        dst_port: 2,
        seq_number: 0,
        ack_number: 0,
        flags: 0,
        window: 0,
    };
    assert_eq!(t.emit(&mut big, usize::MAX, &a, &d), Err(Error::Truncated));
    let r4 = ipv4::Repr {
        src_addr: Ipv4Addr::LOCALHOST,
        dst_addr: Ipv4Addr::LOCALHOST,
        protocol: 17,
        payload_len: usize::MAX,
        ttl: 1,
    };
    assert_eq!(r4.emit(&mut big), Err(Error::Malformed));
    let mut f = UDP4_VLAN;
    let p = parse_frame(&f, true).unwrap();
    assert_eq!(
        rewrite_udp_in_place(&mut f, &p, &h, usize::MAX),
        Err(Error::Truncated)
    );
}

#[test]
fn parse_ethernet_padding_ignored() {
    let mut f = build(&headers(v4(10, 0, 0, 2), v4(10, 0, 0, 1), [None, None]), b"ab");
    let before = parse_frame(&f, true).unwrap();
    f.resize(60, 0xee);
    let after = parse_frame(&f, true).unwrap();
    assert_eq!(before, after);
    assert_eq!(after.payload(&f), b"ab");
    assert_eq!(after.l4_len, 10);
}

#[test]
fn parse_ethernet_reasons() {
    assert_eq!(reason(&UDP4_VLAN[..13]), Some(DropReason::EthTruncated));
    assert_eq!(reason(&UDP4_VLAN[..17]), Some(DropReason::EthTruncated));
    let f = build(
        &headers(v4(10, 0, 0, 2), v4(10, 0, 0, 1), [Some(1), Some(2)]),
        SIP,
    );
    let p = parse_frame(&f, true).unwrap();
    assert_eq!(p.vlan, [Some(1), Some(2)]);
    assert_eq!(p.l2_len, 22);
    assert_eq!(reason(&f[..21]), Some(DropReason::EthTruncated));
    let mut three = f.clone();
    three[20..22].copy_from_slice(&0x8100u16.to_be_bytes());
    assert_eq!(reason(&three), Some(DropReason::EthTooManyTags));
    let mut lldp = UDP6;
    lldp[12..14].copy_from_slice(&0x88ccu16.to_be_bytes());
    assert_eq!(reason(&lldp), Some(DropReason::EthUnsupportedType));
    assert_eq!(reason(&vec![0u8; 65536]), Some(DropReason::Oversized));
}

#[test]
fn parse_ipv4_reasons() {
    let good = UDP4_VLAN;
    let l3 = 18;
    assert_eq!(reason(&good[..l3 + 19]), Some(DropReason::Ipv4Malformed));
    let mut f = good;
    f[l3] = 0x55; // version 5
    assert_eq!(reason(&f), Some(DropReason::Ipv4Malformed));
    let mut f = good;
    f[l3] = 0x44; // IHL 4
    assert_eq!(reason(&f), Some(DropReason::Ipv4Malformed));
    let mut f = good;
    f[l3 + 3] += 1; // total length past the frame
    refill_v4(&mut f, l3);
    assert_eq!(reason(&f), Some(DropReason::Ipv4Malformed));
    let mut f = good;
    f[l3 + 3] = 19; // total length below the header
    assert_eq!(reason(&f), Some(DropReason::Ipv4Malformed));
    let mut f = good;
    f[l3 + 11] ^= 0x40;
    assert_eq!(reason(&f), Some(DropReason::Ipv4BadChecksum));
    let mut f = good;
    f[l3 + 6] = 0x20; // MF
    refill_v4(&mut f, l3);
    assert_eq!(reason(&f), Some(DropReason::Ipv4Fragment));
    let mut f = good;
    f[l3 + 6] = 0x40;
    f[l3 + 7] = 0x10; // offset 128, DF
    refill_v4(&mut f, l3);
    assert_eq!(reason(&f), Some(DropReason::Ipv4Fragment));
    for src in [[0, 0, 0, 0], [224, 0, 0, 5], [255, 255, 255, 255], [127, 0, 0, 1]] {
        let mut f = good;
        f[l3 + 12..l3 + 16].copy_from_slice(&src);
        refill_v4(&mut f, l3);
        assert_eq!(reason(&f), Some(DropReason::BadAddress), "{src:?}");
    }
    let mut f = good;
    f[l3 + 16..l3 + 20].copy_from_slice(&[0, 0, 0, 0]);
    refill_v4(&mut f, l3);
    assert_eq!(reason(&f), Some(DropReason::BadAddress));
    let mut f = good;
    f[l3 + 9] = 1; // ICMP
    refill_v4(&mut f, l3);
    assert_eq!(reason(&f), Some(DropReason::UnsupportedProtocol));
}

/// UDP4 with 8 bytes of IPv4 options inserted.
fn with_options(opts: [u8; 8]) -> Vec<u8> {
    let mut f = UDP4_VLAN.to_vec();
    let l3 = 18;
    f.splice(l3 + 20..l3 + 20, opts);
    f[l3] = 0x47;
    let tl = u16::from_be_bytes([f[l3 + 2], f[l3 + 3]]) + 8;
    f[l3 + 2..l3 + 4].copy_from_slice(&tl.to_be_bytes());
    refill_v4(&mut f, l3);
    f
}

#[test]
fn parse_ipv4_options() {
    let f = with_options([0x94, 0x04, 0, 0, 0x01, 0x01, 0x00, 0x00]);
    let p = parse_frame(&f, true).unwrap();
    assert_eq!(p.l3_len, 28);
    assert_eq!(p.l4_off, 18 + 28);
    assert_eq!(p.payload(&f), SIP);
    let f = with_options([0x01, 0x94, 0x08, 0, 0, 0, 0, 0]);
    assert_eq!(reason(&f), Some(DropReason::Ipv4BadOptions));
    let f = with_options([0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x83]);
    assert_eq!(reason(&f), Some(DropReason::Ipv4BadOptions));
}

#[test]
fn parse_ipv6_reasons() {
    let good = UDP6;
    let l3 = 14;
    assert_eq!(reason(&good[..l3 + 39]), Some(DropReason::Ipv6Malformed));
    let mut f = good;
    f[l3] = 0x40;
    assert_eq!(reason(&f), Some(DropReason::Ipv6Malformed));
    assert_eq!(reason(&good[..good.len() - 1]), Some(DropReason::Ipv6Malformed));
    let mut f = good;
    f[l3 + 8] = 0xff; // source ff00::/8
    assert_eq!(reason(&f), Some(DropReason::BadAddress));
    let mut f = good;
    f[l3 + 6] = 58; // ICMPv6
    assert_eq!(reason(&f), Some(DropReason::UnsupportedProtocol));
    // Zero UDP checksum is invalid over IPv6, even without verification.
    let mut f = good;
    f[l3 + 40 + 6] = 0;
    f[l3 + 40 + 7] = 0;
    assert_eq!(parse_frame(&f, false).err(), Some(DropReason::UdpBadChecksum));
}

/// UDP6 with one 8-byte extension header of type `nh` inserted.
fn with_ext(nh: u8, ext: [u8; 8]) -> Vec<u8> {
    let mut f = UDP6.to_vec();
    let l3 = 14;
    f.splice(l3 + 40..l3 + 40, ext);
    f[l3 + 6] = nh;
    let pl = u16::from_be_bytes([f[l3 + 4], f[l3 + 5]]) + 8;
    f[l3 + 4..l3 + 6].copy_from_slice(&pl.to_be_bytes());
    f
}

#[test]
fn parse_ipv6_ext_headers() {
    let f = with_ext(60, [17, 0, 1, 4, 0, 0, 0, 0]);
    let p = parse_frame(&f, true).unwrap();
    assert_eq!(p.l3_len, 48);
    assert_eq!(p.l4_off, 14 + 48);
    assert_eq!(p.proto, ip_proto::UDP);
    assert_eq!(p.payload(&f), SIP);
    let f = with_ext(0, [17, 0, 1, 4, 0, 0, 0, 0]);
    assert!(parse_frame(&f, true).is_ok());
    let f = with_ext(44, [17, 0, 0, 0, 0, 0, 0, 1]);
    assert_eq!(reason(&f), Some(DropReason::Ipv6Fragment));
    let f = with_ext(60, [17, 9, 1, 4, 0, 0, 0, 0]);
    assert_eq!(reason(&f), Some(DropReason::Ipv6BadExtHeader));
    let f = with_ext(60, [0, 0, 1, 4, 0, 0, 0, 0]);
    assert_eq!(reason(&f), Some(DropReason::Ipv6BadExtHeader));
}

#[test]
fn parse_udp_reasons() {
    let l4 = 38;
    let mut f = UDP4_VLAN;
    f[l4 + 5] = 7;
    assert_eq!(reason(&f), Some(DropReason::UdpMalformed));
    let mut f = UDP4_VLAN;
    f[l4 + 5] += 1; // past the IP payload
    assert_eq!(reason(&f), Some(DropReason::UdpMalformed));
    let mut f = UDP4_VLAN;
    f[l4 + 10] ^= 1;
    assert_eq!(reason(&f), Some(DropReason::UdpBadChecksum));
    assert!(parse_frame(&f, false).is_ok());
    // Zero checksum over IPv4 means "none".
    let mut f = UDP4_VLAN;
    f[l4 + 10] ^= 1;
    f[l4 + 6] = 0;
    f[l4 + 7] = 0;
    assert!(parse_frame(&f, true).is_ok());
    // IP payload shorter than a UDP header.
    let mut f = UDP4_VLAN;
    f[18 + 2..18 + 4].copy_from_slice(&27u16.to_be_bytes());
    refill_v4(&mut f, 18);
    assert_eq!(reason(&f), Some(DropReason::UdpMalformed));
    // A UDP length shorter than the IP payload is accepted (trailing bytes ignored).
    let h = headers(v4(10, 0, 0, 2), v4(10, 0, 0, 1), [None, None]);
    let mut f = build(&h, b"abcd");
    f[34 + 5] = 10;
    udp::Packet::new_unchecked(&mut f[34..44]).fill_checksum(&h.src, &h.dst);
    let p = parse_frame(&f, true).unwrap();
    assert_eq!(p.payload(&f), b"ab");
    assert_eq!(p.l4_len, 12);
}

/// An IPv4 frame carrying `l4` as protocol `proto`, with a correct TCP
/// checksum filled when `proto` is TCP.
fn ip_frame(proto: u8, l4: &[u8]) -> Vec<u8> {
    let h = headers(v4(10, 0, 0, 2), v4(10, 0, 0, 1), [None, None]);
    let mut f = vec![0u8; 34 + l4.len()];
    f[34..].copy_from_slice(l4);
    assert_eq!(h.emit_ip(&mut f, proto, l4.len()), Ok(34));
    if proto == ip_proto::TCP && l4.len() >= 20 {
        tcp::Packet::new_unchecked(&mut f[34..]).fill_checksum(&h.src, &h.dst);
    }
    f
}

#[test]
fn parse_tcp_and_esp() {
    let mut seg = [0u8; 28];
    seg[..4].copy_from_slice(&[0x9c, 0x40, 0x13, 0xc4]);
    seg[12] = 0x50;
    seg[13] = tcp::flags::ACK;
    seg[20..].copy_from_slice(b"REGISTER");
    let f = ip_frame(ip_proto::TCP, &seg);
    let p = parse_frame(&f, true).unwrap();
    assert!(p.is_tcp());
    assert_eq!((p.src_port, p.dst_port), (40000, 5060));
    assert_eq!(p.payload(&f), b"REGISTER");
    let mut bad = f.clone();
    bad[40] ^= 1;
    assert_eq!(reason(&bad), Some(DropReason::TcpBadChecksum));
    let mut bad = f.clone();
    bad[34 + 12] = 0x40;
    assert_eq!(parse_frame(&bad, false).err(), Some(DropReason::TcpMalformed));
    bad[34 + 12] = 0xf0; // 60 > 28
    assert_eq!(parse_frame(&bad, false).err(), Some(DropReason::TcpMalformed));
    assert_eq!(
        reason(&ip_frame(ip_proto::TCP, &seg[..19])),
        Some(DropReason::TcpMalformed)
    );

    let esp = [0, 0, 0x10, 0x01, 0, 0, 0, 9, 0xaa, 0xbb, 0xcc];
    let f = ip_frame(ip_proto::ESP, &esp);
    let p = parse_frame(&f, true).unwrap();
    assert!(p.is_esp());
    assert_eq!((p.spi, p.seq), (0x1001, 9));
    assert_eq!(p.payload(&f), &[0xaa, 0xbb, 0xcc]);
    assert_eq!(
        reason(&ip_frame(ip_proto::ESP, &esp[..7])),
        Some(DropReason::EspTruncated)
    );
}

#[test]
fn parse_udp_encap_4500() {
    let mut h = headers(v4(10, 0, 0, 2), v4(10, 0, 0, 1), [None, None]);
    h.dst_port = 4500;
    let p = parse_frame(&build(&h, &[0xff]), true).unwrap();
    assert_eq!(p.encap, Encap::Keepalive);
    let p = parse_frame(&build(&h, &[0, 0, 0, 0, 0x25]), true).unwrap();
    assert_eq!(p.encap, Encap::NonEsp);
    let f = build(&h, &[0, 0, 0x20, 0x02, 0, 0, 0, 3, 1, 2, 3]);
    let p = parse_frame(&f, true).unwrap();
    assert_eq!(p.encap, Encap::Esp);
    assert!(p.is_esp() && p.is_udp());
    assert_eq!((p.spi, p.seq), (0x2002, 3));
    assert_eq!(p.payload(&f)[..4], [0, 0, 0x20, 0x02]);
    assert_eq!(reason(&build(&h, &[1, 2, 3])), Some(DropReason::EspTruncated));
}

#[test]
fn parse_arp_and_reply() {
    let mut f = vec![0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 2, 0x08, 0x06];
    f.extend_from_slice(&[0, 1, 8, 0, 6, 4, 0, 1, 2, 0, 0, 0, 0, 2, 10, 0, 0, 2]);
    f.extend_from_slice(&[0, 0, 0, 0, 0, 0, 10, 0, 0, 1]);
    f.resize(60, 0xee);
    let p = parse_frame(&f, true).unwrap();
    assert_eq!(p.l3, L3::Arp);
    assert_eq!(p.src, v4(10, 0, 0, 2));
    assert_eq!(p.dst, v4(10, 0, 0, 1));
    assert!(!p.is_udp());
    let ours = Ipv4Addr::new(10, 0, 0, 1);
    assert_eq!(
        arp_reply_in_place(&mut f.clone(), &p, MAC_A, |ip| ip != ours),
        None
    );
    let len = arp_reply_in_place(&mut f, &p, MAC_A, |ip| ip == ours).unwrap();
    assert_eq!(len, 60);
    let eth = ethernet::Packet::new_checked(&f[..]).unwrap();
    assert_eq!(eth.dst_addr(), MAC_B);
    assert_eq!(eth.src_addr(), MAC_A);
    let r = arp::Repr::parse(&arp::Packet::new_checked(&f[14..]).unwrap()).unwrap();
    assert_eq!(r.operation, arp::Operation::Reply);
    assert_eq!((r.source_mac, r.source_ip), (MAC_A, ours));
    assert_eq!((r.target_mac, r.target_ip), (MAC_B, Ipv4Addr::new(10, 0, 0, 2)));
    assert!(f[42..60].iter().all(|b| *b == 0));
    // A reply is not answered again.
    let p = parse_frame(&f, true).unwrap();
    assert_eq!(arp_reply_in_place(&mut f, &p, MAC_A, |_| true), None);
    assert_eq!(reason(&f[..14 + 27]), Some(DropReason::EthTruncated));
    f[15] = 6;
    assert_eq!(reason(&f), Some(DropReason::EthUnsupportedType));
}

#[test]
fn emit_rewrite_udp4_in_place() {
    let mut f = UDP4_VLAN.to_vec();
    let p = parse_frame(&f, true).unwrap();
    let mut h = HeadersRepr::from_parsed(&f, &p).unwrap();
    assert_eq!(h.vlan, [Some(10), None]);
    h.eth_src = MacAddr([2, 0, 0, 0, 0, 9]);
    h.eth_dst = MacAddr([2, 0, 0, 0, 0, 8]);
    h.src = v4(192, 0, 2, 1);
    h.dst = v4(198, 51, 100, 7);
    h.src_port = 5070;
    h.dst_port = 5080;
    h.hop_limit = 63;
    // Grow the payload: the caller grew the buffer and edited the SIP text.
    let new_payload = b"OPTIONS sip:core SIP/2.0\r\nP-Asserted-Identity: <sip:a@b>\r\n\r\n";
    f.resize(p.payload_off as usize + new_payload.len(), 0);
    f[p.payload_range().start..].copy_from_slice(new_payload);
    let n = rewrite_udp_in_place(&mut f, &p, &h, new_payload.len()).unwrap();
    assert_eq!(n, f.len());
    let q = parse_frame(&f, true).unwrap();
    assert_eq!(q.src_socket(), SocketAddr::new(h.src, 5070));
    assert_eq!(q.dst_socket(), SocketAddr::new(h.dst, 5080));
    assert_eq!(q.ttl, 63);
    assert_eq!(q.vlan, [Some(10), None]);
    assert_eq!(q.payload(&f), new_payload);
    let eth = ethernet::Packet::new_checked(&f[..]).unwrap();
    assert_eq!((eth.src_addr(), eth.dst_addr()), (h.eth_src, h.eth_dst));
    // The incremental IPv4 checksum equals a full recompute, and the whole
    // frame equals a fresh emit.
    assert_eq!(f, build(&h, new_payload));
    // Shrink it again.
    let n = rewrite_udp_in_place(&mut f, &q, &h, 3).unwrap();
    f.truncate(n);
    let r = parse_frame(&f, true).unwrap();
    assert_eq!(r.payload(&f), b"OPT");
    // Wrong family or protocol is refused, as is a frame too short.
    let mut g = f.clone();
    let h6 = HeadersRepr {
        src: v6(1),
        dst: v6(2),
        ..h
    };
    assert_eq!(rewrite_udp_in_place(&mut g, &r, &h6, 3), Err(Error::Unsupported));
    assert_eq!(rewrite_udp_in_place(&mut g, &r, &h, 4), Err(Error::Truncated));
}

#[test]
fn emit_rewrite_udp4_keeps_options() {
    let mut f = with_options([0x94, 0x04, 0, 0, 0x01, 0x01, 0x00, 0x00]);
    let p = parse_frame(&f, true).unwrap();
    let mut h = HeadersRepr::from_parsed(&f, &p).unwrap();
    h.dst = v4(10, 9, 9, 9);
    let n = rewrite_udp_in_place(&mut f, &p, &h, 7).unwrap();
    f.truncate(n);
    let q = parse_frame(&f, true).unwrap();
    assert_eq!(q.l3_len, 28);
    assert_eq!(q.dst, h.dst);
    assert_eq!(q.payload(&f), b"OPTIONS");
}

#[test]
fn emit_rewrite_udp6_keeps_ext_headers() {
    let mut f = with_ext(60, [17, 0, 1, 4, 0, 0, 0, 0]);
    let p = parse_frame(&f, true).unwrap();
    let mut h = HeadersRepr::from_parsed(&f, &p).unwrap();
    h.src = v6(0x99);
    h.hop_limit = 1;
    f.extend_from_slice(b"XY");
    let n = rewrite_udp_in_place(&mut f, &p, &h, SIP.len() + 2).unwrap();
    assert_eq!(n, f.len());
    let q = parse_frame(&f, true).unwrap();
    assert_eq!(q.l3_len, 48);
    assert_eq!(q.src, h.src);
    assert_eq!(q.ttl, 1);
    assert_eq!(&q.payload(&f)[SIP.len()..], b"XY");
}

#[test]
fn check_len_parsed_ranges_inside_frame() {
    for f in [&UDP4_VLAN[..], &UDP6[..]] {
        let p = parse_frame(f, true).unwrap();
        assert!(p.l3_range().end <= f.len());
        assert!(p.l4_range().end <= f.len());
        assert!(p.payload_range().end <= f.len());
        assert_eq!(p.payload(&f[..10]), b"");
    }
}

/// Call every accessor of every view on `b` if `new_checked` accepts it.
fn exercise_views(b: &[u8]) {
    if let Ok(p) = ethernet::Packet::new_checked(b) {
        let _ = (
            p.dst_addr(),
            p.src_addr(),
            p.ethertype(),
            p.payload().len(),
            p.header_len(),
        );
        let _ = (p.vlan_id(0), p.vlan_id(1), p.vlan_tpid(2), p.vlan_tci(1));
        let _ = ethernet::Repr::parse(&p);
    }
    if let Ok(p) = arp::Packet::new_checked(b) {
        let _ = (
            p.source_mac(),
            p.source_ip(),
            p.target_mac(),
            p.target_ip(),
            p.oper(),
        );
        let _ = arp::Repr::parse(&p);
    }
    if let Ok(p) = ipv4::Packet::new_checked(b) {
        let _ = (
            p.src_addr(),
            p.dst_addr(),
            p.options().len(),
            p.payload().len(),
            p.is_fragment(),
        );
        let _ = (
            p.check_options(),
            p.verify_checksum(),
            p.frag_offset(),
            ipv4::Repr::parse(&p),
        );
    }
    if let Ok(p) = ipv6::Packet::new_checked(b) {
        let _ = (
            p.src_addr(),
            p.dst_addr(),
            p.payload().len(),
            p.upper_layer(),
            p.flow_label(),
        );
        let _ = ipv6::Repr::parse(&p);
    }
    let a = v4(1, 2, 3, 4);
    if let Ok(p) = udp::Packet::new_checked(b) {
        let _ = (
            p.payload().len(),
            p.verify_checksum(&a, &a),
            udp::Repr::parse(&p, &a, &a, true),
        );
    }
    if let Ok(p) = tcp::Packet::new_checked(b) {
        let _ = (
            p.options().len(),
            p.payload().len(),
            p.flags(),
            p.verify_checksum(&a, &a),
        );
        let _ = tcp::Repr::parse(&p, &a, &a, true);
    }
    if let Ok(p) = esp::Packet::new_checked(b) {
        let _ = (p.spi(), p.seq(), p.payload().len(), esp::Repr::parse(&p));
    }
    let _ = esp::classify_udp_encap(b);
}

fn check_parsed(f: &[u8]) {
    // The one-pass IPv4/UDP path gives exactly what the general one does.
    for verify in [true, false] {
        assert_eq!(parse_frame(f, verify), parse_frame_general(f, verify), "{f:02x?}");
        if let Some(p) = parse_ipv4_udp(f, verify) {
            assert_eq!(Ok(p), parse_frame_general(f, verify), "{f:02x?}");
        }
    }
    if let Ok(p) = parse_frame(f, true) {
        assert!(p.l3_range().end <= f.len());
        assert!(p.l4_range().end <= f.len());
        assert!(p.payload_range().end <= f.len());
        assert!(p.payload_range().start >= p.l4_off as usize);
        let _ = p.payload(f);
    }
    let _ = parse_frame(f, false);
}

fn arb_headers() -> impl Strategy<Value = HeadersRepr> {
    let addr_pair = prop_oneof![
        (1u32..0xdfff_ffff, 1u32..0xdfff_ffff).prop_map(|(s, d)| {
            // Keep clear of 127/8 so the frame is valid.
            let fix = |a: u32| if a >> 24 == 127 { a ^ 0x0100_0000 } else { a };
            (
                IpAddr::V4(Ipv4Addr::from(fix(s))),
                IpAddr::V4(Ipv4Addr::from(fix(d))),
            )
        }),
        (2u128..(0xfe_u128 << 120), 2u128..(0xfe_u128 << 120))
            .prop_map(|(s, d)| (IpAddr::V6(Ipv6Addr::from(s)), IpAddr::V6(Ipv6Addr::from(d)))),
    ];
    let vlan = prop_oneof![
        Just([None, None]),
        any::<u16>().prop_map(|a| [Some(a), None]),
        (any::<u16>(), any::<u16>()).prop_map(|(a, b)| [Some(a), Some(b)]),
    ];
    (
        addr_pair,
        vlan,
        any::<u8>(),
        any::<u16>(),
        any::<u16>(),
        any::<[u8; 6]>(),
    )
        .prop_map(|((src, dst), vlan, hop_limit, sp, dp, mac)| HeadersRepr {
            eth_src: MacAddr(mac),
            eth_dst: MAC_A,
            vlan,
            src,
            dst,
            hop_limit,
            // Port 4500 payloads are classified differently; keep off it.
            src_port: if sp == 4500 { 4501 } else { sp },
            dst_port: if dp == 4500 { 4501 } else { dp },
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn parse_random_bytes_never_panics(b in proptest::collection::vec(any::<u8>(), 0..200)) {
        check_parsed(&b);
        exercise_views(&b);
    }

    #[test]
    fn parse_random_after_ethernet_header_never_panics(
        et in prop_oneof![Just(0x0800u16), Just(0x86dd), Just(0x0806), Just(0x8100), Just(0x88a8)],
        b in proptest::collection::vec(any::<u8>(), 0..120),
    ) {
        let mut f = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2];
        f.extend_from_slice(&et.to_be_bytes());
        f.extend_from_slice(&b);
        check_parsed(&f);
    }

    #[test]
    fn parse_mutated_valid_frames_never_panic(
        h in arb_headers(),
        payload in proptest::collection::vec(any::<u8>(), 0..64),
        muts in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6),
        cut in any::<usize>(),
    ) {
        let mut f = build(&h, &payload);
        for (at, v) in muts {
            let n = f.len();
            f[at % n] = v;
        }
        check_parsed(&f);
        let cut = cut % (f.len() + 1);
        check_parsed(&f[..cut]);
        // Rewriting whatever still parses must not panic either.
        if let Ok(p) = parse_frame(&f, false) {
            let _ = rewrite_udp_in_place(&mut f, &p, &h, p.payload_len as usize);
            let _ = arp_reply_in_place(&mut f, &p, MAC_A, |_| true);
        }
    }

    /// Untagged IPv4/UDP frames with header fields changed and the IPv4
    /// header checksum (and sometimes the UDP one) made right again, so
    /// that the checks after the header checksum are reached: the fast path
    /// and the general one agree on every result.
    #[test]
    fn parse_fast_path_agrees_with_general_path(
        payload in proptest::collection::vec(any::<u8>(), 0..64),
        muts in proptest::collection::vec((12usize..42, any::<u8>()), 0..4),
        fix_udp in any::<bool>(),
        cut in any::<usize>(),
    ) {
        let h = headers(v4(10, 0, 0, 1), v4(10, 0, 0, 2), [None, None]);
        let mut f = build(&h, &payload);
        for (at, v) in muts {
            f[at] = v;
        }
        // A checksum field of zero stays "no checksum".
        if fix_udp && (f[40], f[41]) != (0, 0) {
            let ulen = (usize::from(u16::from_be_bytes([f[38], f[39]]))).clamp(8, f.len() - 34);
            f[40..42].copy_from_slice(&[0, 0]);
            let ph = checksum::pseudo_header(
                &IpAddr::V4(Ipv4Addr::new(f[26], f[27], f[28], f[29])),
                &IpAddr::V4(Ipv4Addr::new(f[30], f[31], f[32], f[33])),
                ip_proto::UDP,
                u16::from_be_bytes([f[38], f[39]]).into(),
            );
            let c = !checksum::combine(&[ph, checksum::data(&f[34..34 + ulen])]);
            f[40..42].copy_from_slice(&c.to_be_bytes());
        }
        if usize::from(f[14] & 0x0f) * 4 <= f.len() - 14 {
            refill_v4(&mut f, 14);
        }
        check_parsed(&f);
        let cut = cut % (f.len() + 1);
        check_parsed(&f[..cut]);
    }

    #[test]
    fn emit_parse_roundtrip(h in arb_headers(), payload in proptest::collection::vec(any::<u8>(), 0..300)) {
        let f = build(&h, &payload);
        let p = parse_frame(&f, true).unwrap();
        prop_assert_eq!(p.src, h.src);
        prop_assert_eq!(p.dst, h.dst);
        prop_assert_eq!(p.ttl, h.hop_limit);
        prop_assert_eq!((p.src_port, p.dst_port), (h.src_port, h.dst_port));
        prop_assert_eq!(p.vlan, [h.vlan[0].map(|t| t & 0xfff), h.vlan[1].map(|t| t & 0xfff)]);
        prop_assert_eq!(p.payload(&f), &payload[..]);
        prop_assert_eq!(HeadersRepr::from_parsed(&f, &p), Some(HeadersRepr { eth_dst: MAC_A, ..h }));
    }

    #[test]
    fn emit_rewrite_equals_fresh_emit(
        h in arb_headers(),
        h2 in arb_headers(),
        payload in proptest::collection::vec(any::<u8>(), 0..100),
        new_len in 0usize..150,
    ) {
        // Same family and tagging, so the in-place rewrite and a fresh emit
        // must produce identical bytes.
        let h2 = HeadersRepr {
            vlan: h.vlan,
            src: if h.src.is_ipv4() == h2.src.is_ipv4() { h2.src } else { h.src },
            dst: if h.src.is_ipv4() == h2.src.is_ipv4() { h2.dst } else { h.dst },
            ..h2
        };
        let mut f = build(&h, &payload);
        let p = parse_frame(&f, true).unwrap();
        f.resize(p.payload_off as usize + new_len, 0x5a);
        let n = rewrite_udp_in_place(&mut f, &p, &h2, new_len).unwrap();
        prop_assert_eq!(n, f.len());
        let fresh = build(&h2, &f[p.payload_off as usize..]);
        prop_assert_eq!(&f, &fresh);
        prop_assert!(parse_frame(&f, true).is_ok());
    }

    #[test]
    fn emit_checksum_update_matches_recompute(
        hdr in any::<[u8; 20]>(),
        at in 0usize..10,
        new in any::<[u8; 4]>(),
    ) {
        let mut h = hdr;
        h[10] = 0;
        h[11] = 0;
        let c0 = !checksum::data(&h);
        let at = at * 2;
        let at = if at == 10 { 12 } else { at };
        let end = (at + 4).min(20);
        let old = h;
        h[at..end].copy_from_slice(&new[..end - at]);
        let c = checksum::update(c0, &old[at..end], &h[at..end]);
        // 0x0000 and 0xffff are the same ones-complement value.
        prop_assert_eq!(c % 0xffff, (!checksum::data(&h)) % 0xffff);
    }
}

static UDP4_VLAN: [u8; 71] = [
    0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x81, 0x00, 0x00, 0x0a, 0x08,
    0x00, 0x45, 0x00, 0x00, 0x35, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x26, 0xb6, 0x0a, 0x00, 0x00, 0x02,
    0x0a, 0x00, 0x00, 0x01, 0x13, 0xc4, 0x13, 0xc6, 0x00, 0x21, 0x10, 0x92, 0x4f, 0x50, 0x54, 0x49, 0x4f,
    0x4e, 0x53, 0x20, 0x73, 0x69, 0x70, 0x3a, 0x70, 0x20, 0x53, 0x49, 0x50, 0x2f, 0x32, 0x2e, 0x30, 0x0d,
    0x0a, 0x0d, 0x0a,
];

static UDP6: [u8; 87] = [
    0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x86, 0xdd, 0x60, 0x00, 0x00,
    0x00, 0x00, 0x21, 0x11, 0x40, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x02, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x01, 0x13, 0xc4, 0x13, 0xc6, 0x00, 0x21, 0xc9, 0x1f, 0x4f, 0x50, 0x54, 0x49, 0x4f, 0x4e,
    0x53, 0x20, 0x73, 0x69, 0x70, 0x3a, 0x70, 0x20, 0x53, 0x49, 0x50, 0x2f, 0x32, 0x2e, 0x30, 0x0d, 0x0a,
    0x0d, 0x0a,
];

/// The one-pass parse asks its address questions of the header bytes
/// (first octet, all-zero, all-ones): pinned to the general parser for
/// addresses on every edge of the bad ranges, as source and destination,
/// in frames whose checksums are otherwise right.
#[test]
fn parse_fast_address_checks_match_the_general_parser_at_every_edge() {
    let mut addrs = vec![
        [0, 0, 0, 0],
        [0, 0, 0, 1],
        [255, 255, 255, 255],
        [255, 255, 255, 254],
    ];
    for first in [0u8, 1, 126, 127, 128, 191, 192, 223, 224, 225, 239, 240, 254, 255] {
        addrs.extend([
            [first, 0, 0, 0],
            [first, 0, 0, 1],
            [first, 255, 255, 255],
            [first, 1, 2, 3],
        ]);
    }
    let ok = [10, 0, 0, 1];
    let mut fast = 0;
    for &a in &addrs {
        for (s, d) in [(a, ok), (ok, a), (a, a)] {
            let h = HeadersRepr {
                eth_src: MacAddr([2, 0, 0, 0, 0, 1]),
                eth_dst: MacAddr([2, 0, 0, 0, 0, 2]),
                vlan: [None, None],
                src: IpAddr::V4(Ipv4Addr::from(s)),
                dst: IpAddr::V4(Ipv4Addr::from(d)),
                hop_limit: 64,
                src_port: 5060,
                dst_port: 5060,
            };
            let f = build(&h, b"INVITE sip:x SIP/2.0\r\n\r\n");
            for verify in [true, false] {
                let general = parse_frame_general(&f, verify);
                match parse_ipv4_udp(&f, verify) {
                    Some(p) => {
                        fast += 1;
                        assert_eq!(Ok(p), general, "{s:?} -> {d:?}");
                    }
                    None => assert!(general.is_err(), "{s:?} -> {d:?}: {general:?}"),
                }
            }
        }
    }
    // Both outcomes were exercised.
    assert!(fast > 0 && fast < addrs.len() * 6);
}
