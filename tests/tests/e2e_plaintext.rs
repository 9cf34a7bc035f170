//! End to end over `mem` ports, plaintext (TS 33.203 Annex N bindings from
//! the configuration): identity assertion toward the core, the stateless
//! response path back to the UE, in-dialog requests, the control thread's
//! 403 to unbound senders and its proxying of REGISTER.

use std::net::{IpAddr, SocketAddr};

use tests::*;

fn ue(ip: &str, port: u16, user: &str) -> Ue {
    Ue::new(SocketAddr::new(ip.parse().unwrap(), port), user)
}

fn alice_config() -> String {
    // The default IMPU is the tel URI (first), so a PPI that matches a
    // registered SIP URI is told apart from the default.
    base_toml()
        + &annex_n_toml(
            "10.77.0.2".parse().unwrap(),
            None,
            "alice@ims.example",
            &[
                "tel:+15550101",
                "sip:alice@ims.example",
                "sip:alice.work@ims.example",
            ],
        )
}

/// The UE's own Via (what must come back after ours is popped).
fn ue_via(u: &Ue, call: &str) -> String {
    format!("SIP/2.0/UDP {};branch=z9hG4bK{call}", hostport(u.addr))
}

#[test]
fn message_asserts_ppi_matched_impu_and_response_returns_to_ue() {
    let mut h = Harness::start(&alice_config());
    let alice = ue("10.77.0.2", 5070, "mallory");
    let req = alice
        .request("MESSAGE", "m1", None)
        // Host part compared case-insensitively (RFC 3261 §19.1.4).
        .header(
            "P-Preferred-Identity",
            "\"Alice at work\" <sip:alice.work@IMS.Example>",
        )
        .header("P-Asserted-Identity", "<sip:bob@ims.example>")
        .body("text/plain", b"hello bob");
    h.send_access(&alice.frame(&req.build()));

    let f = h.recv_core();
    let s = Scscf.check_forwarded(&f);
    assert_eq!(
        s.all("P-Asserted-Identity"),
        vec!["<sip:alice.work@ims.example>".to_string()],
        "{}",
        s.text()
    );
    assert!(s.all("P-Preferred-Identity").is_empty(), "{}", s.text());
    assert_eq!(s.one("Max-Forwards"), "69");
    // From is not looked at: it is forwarded untouched.
    assert_eq!(s.one("From"), "<sip:mallory@ims.example>;tag=uem1");
    assert_eq!(s.all("Via")[1..], [ue_via(&alice, "m1")]);
    assert_eq!(s.body, b"hello bob");
    assert_eq!(s.start, "MESSAGE sip:bob@ims.example SIP/2.0");

    h.send_core(&Scscf.answer(&f, 200));
    let r = h.recv_access();
    assert_eq!(
        r.dst(),
        alice.addr,
        "the response goes back to the UE's source address and port"
    );
    assert_eq!(r.src(), alice.pcscf());
    assert_eq!((r.src_mac(), r.dst_mac()), (ACCESS_MAC, UE_GW_MAC));
    verify_checksums(&r.bytes).unwrap();
    let rs = r.sip();
    assert_eq!(rs.status(), Some(200));
    assert_eq!(
        rs.all("Via"),
        vec![ue_via(&alice, "m1")],
        "our Via must be removed:\n{}",
        rs.text()
    );
    assert_eq!(rs.one("Call-ID"), "m1@ue");
    assert_eq!(rs.one("CSeq"), "1 MESSAGE");
    assert_eq!(rs.one("To"), "<sip:bob@ims.example>;tag=scscf");

    let rep = h.finish();
    assert_eq!(drops(&rep), vec![]);
    assert_eq!(
        (rep.asserted, rep.responses, rep.exceptions),
        (1, 1, 0),
        "{}",
        rep.human()
    );
    assert_eq!((rep.rx, rep.tx), (2, 2));
}

#[test]
fn ppi_compared_as_uri_not_as_string() {
    let mut h = Harness::start(&alice_config());
    let alice = ue("10.77.0.2", 5060, "alice");
    // (P-Preferred-Identity, expected P-Asserted-Identity)
    let cases: &[(Option<&str>, &str)] = &[
        // No PPI: the default IMPU.
        (None, "<tel:+15550101>"),
        // A registered IMPU, host case differs: matched.
        (Some("<sip:alice@IMS.EXAMPLE>"), "<sip:alice@ims.example>"),
        // The user part is case-sensitive: not registered, default.
        (Some("<sip:ALICE@ims.example>"), "<tel:+15550101>"),
        // Not registered at all: default.
        (Some("<sip:eve@ims.example>"), "<tel:+15550101>"),
        // tel URI with visual separators (RFC 3966 §4): matched.
        (Some("<tel:+1-555-0101>"), "<tel:+15550101>"),
        // A list: the first registered URI wins.
        (
            Some("<sip:eve@ims.example>, <sip:alice.work@ims.example>"),
            "<sip:alice.work@ims.example>",
        ),
        // Garbage: default.
        (Some("<<<>"), "<tel:+15550101>"),
    ];
    for (i, (ppi, want)) in cases.iter().enumerate() {
        let mut m = alice.request("MESSAGE", &format!("p{i}"), None);
        if let Some(p) = ppi {
            m = m.header("P-Preferred-Identity", p);
        }
        h.send_access(&alice.frame(&m.build()));
        let s = Scscf.check_forwarded(&h.recv_core());
        assert_eq!(
            s.all("P-Asserted-Identity"),
            vec![want.to_string()],
            "PPI {ppi:?}"
        );
        assert!(s.all("P-Preferred-Identity").is_empty());
    }
    let rep = h.finish();
    assert_eq!(drops(&rep), vec![]);
    assert_eq!(rep.asserted, cases.len() as u64);
}

#[test]
fn configured_default_impu_is_asserted() {
    let toml = base_toml()
        + "\n[[annex_n]]\nip = \"10.77.0.9\"\nimpi = \"d@ims.example\"\n\
impus = [\"sip:d1@ims.example\", \"sip:d2@ims.example\", \"sip:d3@ims.example\"]\ndefaults = [2]\n";
    let mut h = Harness::start(&toml);
    let d = ue("10.77.0.9", 5060, "d");
    h.send_access(
        &d.frame(
            &d.request("MESSAGE", "d1", None)
                .header("P-Asserted-Identity", "<sip:d1@ims.example>")
                .build(),
        ),
    );
    let s = Scscf.check_forwarded(&h.recv_core());
    assert_eq!(
        s.all("P-Asserted-Identity"),
        vec!["<sip:d3@ims.example>".to_string()]
    );
    assert_eq!(drops(&h.finish()), vec![]);
}

#[test]
fn in_dialog_request_gets_no_pai_but_ue_identity_headers_are_removed() {
    in_dialog(false);
}

#[test]
fn in_dialog_request_with_compact_to_gets_no_pai() {
    in_dialog(true);
}

fn in_dialog(compact_to: bool) {
    let mut h = Harness::start(&alice_config());
    let alice = ue("10.77.0.2", 5060, "alice");
    let mut m = alice.request("MESSAGE", "d1", Some("bobtag"));
    if compact_to {
        m = m.without("To").header("t", "<sip:bob@ims.example>;tag=bobtag");
    }
    let m = m
        .header("P-Preferred-Identity", "<sip:alice@ims.example>")
        .header("P-Asserted-Identity", "<sip:ceo@ims.example>")
        .header("P-Asserted-Identity", "<tel:+1999>");
    h.send_access(&alice.frame(&m.build()));
    let s = Scscf.check_forwarded(&h.recv_core());
    assert!(s.all("P-Asserted-Identity").is_empty(), "{}", s.text());
    assert!(s.all("P-Preferred-Identity").is_empty(), "{}", s.text());
    assert_eq!(s.one("To"), "<sip:bob@ims.example>;tag=bobtag");
    let rep = h.finish();
    assert_eq!(drops(&rep), vec![]);
    assert_eq!(rep.asserted, 0);
}

#[test]
fn options_from_bound_source_is_proxied_with_identity() {
    let mut h = Harness::start(&alice_config());
    let alice = ue("10.77.0.2", 5060, "alice");
    h.send_access(&alice.frame(&alice.request("OPTIONS", "o1", None).build()));
    let f = h.recv_core();
    let s = Scscf.check_forwarded(&f);
    assert_eq!(s.method(), Some("OPTIONS"));
    assert_eq!(s.all("P-Asserted-Identity"), vec!["<tel:+15550101>".to_string()]);
    h.send_core(&Scscf.answer(&f, 200));
    let r = h.recv_access();
    assert_eq!(r.dst(), alice.addr);
    assert_eq!(r.sip().status(), Some(200));
    assert_eq!(drops(&h.finish()), vec![]);
}

#[test]
fn unbound_source_gets_403_from_the_control_thread() {
    let mut h = Harness::start(&alice_config());
    let eve = ue("10.77.0.66", 5060, "alice");
    let req = eve
        .request("MESSAGE", "e1", None)
        .header("P-Preferred-Identity", "<sip:alice@ims.example>");
    h.send_access(&eve.frame(&req.build()));
    let r = h.recv_access();
    assert_eq!(r.dst(), eve.addr);
    assert_eq!(r.src(), eve.pcscf());
    verify_checksums(&r.bytes).unwrap();
    let s = r.sip();
    assert_eq!(s.status(), Some(403), "{}", s.text());
    assert_eq!(s.all("Via"), vec![ue_via(&eve, "e1")]);
    assert_eq!(s.one("Call-ID"), "e1@ue");
    assert!(s.to_has_tag());
    // An unbound REGISTER is refused too.
    h.send_access(&eve.frame(&eve.request("REGISTER", "e2", None).build()));
    assert_eq!(h.recv_access().sip().status(), Some(403));
    // `finish` fails the test if anything reached the core.
    let rep = h.finish();
    assert_eq!(drops(&rep), vec![]);
    assert_eq!(
        (rep.exceptions, rep.control_forbidden, rep.asserted),
        (2, 2, 0),
        "{}",
        rep.human()
    );
}

#[test]
fn register_from_bound_source_is_proxied_both_ways() {
    let mut h = Harness::start(&alice_config());
    let alice = ue("10.77.0.2", 5060, "alice");
    let reg = alice
        .request("REGISTER", "r1", None)
        .header("P-Asserted-Identity", "<sip:ceo@ims.example>")
        .header("Expires", "600");
    h.send_access(&alice.frame(&reg.build()));
    let f = h.recv_core();
    let s = Scscf.check_forwarded(&f);
    assert_eq!(s.method(), Some("REGISTER"));
    assert!(
        s.all("P-Asserted-Identity").is_empty(),
        "a UE's PAI never reaches the core:\n{}",
        s.text()
    );
    assert_eq!(s.one("Max-Forwards"), "69");
    assert_eq!(s.all("Via")[1..], [ue_via(&alice, "r1")]);
    h.send_core(&Scscf.answer(&f, 200));
    let r = h.recv_access();
    assert_eq!(r.dst(), alice.addr);
    let rs = r.sip();
    assert_eq!(rs.status(), Some(200));
    assert_eq!(rs.all("Via"), vec![ue_via(&alice, "r1")]);
    assert_eq!(rs.one("CSeq"), "1 REGISTER");
    let rep = h.finish();
    assert_eq!(drops(&rep), vec![]);
    assert_eq!(
        (rep.control_registers_forwarded, rep.control_register_responses),
        (1, 1),
        "{}",
        rep.human()
    );
    assert_eq!(rep.exceptions, 2);
}

#[test]
fn ipv6_ue_reaches_ipv4_core_and_gets_its_response() {
    let toml = base_toml()
        + &annex_n_toml(
            "fd00:77::20".parse().unwrap(),
            None,
            "v6@ims.example",
            &["sip:v6@ims.example"],
        );
    let mut h = Harness::start(&toml);
    let u = Ue::new(SocketAddr::new("fd00:77::20".parse().unwrap(), 5062), "v6");
    h.send_access(&u.frame(&u.request("MESSAGE", "v61", None).build()));
    let f = h.recv_core();
    let s = Scscf.check_forwarded(&f);
    assert_eq!(
        s.all("P-Asserted-Identity"),
        vec!["<sip:v6@ims.example>".to_string()]
    );
    h.send_core(&Scscf.answer(&f, 202));
    let r = h.recv_access();
    assert_eq!(r.dst(), u.addr);
    assert_eq!(r.src(), SocketAddr::new(IpAddr::V6(ACCESS_V6), SIP_PORT));
    verify_checksums(&r.bytes).unwrap();
    assert_eq!(r.sip().status(), Some(202));
    assert_eq!(r.sip().all("Via"), vec![ue_via(&u, "v61")]);
    assert_eq!(drops(&h.finish()), vec![]);
}

#[test]
fn core_request_reaches_bound_contact_and_its_answer_returns() {
    let mut h = Harness::start(&alice_config());
    let alice = ue("10.77.0.2", 5060, "alice");
    h.send_core(&Scscf.request_to("MESSAGE", alice.addr, "c1"));
    let f = h.recv_access();
    assert_eq!(f.dst(), alice.addr);
    assert_eq!(f.src(), alice.pcscf());
    assert_eq!((f.src_mac(), f.dst_mac()), (ACCESS_MAC, UE_GW_MAC));
    verify_checksums(&f.bytes).unwrap();
    let s = f.sip();
    let vias = s.all("Via");
    assert_eq!(vias.len(), 2, "{}", s.text());
    assert!(
        vias[0].starts_with(&format!("SIP/2.0/UDP {};branch=z9hG4bKpdp", alice.pcscf())),
        "{}",
        vias[0]
    );
    assert_eq!(s.one("Max-Forwards"), "68");
    h.send_access(&alice.answer(&f, 200));
    let r = h.recv_core();
    assert_eq!(r.dst(), SCSCF);
    assert_eq!(r.src(), pcscf_core());
    verify_checksums(&r.bytes).unwrap();
    let rs = r.sip();
    assert_eq!(rs.status(), Some(200));
    assert_eq!(
        rs.all("Via"),
        vec![format!("SIP/2.0/UDP {};branch=z9hG4bKsc1", hostport(SCSCF))]
    );
    // A request to a contact nobody registered is dropped.
    h.send_core(&Scscf.request_to("MESSAGE", "10.77.0.99:5060".parse().unwrap(), "c2"));
    let rep = h.finish();
    assert_eq!(drops(&rep), vec![("unknown_contact", 1)]);
    assert_eq!(rep.responses, 1);
}

#[test]
fn outbound_binding_is_keyed_by_port() {
    let toml = base_toml()
        + &annex_n_toml(
            "10.77.0.3".parse().unwrap(),
            Some(5062),
            "ob@ims.example",
            &["sip:ob@ims.example"],
        );
    let mut h = Harness::start(&toml);
    let good = ue("10.77.0.3", 5062, "ob");
    let other_port = ue("10.77.0.3", 5063, "ob");
    h.send_access(&good.frame(&good.request("MESSAGE", "b1", None).build()));
    assert_eq!(
        Scscf.check_forwarded(&h.recv_core()).one("P-Asserted-Identity"),
        "<sip:ob@ims.example>"
    );
    h.send_access(&other_port.frame(&other_port.request("MESSAGE", "b2", None).build()));
    let r = h.recv_access();
    assert_eq!((r.dst(), r.sip().status()), (other_port.addr, Some(403)));
    let rep = h.finish();
    assert_eq!((rep.asserted, rep.control_forbidden), (1, 1));
}

#[test]
fn compact_and_folded_headers_are_handled() {
    let mut h = Harness::start(&alice_config());
    let alice = ue("10.77.0.2", 5060, "alice");
    let raw = format!(
        "MESSAGE sip:bob@ims.example SIP/2.0\r\n\
v: SIP/2.0/UDP {}\r\n ;branch=z9hG4bKf1\r\n\
max-forwards: 10\r\n\
f: <sip:alice@ims.example>;tag=1\r\n\
t: <sip:bob@ims.example>\r\n\
i: f1@ue\r\n\
CSeq: 1 MESSAGE\r\n\
p-preferred-identity:\r\n <sip:alice.work@ims.example>\r\n\
P-ASSERTED-IDENTITY: <sip:x@y>\r\n\
l: 2\r\n\r\nhi",
        hostport(alice.addr)
    );
    h.send_access(&alice.frame(raw.as_bytes()));
    let s = Scscf.check_forwarded(&h.recv_core());
    assert_eq!(
        s.all("P-Asserted-Identity"),
        vec!["<sip:alice.work@ims.example>".to_string()],
        "{}",
        s.text()
    );
    assert!(s.all("P-Preferred-Identity").is_empty(), "{}", s.text());
    assert_eq!(s.one("Max-Forwards"), "09");
    assert_eq!(s.body, b"hi");
    assert_eq!(drops(&h.finish()), vec![]);
}

/// Our two Record-Route entries as the core sees them, top first.
fn our_record_routes(access_port: u16) -> Vec<String> {
    vec![
        format!("<sip:{};lr>", hostport(pcscf_core())),
        format!(
            "<sip:{}:{access_port};lr>",
            pcscf_access("10.77.0.2".parse().unwrap()).ip()
        ),
    ]
}

#[test]
fn initial_invite_is_record_routed_once_per_side_and_message_is_not() {
    let mut h = Harness::start(&alice_config());
    let alice = ue("10.77.0.2", 5060, "alice");
    let inv = alice
        .request("INVITE", "rr1", None)
        .header("Record-Route", "<sip:ue-side-proxy.example;lr>");
    h.send_access(&alice.frame(&inv.build()));
    let s = Scscf.check_forwarded(&h.recv_core());
    let mut want = our_record_routes(SIP_PORT);
    want.push("<sip:ue-side-proxy.example;lr>".into());
    assert_eq!(s.all("Record-Route"), want, "{}", s.text());
    // A re-INVITE (To tag) and a MESSAGE create no dialog state here.
    h.send_access(&alice.frame(&alice.request("INVITE", "rr2", Some("t")).build()));
    assert!(Scscf
        .check_forwarded(&h.recv_core())
        .all("Record-Route")
        .is_empty());
    h.send_access(&alice.frame(&alice.request("MESSAGE", "rr3", None).build()));
    assert!(Scscf
        .check_forwarded(&h.recv_core())
        .all("Record-Route")
        .is_empty());
    assert_eq!(drops(&h.finish()), vec![]);
}

#[test]
fn our_route_entries_are_removed_from_in_dialog_requests() {
    let mut h = Harness::start(&alice_config());
    let alice = ue("10.77.0.2", 5060, "alice");
    let [core_rr, access_rr] = our_record_routes(SIP_PORT).try_into().unwrap();
    // The UE's route set is the Record-Route list reversed: our access
    // entry, our core entry, then the S-CSCF. One Route line per entry.
    let bye = alice
        .request("BYE", "rt1", Some("far"))
        .header("Route", &access_rr)
        .header("Route", &core_rr)
        .header("Route", "<sip:scscf.ims.example;lr>");
    h.send_access(&alice.frame(&bye.build()));
    let s = Scscf.check_forwarded(&h.recv_core());
    assert_eq!(
        s.all("Route"),
        vec!["<sip:scscf.ims.example;lr>".to_string()],
        "{}",
        s.text()
    );
    // The same set in one comma-separated line keeps what is not ours.
    let bye = alice.request("BYE", "rt2", Some("far")).header(
        "Route",
        &format!("{access_rr}, {core_rr},<sip:scscf.ims.example;lr>"),
    );
    h.send_access(&alice.frame(&bye.build()));
    let s = Scscf.check_forwarded(&h.recv_core());
    assert_eq!(
        s.all("Route"),
        vec!["<sip:scscf.ims.example;lr>".to_string()],
        "{}",
        s.text()
    );
    // A route set that does not start with us is left alone.
    let other = "<sip:10.9.9.9;lr>, <sip:scscf.ims.example;lr>";
    h.send_access(
        &alice.frame(
            &alice
                .request("BYE", "rt3", Some("far"))
                .header("Route", other)
                .build(),
        ),
    );
    let s = Scscf.check_forwarded(&h.recv_core());
    assert_eq!(s.all("Route"), vec![other.to_string()]);
    // From the core toward the UE: our core entry then our access entry,
    // both on one line, are removed and the request reaches the contact.
    let m = Msg::request("BYE", &format!("sip:ue@{}", hostport(alice.addr)))
        .header(
            "Via",
            &format!("SIP/2.0/UDP {};branch=z9hG4bKsrt4", hostport(SCSCF)),
        )
        .header("Route", &format!("{core_rr},{access_rr}"))
        .header("Max-Forwards", "69")
        .header("From", "<sip:carol@ims.example>;tag=srt4")
        .header("To", "<sip:ue@ims.example>;tag=ue")
        .header("Call-ID", "rt4@scscf")
        .header("CSeq", "2 BYE")
        .build();
    h.send_core(&udp_frame(CORE_GW_MAC, CORE_MAC, SCSCF, pcscf_core(), &m));
    let f = h.recv_access();
    assert_eq!(f.dst(), alice.addr);
    verify_checksums(&f.bytes).unwrap();
    assert!(f.sip().all("Route").is_empty(), "{}", f.sip().text());
    assert_eq!(drops(&h.finish()), vec![]);
}

#[test]
fn core_initial_invite_to_ue_is_record_routed_access_entry_first() {
    let mut h = Harness::start(&alice_config());
    let alice = ue("10.77.0.2", 5060, "alice");
    h.send_core(&Scscf.request_to("INVITE", alice.addr, "ci1"));
    let f = h.recv_access();
    verify_checksums(&f.bytes).unwrap();
    let mut want = our_record_routes(SIP_PORT);
    want.reverse();
    assert_eq!(f.sip().all("Record-Route"), want, "{}", f.sip().text());
    assert_eq!(drops(&h.finish()), vec![]);
}
