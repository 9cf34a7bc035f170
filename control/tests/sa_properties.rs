#![allow(clippy::field_reassign_with_default)]
//! Property tests: random event sequences on virtual time against the
//! invariants of the SA-set state machine.
mod common;
use common::*;
use control::registrar::{Config, Destination, Event, Output, SaSetDesc, SaSetId, TableUpdate};
use core::time::Duration;
use proptest::prelude::*;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

#[derive(Debug, Clone)]
enum Op {
    Initial(u8),
    Reauth(u8, bool),
    Use(u8, u8),
    Invite(u8),
    Advance(u16),
    Dereg(u8),
    Reregister(u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u8..3).prop_map(Op::Initial),
        (0u8..3, any::<bool>()).prop_map(|(u, c)| Op::Reauth(u, c)),
        (0u8..3, 0u8..8).prop_map(|(u, s)| Op::Use(u, s)),
        (0u8..3).prop_map(Op::Invite),
        (1u16..400).prop_map(Op::Advance),
        (0u8..3).prop_map(Op::Dereg),
        (0u8..3).prop_map(Op::Reregister),
    ]
}

/// The data plane's view, built only from table updates.
#[derive(Default)]
struct Mirror {
    live: HashMap<SaSetId, Arc<SaSetDesc>>,
    in_use: HashMap<control::registrar::ContactId, SaSetId>,
}

impl Mirror {
    fn apply(&mut self, o: &[Output]) {
        for o in o {
            if let Output::Table(_, u) = o {
                match u {
                    TableUpdate::InstallSaSet(d) => {
                        assert!(self.live.insert(d.id, d.clone()).is_none());
                    }
                    TableUpdate::RemoveSaSet { set, .. } => {
                        assert!(
                            self.live.remove(set).is_some(),
                            "removed twice or never installed"
                        );
                        self.in_use.retain(|_, s| s != set);
                    }
                    TableUpdate::TakeIntoUse { contact, set } => {
                        assert!(self.live.contains_key(set));
                        self.in_use.insert(*contact, *set);
                    }
                    _ => {}
                }
            }
        }
    }
}

fn check(h: &H, m: &Mirror) {
    let live: HashSet<_> = h.p.sets().sets().map(|s| s.id).collect();
    let mirror: HashSet<_> = m.live.keys().copied().collect();
    assert_eq!(live, mirror, "data plane mirror equals registrar");
    let mut spis = HashSet::new();
    let mut ports = HashSet::new();
    for s in h.p.sets().sets() {
        assert!(s.expires_at > h.now, "set {:?} outlived its lifetime", s.id);
        for spi in s.desc.inbound_spis() {
            assert!(spis.insert(spi), "SPI {spi} shared");
        }
        assert!(
            ports.insert((s.desc.ue_ip, s.desc.sas[1].src.port())),
            "port pair shared"
        );
    }
    for c in h.p.sets().contacts() {
        let used: Vec<_> = [c.in_use].into_iter().flatten().collect();
        assert!(used.len() <= 1);
        if let Some(u) = c.in_use {
            assert!(live.contains(&u));
        }
        assert!(h.p.sets().sets_of_impi(&c.impi) <= h.p.config().max_sets_per_impi);
    }
    for (c, s) in &m.in_use {
        assert!(m.live.contains_key(s), "contact {c:?} sends over a dead set");
    }
}

fn run(ops: Vec<Op>) {
    let mut h = H::new(Config::default());
    let mut m = Mirror::default();
    let mut ues: Vec<Ue> = (0..3).map(|i| Ue::new(i + 1)).collect();
    let mut known: Vec<Vec<Arc<SaSetDesc>>> = vec![Vec::new(); 3];
    for op in ops {
        let mut out = Vec::new();
        match op {
            Op::Initial(u) => {
                let ue = &mut ues[u as usize];
                ue.cseq += 2;
                ue.spi_c += 10;
                out.extend(h.ue(ue.unprotected(), &ue.initial()));
                let o = h.scscf(&ue.r401());
                known[u as usize].extend(installed(&o));
                let server = transmits(&o).first().map(security_server).unwrap_or_default();
                out.extend(o);
                if let Some(d) = known[u as usize].last().cloned() {
                    out.extend(h.ue(ue.on(&d), &ue.protected(&server, true)));
                    out.extend(h.scscf(&ue.r200(300)));
                }
            }
            Op::Reauth(u, complete) => {
                let ue = &mut ues[u as usize];
                let on =
                    h.p.sets()
                        .contacts()
                        .find(|c| *c.impi == *ue.impi)
                        .and_then(|c| c.in_use);
                if let Some(d) = on.and_then(|s| h.p.sets().set(s)).map(|s| s.desc.clone()) {
                    let before = h.out.len();
                    let (t, s) = challenge_on(&mut h, ue, &d);
                    known[u as usize].push(t.clone());
                    if complete {
                        let _ = h.ue(ue.on(&t), &ue.protected(&s, true));
                        let _ = h.scscf(&ue.r200(300));
                    }
                    out.extend(h.out[before..].iter().cloned());
                }
            }
            Op::Use(u, k) => {
                if let Some(d) = known[u as usize].get(k as usize % known[u as usize].len().max(1)) {
                    if h.p.sets().set(d.id).is_some() {
                        h.p.handle_event(h.now, Event::SetUsed { set: d.id });
                        out.extend(h.drain());
                    }
                }
            }
            Op::Invite(u) => {
                // A temporary set never carries anything but REGISTER.
                for d in known[u as usize].clone() {
                    let is_temp =
                        h.p.sets()
                            .set(d.id)
                            .map(|s| s.kind == control::registrar::sets::SetKind::Temporary);
                    if is_temp == Some(true) {
                        let inv = b"INVITE sip:b@x SIP/2.0\r\nVia: SIP/2.0/UDP 10.1.0.5;branch=z9hG4bKi\r\nCall-ID: i\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";
                        let o = h.ue(ues[u as usize].on(&d), inv);
                        assert!(transmits(&o).iter().all(|t| t.dest != Destination::Scscf));
                        out.extend(o);
                    }
                }
            }
            Op::Advance(s) => out.extend(h.advance(Duration::from_secs(u64::from(s)))),
            Op::Dereg(u) | Op::Reregister(u) => {
                let ue = &mut ues[u as usize];
                let on =
                    h.p.sets()
                        .contacts()
                        .find(|c| *c.impi == *ue.impi)
                        .and_then(|c| c.in_use);
                if let Some(d) = on.and_then(|s| h.p.sets().set(s)).map(|s| s.desc.clone()) {
                    let dereg = matches!(op, Op::Dereg(_));
                    let r = if dereg {
                        ue.dereg()
                    } else {
                        ue.cseq += 1;
                        ue.register(&ue.security_client(), "", 300)
                    };
                    out.extend(h.ue(ue.on(&d), &r));
                    out.extend(h.scscf(&ue.r200(if dereg { 0 } else { 300 })));
                }
            }
        }
        m.apply(&out);
        check(&h, &m);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]
    #[test]
    fn sa_set_invariants_hold_under_random_events(ops in proptest::collection::vec(op(), 1..40)) {
        run(ops);
    }
}
