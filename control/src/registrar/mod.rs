//! # The P-CSCF registration core (TS 24.229 §5.2.2.2, table 5.2.2-1,
//! TS 33.203 Annexes H, N, O)
//!
//! Owns: the REGISTER, 401 and 200 procedures of §5.2.2.2 for IMS AKA with
//! IPsec (sec-agree checks, `integrity-protected`, Via `received`/`rport`,
//! the RFC 5626 flow token in Path, ck/ik stripping, Security-Server, the
//! temporary set), the SA-set lifecycle ([`sets`]), SPI and port allocation
//! ([`resources`]), and the SIP Digest registrations of Annexes N and O
//! ([`crate::bindings`]).
//!
//! Sans-IO (quinn-proto style). Inputs: [`Pcscf::handle_event`]`(now, ev)`
//! and [`Pcscf::handle_timeout`]`(now)`. Outputs, all `#[must_use]`:
//! [`Pcscf::poll_transmit`], [`Pcscf::poll_table_update`] (or both merged in
//! order by [`Pcscf::poll_output`]) and [`Pcscf::poll_timeout`]. Outputs
//! are totally ordered by `seq` (see [`table`]); call `handle_timeout` when
//! `poll_timeout` says so.
//!
//! Decisions:
//! - Responses from the S-CSCF are matched to the forwarded REGISTER by
//!   Call-ID and CSeq number. The registrar does not add its own Via or
//!   Record-Route (the proxy layer that forwards does).
//! - Security-Server lists exactly the one `ipsec-3gpp` offer the P-CSCF
//!   chose from the UE's Security-Client by its own preference order, so the
//!   SAs installed with the 401 are the ones the UE will use.
//! - The bound on SA sets per IMPI defaults to 3 (two SAs per direction per
//!   set: six per direction, the figure SPEC-NOTES quotes from TS 33.203).
//! - 494 (RFC 3329) answers missing, unacceptable or mismatched sec-agree;
//!   400 malformed or contradictory headers; 403 an IMPI that differs from
//!   the one challenged (step 3c) or a NAT without outbound (Annex N); 503
//!   with Retry-After exhausted resources; 500 a 401 without usable ck/ik.
//!
//! Must never: read a clock, do I/O, panic on network input, forward a 401
//! that still carries ck or ik, or remove an SA set before the response it
//! protects has been queued.

mod msg;
pub mod resources;
pub mod sets;
pub mod table;
mod timers;

use crate::bindings::{self, AnnexN, AnnexO};
use crate::keys::{derive_sa_keys, is_valid_combination};
use crate::sip::{parse, Editor, Header, HeaderName, Message, Method, Rport, Status};
use crate::time::Instant;
use crate::types::{BindingKey, EncrAlg, Identity, IntegAlg, Transport};
use core::net::{IpAddr, SocketAddr};
use core::time::Duration;
use hashbrown::HashMap;
use msg::{Bad, Offer};
use resources::{PortAllocator, SpiAllocator};
use sets::{Exhausted, NewSet, SetKind, SetParams, SetTable};
use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::Arc;
pub use table::{
    ContactId, Destination, EspMode, Output, SaDesc, SaDirection, SaSetDesc, SaSetId, TableUpdate, Transmit,
};
use timers::TimerKey;

/// Configuration of the registrar.
#[derive(Debug, Clone)]
pub struct Config {
    /// The P-CSCF's address towards UEs.
    pub pcscf_ip: IpAddr,
    /// The unprotected port (announced at P-CSCF discovery).
    pub unprotected_port: u16,
    /// First port of the protected port pool.
    pub protected_port_base: u16,
    /// Number of (port-pc, port-ps) pairs in the pool.
    pub protected_port_pairs: u16,
    /// Lowest inbound SPI handed out (at least 256).
    pub spi_min: u32,
    /// Highest inbound SPI handed out.
    pub spi_max: u32,
    /// Integrity algorithms allowed, most preferred first. hmac-md5-96 is
    /// allowed only when listed.
    pub integ_prefs: Vec<IntegAlg>,
    /// Encryption algorithms allowed, most preferred first.
    pub encr_prefs: Vec<EncrAlg>,
    /// RFC 3261 T1.
    pub t1: Duration,
    /// reg-await-auth (TS 24.229 table 7.8.1).
    pub reg_await_auth: Duration,
    /// Most SA sets one IMPI may hold.
    pub max_sets_per_impi: u16,
    /// How long a removed SA's inbound SPI stays unusable.
    pub spi_quarantine: Duration,
    /// Retry-After (seconds) of the 503 sent when resources run out.
    pub retry_after_secs: u32,
    /// Largest registration lifetime used for SA lifetimes (longer ones
    /// granted by the S-CSCF are clamped).
    pub max_registration: Duration,
    /// Annex N: accept SIP Digest registrations (no sec-agree) with the
    /// IP-address check.
    pub annex_n: bool,
    /// Annex O: accept SIP Digest registrations over TLS connections.
    pub annex_o: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            pcscf_ip: IpAddr::from([10, 0, 0, 1]),
            unprotected_port: 5060,
            protected_port_base: 6100,
            protected_port_pairs: 8,
            spi_min: 0x0001_0000,
            spi_max: 0x0FFF_FFFF,
            integ_prefs: vec![IntegAlg::Null, IntegAlg::AesGmac, IntegAlg::HmacSha196],
            encr_prefs: vec![EncrAlg::AesGcm, EncrAlg::Null, EncrAlg::AesCbc],
            t1: Duration::from_millis(500),
            reg_await_auth: Duration::from_secs(240),
            max_sets_per_impi: 3,
            spi_quarantine: Duration::from_secs(32),
            retry_after_secs: 30,
            max_registration: Duration::from_secs(7 * 24 * 3600),
            annex_n: false,
            annex_o: false,
        }
    }
}

/// How a message from the UE arrived (the data plane knows; the registrar
/// never guesses it from Via or From).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrival {
    /// Without protection, from `src`, on the unprotected port.
    Unprotected {
        /// Source address.
        src: SocketAddr,
        /// Transport.
        transport: Transport,
    },
    /// Decrypted from the inbound SA with SPI `spi`.
    Protected {
        /// Inbound SPI (spi-ps or spi-pc).
        spi: u32,
        /// Source address (UE IP and port-uc or port-us).
        src: SocketAddr,
        /// Transport.
        transport: Transport,
    },
    /// Over the Annex O TLS connection from `peer`.
    Tls {
        /// Peer of the connection.
        peer: SocketAddr,
    },
}

/// An input.
#[derive(Debug, Clone, Copy)]
pub enum Event<'a> {
    /// A SIP message from a UE.
    FromUe {
        /// How it arrived.
        arrival: Arrival,
        /// The message.
        bytes: &'a [u8],
    },
    /// A SIP message from the S-CSCF side.
    FromScscf {
        /// The message.
        bytes: &'a [u8],
    },
    /// The data plane saw the first packet on an SA set (table 5.2.2-1
    /// row 1 when it is the newly established set).
    SetUsed {
        /// The set.
        set: SaSetId,
    },
    /// Annex O: a TLS connection was established.
    TlsConnected {
        /// Peer address.
        peer: SocketAddr,
        /// TLS session id.
        session_id: &'a [u8],
    },
    /// Annex O: a TLS connection closed.
    TlsClosed {
        /// Peer address.
        peer: SocketAddr,
    },
}

/// Counters (monotonic).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters {
    /// REGISTER requests received from UEs.
    pub registers: u64,
    /// REGISTERs forwarded to the S-CSCF.
    pub forwarded: u64,
    /// 401 challenges sent to UEs (with a temporary set created).
    pub challenges: u64,
    /// 200 OK to REGISTER forwarded.
    pub registered: u64,
    /// Deregistrations completed.
    pub deregistered: u64,
    /// 400 for malformed or contradictory headers.
    pub malformed: u64,
    /// 494 for missing sec-agree headers.
    pub secagree_missing: u64,
    /// 494 when no offered algorithm pair is known and allowed.
    pub alg_rejected: u64,
    /// 494 for a Security-Verify/Security-Client mismatch (suspected MitM).
    pub secagree_mismatch: u64,
    /// 403 for an IMPI other than the one challenged/authenticated.
    pub impi_mismatch: u64,
    /// 403 for a NAT without outbound (Annex N).
    pub nat_rejected: u64,
    /// 503 for exhausted resources.
    pub exhausted: u64,
    /// 500 for a 401 without usable ck/ik (never forwarded).
    pub bad_challenge: u64,
    /// Messages on an unknown inbound SPI (dropped).
    pub unknown_spi: u64,
    /// Non-REGISTER requests over a temporary set (dropped).
    pub non_register_on_temporary: u64,
    /// Messages from the UE or S-CSCF that could not be parsed (dropped).
    pub unparsable: u64,
    /// Responses from the S-CSCF matching no forwarded REGISTER (dropped).
    pub unmatched_responses: u64,
    /// Forwarded REGISTERs that got no final response in time.
    pub txn_timeouts: u64,
    /// Registrations expired without refresh.
    pub expired: u64,
}

#[derive(Debug, Clone)]
enum Kind {
    /// IMS AKA: the chosen offer, the Security-Client as received, and (on a
    /// protected REGISTER) the set it arrived on.
    Aka {
        offer: Offer,
        integ: IntegAlg,
        encr: EncrAlg,
        client: Box<[u8]>,
        on: Option<SaSetId>,
    },
    /// A protected REGISTER on the temporary set carrying RES.
    AkaOnTemporary { set: SaSetId },
    /// Annex N.
    Digest { key: BindingKey },
    /// Annex O.
    Tls { peer: SocketAddr },
}

#[derive(Debug, Clone)]
struct Pending {
    id: u64,
    deadline: Instant,
    impi: Box<str>,
    arrival: Arrival,
    kind: Kind,
    dereg: bool,
    req_expires: Option<u32>,
    /// Where responses go (computed while the request's set is alive).
    dest: Destination,
}

/// The registrar.
#[derive(Debug)]
pub struct Pcscf {
    cfg: Config,
    sets: SetTable,
    pending: HashMap<(Box<[u8]>, u32), Pending>,
    pending_by_id: HashMap<u64, (Box<[u8]>, u32)>,
    next_txn: u64,
    annex_n: AnnexN,
    annex_o: AnnexO,
    binding_timers: HashMap<u64, BindingTimer>,
    next_binding_timer: u64,
    transmits: VecDeque<Transmit>,
    updates: VecDeque<(u64, TableUpdate)>,
    seq: u64,
    counters: Counters,
}

#[derive(Debug, Clone, Copy)]
enum BindingTimer {
    N(BindingKey),
    O(SocketAddr),
}

const MAX_HEADERS: usize = 96;

impl Pcscf {
    /// A registrar with no registrations.
    pub fn new(cfg: Config) -> Self {
        let params = SetParams {
            t1: cfg.t1,
            reg_await_auth: cfg.reg_await_auth,
            max_sets_per_impi: cfg.max_sets_per_impi,
            spi_quarantine: cfg.spi_quarantine,
        };
        let sets = SetTable::new(
            params,
            SpiAllocator::new(cfg.spi_min, cfg.spi_max),
            PortAllocator::new(cfg.protected_port_base, cfg.protected_port_pairs),
        );
        Pcscf {
            cfg,
            sets,
            pending: HashMap::new(),
            pending_by_id: HashMap::new(),
            next_txn: 1,
            annex_n: AnnexN::new(),
            annex_o: AnnexO::new(),
            binding_timers: HashMap::new(),
            next_binding_timer: 1,
            transmits: VecDeque::new(),
            updates: VecDeque::new(),
            seq: 0,
            counters: Counters::default(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// Counters.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// The SA-set table (read-only, for inspection and tests).
    pub fn sets(&self) -> &SetTable {
        &self.sets
    }

    /// The Annex N table.
    pub fn annex_n(&self) -> &AnnexN {
        &self.annex_n
    }

    /// The Annex O table.
    pub fn annex_o(&self) -> &AnnexO {
        &self.annex_o
    }

    /// Forwarded REGISTERs awaiting a final response.
    pub fn pending_transactions(&self) -> usize {
        self.pending.len()
    }

    /// Feed one input.
    pub fn handle_event(&mut self, now: Instant, ev: Event<'_>) {
        match ev {
            Event::FromUe { arrival, bytes } => self.on_ue_message(now, arrival, bytes),
            Event::FromScscf { bytes } => self.on_scscf_message(now, bytes),
            Event::SetUsed { set } => self.sets.message_on(now, set),
            Event::TlsConnected { peer, session_id } => {
                if let Some(u) = self.annex_o.connection(peer, session_id) {
                    self.push_update(u);
                }
            }
            Event::TlsClosed { peer } => {
                if let Some(u) = self.annex_o.closed(&peer) {
                    self.push_update(u);
                }
            }
        }
        self.flush();
    }

    /// Fire every deadline due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        for key in self.sets.handle_timeout(now) {
            match key {
                TimerKey::RegExpiry(c) => {
                    self.counters.expired += 1;
                    self.sets.remove_contact(now, c);
                }
                TimerKey::Txn(id) => {
                    if let Some(k) = self.pending_by_id.remove(&id) {
                        self.pending.remove(&k);
                        self.counters.txn_timeouts += 1;
                    }
                }
                TimerKey::Binding(id) => match self.binding_timers.remove(&id) {
                    Some(BindingTimer::N(k)) => {
                        if let Some(u) = self.annex_n.expire(&k, now) {
                            self.counters.expired += 1;
                            self.push_update(u);
                        }
                    }
                    Some(BindingTimer::O(p)) => {
                        if let Some(u) = self.annex_o.expire(&p, now) {
                            self.counters.expired += 1;
                            self.push_update(u);
                        }
                    }
                    None => {}
                },
                _ => {}
            }
        }
        self.flush();
    }

    /// The next deadline.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.sets.next_deadline()
    }

    /// The next message to send, if it is the oldest output.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        let t = self.transmits.front()?;
        if self.updates.front().is_some_and(|u| u.0 < t.seq) {
            return None;
        }
        self.transmits.pop_front()
    }

    /// The next table update, if it is the oldest output.
    #[must_use]
    pub fn poll_table_update(&mut self) -> Option<TableUpdate> {
        let u = self.updates.front()?;
        if self.transmits.front().is_some_and(|t| t.seq < u.0) {
            return None;
        }
        self.updates.pop_front().map(|u| u.1)
    }

    /// The oldest output of either kind.
    #[must_use]
    pub fn poll_output(&mut self) -> Option<Output> {
        match (self.transmits.front(), self.updates.front()) {
            (Some(t), Some(u)) if u.0 < t.seq => self.updates.pop_front().map(|(s, u)| Output::Table(s, u)),
            (Some(_), _) => self.transmits.pop_front().map(Output::Transmit),
            (None, Some(_)) => self.updates.pop_front().map(|(s, u)| Output::Table(s, u)),
            (None, None) => None,
        }
    }

    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    fn push_update(&mut self, u: TableUpdate) {
        self.flush();
        let s = self.next_seq();
        self.updates.push_back((s, u));
    }

    /// Move the set table's updates into the ordered queue.
    fn flush(&mut self) {
        let mut ups = core::mem::take(&mut self.sets.updates);
        for u in ups.drain(..) {
            let s = self.next_seq();
            self.updates.push_back((s, u));
        }
        // Give the buffer back to reuse its allocation.
        self.sets.updates = ups;
    }

    fn send(&mut self, dest: Destination, payload: Vec<u8>) {
        self.flush();
        let seq = self.next_seq();
        self.transmits.push_back(Transmit { seq, dest, payload });
    }

    // ---------------------------------------------------------------- UE side

    fn on_ue_message(&mut self, now: Instant, arrival: Arrival, bytes: &[u8]) {
        let mut hdrs = [Header::EMPTY; MAX_HEADERS];
        let m = match parse(bytes, &mut hdrs) {
            Ok(Status::Complete(m)) => m,
            _ => {
                self.counters.unparsable += 1;
                return;
            }
        };
        // Which set it came over; rows 1 and 2 of table 5.2.2-1.
        let on_set = match arrival {
            Arrival::Protected { spi, .. } => match self.sets.by_spi(spi) {
                Some(s) => Some(s),
                None => {
                    self.counters.unknown_spi += 1;
                    return;
                }
            },
            _ => None,
        };
        if m.method() != Some(Method::Register) {
            if let Some(set) = on_set {
                if self.sets.set(set).map(|s| s.kind) == Some(SetKind::Temporary) {
                    self.counters.non_register_on_temporary += 1;
                    return;
                }
                self.sets.message_on(now, set);
            }
            if m.is_request() {
                // Other requests are the proxy layer's; forward unchanged.
                self.send(Destination::Scscf, bytes.to_vec());
            }
            return;
        }
        self.counters.registers += 1;
        if let Some(set) = on_set {
            self.sets.message_on(now, set);
        }
        let res = match (arrival, on_set) {
            (Arrival::Protected { .. }, Some(set)) => self.register_protected(now, &m, arrival, set),
            (Arrival::Tls { peer }, _) => self.register_digest(now, &m, arrival, Some(peer)),
            _ => self.register_unprotected(now, &m, arrival),
        };
        if let Err((code, reason, counter)) = res {
            *counter(&mut self.counters) += 1;
            let dest = self.dest_for(arrival, on_set);
            let resp = local_response(&m, code, reason, &[]);
            self.send(dest, resp);
        }
    }

    fn register_unprotected(&mut self, now: Instant, m: &Message<'_, '_>, arrival: Arrival) -> RegResult {
        let Arrival::Unprotected { src, .. } = arrival else {
            return Err(MALFORMED);
        };
        let txn = msg::txn_key(m).map_err(|_| MALFORMED)?;
        let authz = msg::authorization(m).map_err(|_| MALFORMED)?.ok_or(MALFORMED)?;
        let info = msg::contact_info(m).map_err(|_| MALFORMED)?;
        let via = msg::top_via(m).map_err(|_| MALFORMED)?;
        let client = msg::sec_agree(m, HeaderName::SecurityClient)?;
        let Some(client) = client else {
            // Step 2a: no Security-Client. Annex N takes Digest instead.
            if self.cfg.annex_n {
                return self.register_digest(now, m, arrival, None);
            }
            return Err(SECAGREE_MISSING);
        };
        let (offer, integ, encr) = self.choose(&client.offers)?;
        let impi = utf8(authz.username)?;
        let mut ed = Editor::new();
        // Step 2a: remove (and store) Security-Client.
        ed.remove_all(m, HeaderName::SecurityClient);
        // Steps 2b and 2c: rport and received.
        self.rewrite_via(&mut ed, m, &via, src)?;
        // Step 1: integrity-protected="no".
        set_integrity(&mut ed, m, &authz, false)?;
        // Step 1A: RFC 5626 flow token.
        if info.reg_id {
            self.insert_path(&mut ed, m, flow_token_unprotected(arrival))?;
        }
        let kind = Kind::Aka {
            offer,
            integ,
            encr,
            client: client.raw,
            on: None,
        };
        self.forward_register(now, m, ed, txn, impi, arrival, kind, info, None)
    }

    fn register_protected(
        &mut self,
        now: Instant,
        m: &Message<'_, '_>,
        arrival: Arrival,
        set: SaSetId,
    ) -> RegResult {
        let txn = msg::txn_key(m).map_err(|_| MALFORMED)?;
        let authz = msg::authorization(m).map_err(|_| MALFORMED)?.ok_or(MALFORMED)?;
        let info = msg::contact_info(m).map_err(|_| MALFORMED)?;
        let (kind_of_set, set_impi, client_stored, server_sent, contact) = match self.sets.set(set) {
            Some(s) => (
                s.kind,
                s.desc.impi.clone(),
                s.security_client.clone(),
                s.security_server.clone(),
                s.contact,
            ),
            None => return Err(MALFORMED),
        };
        // Step 3c: the IMPI must be the one challenged or authenticated.
        if authz.username != set_impi.as_bytes() {
            return Err(IMPI_MISMATCH);
        }
        let impi = set_impi;
        let client = msg::sec_agree(m, HeaderName::SecurityClient)?;
        let verify = msg::sec_agree(m, HeaderName::SecurityVerify)?;
        let mut ed = Editor::new();
        let kind;
        let integrity;
        match kind_of_set {
            SetKind::Temporary => {
                // Step 3a.
                let (Some(c), Some(v)) = (client, verify) else {
                    return Err(SECAGREE_MISSING);
                };
                if !c.matches(&client_stored) || !v.matches(&server_sent) {
                    return Err(SECAGREE_MISMATCH);
                }
                ed.remove_all(m, HeaderName::SecurityClient)
                    .remove_all(m, HeaderName::SecurityVerify);
                integrity = authz.has_response;
                kind = if authz.has_response {
                    Kind::AkaOnTemporary { set }
                } else {
                    // No RES on the temporary set: forwarded, concludes nothing.
                    Kind::AkaOnTemporary { set: SaSetId(0) }
                };
            }
            SetKind::Established => {
                // Step 3b: drop Security-Verify; a new Security-Client is
                // required, removed and stored.
                let Some(c) = client else {
                    return Err(SECAGREE_MISSING);
                };
                let (offer, integ, encr) = self.choose(&c.offers)?;
                ed.remove_all(m, HeaderName::SecurityClient)
                    .remove_all(m, HeaderName::SecurityVerify);
                integrity = self.sets.contact(contact).and_then(|c| c.last_authenticated) == Some(set);
                kind = Kind::Aka {
                    offer,
                    integ,
                    encr,
                    client: c.raw,
                    on: Some(set),
                };
            }
        }
        // Step 3d: rport is ignored (responses go to port-uc over the SA).
        set_integrity(&mut ed, m, &authz, integrity)?;
        if info.reg_id {
            let token = self.flow_token_protected(set, arrival);
            self.insert_path(&mut ed, m, token)?;
        }
        let impi = impi.to_string();
        self.forward_register(now, m, ed, txn, &impi, arrival, kind, info, Some(set))
    }

    /// Annex N (no sec-agree, unprotected) and Annex O (over TLS).
    fn register_digest(
        &mut self,
        now: Instant,
        m: &Message<'_, '_>,
        arrival: Arrival,
        tls: Option<SocketAddr>,
    ) -> RegResult {
        let txn = msg::txn_key(m).map_err(|_| MALFORMED)?;
        let authz = msg::authorization(m).map_err(|_| MALFORMED)?.ok_or(MALFORMED)?;
        let info = msg::contact_info(m).map_err(|_| MALFORMED)?;
        let via = msg::top_via(m).map_err(|_| MALFORMED)?;
        let impi = utf8(authz.username)?;
        let kind = match (arrival, tls) {
            (Arrival::Tls { .. }, Some(peer)) => {
                if !self.cfg.annex_o || !self.annex_o.knows(&peer) {
                    return Err(FORBIDDEN_NAT);
                }
                Kind::Tls { peer }
            }
            (Arrival::Unprotected { src, transport }, _) => {
                bindings::admit_register(
                    core::str::from_utf8(via.via.host).unwrap_or(""),
                    via.via.port,
                    src,
                    info.reg_id,
                )
                .map_err(|_| FORBIDDEN_NAT)?;
                Kind::Digest {
                    key: bindings::binding_key(src, transport, info.reg_id),
                }
            }
            _ => return Err(MALFORMED),
        };
        let mut ed = Editor::new();
        if let Arrival::Unprotected { src, .. } = arrival {
            self.rewrite_via(&mut ed, m, &via, src)?;
        }
        if info.reg_id {
            self.insert_path(&mut ed, m, flow_token_unprotected(arrival))?;
        }
        self.forward_register(now, m, ed, txn, impi, arrival, kind, info, None)
    }

    #[allow(clippy::too_many_arguments)]
    fn forward_register(
        &mut self,
        now: Instant,
        m: &Message<'_, '_>,
        mut ed: Editor,
        txn: (Box<[u8]>, u32),
        impi: &str,
        arrival: Arrival,
        kind: Kind,
        info: msg::ContactInfo,
        on_set: Option<SaSetId>,
    ) -> RegResult {
        let out = msg::apply(&mut ed, m)?;
        let id = self.next_txn;
        self.next_txn += 1;
        let deadline = now + self.cfg.t1 * 64;
        let dest = self.dest_for(arrival, on_set);
        if let Some(old) = self.pending.insert(
            txn.clone(),
            Pending {
                id,
                deadline,
                impi: impi.into(),
                arrival,
                kind,
                dereg: info.dereg,
                req_expires: info.expires,
                dest,
            },
        ) {
            // A retransmission replaced the earlier entry.
            self.pending_by_id.remove(&old.id);
            self.sets.timers.cancel(old.deadline, TimerKey::Txn(old.id));
        }
        self.pending_by_id.insert(id, txn);
        self.sets.timers.schedule(deadline, TimerKey::Txn(id));
        self.counters.forwarded += 1;
        self.send(Destination::Scscf, out);
        Ok(())
    }

    /// Pick the first (integrity, encryption) pair of the policy that one of
    /// the offers carries.
    fn choose(&self, offers: &[Offer]) -> Result<(Offer, IntegAlg, EncrAlg), Reject> {
        if offers.is_empty() {
            return Err(SECAGREE_MISSING);
        }
        for &i in &self.cfg.integ_prefs {
            for &e in &self.cfg.encr_prefs {
                if !is_valid_combination(i, e) {
                    continue;
                }
                if let Some(o) = offers.iter().find(|o| o.algs == Some((i, e))) {
                    return Ok((o.clone(), i, e));
                }
            }
        }
        Err(ALG_REJECTED)
    }

    fn rewrite_via(
        &self,
        ed: &mut Editor,
        m: &Message<'_, '_>,
        via: &msg::TopVia<'_>,
        src: SocketAddr,
    ) -> RegResult {
        // Drop the top Via value's received/rport, then append both in that
        // order (RFC 3581; TS 24.229 REGISTER steps 2b, 2c).
        let mut text = String::with_capacity(48);
        let _ = write!(text, "{}", src.ip());
        let ip_len = text.len();
        let _ = write!(text, "{}", src.port());
        let (ip, port) = text.split_at(ip_len);
        if via.via.received.is_some() {
            ed.remove_param(m, via.idx, b"received").map_err(|_| MALFORMED)?;
        }
        if via.via.rport != Rport::Absent {
            ed.remove_param(m, via.idx, b"rport").map_err(|_| MALFORMED)?;
        }
        ed.append_param(m, via.idx, b"received", Some(ip.as_bytes()))
            .and_then(|ed| ed.append_param(m, via.idx, b"rport", Some(port.as_bytes())))
            .map_err(|_| MALFORMED)?;
        Ok(())
    }

    fn insert_path(&self, ed: &mut Editor, m: &Message<'_, '_>, token: String) -> RegResult {
        let host = match self.cfg.pcscf_ip {
            IpAddr::V4(a) => a.to_string(),
            IpAddr::V6(a) => format!("[{a}]"),
        };
        let line = format!("Path: <sip:{token}@{host};lr;ob>\r\n");
        ed.insert_line(m, None, line.as_bytes()).map_err(|_| MALFORMED)?;
        Ok(())
    }

    fn flow_token_protected(&self, set: SaSetId, arrival: Arrival) -> String {
        // UDP: the flow P port-pc → UE port-us of the set; TCP: the
        // connection (UE port-us → P port-pc). Both name the set and, for
        // TCP, the connection's UE port.
        match (arrival, self.sets.set(set)) {
            (
                Arrival::Protected {
                    transport: Transport::Tcp,
                    src,
                    ..
                },
                Some(_),
            ) => {
                format!("s{}t{}", set.0, src.port())
            }
            (_, Some(s)) => format!("s{}u{}", set.0, s.desc.sas[1].dst.port()),
            _ => format!("s{}", set.0),
        }
    }

    /// Where responses to a request that arrived as `arrival` go.
    fn dest_for(&self, arrival: Arrival, on_set: Option<SaSetId>) -> Destination {
        match arrival {
            Arrival::Unprotected { src, transport } => Destination::UeUnprotected { addr: src, transport },
            Arrival::Tls { peer } => Destination::UeTls { peer },
            Arrival::Protected { spi, src, transport } => {
                let Some(s) = on_set.and_then(|s| self.sets.set(s)) else {
                    return Destination::UeUnprotected { addr: src, transport };
                };
                let d = &s.desc;
                // UDP: responses go over SA3 (port-ps → port-uc) whatever
                // the source port (rport ignored, NOTE 3). TCP: back over the
                // connection the request came on: SA3 for SA1, SA2 for SA4.
                let sa = if transport == Transport::Tcp && spi == d.sas[3].spi {
                    &d.sas[1]
                } else {
                    &d.sas[2]
                };
                Destination::UeProtected {
                    set: s.id,
                    spi: sa.spi,
                    local_port: sa.src.port(),
                    addr: if transport == Transport::Tcp { src } else { sa.dst },
                    transport,
                }
            }
        }
    }

    // ------------------------------------------------------------ S-CSCF side

    fn on_scscf_message(&mut self, now: Instant, bytes: &[u8]) {
        let mut hdrs = [Header::EMPTY; MAX_HEADERS];
        let m = match parse(bytes, &mut hdrs) {
            Ok(Status::Complete(m)) => m,
            _ => {
                self.counters.unparsable += 1;
                return;
            }
        };
        let Some(code) = m.status() else {
            // Requests towards UEs are the proxy layer's.
            return;
        };
        let Ok(txn) = msg::txn_key(&m) else {
            self.counters.unmatched_responses += 1;
            return;
        };
        let Some(p) = self.pending.get(&txn).cloned() else {
            self.counters.unmatched_responses += 1;
            return;
        };
        if code < 200 {
            self.send(p.dest.clone(), bytes.to_vec());
            return;
        }
        self.pending.remove(&txn);
        self.pending_by_id.remove(&p.id);
        self.sets.timers.cancel(p.deadline, TimerKey::Txn(p.id));
        match code {
            401 => self.on_401(now, &m, p),
            200..=299 => self.on_200(now, &m, p),
            _ => self.send(p.dest.clone(), bytes.to_vec()),
        }
    }

    fn on_401(&mut self, now: Instant, m: &Message<'_, '_>, p: Pending) {
        let chal = match msg::challenge(m) {
            Ok(Some(c)) => c,
            _ => return self.reject_challenge(m, &p),
        };
        let mut ed = Editor::new();
        if ed.remove_auth_params(m, chal.idx, &[b"ck", b"ik"]).is_err() {
            return self.reject_challenge(m, &p);
        }
        let Kind::Aka {
            offer,
            integ,
            encr,
            client,
            on,
        } = &p.kind
        else {
            // Annex N/O: forward with any ck/ik removed.
            return match msg::apply(&mut ed, m) {
                Ok(out) => self.send(p.dest.clone(), out),
                Err(_) => self.reject_challenge(m, &p),
            };
        };
        // Step 2: ck and ik are required (and never forwarded).
        let (Some(ck), Some(ik)) = (chal.ck, chal.ik) else {
            return self.reject_challenge(m, &p);
        };
        let ue_ip = match p.arrival {
            Arrival::Unprotected { src, .. } | Arrival::Protected { src, .. } => src.ip(),
            Arrival::Tls { peer } => peer.ip(),
        };
        let mode = match p.arrival {
            Arrival::Unprotected { src, .. } if offer.udp_enc_tun => {
                EspMode::UdpEncapTunnel { ue_port: src.port() }
            }
            _ => EspMode::Transport,
        };
        let contact = self.sets.contact_for(&p.impi, ue_ip);
        let new = NewSet {
            impi: p.impi.clone(),
            ue_ip,
            pcscf_ip: self.cfg.pcscf_ip,
            spi_uc: offer.spi_c,
            spi_us: offer.spi_s,
            port_uc: offer.port_c,
            port_us: offer.port_s,
            integ: *integ,
            encr: *encr,
            mode,
            keys: derive_sa_keys(&ck, &ik, *integ, *encr),
            security_client: client.clone(),
        };
        // Steps 1 and 4: delete any temporary set, create the new one.
        let (set, local) = match self.sets.create_temporary(now, contact, new) {
            Ok(x) => x,
            Err(e) => {
                self.counters.exhausted += 1;
                let ra = format!("Retry-After: {}\r\n", self.cfg.retry_after_secs);
                let reason = match e {
                    Exhausted::SetsPerImpi => "Too Many Security Associations",
                    Exhausted::Spi | Exhausted::Ports => "Service Unavailable",
                };
                let resp = local_response(m, 503, reason, ra.as_bytes());
                return self.send(p.dest.clone(), resp);
            }
        };
        // Step 3: Security-Server with the chosen offer and our SPIs/ports.
        let mut server = String::with_capacity(160);
        let _ = write!(
            server,
            "ipsec-3gpp;q=0.1;prot=esp;mod={};spi-c={};spi-s={};port-c={};port-s={};alg={}",
            if matches!(mode, EspMode::Transport) {
                "trans"
            } else {
                "UDP-enc-tun"
            },
            local.spi_pc,
            local.spi_ps,
            local.port_pc,
            local.port_ps,
            integ.name()
        );
        if offer.ealg_written || *encr != EncrAlg::Null {
            let _ = write!(server, ";ealg={}", encr.name());
        }
        self.sets.set_challenge(set, server.as_bytes().into(), *on);
        let out = ed
            .append_header(m, b"Security-Server", server.as_bytes())
            .map_err(|_| Bad::Malformed("Security-Server"))
            .and_then(|ed| msg::apply(ed, m));
        let Ok(out) = out else {
            // Not reached: our value has no line break and the ck/ik removal
            // cannot overlap an insertion at the end of the headers. Were it
            // reached, the unused temporary set expires with reg-await-auth.
            return self.reject_challenge(m, &p);
        };
        self.counters.challenges += 1;
        // Step 5: back the way the REGISTER came.
        self.send(p.dest.clone(), out);
    }

    fn reject_challenge(&mut self, m: &Message<'_, '_>, p: &Pending) {
        self.counters.bad_challenge += 1;
        let resp = local_response(m, 500, "Server Internal Error", b"");
        self.send(p.dest.clone(), resp);
    }

    fn on_200(&mut self, now: Instant, m: &Message<'_, '_>, p: Pending) {
        let info = msg::contact_info(m).unwrap_or_default();
        let expires = info.expires.or(p.req_expires).unwrap_or(0);
        let dereg = p.dereg || expires == 0;
        let reg = Duration::from_secs(u64::from(expires)).min(self.cfg.max_registration);
        let uris = msg::associated_uris(m).unwrap_or_default();
        let uris: Vec<&str> = uris.iter().map(String::as_str).collect();
        let identity = Arc::new(Identity::new(&p.impi, &uris));
        let out = m.buf().get(..m.len()).unwrap_or(m.buf()).to_vec();
        self.counters.registered += 1;
        match p.kind {
            Kind::AkaOnTemporary { set } | Kind::Aka { on: Some(set), .. } => {
                let Some(s) = self.sets.set(set) else {
                    // The set is gone (expired): nothing to protect with.
                    return self.send(p.dest.clone(), out);
                };
                let contact = s.contact;
                if s.kind == SetKind::Temporary {
                    // 200 steps 1 and 2, rows 5 and 6.
                    let init = s.initiated_on;
                    self.sets.conclude_authentication(now, set, init, reg);
                } else {
                    // 200 step 1.
                    self.sets.refresh(now, set, reg);
                }
                // Step 3: protected as the REGISTER was (queued before any
                // removal below).
                self.send(p.dest.clone(), out);
                if dereg {
                    self.counters.deregistered += 1;
                    self.sets.remove_contact(now, contact);
                } else {
                    self.sets.registered(contact, identity, now + reg);
                }
            }
            Kind::Aka { on: None, .. } => {
                // A 200 to an unprotected REGISTER (no challenge): forward.
                self.send(p.dest.clone(), out);
            }
            Kind::Digest { key } => {
                self.send(p.dest.clone(), out);
                if dereg {
                    self.counters.deregistered += 1;
                    if let Some(u) = self.annex_n.unbind(&key) {
                        self.push_update(u);
                    }
                } else {
                    let u = self.annex_n.bind(key, identity, now + reg);
                    self.push_update(u);
                    self.binding_timer(now + reg, BindingTimer::N(key));
                }
            }
            Kind::Tls { peer } => {
                self.send(p.dest.clone(), out);
                if dereg {
                    self.counters.deregistered += 1;
                    if let Some(u) = self.annex_o.unbind(&peer) {
                        self.push_update(u);
                    }
                } else if let Some(u) = self.annex_o.bind(peer, identity, now + reg) {
                    self.push_update(u);
                    self.binding_timer(now + reg, BindingTimer::O(peer));
                }
            }
        }
    }

    fn binding_timer(&mut self, at: Instant, b: BindingTimer) {
        let id = self.next_binding_timer;
        self.next_binding_timer += 1;
        self.binding_timers.insert(id, b);
        self.sets.timers.schedule(at, TimerKey::Binding(id));
    }
}

type Reject = (u16, &'static str, fn(&mut Counters) -> &mut u64);
type RegResult = Result<(), Reject>;

const MALFORMED: Reject = (400, "Bad Request", |c| &mut c.malformed);
const SECAGREE_MISSING: Reject = (494, "Security Agreement Required", |c| &mut c.secagree_missing);
const SECAGREE_MISMATCH: Reject = (494, "Security Agreement Required", |c| &mut c.secagree_mismatch);
const ALG_REJECTED: Reject = (494, "Security Agreement Required", |c| &mut c.alg_rejected);
const IMPI_MISMATCH: Reject = (403, "Forbidden", |c| &mut c.impi_mismatch);
const FORBIDDEN_NAT: Reject = (403, "Forbidden", |c| &mut c.nat_rejected);

impl From<Bad> for Reject {
    fn from(_: Bad) -> Self {
        MALFORMED
    }
}

fn utf8(b: &[u8]) -> Result<&str, Reject> {
    core::str::from_utf8(b).map_err(|_| MALFORMED)
}

/// Set `integrity-protected` in Authorization (TS 24.229 step 1),
/// overwriting a value the UE may have sent.
fn set_integrity(ed: &mut Editor, m: &Message<'_, '_>, a: &msg::Authz<'_>, yes: bool) -> RegResult {
    let v: &[u8] = if yes { b"\"yes\"" } else { b"\"no\"" };
    ed.set_auth_param(m, a.idx, b"integrity-protected", v)
        .map_err(|_| MALFORMED)?;
    Ok(())
}

fn flow_token_unprotected(arrival: Arrival) -> String {
    match arrival {
        Arrival::Unprotected { src, transport } | Arrival::Protected { src, transport, .. } => {
            let mut s = String::with_capacity(40);
            s.push(if transport == Transport::Tcp { 't' } else { 'u' });
            match src.ip() {
                IpAddr::V4(a) => a.octets().iter().for_each(|b| {
                    let _ = write!(s, "{b:02x}");
                }),
                IpAddr::V6(a) => a.octets().iter().for_each(|b| {
                    let _ = write!(s, "{b:02x}");
                }),
            }
            let _ = write!(s, "p{}", src.port());
            s
        }
        Arrival::Tls { peer } => format!("tls{}", peer.port()),
    }
}

/// A response generated by the P-CSCF to the request `m` (or the request a
/// response `m` answers): Via, From, To, Call-ID and CSeq copied, a To tag
/// added when missing.
fn local_response(m: &Message<'_, '_>, code: u16, reason: &str, extra: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(512);
    let _ = write!(VecWriter(&mut out), "SIP/2.0 {code} {reason}\r\n");
    for h in m.headers {
        let copy = h.is("Via") || h.is("From") || h.is("Call-ID") || h.is("CSeq") || h.is("To");
        if !copy {
            continue;
        }
        out.extend_from_slice(h.name);
        out.extend_from_slice(b": ");
        out.extend_from_slice(h.value);
        if h.is("To")
            && crate::sip::find_param(h.value.rsplit(|&c| c == b'>').next().unwrap_or(b""), "tag")
                .ok()
                .flatten()
                .is_none()
        {
            out.extend_from_slice(b";tag=pcscf");
        }
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(extra);
    out.extend_from_slice(b"Content-Length: 0\r\n\r\n");
    out
}

struct VecWriter<'a>(&'a mut Vec<u8>);

impl core::fmt::Write for VecWriter<'_> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}
