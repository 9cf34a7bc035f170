#![allow(clippy::field_reassign_with_default)]
//! TS 24.229 §5.2.2.2, one test per numbered step, driven through the
//! sans-IO registrar on virtual time.
mod common;
use common::*;
use control::registrar::{Arrival, Config, Destination, TableUpdate};
use control::types::Transport;
use core::time::Duration;

fn h() -> H {
    H::new(Config::default())
}

fn fwd(o: &[control::registrar::Output]) -> String {
    let t = transmits(o);
    let f = t
        .iter()
        .find(|t| t.dest == Destination::Scscf)
        .expect("forwarded to S-CSCF");
    text(f)
}

#[test]
fn register_step_1_integrity_protected_no_on_unprotected() {
    let mut h = h();
    let ue = Ue::new(1);
    let f = fwd(&h.ue(ue.unprotected(), &ue.initial()));
    assert!(f.contains("integrity-protected=\"no\""), "{f}");
}

#[test]
fn register_step_1_integrity_protected_yes_on_temporary_sa_with_res() {
    let mut h = h();
    let mut ue = Ue::new(1);
    let _ = h.ue(ue.unprotected(), &ue.initial());
    let o = h.scscf(&ue.r401());
    let d = installed(&o).pop().unwrap();
    let s = security_server(&transmits(&o)[0]);
    let f = fwd(&h.ue(ue.on(&d), &ue.protected(&s, true)));
    assert!(f.contains("integrity-protected=\"yes\""), "{f}");
}

#[test]
fn register_step_1_integrity_protected_no_on_temporary_sa_without_res() {
    let mut h = h();
    let mut ue = Ue::new(1);
    let _ = h.ue(ue.unprotected(), &ue.initial());
    let o = h.scscf(&ue.r401());
    let d = installed(&o).pop().unwrap();
    let s = security_server(&transmits(&o)[0]);
    let f = fwd(&h.ue(ue.on(&d), &ue.protected(&s, false)));
    assert!(f.contains("integrity-protected=\"no\""), "{f}");
}

#[test]
fn register_step_1_integrity_protected_yes_on_last_authenticated_set() {
    let mut h = h();
    let mut ue = Ue::new(1);
    let (d, _) = register(&mut h, &mut ue);
    ue.cseq += 1;
    let r = ue.register(&ue.security_client(), "", 600000);
    let f = fwd(&h.ue(ue.on(&d), &r));
    assert!(f.contains("integrity-protected=\"yes\""), "{f}");
}

#[test]
fn register_step_1a_flow_token_and_ob_in_path_udp() {
    let mut h = h();
    let mut ue = Ue::new(1);
    let (d, _) = register(&mut h, &mut ue);
    ue.cseq += 1;
    let r = String::from_utf8(ue.register(&ue.security_client(), "", 600000))
        .unwrap()
        .replace(
            ";expires=600000",
            ";expires=600000;reg-id=1;+sip.instance=\"<urn:uuid:1>\"",
        );
    let f = fwd(&h.ue(ue.on(&d), r.as_bytes()));
    let path = f.lines().find(|l| l.starts_with("Path:")).expect("Path inserted");
    assert!(path.contains(";ob>"), "{path}");
    // UDP: the token names the set and the UE's protected server port.
    assert!(path.contains(&format!("s{}u{}", d.id.0, ue.port_s)), "{path}");
}

#[test]
fn register_step_1a_flow_token_and_ob_in_path_tcp() {
    let mut h = h();
    let mut ue = Ue::new(1);
    let (d, _) = register(&mut h, &mut ue);
    ue.cseq += 1;
    let r = String::from_utf8(ue.register(&ue.security_client(), "", 600000))
        .unwrap()
        .replace(";expires=600000", ";expires=600000;reg-id=1");
    let arr = Arrival::Protected {
        spi: d.sas[3].spi,
        src: d.sas[3].src,
        transport: Transport::Tcp,
    };
    let f = fwd(&h.ue(arr, r.as_bytes()));
    let path = f.lines().find(|l| l.starts_with("Path:")).expect("Path inserted");
    // TCP: the token names the connection (set + UE port of the connection).
    assert!(
        path.contains(&format!("s{}t{}", d.id.0, d.sas[3].src.port())),
        "{path}"
    );
    assert!(path.contains(";ob>"));
}

#[test]
fn register_step_2a_security_client_removed_and_stored() {
    let mut h = h();
    let ue = Ue::new(1);
    let f = fwd(&h.ue(ue.unprotected(), &ue.initial()));
    assert!(!f.contains("Security-Client"), "{f}");
    // Stored: the 401 creates a set with the UE's SPIs and ports.
    let o = h.scscf(&ue.r401());
    let d = installed(&o).pop().unwrap();
    assert_eq!(d.sas[2].spi, ue.spi_c);
    assert_eq!(d.sas[1].spi, ue.spi_s);
    assert_eq!(d.sas[2].dst.port(), ue.port_c);
    assert_eq!(d.sas[1].dst.port(), ue.port_s);
}

#[test]
fn register_step_2a_missing_security_client_gives_4xx() {
    let mut h = h();
    let ue = Ue::new(1);
    let o = h.ue(ue.unprotected(), &ue.register("", "", 600));
    let t = transmits(&o);
    assert_eq!(t.len(), 1);
    assert_eq!(status(&t[0]), 494);
    assert_eq!(
        t[0].dest,
        Destination::UeUnprotected {
            addr: ue.src(),
            transport: Transport::Udp
        }
    );
    assert_eq!(h.p.counters().secagree_missing, 1);
}

#[test]
fn register_step_2b_2c_rport_and_received_set() {
    let mut h = h();
    let ue = Ue::new(1);
    let arr = Arrival::Unprotected {
        src: "192.0.2.7:40000".parse().unwrap(),
        transport: Transport::Udp,
    };
    let f = fwd(&h.ue(arr, &ue.initial()));
    let via = f.lines().find(|l| l.starts_with("Via:")).unwrap();
    assert!(via.contains(";received=192.0.2.7;rport=40000"), "{via}");
    assert_eq!(via.matches("rport").count(), 1, "{via}");
}

fn temp(h: &mut H, ue: &mut Ue) -> (std::sync::Arc<control::registrar::SaSetDesc>, String) {
    let _ = h.ue(ue.unprotected(), &ue.initial());
    let o = h.scscf(&ue.r401());
    (installed(&o).pop().unwrap(), security_server(&transmits(&o)[0]))
}

#[test]
fn register_step_3a_matching_verify_and_client_removed() {
    let mut h = h();
    let mut ue = Ue::new(1);
    let (d, s) = temp(&mut h, &mut ue);
    let f = fwd(&h.ue(ue.on(&d), &ue.protected(&s, true)));
    assert!(
        !f.contains("Security-Verify") && !f.contains("Security-Client"),
        "{f}"
    );
}

#[test]
fn register_step_3a_missing_verify_gives_4xx() {
    let mut h = h();
    let mut ue = Ue::new(1);
    let (d, _) = temp(&mut h, &mut ue);
    ue.cseq += 1;
    let o = h.ue(ue.on(&d), &ue.register(&ue.security_client(), "x", 600));
    assert_eq!(status(&transmits(&o)[0]), 494);
    assert_eq!(h.p.counters().secagree_missing, 1);
}

#[test]
fn register_step_3a_mismatched_verify_gives_4xx() {
    let mut h = h();
    let mut ue = Ue::new(1);
    let (d, s) = temp(&mut h, &mut ue);
    let s = s.replace("alg=", "alg=hmac-md5-96;x=");
    let o = h.ue(ue.on(&d), &ue.protected(&s, true));
    let t = transmits(&o);
    assert_eq!(status(&t[0]), 494);
    assert!(matches!(t[0].dest, Destination::UeProtected { .. }));
    assert_eq!(h.p.counters().secagree_mismatch, 1);
}

#[test]
fn register_step_3a_mismatched_client_gives_4xx() {
    let mut h = h();
    let mut ue = Ue::new(1);
    let (d, s) = temp(&mut h, &mut ue);
    ue.spi_c += 1;
    let o = h.ue(ue.on(&d), &ue.protected(&s, true));
    assert_eq!(status(&transmits(&o)[0]), 494);
    assert_eq!(h.p.counters().secagree_mismatch, 1);
}

#[test]
fn register_step_3b_established_set_requires_security_client() {
    let mut h = h();
    let mut ue = Ue::new(1);
    let (d, _) = register(&mut h, &mut ue);
    ue.cseq += 1;
    let o = h.ue(
        ue.on(&d),
        &ue.register(
            "Security-Verify: ipsec-3gpp;alg=hmac-sha-1-96;spi-c=1;spi-s=2;port-c=3;port-s=4\r\n",
            "",
            600,
        ),
    );
    assert_eq!(status(&transmits(&o)[0]), 494);
    ue.cseq += 1;
    let r = ue.register(
        &format!("{}Security-Verify: x\r\n", ue.security_client()),
        "",
        600,
    );
    let f = fwd(&h.ue(ue.on(&d), &r));
    assert!(
        !f.contains("Security-Verify") && !f.contains("Security-Client"),
        "{f}"
    );
}

#[test]
fn register_step_3c_different_impi_gives_403() {
    let mut h = h();
    let mut ue = Ue::new(1);
    let (d, s) = temp(&mut h, &mut ue);
    let mut other = ue.clone();
    other.impi = "mallory@ims.example".into();
    let o = h.ue(ue.on(&d), &other.protected(&s, true));
    assert_eq!(status(&transmits(&o)[0]), 403);
    assert_eq!(h.p.counters().impi_mismatch, 1);
    // State intact: the right IMPI still completes.
    let f = fwd(&h.ue(ue.on(&d), &ue.protected(&s, true)));
    assert!(f.starts_with("REGISTER"));
}

#[test]
fn register_step_3d_rport_ignored_on_protected() {
    let mut h = h();
    let mut ue = Ue::new(1);
    let (d, s) = temp(&mut h, &mut ue);
    // Arrives from some other source port with rport in Via: the reply
    // still goes to port-uc over SA3.
    let arr = control::registrar::Arrival::Protected {
        spi: d.sas[0].spi,
        src: "10.1.0.5:9999".parse().unwrap(),
        transport: Transport::Udp,
    };
    let _ = h.ue(arr, &ue.protected(&s, true));
    let o = h.scscf(&ue.r200(600));
    let t = transmits(&o);
    match t[0].dest {
        Destination::UeProtected {
            addr,
            spi,
            local_port,
            ..
        } => {
            assert_eq!(addr.port(), ue.port_c);
            assert_eq!(spi, ue.spi_c);
            assert_eq!(local_port, d.sas[0].dst.port());
        }
        ref d => panic!("{d:?}"),
    }
}

#[test]
fn response_401_step_1_deletes_previous_temporary_set() {
    let mut h = h();
    let mut ue = Ue::new(1);
    let (d1, _) = temp(&mut h, &mut ue);
    ue.cseq += 1;
    let _ = h.ue(ue.unprotected(), &ue.initial());
    let o = h.scscf(&ue.r401());
    assert!(updates(&o)
        .iter()
        .any(|u| matches!(u, TableUpdate::RemoveSaSet { set, .. } if *set == d1.id)));
    assert_eq!(installed(&o).len(), 1);
}

#[test]
fn response_401_step_2_strips_ck_ik() {
    let mut h = h();
    let mut ue = Ue::new(1);
    let _ = h.ue(ue.unprotected(), &ue.initial());
    let o = h.scscf(&ue.r401());
    let t = text(&transmits(&o)[0]);
    assert!(
        !t.contains("ck=") && !t.contains("ik=") && !t.contains(CK) && !t.contains(IK),
        "{t}"
    );
    assert!(t.contains("nonce=\"bm9uY2U=\""), "{t}");
    // Keys bound to the temporary set.
    let d = installed(&o).pop().unwrap();
    assert_eq!(d.keys.encr_key(), &hex(CK)[..]);
    let _ = &mut ue;
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn response_401_step_2_without_ck_ik_is_never_forwarded() {
    let mut h = h();
    let ue = Ue::new(1);
    let _ = h.ue(ue.unprotected(), &ue.initial());
    let o = h.scscf(&ue.resp(
        401,
        "Unauthorized",
        "WWW-Authenticate: Digest realm=\"x\", nonce=\"n\"\r\n",
    ));
    let t = transmits(&o);
    assert_eq!(t.len(), 1);
    assert_eq!(status(&t[0]), 500);
    assert!(installed(&o).is_empty());
    assert_eq!(h.p.counters().bad_challenge, 1);
}

#[test]
fn response_401_step_3_security_server_from_policy() {
    let mut cfg = Config::default();
    cfg.integ_prefs = vec![control::types::IntegAlg::HmacSha196];
    cfg.encr_prefs = vec![control::types::EncrAlg::Null, control::types::EncrAlg::AesCbc];
    let mut h = H::new(cfg);
    let mut ue = Ue::new(1);
    ue.algs = "alg=hmac-sha-1-96;ealg=aes-cbc";
    let r = ue.register(
        &format!("{}Security-Client: ipsec-3gpp;alg=hmac-sha-1-96;ealg=null;prot=esp;mod=trans;spi-c=9;spi-s=10;port-c=7;port-s=8\r\n", ue.security_client()),
        "",
        600,
    );
    let _ = h.ue(ue.unprotected(), &r);
    let o = h.scscf(&ue.r401());
    let s = security_server(&transmits(&o)[0]);
    let d = installed(&o).pop().unwrap();
    assert!(s.starts_with("ipsec-3gpp;"), "{s}");
    assert!(s.contains("alg=hmac-sha-1-96") && s.contains("ealg=null"), "{s}");
    assert!(
        s.contains(&format!("spi-c={};spi-s={}", d.sas[3].spi, d.sas[0].spi)),
        "{s}"
    );
    assert!(
        s.contains(&format!(
            "port-c={};port-s={}",
            d.sas[1].src.port(),
            d.sas[0].dst.port()
        )),
        "{s}"
    );
    // The policy's preferred pair (null encryption) won: the second offer.
    assert_eq!(d.sas[2].spi, 9);
}

#[test]
fn response_401_step_4_temporary_set_lives_reg_await_auth() {
    let mut h = h();
    let mut ue = Ue::new(1);
    let (d, _) = temp(&mut h, &mut ue);
    assert_eq!(d.expires_at, h.now + Duration::from_secs(240));
    let o = h.advance(Duration::from_secs(239));
    assert!(updates(&o).is_empty());
    let o = h.advance(Duration::from_secs(1));
    assert!(updates(&o)
        .iter()
        .any(|u| matches!(u, TableUpdate::RemoveSaSet { set, .. } if *set == d.id)));
    assert!(h.p.sets().set(d.id).is_none());
}

#[test]
fn response_401_step_5_unprotected_to_received_rport() {
    let mut h = h();
    let ue = Ue::new(1);
    let src = "192.0.2.7:40000".parse().unwrap();
    let _ = h.ue(
        Arrival::Unprotected {
            src,
            transport: Transport::Udp,
        },
        &ue.initial(),
    );
    let o = h.scscf(&ue.r401());
    assert_eq!(
        transmits(&o)[0].dest,
        Destination::UeUnprotected {
            addr: src,
            transport: Transport::Udp
        }
    );
}

#[test]
fn response_401_step_5_protected_over_the_requests_set() {
    let mut h = h();
    let mut ue = Ue::new(1);
    let (d, _) = register(&mut h, &mut ue);
    let _ = challenge_on(&mut h, &mut ue, &d);
    let t = h.out.iter().rev().find_map(|o| match o {
        control::registrar::Output::Transmit(t) if status(t) == 401 => Some(t.clone()),
        _ => None,
    });
    assert_eq!(dest_set(&t.unwrap()), Some(d.id));
}

#[test]
fn response_200_step_1_existing_set_lifetime_extended() {
    let mut h = h();
    let mut ue = Ue::new(1);
    let (d, _) = register(&mut h, &mut ue);
    let before = h.p.sets().set(d.id).unwrap().expires_at;
    h.advance(Duration::from_secs(100));
    ue.cseq += 1;
    let _ = h.ue(ue.on(&d), &ue.register(&ue.security_client(), "", 600000));
    let _ = h.scscf(&ue.r200(3600));
    let after = h.p.sets().set(d.id).unwrap().expires_at;
    assert_eq!(after, h.now + Duration::from_secs(3630));
    assert!(after > before);
}

#[test]
fn response_200_step_2_temporary_becomes_newly_established_with_registration_plus_30s() {
    let mut h = h();
    let mut ue = Ue::new(1);
    let (d, s) = temp(&mut h, &mut ue);
    let _ = h.ue(ue.on(&d), &ue.protected(&s, true));
    let _ = h.scscf(&ue.r200(600));
    let set = h.p.sets().set(d.id).unwrap();
    assert_eq!(set.kind, control::registrar::sets::SetKind::Established);
    assert_eq!(set.expires_at, h.now + Duration::from_secs(630));
}

#[test]
fn response_200_step_3_protected_like_the_request() {
    let mut h = h();
    let mut ue = Ue::new(1);
    let (d, s) = temp(&mut h, &mut ue);
    let _ = h.ue(ue.on(&d), &ue.protected(&s, true));
    let o = h.scscf(&ue.r200(600));
    assert_eq!(dest_set(&transmits(&o)[0]), Some(d.id));
}

#[test]
fn initial_authentication_keeps_new_set_and_uses_it() {
    let mut h = h();
    let mut ue = Ue::new(1);
    let (d, _) = register(&mut h, &mut ue);
    let c = h.p.sets().contact(d.contact).unwrap();
    assert_eq!(c.in_use, Some(d.id));
    assert_eq!(c.established.as_slice(), &[d.id]);
}

#[test]
fn reauthentication_keeps_initiating_set_and_new_set_and_goes_on_using_initiating_set() {
    let mut h = h();
    let mut ue = Ue::new(1);
    let (d, _) = register(&mut h, &mut ue);
    let (t, s) = challenge_on(&mut h, &mut ue, &d);
    let _ = h.ue(ue.on(&t), &ue.protected(&s, true));
    let _ = h.scscf(&ue.r200(600));
    let c = h.p.sets().contact(d.contact).unwrap();
    assert_eq!(c.in_use, Some(d.id));
    assert_eq!(c.newly, Some(t.id));
    assert!(h.p.sets().set(d.id).is_some() && h.p.sets().set(t.id).is_some());
}

#[test]
fn deregistration_200_leaves_protected_before_sets_are_deleted() {
    let mut h = h();
    let mut ue = Ue::new(1);
    let (d, _) = register(&mut h, &mut ue);
    let _ = h.ue(ue.on(&d), &ue.dereg());
    let o = h.scscf(&ue.r200(0));
    let tx = o
        .iter()
        .position(|o| matches!(o, control::registrar::Output::Transmit(t) if dest_set(t) == Some(d.id)));
    let rm = o.iter().position(|o| matches!(o, control::registrar::Output::Table(_, TableUpdate::RemoveSaSet { set, .. }) if *set == d.id));
    assert!(tx.unwrap() < rm.unwrap(), "{o:?}");
    assert!(h.p.sets().set(d.id).is_none());
    assert_eq!(h.p.counters().deregistered, 1);
}

#[test]
fn deregistration_order_holds_with_separate_polls() {
    let mut h = h();
    let mut ue = Ue::new(1);
    let (d, _) = register(&mut h, &mut ue);
    let _ = h.ue(ue.on(&d), &ue.dereg());
    h.p.handle_event(h.now, control::registrar::Event::FromScscf { bytes: &ue.r200(0) });
    // A caller that polls table updates first still cannot see the removal
    // before the 200 has been taken.
    assert!(h.p.poll_table_update().is_none());
    assert!(h.p.poll_transmit().is_some());
    assert!(matches!(
        h.p.poll_table_update(),
        Some(TableUpdate::RemoveSaSet { .. })
    ));
}

#[test]
fn two_401s_in_a_row_leave_exactly_one_temporary_set() {
    let mut h = h();
    let mut ue = Ue::new(1);
    let (d, _) = register(&mut h, &mut ue);
    let (t1, _) = challenge_on(&mut h, &mut ue, &d);
    let (t2, _) = challenge_on(&mut h, &mut ue, &d);
    assert!(h.p.sets().set(t1.id).is_none());
    let temps: Vec<_> =
        h.p.sets()
            .sets()
            .filter(|s| s.kind == control::registrar::sets::SetKind::Temporary)
            .collect();
    assert_eq!(temps.len(), 1);
    assert_eq!(temps[0].id, t2.id);
}

#[test]
fn registration_expiry_removes_every_set_and_binding() {
    let mut h = h();
    let mut ue = Ue::new(1);
    let (d, _) = register(&mut h, &mut ue);
    let o = h.advance(Duration::from_secs(601));
    assert!(updates(&o)
        .iter()
        .any(|u| matches!(u, TableUpdate::RemoveSaSet { set, .. } if *set == d.id)));
    assert_eq!(h.p.sets().sets().count(), 0);
    assert_eq!(h.p.sets().contacts().count(), 0);
    assert_eq!(h.p.counters().expired, 1);
}

#[test]
fn spis_quarantined_after_removal() {
    let mut h = h();
    let mut ue = Ue::new(1);
    let (d, _) = register(&mut h, &mut ue);
    let _ = h.ue(ue.on(&d), &ue.dereg());
    let _ = h.scscf(&ue.r200(0));
    for spi in d.inbound_spis() {
        assert!(h.p.sets().spis().is_taken(spi));
    }
    // A new registration while the old SPIs are quarantined must not get them.
    let _ = h.ue(ue.unprotected(), &ue.initial());
    let _ = h.scscf(&ue.r401());
    for spi in d.inbound_spis() {
        assert!(
            h.p.sets().by_spi(spi).is_none(),
            "quarantined SPI {spi:#x} was reused"
        );
        assert!(
            h.p.sets().spis().is_taken(spi),
            "SPI {spi:#x} left quarantine early"
        );
    }
    // Well past 64*T1 the quarantine ends and the SPIs are free again.
    h.advance(Duration::from_secs(600));
    for spi in d.inbound_spis() {
        assert!(
            !h.p.sets().spis().is_taken(spi) || h.p.sets().by_spi(spi).is_some(),
            "SPI {spi:#x} neither released nor in use after the quarantine"
        );
    }
}
