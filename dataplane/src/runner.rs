//! The control-thread runner.
//!
//! Drains every worker's exception queue, drives the control logic with
//! `now`, applies table updates (one published batch per wake-up), sends its
//! own packets on the ports' control TX queues, and sleeps until the next
//! deadline or the next exception (workers unpark it).
//!
//! Two exception policies, chosen by `[registrar]`:
//! - Without a registrar: REGISTER from a bound sender and the final
//!   responses to REGISTER are proxied; any request from an unbound sender,
//!   REGISTER included, is answered 403 (Forbidden).
//! - With the IMS AKA registrar ([`control::registrar::Pcscf`]): every
//!   REGISTER goes to it as [`Event::FromUe`] (how it arrived comes from the
//!   worker: the SPI it was decrypted with, or none), every final response to
//!   REGISTER from the core goes to it as [`Event::FromScscf`] with our Via
//!   removed, and the first packet over a new SA set as [`Event::SetUsed`].
//!   Its outputs are applied strictly in the order `poll_output` gives them:
//!   table updates to [`TableWriters`], transmits as frames built here
//!   (toward the core with our Via, so the answer comes back to us; toward a
//!   UE plain from our SIP port, or ESP-protected over the named outbound SA).
//!   Other requests from unbound senders are still answered 403.
//!
//! Ordering guarantees: a transmit is built (and, toward a protected UE
//! port, encrypted) when its turn comes, so the 200 OK to a de-REGISTER
//! leaves protected even though the next output removes its SAs. The batch
//! of table updates is published before the wake-up's frames are sent, so a
//! UE answering a 401 always finds the SAs the 401 announced.
//!
//! Must never: trust an identity claim in a message (a sender is known only
//! by its SA or its Annex N binding), block on a worker, or panic on a
//! message (every failure is a counted [`DropReason`]).

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant as StdInstant};

use control::registrar::{
    Arrival, Destination, Event, Output, Pcscf, SaSetDesc, SaSetId, TableUpdate, Transmit,
};
use control::sip::{self, Header, Status};
use control::types::Transport;
use crossbeam_utils::CachePadded;
use hashbrown::HashMap;

use crate::buf::Buf;
use crate::counters::{DropReason, WorkerCounters};
use crate::esp::OutboundSa;
use crate::pipeline::{self, Context, ExceptionKind, PipeState, Side, Verdict};
use crate::port::PortQueue;
use crate::state::{OutboundEntry, TableReaders, TableWriters};
use crate::table::QsbrReader;
use crate::wire;
use crate::worker::{Exception, ExceptionQueue};

/// Everything the control thread owns.
pub struct Runner<Q: PortQueue> {
    /// Table writers.
    pub tables: TableWriters,
    /// The control thread's own read side (for proxying toward UEs over SAs).
    pub readers: TableReaders,
    /// The control thread's QSBR registration.
    pub qsbr: QsbrReader,
    /// One exception queue per worker.
    pub exceptions: Vec<ExceptionQueue<Q::Buf>>,
    /// Control TX queue on the access port.
    pub access_tx: Q,
    /// Control TX queue on the core port.
    pub core_tx: Q,
    /// Shared context.
    pub ctx: Arc<Context>,
    /// The control thread's published counters (rx = exceptions handled).
    pub counters: Arc<CachePadded<WorkerCounters>>,
    /// Set to stop.
    pub stop: Arc<AtomicBool>,
    /// Origin of `control::time::Instant`.
    pub epoch: StdInstant,
    /// Longest sleep between checks of `stop` (and of the registrar's
    /// deadlines, which shorten it).
    pub max_sleep: Duration,
    /// The IMS AKA registration core, when `[registrar]` enables it.
    pub registrar: Option<Pcscf>,
    /// Whether SA sets the registrar installs may use hmac-md5-96.
    pub allow_md5: bool,
    /// Anti-replay window of the inbound SAs the registrar installs.
    pub replay_window: u32,
}

/// Counts of what the control thread did, by kind (for reports).
#[derive(Clone, Debug, Default)]
pub struct ControlStats {
    /// 403 responses sent to unbound senders.
    pub forbidden: u64,
    /// REGISTER requests proxied (or, with the registrar, sent) to the core.
    pub registers_forwarded: u64,
    /// REGISTER responses proxied to UEs (without the registrar), or final
    /// responses to REGISTER handed to the registrar.
    pub register_responses: u64,
    /// First-use reports of new SA sets.
    pub sets_first_used: u64,
    /// Registrar: messages sent toward UEs without protection.
    pub ue_unprotected: u64,
    /// Registrar: messages sent toward UEs over an SA.
    pub ue_protected: u64,
    /// Registrar: table updates applied.
    pub table_updates: u64,
    /// Registrar: SA sets installed.
    pub sa_sets_installed: u64,
    /// Registrar: SA sets removed.
    pub sa_sets_removed: u64,
    /// SA sets whose outbound sequence space ran out (signalled once each).
    pub sa_sets_exhausted: u64,
    /// Registrar: SA sets that could not be installed (bad key material).
    pub sa_install_failed: u64,
    /// Registrar: outputs this data plane cannot carry out (TLS, TCP, a
    /// transmit over an SA set it does not hold).
    pub unsupported: u64,
    /// The registrar's own counters at the end of the run.
    pub registrar: Option<control::registrar::Counters>,
}

/// The registrar's counters as (label, value) pairs, for reports.
pub fn registrar_counters(c: &control::registrar::Counters) -> Vec<(&'static str, u64)> {
    vec![
        ("registers", c.registers),
        ("forwarded", c.forwarded),
        ("challenges", c.challenges),
        ("registered", c.registered),
        ("deregistered", c.deregistered),
        ("malformed", c.malformed),
        ("secagree_missing", c.secagree_missing),
        ("alg_rejected", c.alg_rejected),
        ("secagree_mismatch", c.secagree_mismatch),
        ("impi_mismatch", c.impi_mismatch),
        ("nat_rejected", c.nat_rejected),
        ("exhausted", c.exhausted),
        ("bad_challenge", c.bad_challenge),
        ("unknown_spi", c.unknown_spi),
        ("non_register_on_temporary", c.non_register_on_temporary),
        ("unparsable", c.unparsable),
        ("unmatched_responses", c.unmatched_responses),
        ("txn_timeouts", c.txn_timeouts),
        ("expired", c.expired),
    ]
}

/// One outbound SA of an installed set, as the runner keeps it to send over
/// the exact SA a transmit names.
struct OutSa {
    spi: u32,
    src_port: u16,
    server_port: u16,
    dst: (IpAddr, u16),
    sa: Arc<OutboundSa>,
}

/// What the runner remembers about a set the registrar installed.
struct SetOut {
    contact: control::registrar::ContactId,
    out: Vec<OutSa>,
}

/// Frames waiting for the end of a wake-up, per side.
struct TxBatch<B> {
    access: Vec<B>,
    core: Vec<B>,
}

impl<B> TxBatch<B> {
    fn push(&mut self, b: B, side: Side) {
        match side {
            Side::Access => self.access.push(b),
            Side::Core => self.core.push(b),
        }
    }
}

/// Mutable state of one `run` call, passed down to the handlers.
struct Work<B> {
    st: PipeState,
    stats: ControlStats,
    tx: TxBatch<B>,
    reply: Vec<u8>,
    scratch: Vec<u8>,
    outputs: Vec<Output>,
    /// Outbound SAs of the sets the registrar installed.
    sets: HashMap<SaSetId, SetOut>,
    /// The set each contact sends over (`TakeIntoUse`).
    in_use: HashMap<control::registrar::ContactId, SaSetId>,
}

impl<Q: PortQueue> Runner<Q> {
    fn now(&self) -> control::time::Instant {
        control::time::Instant::from_nanos(self.epoch.elapsed().as_nanos() as u64)
    }

    /// Run until `stop` is set; returns what was sent.
    pub fn run(mut self) -> ControlStats {
        let mut w = Work {
            st: PipeState::new(0xc0ffee),
            stats: ControlStats::default(),
            tx: TxBatch {
                access: Vec::new(),
                core: Vec::new(),
            },
            reply: Vec::with_capacity(1024),
            scratch: Vec::with_capacity(2048),
            outputs: Vec::new(),
            sets: HashMap::new(),
            in_use: HashMap::new(),
        };
        let mut last_exhaustion_check = self.now();
        let mut resource_exhaustions = 0u64;
        loop {
            // One last pass after `stop` is seen, so that every exception a
            // worker queued before the stop is handled.
            let stopping = self.stop.load(Ordering::Relaxed);
            let now = self.now();
            let mut handled = 0;
            if let Some(r) = self.registrar.as_mut() {
                if r.poll_timeout().is_some_and(|t| t <= now) {
                    r.handle_timeout(now);
                    self.apply_outputs(None, &mut w);
                }
            }
            for i in 0..self.exceptions.len() {
                while let Some(ex) = self.exceptions[i].pop() {
                    handled += 1;
                    w.st.counters.rx += 1;
                    if let Err(r) = self.handle(ex, now, &mut w) {
                        w.st.counters.drop(r);
                    }
                }
            }
            // Outbound SAs never wrap their sequence number: a worker that
            // hits the end drops and counts, and the SA flags itself; the
            // control thread picks the flag up here, about once a second.
            if now.saturating_duration_since(last_exhaustion_check) >= Duration::from_secs(1) || stopping {
                last_exhaustion_check = now;
                for set in self.tables.newly_exhausted_sets() {
                    w.stats.sa_sets_exhausted += 1;
                    eprintln!(
                        "pcscf-dp: SA set {} ran out of outbound sequence numbers; packets toward the UE are \
                         dropped (esp_seq_overflow) until it re-registers",
                        set.0
                    );
                }
            }
            // Resource exhaustion (SPIs, protected ports, SA sets per IMPI) is
            // answered with a 5xx and Retry-After by the registrar; say so in
            // the log too, once per occurrence.
            if let Some(r) = self.registrar.as_ref() {
                let n = r.counters().exhausted;
                if n > resource_exhaustions {
                    eprintln!(
                        "pcscf-dp: registrar resources exhausted (SPI range, protected ports or SA sets per \
                         IMPI): {} REGISTER(s) answered 503 with Retry-After ({n} in total)",
                        n - resource_exhaustions
                    );
                    resource_exhaustions = n;
                }
            }
            // Publish before sending: the SAs a 401 announces must be
            // visible to the workers before the UE can answer over them.
            self.tables.publish();
            for (q, v) in [
                (&mut self.access_tx, &mut w.tx.access),
                (&mut self.core_tx, &mut w.tx.core),
            ] {
                if !v.is_empty() {
                    let n = v.len();
                    let sent = q.tx_burst(v);
                    w.st.counters.tx += sent as u64;
                    for _ in sent..n {
                        w.st.counters.drop(DropReason::TxFull);
                    }
                }
            }
            self.qsbr.quiescent();
            self.counters.publish(&w.st.counters);
            if stopping {
                break;
            }
            if handled == 0 {
                let sleep = match self.registrar.as_ref().and_then(|r| r.poll_timeout()) {
                    Some(t) => t.saturating_duration_since(self.now()).min(self.max_sleep),
                    None => self.max_sleep,
                };
                if !sleep.is_zero() {
                    std::thread::park_timeout(sleep);
                }
            }
        }
        self.counters.publish(&w.st.counters);
        w.stats.registrar = self.registrar.as_ref().map(|r| r.counters().clone());
        w.stats
    }

    fn handle(
        &mut self,
        ex: Exception<Q::Buf>,
        now: control::time::Instant,
        w: &mut Work<Q::Buf>,
    ) -> Result<(), DropReason> {
        let Exception {
            buf,
            from,
            kind,
            at,
            spi,
        } = ex;
        if let ExceptionKind::SaFirstUse(set) = kind {
            w.stats.sets_first_used += 1;
            if let Some(r) = self.registrar.as_mut() {
                r.handle_event(now, Event::SetUsed { set });
                self.apply_outputs(None, w);
            }
            // A first-use report never carries a frame; one that does is
            // answered like any other exception below.
            if buf.is_none() {
                return Ok(());
            }
        }
        let Some(mut buf) = buf else { return Ok(()) };
        let p = wire::parse_frame(buf.data(), false)?;
        let src = p.src_socket();
        // With the registrar, REGISTER and the final responses to it are its
        // business alone. A response it cannot match (a retransmitted 401,
        // say) is dropped and counted there, never proxied: it may carry
        // ck/ik. A REGISTER over a static `[[sa_set]]` (an SPI it did not
        // allocate) is dropped there too (`unknown_spi`).
        if let Some(r) = self.registrar.as_mut() {
            match (kind, from) {
                (ExceptionKind::Register, Side::Access) => {
                    let arrival = match spi {
                        Some(spi) => Arrival::Protected {
                            spi,
                            src,
                            transport: Transport::Udp,
                        },
                        None => Arrival::Unprotected {
                            src,
                            transport: Transport::Udp,
                        },
                    };
                    r.handle_event(
                        now,
                        Event::FromUe {
                            arrival,
                            bytes: p.payload(buf.data()),
                        },
                    );
                    self.apply_outputs(Some(src), w);
                    return Ok(());
                }
                (ExceptionKind::RegisterResponse, Side::Core) => {
                    w.stats.register_responses += 1;
                    w.scratch.clear();
                    strip_our_via(&self.ctx, p.payload(buf.data()), &mut w.scratch)?;
                    r.handle_event(now, Event::FromScscf { bytes: &w.scratch });
                    self.apply_outputs(None, w);
                    return Ok(());
                }
                _ => {}
            }
        }
        // A sender is known by its SA (the SPI it arrived on authenticated it)
        // or by its Annex N binding; never by anything in the message.
        let bound = from == Side::Access && (spi.is_some() || self.tables.sender(src, Transport::Udp));
        match kind {
            ExceptionKind::Register if bound && self.registrar.is_none() => {
                w.stats.registers_forwarded += 1;
                let (b, side) = self.proxy(buf, from, &mut w.st)?;
                w.tx.push(b, side);
                Ok(())
            }
            ExceptionKind::RegisterResponse if self.registrar.is_none() => {
                w.stats.register_responses += 1;
                let (b, side) = self.proxy(buf, from, &mut w.st)?;
                w.tx.push(b, side);
                Ok(())
            }
            ExceptionKind::RegisterResponse => Err(DropReason::NoRoute),
            ExceptionKind::Register | ExceptionKind::UnknownSender | ExceptionKind::SaFirstUse(_) => {
                self.build_reply(buf.data(), &p, at, 403, "Forbidden", &mut w.reply)?;
                pipeline::reply_in_place(&mut buf, &self.ctx, from, src, &w.reply)?;
                w.stats.forbidden += 1;
                w.tx.push(buf, from);
                Ok(())
            }
        }
    }

    /// Apply every pending registrar output, in order. `back` is where the
    /// message that caused them came from (the return address carried in the
    /// branch of our Via on requests sent to the core).
    fn apply_outputs(&mut self, back: Option<SocketAddr>, w: &mut Work<Q::Buf>) {
        let Some(r) = self.registrar.as_mut() else { return };
        w.outputs.clear();
        while let Some(o) = r.poll_output() {
            w.outputs.push(o);
        }
        let mut outputs = std::mem::take(&mut w.outputs);
        for o in outputs.drain(..) {
            match o {
                Output::Transmit(t) => {
                    if let Err(reason) = self.transmit(t, back, w) {
                        w.st.counters.drop(reason);
                    }
                }
                Output::Table(_, u) => self.apply_update(u, w),
            }
        }
        w.outputs = outputs;
    }

    fn transmit(
        &mut self,
        t: Transmit,
        back: Option<SocketAddr>,
        w: &mut Work<Q::Buf>,
    ) -> Result<(), DropReason> {
        match t.dest {
            Destination::Scscf => {
                let mut b = self.core_tx.alloc().ok_or(DropReason::TxFull)?;
                // Frame the request as if it had just arrived from `back` on
                // the access side, then proxy it: the pipeline inserts our
                // Via (its branch authenticates `back`), decrements
                // Max-Forwards, strips UE identity headers and addresses it
                // to the next hop from our core address.
                let ours = &self.ctx.access;
                let own = ours
                    .ipv4
                    .map(IpAddr::V4)
                    .or(ours.ipv6.map(IpAddr::V6))
                    .ok_or(DropReason::NoRoute)?;
                let from = back.unwrap_or(SocketAddr::new(own, ours.sip_port));
                let to = ours.addr_for(from.ip()).ok_or(DropReason::NoRoute)?;
                pipeline::emit_datagram(
                    &mut b,
                    ours,
                    from,
                    SocketAddr::new(to, ours.sip_port),
                    &t.payload,
                    None,
                )?;
                match pipeline::proxy(&mut b, Side::Access, &self.ctx, None, &mut w.st) {
                    Verdict::Forward(Side::Core) => {}
                    Verdict::Forward(Side::Access) | Verdict::Exception(_) => {
                        return Err(DropReason::NoRoute)
                    }
                    Verdict::Drop(r) => return Err(r),
                }
                w.stats.registers_forwarded += 1;
                w.tx.push(b, Side::Core);
            }
            Destination::UeUnprotected {
                addr,
                transport: Transport::Udp,
            } => {
                let mut b = self.access_tx.alloc().ok_or(DropReason::TxFull)?;
                pipeline::reply_in_place(&mut b, &self.ctx, Side::Access, addr, &t.payload)?;
                w.stats.ue_unprotected += 1;
                w.tx.push(b, Side::Access);
            }
            Destination::UeProtected {
                set,
                spi,
                local_port,
                addr,
                transport: Transport::Udp,
            } => {
                let sa = w
                    .sets
                    .get(&set)
                    .and_then(|s| s.out.iter().find(|o| o.spi == spi && o.src_port == local_port))
                    .map(|o| o.sa.clone());
                let Some(sa) = sa else {
                    w.stats.unsupported += 1;
                    return Err(DropReason::NoRoute);
                };
                let mut b = self.access_tx.alloc().ok_or(DropReason::TxFull)?;
                let ours = &self.ctx.access;
                let src = ours.addr_for(addr.ip()).ok_or(DropReason::NoRoute)?;
                pipeline::emit_datagram(
                    &mut b,
                    ours,
                    SocketAddr::new(src, local_port),
                    addr,
                    &t.payload,
                    Some(&sa),
                )?;
                w.stats.ue_protected += 1;
                w.tx.push(b, Side::Access);
            }
            Destination::UeUnprotected { .. } | Destination::UeProtected { .. } => {
                w.stats.unsupported += 1;
                return Err(DropReason::TcpSipUnsupported);
            }
            Destination::UeTls { .. } => {
                w.stats.unsupported += 1;
                return Err(DropReason::ControlRejected);
            }
        }
        Ok(())
    }

    fn apply_update(&mut self, u: TableUpdate, w: &mut Work<Q::Buf>) {
        w.stats.table_updates += 1;
        match u {
            TableUpdate::InstallSaSet(d) => self.install_set(&d, w),
            TableUpdate::TakeIntoUse { contact, set } => {
                w.in_use.insert(contact, set);
                // Toward a UE port that several live sets share, the set in
                // use is the one the workers send over.
                if let Some(s) = w.sets.get(&set) {
                    for o in &s.out {
                        self.tables.sa_out.insert(
                            o.dst,
                            OutboundEntry {
                                sa: o.sa.clone(),
                                src_port: o.src_port,
                                server_port: o.server_port,
                                set,
                            },
                        );
                    }
                }
            }
            // Informational: the registrar removes the set itself when it
            // runs out.
            TableUpdate::SetLifetime { .. } => {}
            TableUpdate::SetIdentity { set, identity } => {
                self.tables.set_identity(set, identity);
                self.rearm_first_use(set);
            }
            TableUpdate::RemoveSaSet { set, .. } => {
                self.tables.remove_sa_set(set);
                w.stats.sa_sets_removed += 1;
                if let Some(gone) = w.sets.remove(&set) {
                    if w.in_use.get(&gone.contact) == Some(&set) {
                        w.in_use.remove(&gone.contact);
                    }
                    // A port the removed set shared with another live set
                    // goes back to that set (the one in use first).
                    for o in &gone.out {
                        if self.tables.sa_out.contains_key(&o.dst) {
                            continue;
                        }
                        let pref = w.in_use.get(&gone.contact).copied();
                        let other = pref
                            .and_then(|p| w.sets.get(&p).map(|s| (p, s)))
                            .and_then(|(p, s)| s.out.iter().find(|x| x.dst == o.dst).map(|x| (p, x)))
                            .or_else(|| {
                                w.sets.iter().find_map(|(id, s)| {
                                    s.out.iter().find(|x| x.dst == o.dst).map(|x| (*id, x))
                                })
                            });
                        if let Some((id, x)) = other {
                            self.tables.sa_out.insert(
                                o.dst,
                                OutboundEntry {
                                    sa: x.sa.clone(),
                                    src_port: x.src_port,
                                    server_port: x.server_port,
                                    set: id,
                                },
                            );
                        }
                    }
                }
            }
            TableUpdate::InstallBinding { key, identity } => self.tables.bind(key, identity),
            TableUpdate::RemoveBinding { key } => self.tables.unbind(key),
            TableUpdate::InstallTlsAssociation { .. } | TableUpdate::RemoveTlsAssociation { .. } => {
                w.stats.unsupported += 1;
            }
        }
    }

    fn install_set(&mut self, d: &SaSetDesc, w: &mut Work<Q::Buf>) {
        // The outbound keys of the new set: (UE IP, port-us) and (UE IP,
        // port-uc). A set in use toward the same UE port keeps that port
        // until the new set is taken into use.
        let keys = [1, 2].map(|i| (d.sas[i].dst.ip(), d.sas[i].dst.port()));
        let prev = keys.map(|k| {
            self.tables.sa_out.get(&k).map(|e| OutboundEntry {
                sa: e.sa.clone(),
                src_port: e.src_port,
                server_port: e.server_port,
                set: e.set,
            })
        });
        if self
            .tables
            .install_sa_set(d, None, self.allow_md5, self.replay_window)
            .is_err()
        {
            w.stats.sa_install_failed += 1;
            w.st.counters.drop(DropReason::ControlRejected);
            return;
        }
        w.stats.sa_sets_installed += 1;
        let mut out = Vec::with_capacity(2);
        for (i, k) in [1, 2].into_iter().zip(keys) {
            if let Some(e) = self.tables.sa_out.get(&k) {
                out.push(OutSa {
                    spi: d.sas[i].spi,
                    src_port: e.src_port,
                    server_port: e.server_port,
                    dst: k,
                    sa: e.sa.clone(),
                });
            }
        }
        w.sets.insert(
            d.id,
            SetOut {
                contact: d.contact,
                out,
            },
        );
        for (k, p) in keys.into_iter().zip(prev) {
            if let Some(p) = p.filter(|p| p.set != d.id) {
                self.tables.sa_out.insert(k, p);
            }
        }
    }

    /// After re-authentication the new set waits for its first message
    /// (table 5.2.2-1 row 1), but the REGISTER that concluded it already
    /// used up the set's first-use report: re-arm it.
    fn rearm_first_use(&self, set: SaSetId) {
        let Some(r) = self.registrar.as_ref() else { return };
        let Some(s) = r.sets().set(set) else { return };
        if r.sets().contact(s.contact).and_then(|c| c.newly) != Some(set) {
            return;
        }
        for spi in s.desc.inbound_spis() {
            if let Some(e) = self.tables.sa_in.get(&spi) {
                e.reported.store(false, Ordering::Relaxed);
            }
        }
    }

    fn proxy(
        &mut self,
        mut buf: Q::Buf,
        from: Side,
        st: &mut PipeState,
    ) -> Result<(Q::Buf, Side), DropReason> {
        let g = self.qsbr.guard();
        match pipeline::proxy(&mut buf, from, &self.ctx, Some((&self.readers, &g)), st) {
            Verdict::Forward(side) => Ok((buf, side)),
            Verdict::Drop(r) => Err(r),
            Verdict::Exception(_) => Err(DropReason::ControlRejected),
        }
    }

    fn build_reply(
        &self,
        frame: &[u8],
        p: &crate::wire::Parsed,
        at: control::time::Instant,
        code: u16,
        reason: &str,
        out: &mut Vec<u8>,
    ) -> Result<(), DropReason> {
        let payload = p.payload(frame);
        let mut hdrs = [Header::EMPTY; 64];
        let msg = match sip::parse(payload, &mut hdrs) {
            Ok(Status::Complete(m)) => m,
            _ => return Err(DropReason::SipMalformed),
        };
        let tag = format!("pdp{:08x}", at.as_nanos() as u32);
        control::reply::response(&msg, code, reason, &tag, &[], out).map_err(|_| DropReason::ControlRejected)
    }
}

/// Write to `out` the SIP response `payload` without its top Via element,
/// which must be ours (our branch, authenticated): the response as the
/// registrar must see it, from the S-CSCF to the P-CSCF.
pub fn strip_our_via(ctx: &Context, payload: &[u8], out: &mut Vec<u8>) -> Result<(), DropReason> {
    let mut hdrs = [Header::EMPTY; 96];
    let m = match sip::parse(payload, &mut hdrs) {
        Ok(Status::Complete(m)) => m,
        _ => return Err(DropReason::SipMalformed),
    };
    let idx = m.header_index("Via").ok_or(DropReason::NoRoute)?;
    let h = m.headers[idx];
    let mut vals = h.values();
    let first = vals
        .next()
        .ok_or(DropReason::NoRoute)?
        .map_err(|_| DropReason::SipMalformed)?;
    let via = sip::Via::parse(first).map_err(|_| DropReason::SipMalformed)?;
    let token = via
        .branch
        .and_then(|b| b.strip_prefix(pipeline::BRANCH_MAGIC.as_bytes()))
        .ok_or(DropReason::NoRoute)?;
    if pipeline::decode_branch(ctx, token).is_none() {
        return Err(DropReason::NoRoute);
    }
    let mut rest = Vec::new();
    for v in vals {
        let v = v.map_err(|_| DropReason::SipMalformed)?;
        if !rest.is_empty() {
            rest.extend_from_slice(b", ");
        }
        rest.extend_from_slice(v);
    }
    let mut ed = sip::Editor::new();
    let r = if rest.is_empty() {
        ed.remove_header(&m, idx)
    } else {
        ed.replace_value(&m, idx, &rest)
    };
    r.map_err(|_| DropReason::SipMalformed)?;
    ed.apply(&m, out).map_err(|_| DropReason::SipMalformed)
}

impl TableWriters {
    /// Whether a sender has a binding (writer-side lookup).
    pub fn sender(&self, src: SocketAddr, t: Transport) -> bool {
        self.by_ip_port.contains_key(&(src.ip(), src.port(), t)) || self.by_ip.contains_key(&src.ip())
    }
}
