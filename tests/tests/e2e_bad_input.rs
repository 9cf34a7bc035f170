//! Bad input through the whole running data plane: truncated, oversized and
//! garbage frames, out-of-range values in Ethernet, IPv4, IPv6, UDP and TCP
//! fields, fragments, bad checksums, non-SIP and malformed SIP. Each is a
//! drop counted under the expected reason, nothing panics, and a good
//! frame sent afterwards is still forwarded.

use std::collections::BTreeMap;

use tests::*;

fn config() -> String {
    base_toml()
        + &annex_n_toml(
            "10.77.0.2".parse().unwrap(),
            None,
            "alice@ims.example",
            &["sip:alice@ims.example"],
        )
        + &annex_n_toml(
            "fd00:77::2".parse().unwrap(),
            None,
            "alice6@ims.example",
            &["sip:alice6@ims.example"],
        )
}

fn alice() -> Ue {
    Ue::new("10.77.0.2:5060".parse().unwrap(), "alice")
}

fn alice6() -> Ue {
    Ue::new("[fd00:77::2]:5060".parse().unwrap(), "alice6")
}

fn good_sip(call: &str) -> Vec<u8> {
    alice().request("MESSAGE", call, None).build()
}

fn good_frame(call: &str) -> Vec<u8> {
    alice().frame(&good_sip(call))
}

/// A good frame with `f` applied, checksums fixed afterwards unless `fix`
/// is false.
fn edit(fix: bool, f: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut v = good_frame("x");
    f(&mut v);
    if fix {
        fix_checksums(&mut v);
    }
    v
}

fn edit6(fix: bool, f: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let a = alice6();
    let mut v = a.frame(&a.request("MESSAGE", "x6", None).build());
    f(&mut v);
    if fix {
        fix_checksums(&mut v);
    }
    v
}

const IP: usize = 14;
const UDP: usize = 34;

fn set16(v: &mut [u8], at: usize, x: u16) {
    v[at..at + 2].copy_from_slice(&x.to_be_bytes());
}

/// Insert `n` bytes of `fill` after the IPv4 header as options.
fn with_options(opts: &[u8]) -> Vec<u8> {
    edit(true, |v| {
        v.splice(UDP..UDP, opts.iter().copied());
        v[IP] = 0x40 | (5 + opts.len() / 4) as u8;
        let tl = u16::from_be_bytes([v[IP + 2], v[IP + 3]]) + opts.len() as u16;
        set16(v, IP + 2, tl);
    })
}

/// An IPv4/TCP frame from alice to our SIP port with `data_offset` words
/// of header and a correct checksum.
fn tcp_frame(data_offset: u8) -> Vec<u8> {
    let mut v = good_frame("t");
    v.truncate(UDP);
    let mut tcp = vec![0u8; 20];
    tcp[0..2].copy_from_slice(&5060u16.to_be_bytes());
    tcp[2..4].copy_from_slice(&5060u16.to_be_bytes());
    tcp[12] = data_offset << 4;
    tcp[13] = 0x18;
    tcp.extend_from_slice(b"OPTIONS sip:x SIP/2.0\r\n\r\n");
    v.extend_from_slice(&tcp);
    v[IP + 9] = 6;
    set16(&mut v, IP + 2, (20 + tcp.len()) as u16);
    // IPv4 header checksum, then the TCP checksum over the pseudo-header.
    fix_checksums(&mut v);
    let mut acc: u32 = 0;
    let mut add = |b: &[u8]| {
        for c in b.chunks(2) {
            acc += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
        }
    };
    add(&v[IP + 12..IP + 20]);
    add(&[0, 6]);
    add(&(tcp.len() as u16).to_be_bytes());
    add(&v[UDP..]);
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    set16(&mut v, UDP + 16, !(acc as u16));
    v
}

fn arp_request(target: [u8; 4]) -> Vec<u8> {
    let mut v = vec![0xff; 6];
    v.extend_from_slice(&UE_GW_MAC);
    v.extend_from_slice(&[0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 1]);
    v.extend_from_slice(&UE_GW_MAC);
    v.extend_from_slice(&[10, 77, 0, 254]);
    v.extend_from_slice(&[0; 6]);
    v.extend_from_slice(&target);
    v.resize(60, 0);
    v
}

/// An IPv6 Neighbor Solicitation for `target` from the access router
/// (fe80::1, with a source link-layer address option), hop limit `hop`.
fn neighbor_solicitation(target: std::net::Ipv6Addr, hop: u8) -> Vec<u8> {
    let src: std::net::Ipv6Addr = "fe80::1".parse().unwrap();
    let o = target.octets();
    let dst = std::net::Ipv6Addr::new(
        0xff02,
        0,
        0,
        0,
        0,
        1,
        0xff00 | u16::from(o[13]),
        u16::from_be_bytes([o[14], o[15]]),
    );
    let mut icmp = vec![135u8, 0, 0, 0, 0, 0, 0, 0];
    icmp.extend_from_slice(&o);
    icmp.extend_from_slice(&[1, 1]);
    icmp.extend_from_slice(&UE_GW_MAC);
    let mut acc: u32 = 58 + icmp.len() as u32;
    for c in src
        .octets()
        .chunks(2)
        .chain(dst.octets().chunks(2))
        .chain(icmp.chunks(2))
    {
        acc += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    icmp[2..4].copy_from_slice(&(!(acc as u16)).to_be_bytes());
    let mut v = vec![0x33, 0x33, 0xff, o[13], o[14], o[15]];
    v.extend_from_slice(&UE_GW_MAC);
    v.extend_from_slice(&[0x86, 0xdd, 0x60, 0, 0, 0]);
    v.extend_from_slice(&(icmp.len() as u16).to_be_bytes());
    v.extend_from_slice(&[58, hop]);
    v.extend_from_slice(&src.octets());
    v.extend_from_slice(&dst.octets());
    v.extend_from_slice(&icmp);
    v
}

fn with_sip(sip: &[u8]) -> Vec<u8> {
    alice().frame(sip)
}

fn core_response(sip: &str) -> Vec<u8> {
    udp_frame(CORE_GW_MAC, CORE_MAC, SCSCF, pcscf_core(), sip.as_bytes())
}

#[test]
fn every_bad_frame_is_a_counted_drop_and_good_traffic_still_flows() {
    let v6 = |f: fn(&mut Vec<u8>)| edit6(true, f);
    let access: Vec<(&str, Vec<u8>, &'static str)> = vec![
        // Ethernet.
        ("empty frame", vec![], "eth_truncated"),
        ("13 bytes", good_frame("x")[..13].to_vec(), "eth_truncated"),
        ("VLAN tag cut", edit(false, |v| {
            v.truncate(14);
            v[12..14].copy_from_slice(&[0x81, 0]);
            v.extend_from_slice(&[0, 1]);
        }), "eth_truncated"),
        ("ethertype 0x1234", edit(false, |v| v[12..14].copy_from_slice(&[0x12, 0x34])), "eth_unsupported_type"),
        ("three VLAN tags", edit(false, |v| {
            v.splice(12..12, [0x81, 0, 0, 1, 0x88, 0xa8, 0, 2, 0x81, 0, 0, 3]);
        }), "eth_too_many_tags"),
        // IPv4.
        ("IPv4 header cut", good_frame("x")[..IP + 12].to_vec(), "ipv4_malformed"),
        ("IPv4 version 5", edit(true, |v| v[IP] = 0x55), "ipv4_malformed"),
        ("IPv4 IHL 4", edit(true, |v| v[IP] = 0x44), "ipv4_malformed"),
        ("IPv4 total length past the frame", edit(true, |v| {
            let n = v.len() - IP + 1;
            set16(v, IP + 2, n as u16);
        }), "ipv4_malformed"),
        ("IPv4 total length below the header", edit(true, |v| set16(v, IP + 2, 19)), "ipv4_malformed"),
        ("IPv4 header checksum", edit(false, |v| v[IP + 10] ^= 0x40), "ipv4_bad_checksum"),
        ("IPv4 option past the header", with_options(&[0x44, 0x10, 0, 0]), "ipv4_bad_options"),
        ("IPv4 option length 1", with_options(&[0x07, 0x01, 0, 0]), "ipv4_bad_options"),
        ("IPv4 more fragments", edit(true, |v| v[IP + 6] = 0x20), "ipv4_fragment"),
        ("IPv4 fragment offset", edit(true, |v| set16(v, IP + 6, 0x0010)), "ipv4_fragment"),
        ("source multicast", edit(true, |v| v[IP + 12..IP + 16].copy_from_slice(&[224, 0, 0, 1])), "bad_address"),
        ("source broadcast", edit(true, |v| v[IP + 12..IP + 16].copy_from_slice(&[255; 4])), "bad_address"),
        ("source loopback", edit(true, |v| v[IP + 12..IP + 16].copy_from_slice(&[127, 0, 0, 1])), "bad_address"),
        ("destination 0.0.0.0", edit(true, |v| v[IP + 16..IP + 20].copy_from_slice(&[0; 4])), "bad_address"),
        ("not our address", edit(true, |v| v[IP + 19] = 99), "not_for_us"),
        ("our core address on the access port", edit(true, |v| v[IP + 16..IP + 20].copy_from_slice(&CORE_V4.octets())), "not_for_us"),
        ("ICMP", edit(true, |v| v[IP + 9] = 1), "unsupported_protocol"),
        ("GRE", edit(true, |v| v[IP + 9] = 47), "unsupported_protocol"),
        // UDP.
        ("UDP header cut", edit(true, |v| {
            v.truncate(UDP + 6);
            set16(v, IP + 2, 26);
        }), "udp_malformed"),
        ("UDP length 7", edit(true, |v| set16(v, UDP + 4, 7)), "udp_malformed"),
        ("UDP length past IP", edit(true, |v| {
            let n = v.len() - UDP + 1;
            set16(v, UDP + 4, n as u16);
        }), "udp_malformed"),
        ("UDP checksum", edit(false, |v| v[UDP + 6] ^= 0x01), "udp_bad_checksum"),
        ("payload byte changed under the checksum", edit(false, |v| *v.last_mut().unwrap() ^= 0x20), "udp_bad_checksum"),
        ("not the SIP port", edit(true, |v| set16(v, UDP + 2, 9999)), "not_sip"),
        // TCP.
        ("SIP over TCP", tcp_frame(5), "tcp_sip_unsupported"),
        ("TCP data offset past the segment", tcp_frame(15), "tcp_malformed"),
        ("TCP data offset 4", tcp_frame(4), "tcp_malformed"),
        // IPv6.
        ("IPv6 header cut", alice6().frame(b"x")[..IP + 30].to_vec(), "ipv6_malformed"),
        ("IPv6 version 4", v6(|v| v[IP] = 0x40), "ipv6_malformed"),
        ("IPv6 payload length past the frame", v6(|v| {
            let n = v.len() - IP - 40 + 1;
            set16(v, IP + 4, n as u16);
        }), "ipv6_malformed"),
        ("IPv6 fragment header", v6(|v| {
            v.splice(IP + 40..IP + 40, [17, 0, 0, 1, 0, 0, 0, 7]);
            v[IP + 6] = 44;
            let n = u16::from_be_bytes([v[IP + 4], v[IP + 5]]) + 8;
            set16(v, IP + 4, n);
        }), "ipv6_fragment"),
        ("IPv6 hop-by-hop past the packet", v6(|v| {
            v.splice(IP + 40..IP + 40, [17, 200, 0, 0, 0, 0, 0, 0]);
            v[IP + 6] = 0;
            let n = u16::from_be_bytes([v[IP + 4], v[IP + 5]]) + 8;
            set16(v, IP + 4, n);
        }), "ipv6_bad_ext_header"),
        ("IPv6 source multicast", v6(|v| v[IP + 8] = 0xff), "bad_address"),
        ("IPv6 UDP checksum zero", edit6(false, |v| {
            v[IP + 40 + 6] = 0;
            v[IP + 40 + 7] = 0;
        }), "udp_bad_checksum"),
        ("IPv6 UDP checksum wrong", edit6(false, |v| v[IP + 40 + 6] ^= 0x10), "udp_bad_checksum"),
        // ARP for an address that is not ours.
        ("ARP for another host", arp_request([10, 77, 0, 77]), "not_for_us"),
        // Neighbor Discovery for another host, and one that is invalid.
        (
            "NS for another host",
            neighbor_solicitation("fd00:77::77".parse().unwrap(), 255),
            "not_for_us",
        ),
        ("NS with hop limit 64", neighbor_solicitation(ACCESS_V6, 64), "nd_malformed"),
        // SIP.
        ("binary payload", with_sip(b"\x00\x01\x02\x03binary\xff"), "sip_malformed"),
        ("empty payload", with_sip(b""), "sip_malformed"),
        ("HTTP", with_sip(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"), "sip_malformed"),
        ("LF line endings", with_sip(&good_sip("lf").iter().copied().filter(|&c| c != b'\r').collect::<Vec<_>>()), "sip_malformed"),
        ("no end of headers", with_sip(b"MESSAGE sip:bob@ims.example SIP/2.0\r\nVia: SIP/2.0/UDP 10.77.0.2\r\n"), "sip_malformed"),
        ("Content-Length past the datagram", with_sip(&String::from_utf8(good_sip("cl")).unwrap().replace("Content-Length: 0", "Content-Length: 10").into_bytes()), "sip_malformed"),
        ("Content-Length not a number", with_sip(&String::from_utf8(good_sip("cl")).unwrap().replace("Content-Length: 0", "Content-Length: zero").into_bytes()), "sip_malformed"),
        ("header line without a colon", with_sip(b"OPTIONS sip:bob@ims.example SIP/2.0\r\nVia\r\n\r\n"), "sip_malformed"),
        ("status 99", with_sip(b"SIP/2.0 099 Low\r\nVia: SIP/2.0/UDP 10.77.1.1:5060;branch=z9hG4bKpdp00\r\n\r\n"), "sip_malformed"),
        ("SIP/3.0", with_sip(b"OPTIONS sip:bob@ims.example SIP/3.0\r\n\r\n"), "sip_malformed"),
        ("Max-Forwards 0", with_sip(&String::from_utf8(good_sip("mf")).unwrap().replace("Max-Forwards: 70", "Max-Forwards: 0").into_bytes()), "too_many_hops"),
        ("Max-Forwards not a number", with_sip(&String::from_utf8(good_sip("mf")).unwrap().replace("Max-Forwards: 70", "Max-Forwards: many").into_bytes()), "too_many_hops"),
        ("too large once our headers are added", with_sip(&alice().request("MESSAGE", "big", None).body("text/plain", &[b'z'; 1370]).build()), "sip_too_large"),
        ("a response from a UE that is not for us", with_sip(b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 10.77.0.9;branch=z9hG4bKother\r\nContent-Length: 0\r\n\r\n"), "no_route"),
    ];
    let core: Vec<(&str, Vec<u8>, &'static str)> = vec![
        ("response without our Via", core_response("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 10.77.0.2;branch=z9hG4bK1\r\nCSeq: 1 MESSAGE\r\nContent-Length: 0\r\n\r\n"), "no_route"),
        ("response with a forged branch", core_response("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 10.77.1.1:5060;branch=z9hG4bKpdp000a4d000213c4c2f98cb0446cc40e\r\nVia: SIP/2.0/UDP 10.77.0.2;branch=z9hG4bK1\r\nCSeq: 1 MESSAGE\r\nContent-Length: 0\r\n\r\n"), "no_route"),
        ("response with a short branch", core_response("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 10.77.1.1:5060;branch=z9hG4bKpdp0\r\nContent-Length: 0\r\n\r\n"), "no_route"),
        ("response with no Via", core_response("SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n"), "no_route"),
        ("request to an unknown contact", Scscf.request_to("MESSAGE", "10.77.0.50:5060".parse().unwrap(), "u"), "unknown_contact"),
        ("request to a domain name", core_response("MESSAGE sip:alice@ims.example SIP/2.0\r\nVia: SIP/2.0/UDP 10.77.1.2;branch=z9hG4bK1\r\nContent-Length: 0\r\n\r\n"), "unknown_contact"),
        ("access address on the core port", {
            let mut v = Scscf.request_to("MESSAGE", alice().addr, "a");
            v[IP + 16..IP + 20].copy_from_slice(&ACCESS_V4.octets());
            fix_checksums(&mut v);
            v
        }, "not_for_us"),
        ("garbage on the core port", vec![0x5a; 80], "eth_unsupported_type"),
    ];

    let mut h = Harness::start(&config());
    let mut want: BTreeMap<&str, u64> = BTreeMap::new();
    let mut last = h.worker_drops();
    for (side, list) in [("access", &access), ("core", &core)] {
        for (what, frame, reason) in list {
            if side == "access" {
                h.send_access(frame);
            } else {
                h.send_core(frame);
            }
            *want.entry(reason).or_default() += 1;
            assert!(h.settle(), "{what}: the worker did not take the frame in");
            let now = h.worker_drops();
            let grew: Vec<_> = now
                .iter()
                .filter(|(k, n)| last.get(*k) != Some(n))
                .map(|(k, _)| *k)
                .collect();
            assert_eq!(grew, vec![*reason], "{side}: {what}");
            last = now;
        }
    }
    // ARP for our address is answered, and the data plane still forwards.
    h.send_access(&arp_request(ACCESS_V4.octets()));
    let arp = h.recv_access_raw().expect("ARP reply");
    assert_eq!(&arp[12..14], &[0x08, 0x06]);
    assert_eq!(&arp[20..22], &[0, 2], "an ARP reply");
    assert_eq!(&arp[22..28], &ACCESS_MAC);
    // So is a Neighbor Solicitation for our IPv6 address.
    h.send_access(&neighbor_solicitation(ACCESS_V6, 255));
    let na = h.recv_access_raw().expect("Neighbor Advertisement");
    assert_eq!(&na[0..12], &[&UE_GW_MAC[..], &ACCESS_MAC[..]].concat()[..]);
    assert_eq!(
        (na[12], na[13], na[20], na[21], na[54]),
        (0x86, 0xdd, 58, 255, 136)
    );
    assert_eq!(&na[22..38], &ACCESS_V6.octets(), "from our address");
    assert_eq!(&na[62..78], &ACCESS_V6.octets(), "target");
    assert_eq!(
        &na[78..86],
        &[&[2u8, 1][..], &ACCESS_MAC[..]].concat()[..],
        "our MAC"
    );
    h.send_access(&good_frame("after"));
    let s = Scscf.check_forwarded(&h.recv_core());
    assert_eq!(s.one("Call-ID"), "after@ue");
    assert_eq!(s.one("P-Asserted-Identity"), "<sip:alice@ims.example>");
    let a6 = alice6();
    h.send_access(&a6.frame(&a6.request("OPTIONS", "after6", None).build()));
    assert_eq!(Scscf.check_forwarded(&h.recv_core()).one("Call-ID"), "after6@ue");
    let rep = h.finish();
    let got: BTreeMap<&str, u64> = rep.drops.iter().map(|(k, v)| (*k, *v)).collect();
    assert_eq!(got, want, "{}", rep.human());
    assert_eq!(rep.exceptions, 0);
}

/// A deterministic xorshift generator (no dependency, reproducible).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn garbage_and_corrupted_frames_never_stop_the_data_plane() {
    let mut h = Harness::start(&config());
    let mut rng = Rng(0x1234_5678_9abc_def1);
    let n = 600;
    for i in 0..n {
        let f = match i % 3 {
            // Pure garbage of any length up to a jumbo-ish buffer.
            0 => (0..rng.next() % 2048)
                .map(|_| rng.next() as u8)
                .collect::<Vec<u8>>(),
            // A good frame truncated anywhere.
            1 => {
                let g = good_frame("t");
                let cut = (rng.next() as usize) % g.len();
                g[..cut].to_vec()
            }
            // A good frame with a few bytes overwritten (checksums left
            // as they were).
            _ => {
                let mut g = good_frame("c");
                for _ in 0..1 + rng.next() % 4 {
                    let at = (rng.next() as usize) % g.len();
                    g[at] = rng.next() as u8;
                }
                g
            }
        };
        if i % 2 == 0 {
            h.send_access(&f);
        } else {
            h.send_core(&f);
        }
    }
    h.send_access(&good_frame("after"));
    // Anything forwarded from a corrupted frame (a byte can land where no
    // check covers it, e.g. a MAC address or the SIP body) must parse again
    // with valid checksums; the good frame comes through.
    let mut seen_good = false;
    let mut extra = Vec::new();
    while let Some(raw) = h.recv_core_raw() {
        let f = Frame::parse(raw).expect("a forwarded frame must parse with valid checksums");
        if f.sip().all("Call-ID") == ["after@ue"] {
            seen_good = true;
            break;
        }
        extra.push(f);
    }
    assert!(seen_good, "the good frame was not forwarded after the garbage");
    let (rep, to_access, to_core) = h.finish_with_strays();
    for raw in to_access.into_iter().chain(to_core) {
        dataplane::wire::parse_frame(&raw, true).expect("a frame we sent must parse with valid checksums");
    }
    let worker_drops: u64 = rep.workers.iter().map(|w| w.drops).sum();
    assert_eq!(
        worker_drops + rep.tx + rep.exceptions,
        rep.rx,
        "every frame is accounted for\n{}",
        rep.human()
    );
    assert_eq!(rep.rx, n + 1);
    assert!(
        worker_drops >= n - 30,
        "almost everything must be dropped:\n{}",
        rep.human()
    );
}

#[test]
fn dropped_frames_give_their_buffers_back_to_the_pool() {
    // Frames that can only be dropped (truncated inside the IP or UDP
    // header, or of an EtherType we do not take): each buffer must end up
    // back in the access link's pool, not freed to the allocator (the
    // peer would then allocate a new one for every frame).
    let mut h = Harness::start(&config());
    let g = good_frame("drop");
    let n = 300u64;
    for i in 0..n {
        let f = match i % 3 {
            0 => g[..20].to_vec(),
            1 => g[..40].to_vec(),
            _ => {
                let mut f = g.clone();
                f[12..14].copy_from_slice(&0x88b5u16.to_be_bytes());
                f
            }
        };
        h.send_access(&f);
    }
    let (rep, free) = h.finish_counting_access_buffers();
    let worker_drops: u64 = rep.workers.iter().map(|w| w.drops).sum();
    assert_eq!((rep.rx, worker_drops, rep.tx), (n, n, 0), "{}", rep.human());
    assert_eq!(
        free,
        Harness::LINK_BUFFERS,
        "buffers lost from the access link's pool"
    );
}
