//! End to end over `mem` ports with static `[[sa_set]]` SA sets (manual
//! keying from CK/IK, TS 33.203 Annex I), for every allowed algorithm pair:
//! a UE protects a MESSAGE from port-uc to port-ps with spi-ps, the core
//! sees the set's identity asserted, and the core's answer comes back
//! ESP-protected to port-uc with spi-uc from port-ps, which the UE
//! simulator decapsulates. Then every ESP failure is a counted drop.

use std::net::{IpAddr, SocketAddr};

use control::types::{EncrAlg, IntegAlg};
use dataplane::esp::EspCrypto;
use tests::*;

fn esp_toml(spec: &SaSpec) -> String {
    base_toml() + "\n[esp]\nallow_hmac_md5 = true\n" + &spec.toml()
}

/// The request as the UE sends it over the SA: Via names its protected
/// client port.
fn protected_request(sa: &UeSa, method: &str, call: &str, ppi: Option<&str>) -> Msg {
    let u = Ue::new(SocketAddr::new(sa.spec.ue, sa.spec.port_uc), "esp");
    let mut m = u
        .request(method, call, None)
        .header("P-Asserted-Identity", "<sip:root@ims.example>");
    if let Some(p) = ppi {
        m = m.header("P-Preferred-Identity", p);
    }
    m.body("text/plain", b"over ESP")
}

fn round_trip(ue_ip: IpAddr, n: u32, alg: IntegAlg, ealg: EncrAlg) {
    let spec = SaSpec::new(ue_ip, n, alg, ealg);
    let mut h = Harness::start(&esp_toml(&spec));
    let sa = spec.ue_side();
    let tel = spec.impus[1].clone();
    for (call, ppi, want) in [
        ("a1", Some(format!("<{tel}>")), &tel),
        ("a2", None, &spec.impus[0]),
    ] {
        h.send_access(&sa.protect(&protected_request(&sa, "MESSAGE", call, ppi.as_deref()).build()));
        let f = h.recv_core();
        let s = Scscf.check_forwarded(&f);
        assert_eq!(
            s.all("P-Asserted-Identity"),
            vec![format!("<{want}>")],
            "{}",
            s.text()
        );
        assert!(s.all("P-Preferred-Identity").is_empty());
        assert_eq!(s.body, b"over ESP");
        let ue_via = format!(
            "SIP/2.0/UDP {};branch=z9hG4bK{call}",
            hostport(SocketAddr::new(ue_ip, spec.port_uc))
        );
        assert_eq!(s.all("Via")[1..], *std::slice::from_ref(&ue_via));

        h.send_core(&Scscf.answer(&f, 200));
        let raw = h.recv_access_raw().expect("the response did not come back");
        let outer = dataplane::wire::parse_frame(&raw, true).expect("outer frame parses");
        assert!(
            outer.is_esp(),
            "the response to a protected request must be protected"
        );
        assert_eq!(outer.spi, spec.spi_uc, "SPI toward port-uc");
        assert_eq!(outer.src, sa.pcscf_ip());
        assert_eq!(outer.dst, ue_ip);
        assert_eq!(&raw[0..12], &[UE_GW_MAC, ACCESS_MAC].concat()[..]);
        let inner = sa.unprotect(&raw).expect("the UE decapsulates the response");
        assert_eq!(
            inner.src(),
            SocketAddr::new(sa.pcscf_ip(), spec.port_ps),
            "from our port-ps"
        );
        assert_eq!(
            inner.dst(),
            SocketAddr::new(ue_ip, spec.port_uc),
            "to the UE's port-uc"
        );
        verify_checksums(&inner.bytes).unwrap();
        let rs = inner.sip();
        assert_eq!(rs.status(), Some(200));
        assert_eq!(rs.all("Via"), vec![ue_via]);
        assert_eq!(rs.one("Call-ID"), format!("{call}@ue"));
    }
    let rep = h.finish();
    assert_eq!(drops(&rep), vec![], "{}", rep.human());
    assert_eq!((rep.asserted, rep.responses), (2, 2));
    // The first packet over the set is reported to the control thread.
    assert_eq!(rep.exceptions, 1, "one first-use report\n{}", rep.human());
}

macro_rules! pair {
    ($name:ident, $n:expr, $alg:ident, $ealg:ident) => {
        #[test]
        fn $name() {
            round_trip(
                "10.77.0.10".parse().unwrap(),
                $n,
                IntegAlg::$alg,
                EncrAlg::$ealg,
            );
        }
    };
}

pair!(hmac_sha1_null, 1, HmacSha196, Null);
pair!(hmac_sha1_aes_cbc, 2, HmacSha196, AesCbc);
pair!(hmac_md5_null, 3, HmacMd596, Null);
pair!(hmac_md5_aes_cbc, 4, HmacMd596, AesCbc);
pair!(aes_gmac_null, 5, AesGmac, Null);
pair!(null_aes_gcm, 6, Null, AesGcm);

#[test]
fn ipv6_ue_hmac_sha1_aes_cbc() {
    round_trip(
        "fd00:77::30".parse().unwrap(),
        7,
        IntegAlg::HmacSha196,
        EncrAlg::AesCbc,
    );
}

#[test]
fn ipv6_ue_aes_gcm() {
    round_trip("fd00:77::31".parse().unwrap(), 8, IntegAlg::Null, EncrAlg::AesGcm);
}

#[test]
fn md5_needs_the_policy_switch() {
    let spec = SaSpec::new(
        "10.77.0.10".parse().unwrap(),
        1,
        IntegAlg::HmacMd596,
        EncrAlg::Null,
    );
    let e = dataplane::config::Config::from_toml("t.toml", &(base_toml() + &spec.toml())).unwrap_err();
    assert!(e.to_string().contains("sa_set[0].alg"), "{e}");
}

/// Offsets in an ESP frame built by [`UeSa::protect`] over IPv4.
const ESP_OFF: usize = 14 + 20;

fn good(h: &mut Harness, sa: &UeSa, call: &str) {
    h.send_access(&sa.protect(&protected_request(sa, "MESSAGE", call, None).build()));
    let s = Scscf.check_forwarded(&h.recv_core());
    assert_eq!(s.one("Call-ID"), format!("{call}@ue"));
}

#[test]
fn esp_failures_are_counted_drops_and_the_sa_keeps_working() {
    let spec = SaSpec::new(
        "10.77.0.10".parse().unwrap(),
        1,
        IntegAlg::HmacSha196,
        EncrAlg::AesCbc,
    );
    let mut h = Harness::start(&esp_toml(&spec));
    let sa = spec.ue_side();
    let sip = |call: &str| protected_request(&sa, "MESSAGE", call, None).build();

    // Wrong ICV.
    let mut f = sa.protect(&sip("icv"));
    *f.last_mut().unwrap() ^= 1;
    h.send_access(&f);
    good(&mut h, &sa, "g1");

    // Replay of a packet that was accepted.
    let f = sa.protect(&sip("r"));
    h.send_access(&f);
    assert_eq!(Scscf.check_forwarded(&h.recv_core()).one("Call-ID"), "r@ue");
    h.send_access(&f);
    good(&mut h, &sa, "g2");

    // Unknown SPI.
    let mut f = sa.protect(&sip("spi"));
    f[ESP_OFF..ESP_OFF + 4].copy_from_slice(&0xdead_beefu32.to_be_bytes());
    h.send_access(&f);

    // Inner ports that do not match the SA: wrong source port, then the
    // destination port of the other inbound SA (port-pc).
    h.send_access(&sa.protect_ports(&sip("p1"), spec.port_uc + 5, spec.port_ps));
    h.send_access(&sa.protect_ports(&sip("p2"), spec.port_uc, spec.port_pc));
    good(&mut h, &sa, "g3");

    // Truncated: the IP packet cut inside the IV (lengths kept consistent).
    let mut f = sa.protect(&sip("t"));
    f.truncate(ESP_OFF + 8 + 4);
    let tl = (f.len() - 14) as u16;
    f[16..18].copy_from_slice(&tl.to_be_bytes());
    fix_checksums(&mut f);
    h.send_access(&f);

    // Too old: jump the sender far ahead, then send from a fresh counter.
    sa.out.set_last_seq(1_000_000);
    good(&mut h, &sa, "g4");
    let old = spec.ue_side();
    h.send_access(&old.protect(&sip("old")));
    good(&mut h, &sa, "g5");

    // Plaintext to the protected port from the SA's address: not SIP for
    // us; to the SIP port: an unbound sender (403).
    let ue_plain = Ue::new(SocketAddr::new(spec.ue, spec.port_uc), "esp");
    let m = ue_plain.request("MESSAGE", "pl", None).build();
    h.send_access(&udp_frame(
        UE_GW_MAC,
        ACCESS_MAC,
        ue_plain.addr,
        SocketAddr::new(sa.pcscf_ip(), spec.port_ps),
        &m,
    ));
    h.send_access(&ue_plain.frame(&m));
    assert_eq!(h.recv_access().sip().status(), Some(403));
    good(&mut h, &sa, "g6");

    let rep = h.finish();
    assert_eq!(
        drops(&rep),
        vec![
            ("esp_bad_icv", 1),
            ("esp_port_mismatch", 2),
            ("esp_replay", 1),
            ("esp_too_old", 1),
            ("esp_truncated", 1),
            ("esp_unknown_spi", 1),
            ("not_sip", 1),
        ],
        "{}",
        rep.human()
    );
    assert_eq!(rep.asserted, 7);
}

#[test]
fn bad_padding_and_next_header_under_a_valid_icv() {
    // Null encryption: the trailer can be edited and the ICV recomputed,
    // so the packet passes integrity and fails on the trailer checks.
    let spec = SaSpec::new(
        "10.77.0.10".parse().unwrap(),
        1,
        IntegAlg::HmacSha196,
        EncrAlg::Null,
    );
    let mut h = Harness::start(&esp_toml(&spec));
    let sa = spec.ue_side();
    let icv = sa.out.crypto().icv_len();
    let reseal = |f: &mut Vec<u8>, at_from_end: usize, v: u8| {
        let end = f.len();
        f[end - icv - at_from_end] = v;
        sa.out.crypto().seal(&mut f[ESP_OFF..end]).expect("seal");
    };
    let sip = |call: &str| protected_request(&sa, "MESSAGE", call, None).build();
    // Pad length 255: more padding than payload.
    let mut f = sa.protect(&sip("pad"));
    reseal(&mut f, 2, 255);
    h.send_access(&f);
    // Next header 99 (neither UDP nor TCP).
    let mut f = sa.protect(&sip("nh"));
    reseal(&mut f, 1, 99);
    h.send_access(&f);
    good(&mut h, &sa, "g1");
    let rep = h.finish();
    assert_eq!(
        drops(&rep),
        vec![("esp_bad_next_header", 1), ("esp_bad_padding", 1)],
        "{}",
        rep.human()
    );
}

#[test]
fn esp_toward_the_core_side_and_udp_encapsulated_esp_are_refused() {
    let spec = SaSpec::new(
        "10.77.0.10".parse().unwrap(),
        1,
        IntegAlg::HmacSha196,
        EncrAlg::AesCbc,
    );
    let mut h = Harness::start(&esp_toml(&spec));
    let sa = spec.ue_side();
    let f = sa.protect(&protected_request(&sa, "MESSAGE", "c", None).build());
    // The same ESP packet arriving on the core port, addressed to us there.
    let mut c = f.clone();
    c[0..12].copy_from_slice(&[CORE_MAC, CORE_GW_MAC].concat());
    c[26..30].copy_from_slice(&[10, 77, 1, 2]);
    c[30..34].copy_from_slice(&CORE_V4.octets());
    fix_checksums(&mut c);
    h.send_core(&c);
    // RFC 3948: the ESP packet inside UDP port 4500.
    let esp = &f[ESP_OFF..];
    let u = udp_frame(
        UE_GW_MAC,
        ACCESS_MAC,
        SocketAddr::new(spec.ue, 4500),
        SocketAddr::new(sa.pcscf_ip(), 4500),
        esp,
    );
    h.send_access(&u);
    good(&mut h, &sa, "g");
    let rep = h.finish();
    assert_eq!(
        drops(&rep),
        vec![("esp_udp_encap_unsupported", 1), ("esp_unknown_spi", 1)],
        "{}",
        rep.human()
    );
}

#[test]
fn protected_initial_invite_record_routes_our_protected_server_port() {
    let spec = SaSpec::new(
        "10.77.0.10".parse().unwrap(),
        3,
        IntegAlg::HmacSha196,
        EncrAlg::Null,
    );
    let mut h = Harness::start(&esp_toml(&spec));
    let sa = spec.ue_side();
    h.send_access(&sa.protect(&protected_request(&sa, "INVITE", "rr1", None).build()));
    let s = Scscf.check_forwarded(&h.recv_core());
    // Top: the entry the core uses; then the one the UE will send its
    // in-dialog requests to, over the SA, at our protected server port.
    assert_eq!(
        s.all("Record-Route"),
        vec![
            format!("<sip:{};lr>", hostport(pcscf_core())),
            format!(
                "<sip:{};lr>",
                hostport(SocketAddr::new(sa.pcscf_ip(), spec.port_ps))
            ),
        ],
        "{}",
        s.text()
    );
    assert_eq!(drops(&h.finish()), vec![]);
}
