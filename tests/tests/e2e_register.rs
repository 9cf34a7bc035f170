//! IMS AKA registration with IPsec end to end through pcscf-dp (`[registrar]
//! mode = "ims-aka"`), over `mem` ports: the UE simulator registers
//! unprotected with Security-Client, the S-CSCF simulator challenges with a
//! 401 carrying ck/ik, the UE derives the SA keys itself (TS 33.203
//! Annex I, `control::keys::derive_sa_keys`) from the Security-Server the
//! P-CSCF sent, registers again over the new SA, gets the 200 OK over ESP,
//! and then sends a MESSAGE over the SA that the workers forward with the
//! identity from P-Associated-URI. De-registration's 200 OK leaves
//! protected, and only then are the SAs gone.

use std::net::{IpAddr, SocketAddr};

use control::types::{EncrAlg, IntegAlg};
use dataplane::config::Config;
use tests::*;

const CK: [u8; 16] = *b"\x01\x23\x45\x67\x89\xab\xcd\xef\x10\x32\x54\x76\x98\xba\xdc\xfe";
const IK: [u8; 16] = *b"\xfe\xdc\xba\x98\x76\x54\x32\x10\x0f\x1e\x2d\x3c\x4b\x5a\x69\x78";

const IMPI: &str = "alice@ims.example";
const IMPU: &str = "sip:alice@ims.example";
const TEL: &str = "tel:+15550100";

fn registrar_toml() -> String {
    base_toml() + "\n[registrar]\nmode = \"ims-aka\"\nspi_min = 100000\nspi_max = 200000\n"
}

fn hex(k: &[u8; 16]) -> String {
    k.iter().map(|b| format!("{b:02x}")).collect()
}

/// The UE's side of sec-agree.
struct AkaUe {
    ue: Ue,
    spi_uc: u32,
    spi_us: u32,
    port_uc: u16,
    port_us: u16,
    /// The `alg`/`ealg` pairs offered, in the UE's order.
    offers: Vec<(IntegAlg, EncrAlg)>,
    cseq: u32,
}

impl AkaUe {
    fn new(ip: &str, offers: &[(IntegAlg, EncrAlg)]) -> AkaUe {
        AkaUe {
            ue: Ue::new(SocketAddr::new(ip.parse().unwrap(), 5060), "alice"),
            spi_uc: 0x3000_0010,
            spi_us: 0x3000_0011,
            port_uc: 41_000,
            port_us: 41_001,
            offers: offers.to_vec(),
            cseq: 0,
        }
    }

    fn ip(&self) -> IpAddr {
        self.ue.addr.ip()
    }

    fn security_client(&self) -> String {
        self.offers
            .iter()
            .map(|(a, e)| {
                format!(
                    "ipsec-3gpp;alg={};ealg={};prot=esp;mod=trans;spi-c={};spi-s={};port-c={};port-s={}",
                    a.name(),
                    e.name(),
                    self.spi_uc,
                    self.spi_us,
                    self.port_uc,
                    self.port_us
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// A REGISTER from `via` (the UE's sent-by), with `response` in
    /// Authorization and `extra` headers.
    fn register(
        &mut self,
        via: SocketAddr,
        response: &str,
        expires: u32,
        extra: &[(&str, String)],
    ) -> Vec<u8> {
        self.cseq += 1;
        let mut m = Msg::request("REGISTER", "sip:ims.example")
            .header(
                "Via",
                &format!(
                    "SIP/2.0/UDP {};branch=z9hG4bKreg{};rport",
                    hostport(via),
                    self.cseq
                ),
            )
            .header("Max-Forwards", "70")
            .header("From", &format!("<{IMPU}>;tag=ue1"))
            .header("To", &format!("<{IMPU}>"))
            .header("Call-ID", "reg1@ue")
            .header("CSeq", &format!("{} REGISTER", self.cseq))
            .header(
                "Contact",
                &format!(
                    "<sip:alice@{}>;expires={expires}",
                    hostport(SocketAddr::new(self.ip(), self.port_us))
                ),
            )
            .header(
                "Authorization",
                &format!(
                    "Digest username=\"{IMPI}\", realm=\"ims.example\", uri=\"sip:ims.example\", \
                     nonce=\"bm9uY2U=\", response=\"{response}\""
                ),
            )
            .header("Require", "sec-agree")
            .header("Proxy-Require", "sec-agree");
        for (n, v) in extra {
            m = m.header(n, v);
        }
        m.build()
    }
}

/// The S-CSCF's final response to the REGISTER `req` it received (echoing
/// Via, From, To with a tag, Call-ID, CSeq) with extra header lines.
fn scscf_response(req: &Frame, code: u16, reason: &str, extra: &[(&str, String)]) -> Vec<u8> {
    let s = req.sip();
    let mut m = Msg::response(code, reason);
    for v in s.all("via") {
        m = m.header("Via", &v);
    }
    m = m
        .header("From", &s.one("from"))
        .header("To", &format!("{};tag=scscf", s.one("to")))
        .header("Call-ID", &s.one("call-id"))
        .header("CSeq", &s.one("cseq"));
    for (n, v) in extra {
        m = m.header(n, v);
    }
    udp_frame(CORE_GW_MAC, CORE_MAC, SCSCF, req.src(), &m.build())
}

/// The parameters of a `Security-Server` value (`name` → value).
fn sec_params(v: &str) -> Vec<(String, String)> {
    v.split(';')
        .skip(1)
        .map(|p| match p.split_once('=') {
            Some((n, x)) => (n.trim().to_ascii_lowercase(), x.trim().to_string()),
            None => (p.trim().to_ascii_lowercase(), String::new()),
        })
        .collect()
}

fn param(ps: &[(String, String)], name: &str) -> String {
    match ps.iter().find(|(n, _)| n == name) {
        Some((_, v)) => v.clone(),
        None => panic!("Security-Server lacks {name}: {ps:?}"),
    }
}

/// What the UE holds after the 401: its SAs and the Security-Server to echo.
struct Challenged {
    sa: UeSa,
    server: String,
    /// The 401 as the S-CSCF sent it (with ck/ik).
    r401: Vec<u8>,
}

/// The S-CSCF's WWW-Authenticate value carrying `ck` and `ik`.
fn www(ck: &[u8; 16], ik: &[u8; 16]) -> String {
    format!(
        "Digest realm=\"ims.example\", nonce=\"bm9uY2U=\", algorithm=AKAv1-MD5, qop=\"auth\", \
         ck=\"{}\", ik=\"{}\"",
        hex(ck),
        hex(ik)
    )
}

/// Steps 1 to 4: the unprotected REGISTER reaches the S-CSCF, whose 401
/// reaches the UE without ck/ik and with Security-Server; the UE sets up
/// its SAs from it. `want` is the pair the P-CSCF must choose.
fn challenge(h: &mut Harness, u: &mut AkaUe, want: (IntegAlg, EncrAlg)) -> Challenged {
    let client = u.security_client();
    let reg = u.register(u.ue.addr, "", 600_000, &[("Security-Client", client)]);
    h.send_access(&u.ue.frame(&reg));

    let f = h.recv_core();
    let s = Scscf.check_forwarded(&f);
    assert_eq!(s.method(), Some("REGISTER"));
    assert!(
        s.all("Security-Client").is_empty(),
        "Security-Client reached the core:\n{}",
        s.text()
    );
    assert!(
        s.one("Authorization").contains("integrity-protected=\"no\""),
        "{}",
        s.text()
    );
    let vias = s.all("via");
    assert_eq!(vias.len(), 2, "{}", s.text());
    assert!(
        vias[1].contains(&format!("received={}", u.ip())) && vias[1].contains("rport=5060"),
        "received/rport on the UE's Via: {}",
        vias[1]
    );
    assert_eq!(s.one("Max-Forwards"), "69");

    let r401 = scscf_response(&f, 401, "Unauthorized", &[("WWW-Authenticate", www(&CK, &IK))]);
    h.send_core(&r401);

    let a = h.recv_access();
    assert!(
        !a.p.is_esp(),
        "the 401 to an unprotected REGISTER goes unprotected"
    );
    assert_eq!(a.src(), u.ue.pcscf(), "from our unprotected port");
    assert_eq!(a.dst(), u.ue.addr, "to the REGISTER's source (received/rport)");
    assert_eq!((a.src_mac(), a.dst_mac()), (ACCESS_MAC, UE_GW_MAC));
    verify_checksums(&a.bytes).unwrap();
    let r = a.sip();
    assert_eq!(r.status(), Some(401), "{}", r.text());
    let www = r.one("WWW-Authenticate");
    assert!(
        !www.contains("ck=") && !www.contains("ik="),
        "ck/ik must never reach the UE: {www}"
    );
    assert!(www.contains("nonce=\"bm9uY2U=\""), "{www}");
    assert_eq!(r.all("via").len(), 1, "our Via is gone:\n{}", r.text());
    assert!(r.all("via")[0].contains("branch=z9hG4bKreg"), "{}", r.text());

    accept_401(&r, u, want, (&CK, &IK), r401)
}

/// The UE reads the Security-Server of the 401 `r` and builds its SAs from
/// it and the AKA keys.
fn accept_401(
    r: &SipView,
    u: &AkaUe,
    want: (IntegAlg, EncrAlg),
    (ck, ik): (&[u8; 16], &[u8; 16]),
    r401: Vec<u8>,
) -> Challenged {
    let server = r.one("Security-Server");
    let ps = sec_params(&server);
    assert!(server.starts_with("ipsec-3gpp"), "{server}");
    assert_eq!(param(&ps, "alg"), want.0.name(), "{server}");
    assert_eq!(
        ps.iter()
            .find(|(n, _)| n == "ealg")
            .map_or("null", |(_, v)| v.as_str()),
        want.1.name(),
        "{server}"
    );
    assert_eq!(param(&ps, "mod"), "trans");
    let spec = SaSpec {
        ue: u.ip(),
        port_uc: u.port_uc,
        port_us: u.port_us,
        port_pc: param(&ps, "port-c").parse().unwrap(),
        port_ps: param(&ps, "port-s").parse().unwrap(),
        spi_uc: u.spi_uc,
        spi_us: u.spi_us,
        spi_pc: param(&ps, "spi-c").parse().unwrap(),
        spi_ps: param(&ps, "spi-s").parse().unwrap(),
        alg: want.0,
        ealg: want.1,
        ck: *ck,
        ik: *ik,
        impi: IMPI.into(),
        impus: vec![IMPU.into(), TEL.into()],
    };
    for spi in [spec.spi_pc, spec.spi_ps] {
        assert!(
            (100_000..=200_000).contains(&spi),
            "inbound SPI {spi} from the configured range"
        );
    }
    assert_ne!(spec.port_pc, spec.port_ps);
    // The UE derives its keys from CK/IK itself (TS 33.203 Annex I).
    Challenged {
        sa: spec.ue_side(),
        server,
        r401,
    }
}

/// The UE's protected REGISTER over SA1 (port-uc → port-ps, spi-ps) reaches
/// the S-CSCF; its 200 OK comes back to the UE over SA3 (spi-uc, port-ps →
/// port-uc). Returns the 200 as the UE read it.
fn protected_register(h: &mut Harness, u: &mut AkaUe, c: &Challenged, expires: u32) -> SipView {
    let via = SocketAddr::new(u.ip(), u.port_uc);
    let extra = [
        ("Security-Client", u.security_client()),
        ("Security-Verify", c.server.clone()),
    ];
    let reg = u.register(via, "0123456789abcdef", expires, &extra);
    h.send_access(&c.sa.protect(&reg));

    let f = h.recv_core();
    let s = Scscf.check_forwarded(&f);
    assert_eq!(s.method(), Some("REGISTER"));
    assert!(s.all("Security-Client").is_empty(), "{}", s.text());
    assert!(s.all("Security-Verify").is_empty(), "{}", s.text());
    assert!(
        s.one("Authorization").contains("integrity-protected=\"yes\""),
        "{}",
        s.text()
    );

    let contact = format!(
        "<sip:alice@{}>;expires={expires}",
        hostport(SocketAddr::new(u.ip(), u.port_us))
    );
    let pau = format!("<{IMPU}>, <{TEL}>");
    h.send_core(&scscf_response(
        &f,
        200,
        "OK",
        &[("Contact", contact), ("P-Associated-URI", pau)],
    ));

    let raw = h.recv_access_raw().expect("the 200 OK did not reach the UE");
    let outer = dataplane::wire::parse_frame(&raw, true).expect("outer frame parses");
    assert!(
        outer.is_esp(),
        "the 200 OK to a protected REGISTER must be protected"
    );
    assert_eq!(outer.spi, c.sa.spec.spi_uc, "over SA3 (spi-uc)");
    assert_eq!((outer.src, outer.dst), (c.sa.pcscf_ip(), u.ip()));
    let inner = c.sa.unprotect(&raw).expect("the UE decapsulates the 200 OK");
    assert_eq!(
        inner.src(),
        SocketAddr::new(c.sa.pcscf_ip(), c.sa.spec.port_ps),
        "from port-ps"
    );
    assert_eq!(inner.dst(), via, "to port-uc");
    verify_checksums(&inner.bytes).unwrap();
    let r = inner.sip();
    assert_eq!(r.status(), Some(200), "{}", r.text());
    assert_eq!(r.all("via").len(), 1, "our Via is gone:\n{}", r.text());
    r
}

/// A MESSAGE from the UE over SA1, claiming another identity.
fn protected_message(u: &AkaUe, sa: &UeSa, call: &str) -> Vec<u8> {
    let via = SocketAddr::new(u.ip(), u.port_uc);
    sa.protect(
        &u.ue
            .request_from("MESSAGE", via, call, None)
            .header("P-Asserted-Identity", "<sip:root@ims.example>")
            .body("text/plain", b"hello over ESP")
            .build(),
    )
}

fn full_registration(ue_ip: &str, offers: &[(IntegAlg, EncrAlg)], want: (IntegAlg, EncrAlg)) {
    let mut h = Harness::start(&registrar_toml());
    let mut u = AkaUe::new(ue_ip, offers);

    // Before registering, a MESSAGE from the UE's address is still refused.
    h.send_access(&u.ue.frame(&u.ue.request("MESSAGE", "early", None).build()));
    let r = h.recv_access();
    assert_eq!(r.sip().status(), Some(403), "{}", r.sip().text());

    let c = challenge(&mut h, &mut u, want);
    let ok = protected_register(&mut h, &mut u, &c, 600);
    assert_eq!(ok.all("P-Associated-URI"), vec![format!("<{IMPU}>, <{TEL}>")]);

    // The workers now know the set's identity: a MESSAGE over the SA is
    // forwarded with the default IMPU asserted, the UE's claim removed.
    h.send_access(&protected_message(&u, &c.sa, "m1"));
    let f = h.recv_core();
    let s = Scscf.check_forwarded(&f);
    assert_eq!(s.method(), Some("MESSAGE"));
    assert_eq!(
        s.all("P-Asserted-Identity"),
        vec![format!("<{IMPU}>")],
        "{}",
        s.text()
    );
    assert_eq!(s.body, b"hello over ESP");
    // Its answer goes back over SA3 (the worker's path through sa_out).
    h.send_core(&Scscf.answer(&f, 200));
    let raw = h
        .recv_access_raw()
        .expect("the answer to the MESSAGE did not come back");
    let back = c.sa.unprotect(&raw).expect("the answer is protected with spi-uc");
    assert_eq!(back.sip().status(), Some(200));
    assert_eq!(back.sip().one("Call-ID"), "m1@ue");

    // A re-registration over the established set (no new authentication):
    // answered over the same SA, and the set keeps its identity.
    let again = protected_register(&mut h, &mut u, &c, 600);
    assert_eq!(again.one("CSeq"), "3 REGISTER");
    h.send_access(&protected_message(&u, &c.sa, "m1b"));
    let f = h.recv_core();
    assert_eq!(
        Scscf.check_forwarded(&f).all("P-Asserted-Identity"),
        vec![format!("<{IMPU}>")]
    );

    // De-registration: its 200 OK still leaves protected...
    let bye = protected_register(&mut h, &mut u, &c, 0);
    assert_eq!(bye.one("CSeq"), "4 REGISTER");
    // ...and only then are the SAs removed: protected traffic is now an
    // unknown SPI.
    h.send_access(&protected_message(&u, &c.sa, "m2"));
    assert!(h.settle());
    // (The worker drops it synchronously; `finish` fails on any frame left
    // unread, so nothing reached the core.)

    let rep = h.finish();
    assert_eq!(drops(&rep), vec![("esp_unknown_spi", 1)], "{}", rep.human());
    let reg = |k: &str| rep.registrar.get(k).copied().unwrap_or(0);
    assert_eq!(
        (
            reg("registers"),
            reg("challenges"),
            reg("registered"),
            reg("deregistered")
        ),
        (4, 1, 3, 1),
        "{}",
        rep.human()
    );
    assert_eq!(
        (rep.control_sa_sets_installed, rep.control_sa_sets_removed),
        (1, 1),
        "{}",
        rep.human()
    );
    assert_eq!(
        (rep.control_ue_unprotected, rep.control_ue_protected),
        (1, 3),
        "{}",
        rep.human()
    );
    assert_eq!(rep.control_forbidden, 1);
    assert_eq!(rep.asserted, 2);
}

#[test]
fn ims_aka_registration_null_aes_gcm_preferred() {
    // The UE offers the field-typical legacy pair first; the P-CSCF's
    // policy prefers null + aes-gcm.
    full_registration(
        "10.77.0.50",
        &[
            (IntegAlg::HmacSha196, EncrAlg::AesCbc),
            (IntegAlg::Null, EncrAlg::AesGcm),
        ],
        (IntegAlg::Null, EncrAlg::AesGcm),
    );
}

#[test]
fn ims_aka_registration_hmac_sha1_aes_cbc() {
    full_registration(
        "10.77.0.50",
        &[(IntegAlg::HmacSha196, EncrAlg::AesCbc)],
        (IntegAlg::HmacSha196, EncrAlg::AesCbc),
    );
}

#[test]
fn ims_aka_registration_ipv6_ue() {
    full_registration(
        "fd00:77::50",
        &[(IntegAlg::AesGmac, EncrAlg::Null)],
        (IntegAlg::AesGmac, EncrAlg::Null),
    );
}

#[test]
fn register_without_security_client_gets_494_unprotected() {
    let mut h = Harness::start(&registrar_toml());
    let mut u = AkaUe::new("10.77.0.51", &[]);
    let reg = u.register(u.ue.addr, "", 600_000, &[]);
    h.send_access(&u.ue.frame(&reg));
    let a = h.recv_access();
    assert!(!a.p.is_esp());
    assert_eq!(a.dst(), u.ue.addr);
    assert_eq!(a.sip().status(), Some(494), "{}", a.sip().text());
    let rep = h.finish();
    assert_eq!(rep.registrar.get("secagree_missing"), Some(&1), "{}", rep.human());
    assert_eq!(rep.control_registers_forwarded, 0);
}

#[test]
fn protected_request_on_the_temporary_set_is_not_forwarded() {
    let mut h = Harness::start(&registrar_toml());
    let mut u = AkaUe::new("10.77.0.52", &[(IntegAlg::HmacSha196, EncrAlg::Null)]);
    let c = challenge(&mut h, &mut u, (IntegAlg::HmacSha196, EncrAlg::Null));
    // Only REGISTER may use a temporary set (TS 24.229 table 5.2.2-1).
    h.send_access(&protected_message(&u, &c.sa, "t1"));
    assert!(h.settle());
    // `finish` fails on any frame left unread: nothing reached the core.
    let rep = h.finish();
    assert_eq!(
        drops(&rep),
        vec![("temporary_sa_not_register", 1)],
        "{}",
        rep.human()
    );
}

#[test]
fn registrar_config_maps_onto_the_registration_core() {
    let toml = registrar_toml()
        + "protected_port_base = 7000\nprotected_port_pairs = 4\nalg = [\"hmac-sha-1-96\"]\n\
           ealg = [\"aes-cbc\", \"null\"]\nmax_sets_per_impi = 2\n\n[timers]\nt1_ms = 250\nreg_await_auth_s = 60\n";
    let c = Config::from_toml("r.toml", &toml).unwrap();
    let r = c.registrar.expect("[registrar] enables the core");
    assert_eq!(r.pcscf_ip, IpAddr::V4(ACCESS_V4));
    assert_eq!(r.unprotected_port, SIP_PORT);
    assert_eq!((r.protected_port_base, r.protected_port_pairs), (7000, 4));
    assert_eq!((r.spi_min, r.spi_max), (100_000, 200_000));
    assert_eq!(r.integ_prefs, vec![IntegAlg::HmacSha196]);
    assert_eq!(r.encr_prefs, vec![EncrAlg::AesCbc, EncrAlg::Null]);
    assert_eq!(r.t1, std::time::Duration::from_millis(250));
    assert_eq!(r.reg_await_auth, std::time::Duration::from_secs(60));
    assert_eq!(r.max_sets_per_impi, 2);
    assert!(!r.annex_n);

    assert!(Config::from_toml("r.toml", &base_toml())
        .unwrap()
        .registrar
        .is_none());
    let off = base_toml() + "\n[registrar]\nmode = \"off\"\n";
    assert!(Config::from_toml("r.toml", &off).unwrap().registrar.is_none());
    // hmac-md5-96 only with the ESP policy switch, and then by default last.
    let md5 = base_toml() + "\n[esp]\nallow_hmac_md5 = true\n\n[registrar]\nmode = \"ims-aka\"\n";
    let r = Config::from_toml("r.toml", &md5).unwrap().registrar.unwrap();
    assert_eq!(r.integ_prefs.last(), Some(&IntegAlg::HmacMd596));
}

#[test]
fn bad_registrar_values_name_the_key() {
    for (extra, key) in [
        ("mode = \"digest\"", "registrar.mode"),
        (
            "mode = \"ims-aka\"\nprotected_port_base = 5050\nprotected_port_pairs = 8",
            "registrar.protected_port_base",
        ),
        ("mode = \"ims-aka\"\nspi_min = 10", "registrar.spi_min"),
        (
            "mode = \"ims-aka\"\nspi_min = 5000\nspi_max = 5000",
            "registrar.spi_max",
        ),
        ("mode = \"ims-aka\"\nalg = [\"hmac-md5-96\"]", "registrar.alg"),
        (
            "mode = \"ims-aka\"\nalg = [\"null\"]\nealg = [\"aes-cbc\"]",
            "registrar.alg",
        ),
        ("mode = \"ims-aka\"\nealg = [\"des-ede3-cbc\"]", "registrar.ealg"),
        (
            "mode = \"ims-aka\"\nmax_sets_per_impi = 0",
            "registrar.max_sets_per_impi",
        ),
        ("mode = \"ims-aka\"\nmodee = 1", "modee"),
    ] {
        let toml = base_toml() + "\n[registrar]\n" + extra + "\n";
        let e = Config::from_toml("f.toml", &toml).unwrap_err().to_string();
        assert!(e.contains("f.toml") && e.contains(key), "{key}: {e}");
    }
    // A static SA set's inbound SPI inside the registrar's range is refused.
    let spec = SaSpec::new(
        "10.77.0.10".parse().unwrap(),
        1,
        IntegAlg::HmacSha196,
        EncrAlg::AesCbc,
    );
    let toml = base_toml() + &spec.toml() + "\n[registrar]\nmode = \"ims-aka\"\nspi_min = 256\n";
    let e = Config::from_toml("f.toml", &toml).unwrap_err().to_string();
    assert!(e.contains("registrar.spi_min") && e.contains("sa_set[0]"), "{e}");
}

#[test]
fn a_401_the_registrar_cannot_match_is_dropped_never_forwarded_with_ck_ik() {
    let mut h = Harness::start(&registrar_toml());
    let mut u = AkaUe::new("10.77.0.53", &[(IntegAlg::HmacSha196, EncrAlg::AesCbc)]);
    let c = challenge(&mut h, &mut u, (IntegAlg::HmacSha196, EncrAlg::AesCbc));
    // The S-CSCF's server transaction sends its 401 again.
    h.send_core(&c.r401);
    assert!(h.settle());
    assert_eq!(h.recv_access_raw(), None, "a second 401 must not reach the UE");
    let rep = h.finish();
    assert_eq!(
        rep.registrar.get("unmatched_responses"),
        Some(&1),
        "{}",
        rep.human()
    );
    assert_eq!(rep.registrar.get("challenges"), Some(&1));
}

const CK2: [u8; 16] = *b"\x11\x22\x33\x44\x55\x66\x77\x88\x99\xaa\xbb\xcc\xdd\xee\xff\x00";
const IK2: [u8; 16] = *b"\xa0\xa1\xa2\xa3\xa4\xa5\xa6\xa7\xa8\xa9\xaa\xab\xac\xad\xae\xaf";

#[test]
fn reauthentication_over_the_old_set_then_first_use_of_the_new_set() {
    let want = (IntegAlg::Null, EncrAlg::AesGcm);
    let mut h = Harness::start(&registrar_toml());
    let mut u = AkaUe::new("10.77.0.54", &[want]);
    let c1 = challenge(&mut h, &mut u, want);
    let _ = protected_register(&mut h, &mut u, &c1, 600);

    // The UE re-authenticates over the set in use with new SPIs and ports.
    let old_via = SocketAddr::new(u.ip(), u.port_uc);
    u.spi_uc += 100;
    u.spi_us += 100;
    u.port_uc += 10;
    u.port_us += 10;
    let extra = [
        ("Security-Client", u.security_client()),
        ("Security-Verify", c1.server.clone()),
    ];
    let reg = u.register(old_via, "", 600_000, &extra);
    h.send_access(&c1.sa.protect(&reg));
    let f = h.recv_core();
    assert_eq!(Scscf.check_forwarded(&f).method(), Some("REGISTER"));
    h.send_core(&scscf_response(
        &f,
        401,
        "Unauthorized",
        &[("WWW-Authenticate", www(&CK2, &IK2))],
    ));
    // The 401 comes back over the old set (the REGISTER's).
    let raw = h.recv_access_raw().expect("the 401 did not reach the UE");
    let inner = c1
        .sa
        .unprotect(&raw)
        .expect("the 401 is protected with the old spi-uc");
    let r = inner.sip();
    assert_eq!(r.status(), Some(401), "{}", r.text());
    assert!(!r.one("WWW-Authenticate").contains("ck="));
    let c2 = accept_401(&r, &u, want, (&CK2, &IK2), Vec::new());
    assert_ne!(c2.sa.spec.spi_ps, c1.sa.spec.spi_ps);
    let ok = protected_register(&mut h, &mut u, &c2, 600);
    assert_eq!(ok.status(), Some(200));

    // The new set carries requests with the identity; its first use is
    // reported to the registrar (re-armed after the 200 OK).
    h.send_access(&protected_message(&u, &c2.sa, "n1"));
    let f = h.recv_core();
    assert_eq!(
        Scscf.check_forwarded(&f).all("P-Asserted-Identity"),
        vec![format!("<{IMPU}>")]
    );
    h.send_core(&Scscf.answer(&f, 200));
    let raw = h.recv_access_raw().expect("the answer did not come back");
    assert_eq!(
        c2.sa.unprotect(&raw).expect("over the new set").sip().status(),
        Some(200)
    );

    let rep = h.finish();
    assert_eq!(drops(&rep), vec![], "{}", rep.human());
    assert_eq!(
        (rep.control_sa_sets_installed, rep.control_sa_sets_removed),
        (2, 0),
        "{}",
        rep.human()
    );
    // First uses: each temporary set (by its REGISTER) and the new set's
    // first message after the re-authentication.
    assert_eq!(rep.control_sets_first_used, 3, "{}", rep.human());
    assert_eq!(rep.registrar.get("challenges"), Some(&2));
    assert_eq!(rep.registrar.get("registered"), Some(&2));
}
