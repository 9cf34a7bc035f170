#![allow(clippy::field_reassign_with_default)]
//! TS 24.229 table 5.2.2-1: one test per cell, named row_column.
mod common;
use common::*;
use control::registrar::{Config, Event, SaSetDesc, TableUpdate};
use core::time::Duration;
use std::sync::Arc;

/// Registered with set `d` in use and a newly established set `n` (after a
/// re-authentication initiated on `d`).
fn with_newly(h: &mut H, ue: &mut Ue) -> (Arc<SaSetDesc>, Arc<SaSetDesc>) {
    let (d, _) = register(h, ue);
    let (n, s) = challenge_on(h, ue, &d);
    let _ = h.ue(ue.on(&n), &ue.protected(&s, true));
    let _ = h.scscf(&ue.r200(600));
    let c = h.p.sets().contact(d.contact).unwrap();
    assert_eq!((c.in_use, c.newly), (Some(d.id), Some(n.id)));
    (d, n)
}

fn exp(h: &H, d: &SaSetDesc) -> Option<control::time::Instant> {
    h.p.sets().set(d.id).map(|s| s.expires_at)
}

fn setup() -> (H, Ue) {
    (H::new(Config::default()), Ue::new(1))
}

// Row 1: SIP message received over the newly established set not yet in use.

#[test]
fn row1_message_over_new_set_temporary_column_no_action() {
    let (mut h, mut ue) = setup();
    let (d, n) = with_newly(&mut h, &mut ue);
    let (t, _) = challenge_on(&mut h, &mut ue, &d);
    let before = exp(&h, &t);
    h.p.handle_event(h.now, Event::SetUsed { set: n.id });
    let _ = h.drain();
    assert_eq!(exp(&h, &t), before);
    assert_eq!(h.p.sets().contact(d.contact).unwrap().temporary, Some(t.id));
}

#[test]
fn row1_message_over_new_set_newly_established_column_take_into_use() {
    let (mut h, mut ue) = setup();
    let (d, n) = with_newly(&mut h, &mut ue);
    ue.cseq += 1;
    let o = h.ue(ue.on(&n), &ue.register(&ue.security_client(), "", 600));
    assert!(updates(&o)
        .iter()
        .any(|u| matches!(u, TableUpdate::TakeIntoUse { set, .. } if *set == n.id)));
    let c = h.p.sets().contact(d.contact).unwrap();
    assert_eq!((c.in_use, c.newly), (Some(n.id), None));
}

#[test]
fn row1_message_over_new_set_old_column_reduce_to_64_t1() {
    let (mut h, mut ue) = setup();
    let (d, n) = with_newly(&mut h, &mut ue);
    h.p.handle_event(h.now, Event::SetUsed { set: n.id });
    let _ = h.drain();
    assert_eq!(exp(&h, &d), Some(h.now + Duration::from_secs(32)));
    let _ = h.advance(Duration::from_secs(32));
    assert!(exp(&h, &d).is_none(), "old set deleted when its lifetime ends");
}

#[test]
fn row1_old_column_not_extended_when_already_shorter() {
    let (mut h, mut ue) = setup();
    let (_d, n) = with_newly(&mut h, &mut ue);
    let before = exp(&h, &n);
    h.p.handle_event(h.now, Event::SetUsed { set: n.id });
    let _ = h.drain();
    assert_eq!(exp(&h, &n), before, "the set taken into use keeps its lifetime");
}

// Row 2: SIP message received over an old set.

#[test]
fn row2_message_over_old_set_temporary_column_no_action() {
    let (mut h, mut ue) = setup();
    let (d, _n) = with_newly(&mut h, &mut ue);
    let (t, _) = challenge_on(&mut h, &mut ue, &d);
    let before = exp(&h, &t);
    h.p.handle_event(h.now, Event::SetUsed { set: d.id });
    assert!(updates(&h.drain()).is_empty());
    assert_eq!(exp(&h, &t), before);
}

#[test]
fn row2_message_over_old_set_newly_established_column_no_action() {
    let (mut h, mut ue) = setup();
    let (d, n) = with_newly(&mut h, &mut ue);
    h.p.handle_event(h.now, Event::SetUsed { set: d.id });
    assert!(updates(&h.drain()).is_empty());
    assert_eq!(h.p.sets().contact(d.contact).unwrap().newly, Some(n.id));
}

#[test]
fn row2_message_over_old_set_old_column_no_action() {
    let (mut h, mut ue) = setup();
    let (d, _n) = with_newly(&mut h, &mut ue);
    let before = exp(&h, &d);
    h.p.handle_event(h.now, Event::SetUsed { set: d.id });
    assert!(updates(&h.drain()).is_empty());
    assert_eq!(exp(&h, &d), before);
    assert_eq!(h.p.sets().contact(d.contact).unwrap().in_use, Some(d.id));
}

// Row 3: the old set in use will expire in 64*T1.

#[test]
fn row3_old_set_expires_in_64_t1_temporary_column_no_action() {
    let (mut h, mut ue) = setup();
    let (d, _n) = with_newly(&mut h, &mut ue);
    let until = exp(&h, &d).unwrap();
    let _ = h.advance(until.saturating_duration_since(h.now) - Duration::from_secs(40));
    let (t, _) = challenge_on(&mut h, &mut ue, &d);
    let before = exp(&h, &t);
    let _ = h.advance(Duration::from_secs(9));
    assert_eq!(exp(&h, &t), before);
}

#[test]
fn row3_old_set_expires_in_64_t1_newly_established_column_take_into_use() {
    let (mut h, mut ue) = setup();
    let (d, n) = with_newly(&mut h, &mut ue);
    let until = exp(&h, &d).unwrap();
    let _ = h.advance(until.saturating_duration_since(h.now) - Duration::from_secs(33));
    assert_eq!(h.p.sets().contact(d.contact).unwrap().in_use, Some(d.id));
    let o = h.advance(Duration::from_secs(1));
    assert!(updates(&o)
        .iter()
        .any(|u| matches!(u, TableUpdate::TakeIntoUse { set, .. } if *set == n.id)));
    assert_eq!(h.p.sets().contact(d.contact).unwrap().in_use, Some(n.id));
}

#[test]
fn row3_old_set_expires_in_64_t1_old_column_no_action() {
    let (mut h, mut ue) = setup();
    let (d, _n) = with_newly(&mut h, &mut ue);
    let until = exp(&h, &d).unwrap();
    let _ = h.advance(until.saturating_duration_since(h.now) - Duration::from_secs(31));
    assert_eq!(exp(&h, &d), Some(until), "lifetime untouched by the switch-over");
    let _ = h.advance(Duration::from_secs(31));
    assert!(exp(&h, &d).is_none());
}

// Row 4: sending a 401 challenge.

#[test]
fn row4_sending_401_temporary_column_create_and_remove_previous() {
    let (mut h, mut ue) = setup();
    let (d, _n) = with_newly(&mut h, &mut ue);
    let (t1, _) = challenge_on(&mut h, &mut ue, &d);
    let (t2, _) = challenge_on(&mut h, &mut ue, &d);
    assert!(exp(&h, &t1).is_none());
    assert_eq!(exp(&h, &t2), Some(h.now + Duration::from_secs(240)));
}

#[test]
fn row4_sending_401_newly_established_column_no_action() {
    let (mut h, mut ue) = setup();
    let (d, n) = with_newly(&mut h, &mut ue);
    let before = exp(&h, &n);
    let _ = challenge_on(&mut h, &mut ue, &d);
    assert_eq!(exp(&h, &n), before);
    assert_eq!(h.p.sets().contact(d.contact).unwrap().newly, Some(n.id));
}

#[test]
fn row4_sending_401_old_column_no_action() {
    let (mut h, mut ue) = setup();
    let (d, _n) = with_newly(&mut h, &mut ue);
    let before = exp(&h, &d);
    let _ = challenge_on(&mut h, &mut ue, &d);
    assert_eq!(exp(&h, &d), before);
    assert_eq!(h.p.sets().contact(d.contact).unwrap().in_use, Some(d.id));
}

// Row 5: sending the 200 that concludes a re-authentication.

fn reauth_again(h: &mut H, ue: &mut Ue, on: &SaSetDesc) -> Arc<SaSetDesc> {
    let (t, s) = challenge_on(h, ue, on);
    let _ = h.ue(ue.on(&t), &ue.protected(&s, true));
    let _ = h.scscf(&ue.r200(600));
    t
}

#[test]
fn row5_reauth_200_temporary_column_change_to_newly_established() {
    let (mut h, mut ue) = setup();
    let (d, _n) = with_newly(&mut h, &mut ue);
    let t = reauth_again(&mut h, &mut ue, &d);
    assert_eq!(h.p.sets().contact(d.contact).unwrap().newly, Some(t.id));
    assert_eq!(
        h.p.sets().set(t.id).unwrap().kind,
        control::registrar::sets::SetKind::Established
    );
}

#[test]
fn row5_reauth_200_newly_established_column_treated_as_old_and_deleted() {
    let (mut h, mut ue) = setup();
    let (d, n) = with_newly(&mut h, &mut ue);
    let _t = reauth_again(&mut h, &mut ue, &d);
    assert!(
        exp(&h, &n).is_none(),
        "previous newly established set deleted as an old set"
    );
}

#[test]
fn row5_reauth_200_old_column_keep_initiating_set_delete_other_olds() {
    let (mut h, mut ue) = setup();
    let (d, n) = with_newly(&mut h, &mut ue);
    // Take n into use: d becomes an old set (cut to 64*T1).
    h.p.handle_event(h.now, Event::SetUsed { set: n.id });
    let _ = h.drain();
    // Re-authenticate on n: d (other old) is deleted, n kept and used.
    let t = reauth_again(&mut h, &mut ue, &n);
    let c = h.p.sets().contact(n.contact).unwrap();
    assert!(exp(&h, &d).is_none());
    assert_eq!(c.in_use, Some(n.id));
    assert_eq!(c.newly, Some(t.id));
}

// Row 6: sending the 200 that concludes an initial authentication.

fn initial_again(h: &mut H, ue: &mut Ue) -> Arc<SaSetDesc> {
    ue.cseq += 1;
    ue.spi_c += 200;
    ue.spi_s += 200;
    let _ = h.ue(ue.unprotected(), &ue.initial());
    let o = h.scscf(&ue.r401());
    let t = installed(&o).pop().unwrap();
    let s = security_server(&transmits(&o)[0]);
    let _ = h.ue(ue.on(&t), &ue.protected(&s, true));
    let _ = h.scscf(&ue.r200(600));
    t
}

#[test]
fn row6_initial_200_temporary_column_newly_established_and_in_use_at_once() {
    let (mut h, mut ue) = setup();
    let (d, _n) = with_newly(&mut h, &mut ue);
    let t = initial_again(&mut h, &mut ue);
    let c = h.p.sets().contact(d.contact).unwrap();
    assert_eq!(c.in_use, Some(t.id));
    assert_eq!(c.newly, None);
}

#[test]
fn row6_initial_200_newly_established_column_deleted() {
    let (mut h, mut ue) = setup();
    let (_d, n) = with_newly(&mut h, &mut ue);
    let _t = initial_again(&mut h, &mut ue);
    assert!(exp(&h, &n).is_none());
}

#[test]
fn row6_initial_200_old_column_deleted() {
    let (mut h, mut ue) = setup();
    let (d, _n) = with_newly(&mut h, &mut ue);
    let t = initial_again(&mut h, &mut ue);
    assert!(exp(&h, &d).is_none());
    assert_eq!(h.p.sets().sets().count(), 1);
    assert!(exp(&h, &t).is_some());
}
