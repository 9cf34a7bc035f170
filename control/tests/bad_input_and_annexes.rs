#![allow(clippy::field_reassign_with_default)]
//! Bad input (issue 4 "Bad input"), Annex N and Annex O.
mod common;
use common::*;
use control::registrar::{Arrival, Config, Destination, Event, TableUpdate};
use control::types::{BindingKey, Transport};
use core::time::Duration;

fn reject(h: &mut H, arr: Arrival, msg: &[u8]) -> u16 {
    let sets_before = h.p.sets().sets().count();
    let o = h.ue(arr, msg);
    let t = transmits(&o);
    assert_eq!(t.len(), 1, "exactly one response, nothing forwarded");
    assert!(installed(&o).is_empty());
    assert_eq!(h.p.sets().sets().count(), sets_before, "state intact");
    status(&t[0])
}

#[test]
fn bad_malformed_security_client_gives_400() {
    let mut h = H::new(Config::default());
    let ue = Ue::new(1);
    let m = ue.register(
        "Security-Client: ipsec-3gpp;alg=hmac-sha-1-96;spi-c=abc;spi-s=1;port-c=1;port-s=2\r\n",
        "",
        600,
    );
    assert_eq!(reject(&mut h, ue.unprotected(), &m), 400);
    let m = ue.register(
        "Security-Client: ipsec-3gpp;alg=hmac-sha-1-96;spi-c=1\r\n",
        "",
        600,
    );
    assert_eq!(reject(&mut h, ue.unprotected(), &m), 400);
    let m = ue.register("Security-Client: ipsec-3gpp;alg=\"unterminated\r\n", "", 600);
    assert_eq!(reject(&mut h, ue.unprotected(), &m), 400);
    assert_eq!(h.p.counters().malformed, 3);
}

#[test]
fn bad_unknown_algorithm_gives_494() {
    let mut h = H::new(Config::default());
    let mut ue = Ue::new(1);
    ue.algs = "alg=hmac-sha-512;ealg=aes-cbc";
    assert_eq!(reject(&mut h, ue.unprotected(), &ue.initial()), 494);
    assert_eq!(h.p.counters().alg_rejected, 1);
}

#[test]
fn bad_disallowed_md5_gives_494_unless_policy_allows() {
    let mut h = H::new(Config::default());
    let mut ue = Ue::new(1);
    ue.algs = "alg=hmac-md5-96;ealg=null";
    assert_eq!(reject(&mut h, ue.unprotected(), &ue.initial()), 494);
    let mut cfg = Config::default();
    cfg.integ_prefs.push(control::types::IntegAlg::HmacMd596);
    let mut h = H::new(cfg);
    let o = h.ue(ue.unprotected(), &ue.initial());
    assert_eq!(transmits(&o)[0].dest, Destination::Scscf);
}

#[test]
fn bad_security_client_without_ipsec_3gpp_gives_494() {
    let mut h = H::new(Config::default());
    let ue = Ue::new(1);
    let m = ue.register("Security-Client: digest;d-alg=md5\r\n", "", 600);
    assert_eq!(reject(&mut h, ue.unprotected(), &m), 494);
}

#[test]
fn bad_register_for_unknown_impi_on_protected_port_gives_403() {
    let mut h = H::new(Config::default());
    let mut ue = Ue::new(1);
    let (d, _) = register(&mut h, &mut ue);
    let mut other = Ue::new(2);
    other.cseq = 9;
    assert_eq!(
        reject(
            &mut h,
            ue.on(&d),
            &other.register(&other.security_client(), "", 600)
        ),
        403
    );
}

#[test]
fn bad_unknown_spi_dropped_and_counted() {
    let mut h = H::new(Config::default());
    let ue = Ue::new(1);
    let arr = Arrival::Protected {
        spi: 77,
        src: ue.src(),
        transport: Transport::Udp,
    };
    assert!(h.ue(arr, &ue.initial()).is_empty());
    assert_eq!(h.p.counters().unknown_spi, 1);
}

#[test]
fn bad_duplicated_contradictory_headers_give_400() {
    let mut h = H::new(Config::default());
    let ue = Ue::new(1);
    let dup_auth = "Authorization: Digest username=\"x@y\", response=\"\"\r\n";
    let m = ue.register(&format!("{}{dup_auth}", ue.security_client()), "", 600);
    assert_eq!(reject(&mut h, ue.unprotected(), &m), 400);
    let m = ue.register(
        &format!("{}Expires: 5\r\nExpires: 6\r\n", ue.security_client()),
        "",
        600,
    );
    assert_eq!(reject(&mut h, ue.unprotected(), &m), 400);
    let m = ue.register(&format!("{}Call-ID: other\r\n", ue.security_client()), "", 600);
    assert_eq!(reject(&mut h, ue.unprotected(), &m), 400);
    let m = ue.register(&format!("{}CSeq: 7 REGISTER\r\n", ue.security_client()), "", 600);
    assert_eq!(reject(&mut h, ue.unprotected(), &m), 400);
}

#[test]
fn bad_absurd_expires_gives_400() {
    let mut h = H::new(Config::default());
    let ue = Ue::new(1);
    for e in ["99999999999999999999", "-1", "abc", "4294967296"] {
        let m = String::from_utf8(ue.initial())
            .unwrap()
            .replace("expires=600000", &format!("expires={e}"));
        assert_eq!(reject(&mut h, ue.unprotected(), m.as_bytes()), 400, "{e}");
    }
}

#[test]
fn bad_non_register_on_temporary_set_dropped() {
    let mut h = H::new(Config::default());
    let ue = Ue::new(1);
    let _ = h.ue(ue.unprotected(), &ue.initial());
    let o = h.scscf(&ue.r401());
    let d = installed(&o).pop().unwrap();
    let inv = b"INVITE sip:b@x SIP/2.0\r\nVia: SIP/2.0/UDP 10.1.0.5:5101;branch=z9hG4bKi\r\nCall-ID: i\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";
    assert!(h.ue(ue.on(&d), inv).is_empty());
    assert_eq!(h.p.counters().non_register_on_temporary, 1);
}

#[test]
fn bad_garbage_never_panics() {
    let mut h = H::new(Config::default());
    let ue = Ue::new(1);
    let base = ue.initial();
    for cut in 0..base.len() {
        let _ = h.ue(ue.unprotected(), &base[..cut]);
        h.p.handle_event(h.now, Event::FromScscf { bytes: &base[..cut] });
        let _ = h.drain();
    }
    let r = ue.r401();
    for i in 0..r.len() {
        let mut m = r.clone();
        m[i] = b'"';
        h.p.handle_event(h.now, Event::FromScscf { bytes: &m });
        let _ = h.drain();
    }
}

#[test]
fn exhaustion_gives_503_with_retry_after_counted() {
    let mut cfg = Config::default();
    cfg.spi_min = 300;
    cfg.spi_max = 303; // two sets
    let mut h = H::new(cfg);
    for n in 1..=3 {
        let ue = Ue::new(n);
        let _ = h.ue(ue.unprotected(), &ue.initial());
        let o = h.scscf(&ue.r401());
        let t = transmits(&o);
        if n < 3 {
            assert_eq!(status(&t[0]), 401);
        } else {
            assert_eq!(status(&t[0]), 503);
            assert!(text(&t[0]).contains("Retry-After: 30\r\n"));
            assert!(!text(&t[0]).contains(CK));
        }
    }
    assert_eq!(h.p.counters().exhausted, 1);
}

#[test]
fn bound_on_sets_per_impi_enforced() {
    let mut cfg = Config::default();
    cfg.max_sets_per_impi = 1;
    let mut h = H::new(cfg);
    let mut ue = Ue::new(1);
    let (d, _) = register(&mut h, &mut ue);
    ue.cseq += 1;
    let _ = h.ue(ue.on(&d), &ue.register(&ue.security_client(), "", 600));
    let o = h.scscf(&ue.r401());
    assert_eq!(status(&transmits(&o)[0]), 503);
    assert_eq!(h.p.counters().exhausted, 1);
}

fn annex_n() -> H {
    let mut cfg = Config::default();
    cfg.annex_n = true;
    cfg.annex_o = true;
    H::new(cfg)
}

#[test]
fn annex_n_digest_registration_binds_ip_to_impi_and_impus() {
    let mut h = annex_n();
    let ue = Ue::new(1);
    let o = h.ue(ue.unprotected(), &ue.register("", "", 600));
    assert_eq!(transmits(&o)[0].dest, Destination::Scscf);
    let o = h.scscf(&ue.r200(600));
    let key = BindingKey::Ip(ue.src().ip());
    assert!(updates(&o)
        .iter()
        .any(|u| matches!(u, TableUpdate::InstallBinding { key: k, .. } if *k == key)));
    let id = h.p.annex_n().lookup(&key).unwrap();
    assert_eq!(&*id.impi, ue.impi.as_str());
    assert_eq!(id.impus[0].uri(), ue.impu);
    assert_eq!(id.impus.len(), 2);
}

#[test]
fn annex_n_new_impi_from_same_address_overwrites() {
    let mut h = annex_n();
    let ue = Ue::new(1);
    let _ = h.ue(ue.unprotected(), &ue.register("", "", 600));
    let _ = h.scscf(&ue.r200(600));
    let ue2 = Ue::new(2);
    let _ = h.ue(ue2.unprotected(), &ue2.register("", "", 600));
    let _ = h.scscf(&ue2.r200(600));
    assert_eq!(h.p.annex_n().len(), 1);
    assert_eq!(
        &*h.p.annex_n().lookup(&BindingKey::Ip(ue.src().ip())).unwrap().impi,
        ue2.impi.as_str()
    );
}

#[test]
fn annex_n_nat_without_outbound_rejected_with_outbound_accepted() {
    let mut h = annex_n();
    let ue = Ue::new(1);
    let natted = Arrival::Unprotected {
        src: "203.0.113.9:40000".parse().unwrap(),
        transport: Transport::Udp,
    };
    assert_eq!(reject(&mut h, natted, &ue.register("", "", 600)), 403);
    assert_eq!(h.p.counters().nat_rejected, 1);
    let m = String::from_utf8(ue.register("", "", 600))
        .unwrap()
        .replace(";expires=600", ";expires=600;reg-id=1");
    let o = h.ue(natted, m.as_bytes());
    assert_eq!(transmits(&o)[0].dest, Destination::Scscf);
    let o = h.scscf(&ue.r200(600));
    let key = BindingKey::IpPort("203.0.113.9".parse().unwrap(), 40000, Transport::Udp);
    assert!(updates(&o)
        .iter()
        .any(|u| matches!(u, TableUpdate::InstallBinding { key: k, .. } if *k == key)));
}

#[test]
fn annex_n_deregistration_and_expiry_remove_binding() {
    let mut h = annex_n();
    let mut ue = Ue::new(1);
    let key = BindingKey::Ip(ue.src().ip());
    let _ = h.ue(ue.unprotected(), &ue.register("", "", 600));
    let _ = h.scscf(&ue.r200(600));
    ue.cseq += 1;
    let _ = h.ue(ue.unprotected(), &ue.register("", "", 0));
    let o = h.scscf(&ue.r200(0));
    let tx = o
        .iter()
        .position(|o| matches!(o, control::registrar::Output::Transmit(_)))
        .unwrap();
    let rm = o
        .iter()
        .position(|o| {
            matches!(
                o,
                control::registrar::Output::Table(_, TableUpdate::RemoveBinding { .. })
            )
        })
        .unwrap();
    assert!(tx < rm);
    assert!(h.p.annex_n().is_empty());
    ue.cseq += 1;
    let _ = h.ue(ue.unprotected(), &ue.register("", "", 600));
    let _ = h.scscf(&ue.r200(600));
    assert!(h.p.annex_n().lookup(&key).is_some());
    let o = h.advance(Duration::from_secs(600));
    assert!(updates(&o)
        .iter()
        .any(|u| matches!(u, TableUpdate::RemoveBinding { .. })));
    assert!(h.p.annex_n().is_empty());
}

#[test]
fn annex_o_tls_association_lifecycle() {
    let mut h = annex_n();
    let mut ue = Ue::new(1);
    let peer = "10.1.0.5:45000".parse().unwrap();
    // Unknown connection: refused.
    assert_eq!(
        reject(&mut h, Arrival::Tls { peer }, &ue.register("", "", 600)),
        403
    );
    h.p.handle_event(
        h.now,
        Event::TlsConnected {
            peer,
            session_id: b"sess-1",
        },
    );
    let _ = h.drain();
    ue.cseq += 1;
    let o = h.ue(Arrival::Tls { peer }, &ue.register("", "", 600));
    assert_eq!(transmits(&o)[0].dest, Destination::Scscf);
    let o = h.scscf(&ue.r200(600));
    assert_eq!(transmits(&o)[0].dest, Destination::UeTls { peer });
    assert!(updates(&o).iter().any(
        |u| matches!(u, TableUpdate::InstallTlsAssociation { session_id, .. } if &**session_id == b"sess-1")
    ));
    assert_eq!(&*h.p.annex_o().lookup(&peer).unwrap().impi, ue.impi.as_str());
    let o = h.advance(Duration::from_secs(600));
    assert!(updates(&o)
        .iter()
        .any(|u| matches!(u, TableUpdate::RemoveTlsAssociation { .. })));
    assert!(h.p.annex_o().lookup(&peer).is_none());
}
