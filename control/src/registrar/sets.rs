//! The SA-set state machine of TS 24.229 table 5.2.2-1.
//!
//! Owns: the temporary, newly established and old SA sets of every contact
//! (an IMPI registering from one UE IP address), which set is in use for
//! sending, their SIP-level lifetimes, the per-IMPI bound, and the SPIs and
//! ports they hold. Every change is mirrored as a [`TableUpdate`] pushed on
//! `updates`, which [`super::Pcscf`] drains in order.
//!
//! Invariants (checked by the property tests):
//! - a contact has at most one temporary set, at most one newly established
//!   set (not yet in use) and at most one set in use for sending;
//! - no set lives past its `expires_at`: `handle_timeout` removes it;
//! - inbound SPIs are unique among live sets; a port pair is unique among
//!   the live sets towards one UE address.
//!
//! Must never: read a clock, parse SIP, or emit a removal for a set twice.

use super::resources::{PortAllocator, SpiAllocator};
use super::table::{ContactId, EspMode, SaDesc, SaDirection, SaSetDesc, SaSetId, TableUpdate};
use super::timers::{TimerKey, Timers};
use crate::keys::SaKeys;
use crate::time::Instant;
use crate::types::{EncrAlg, Identity, IntegAlg};
use core::net::{IpAddr, SocketAddr};
use core::time::Duration;
use hashbrown::HashMap;
use smallvec::SmallVec;
use std::sync::Arc;

/// Kind of an SA set (table 5.2.2-1 columns). "Newly established" and
/// "old" are both [`SetKind::Established`]; the contact says which one is
/// newly established ([`Contact::newly`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetKind {
    /// Created with a 401 challenge; carries only REGISTER.
    Temporary,
    /// Concluded an authentication.
    Established,
}

/// One SA set and what the registrar remembers about it.
#[derive(Debug)]
pub struct SaSet {
    /// The set.
    pub id: SaSetId,
    /// Its contact.
    pub contact: ContactId,
    /// Temporary or established.
    pub kind: SetKind,
    /// SIP-level lifetime.
    pub expires_at: Instant,
    /// What the data plane got.
    pub desc: Arc<SaSetDesc>,
    /// The Security-Client of the challenged REGISTER as received (TS 24.229
    /// §5.2.2.2 REGISTER step 3a compares against it with
    /// [`crate::secagree::equivalent`]).
    pub security_client: Box<[u8]>,
    /// The Security-Server sent in the 401 (compared with Security-Verify
    /// by [`crate::secagree::equivalent`]).
    pub security_server: Box<[u8]>,
    /// For a temporary set: the set the challenged REGISTER arrived on
    /// (`None`: it arrived unprotected, so this is an initial
    /// authentication).
    pub initiated_on: Option<SaSetId>,
}

/// One contact: an IMPI registering from one UE IP address.
#[derive(Debug)]
pub struct Contact {
    /// The contact.
    pub id: ContactId,
    /// Its private identity.
    pub impi: Box<str>,
    /// UE IP address.
    pub ue_ip: IpAddr,
    /// The temporary set, if a challenge is outstanding.
    pub temporary: Option<SaSetId>,
    /// The newly established set not yet taken into use.
    pub newly: Option<SaSetId>,
    /// The set used for sending towards the UE.
    pub in_use: Option<SaSetId>,
    /// Every established set (old ones, the newly established one, the one
    /// in use).
    pub established: SmallVec<[SaSetId; 4]>,
    /// The set created by the last successful authentication.
    pub last_authenticated: Option<SaSetId>,
    /// When the set in use has 64*T1 left while a newly established set waits.
    switchover_at: Option<Instant>,
    /// Registration expiry, once registered.
    pub reg_expires_at: Option<Instant>,
    /// The registered identity.
    pub identity: Option<Arc<Identity>>,
}

/// What the UE offered and the P-CSCF chose for a new set.
#[derive(Debug, Clone)]
pub struct NewSet {
    /// IMPI challenged.
    pub impi: Box<str>,
    /// UE IP address.
    pub ue_ip: IpAddr,
    /// P-CSCF IP address.
    pub pcscf_ip: IpAddr,
    /// UE's spi-c.
    pub spi_uc: u32,
    /// UE's spi-s.
    pub spi_us: u32,
    /// UE's port-c.
    pub port_uc: u16,
    /// UE's port-s.
    pub port_us: u16,
    /// Integrity algorithm.
    pub integ: IntegAlg,
    /// Encryption algorithm.
    pub encr: EncrAlg,
    /// ESP mode.
    pub mode: EspMode,
    /// Key material.
    pub keys: SaKeys,
    /// The Security-Client as received.
    pub security_client: Box<[u8]>,
}

/// The P-CSCF side of a set being created, returned so the caller can write
/// Security-Server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalParams {
    /// P-CSCF spi-c (inbound on port-pc).
    pub spi_pc: u32,
    /// P-CSCF spi-s (inbound on port-ps).
    pub spi_ps: u32,
    /// P-CSCF port-c.
    pub port_pc: u16,
    /// P-CSCF port-s.
    pub port_ps: u16,
}

/// A resource ran out while creating a set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Exhausted {
    /// Every inbound SPI is live or quarantined.
    #[error("SPI range exhausted")]
    Spi,
    /// Every protected port pair is in use towards this UE address.
    #[error("protected ports exhausted for this UE")]
    Ports,
    /// The IMPI already holds the maximum number of SA sets.
    #[error("too many SA sets for this IMPI")]
    SetsPerImpi,
}

/// Lifetimes and bounds of the table.
#[derive(Debug, Clone)]
pub struct SetParams {
    /// RFC 3261 T1 (500 ms).
    pub t1: Duration,
    /// reg-await-auth (4 min): lifetime of a temporary set.
    pub reg_await_auth: Duration,
    /// Most SA sets one IMPI may hold at once.
    pub max_sets_per_impi: u16,
    /// How long a removed set's inbound SPIs stay unusable.
    pub spi_quarantine: Duration,
}

impl SetParams {
    fn t1_64(&self) -> Duration {
        self.t1 * 64
    }
}

/// All SA sets and contacts.
#[derive(Debug)]
pub struct SetTable {
    params: SetParams,
    sets: HashMap<SaSetId, SaSet>,
    contacts: HashMap<ContactId, Contact>,
    by_key: HashMap<(Box<str>, IpAddr), ContactId>,
    by_spi: HashMap<u32, SaSetId>,
    per_impi: HashMap<Box<str>, u16>,
    spis: SpiAllocator,
    ports: PortAllocator,
    pub(crate) timers: Timers,
    next_set: u32,
    next_contact: u32,
    /// Table updates not yet drained by the registrar.
    pub(crate) updates: Vec<TableUpdate>,
}

impl SetTable {
    /// An empty table.
    pub fn new(params: SetParams, spis: SpiAllocator, ports: PortAllocator) -> Self {
        SetTable {
            params,
            sets: HashMap::new(),
            contacts: HashMap::new(),
            by_key: HashMap::new(),
            by_spi: HashMap::new(),
            per_impi: HashMap::new(),
            spis,
            ports,
            timers: Timers::default(),
            next_set: 1,
            next_contact: 1,
            updates: Vec::new(),
        }
    }

    /// The set.
    pub fn set(&self, id: SaSetId) -> Option<&SaSet> {
        self.sets.get(&id)
    }

    /// The contact.
    pub fn contact(&self, id: ContactId) -> Option<&Contact> {
        self.contacts.get(&id)
    }

    /// The contact of `impi` at `ue_ip`, if any.
    pub fn find_contact(&self, impi: &str, ue_ip: IpAddr) -> Option<ContactId> {
        self.by_key.get(&(Box::<str>::from(impi), ue_ip)).copied()
    }

    /// The live set an inbound SPI belongs to.
    pub fn by_spi(&self, spi: u32) -> Option<SaSetId> {
        self.by_spi.get(&spi).copied()
    }

    /// All live sets.
    pub fn sets(&self) -> impl Iterator<Item = &SaSet> {
        self.sets.values()
    }

    /// All contacts.
    pub fn contacts(&self) -> impl Iterator<Item = &Contact> {
        self.contacts.values()
    }

    /// Sets held by `impi`.
    pub fn sets_of_impi(&self, impi: &str) -> u16 {
        self.per_impi.get(impi).copied().unwrap_or(0)
    }

    /// The SPI allocator (for counters and tests).
    pub fn spis(&self) -> &SpiAllocator {
        &self.spis
    }

    /// The contact of `impi` at `ue_ip`, created if new.
    pub fn contact_for(&mut self, impi: &str, ue_ip: IpAddr) -> ContactId {
        let key = (Box::<str>::from(impi), ue_ip);
        if let Some(&c) = self.by_key.get(&key) {
            return c;
        }
        let id = ContactId(self.next_contact);
        self.next_contact = self.next_contact.wrapping_add(1);
        self.contacts.insert(
            id,
            Contact {
                id,
                impi: key.0.clone(),
                ue_ip,
                temporary: None,
                newly: None,
                in_use: None,
                established: SmallVec::new(),
                last_authenticated: None,
                switchover_at: None,
                reg_expires_at: None,
                identity: None,
            },
        );
        self.by_key.insert(key, id);
        id
    }

    /// Table row 4, temporary column: create the temporary set of `contact`
    /// with the reg-await-auth lifetime, removing any earlier temporary set
    /// (401 step 1). Returns the P-CSCF's SPIs and ports.
    pub fn create_temporary(
        &mut self,
        now: Instant,
        contact: ContactId,
        new: NewSet,
    ) -> Result<(SaSetId, LocalParams), Exhausted> {
        self.remove_temporary(now, contact);
        if self.sets_of_impi(&new.impi) >= self.params.max_sets_per_impi {
            return Err(Exhausted::SetsPerImpi);
        }
        self.spis.expire(now);
        if !self.spis.can_allocate(2) {
            return Err(Exhausted::Spi);
        }
        let (port_pc, port_ps) = self.ports.allocate(new.ue_ip).ok_or(Exhausted::Ports)?;
        // can_allocate(2) held just above and nothing ran in between.
        let (Some(spi_ps), Some(spi_pc)) = (self.spis.allocate(), self.spis.allocate()) else {
            self.ports.release(new.ue_ip, port_pc);
            return Err(Exhausted::Spi);
        };
        let id = SaSetId(self.next_set);
        self.next_set = self.next_set.wrapping_add(1);
        let expires_at = now + self.params.reg_await_auth;
        let p = |port| SocketAddr::new(new.pcscf_ip, port);
        let u = |port| SocketAddr::new(new.ue_ip, port);
        let desc = Arc::new(SaSetDesc {
            id,
            contact,
            impi: new.impi.clone(),
            ue_ip: new.ue_ip,
            pcscf_ip: new.pcscf_ip,
            sas: [
                SaDesc {
                    direction: SaDirection::Inbound,
                    spi: spi_ps,
                    src: u(new.port_uc),
                    dst: p(port_ps),
                },
                SaDesc {
                    direction: SaDirection::Outbound,
                    spi: new.spi_us,
                    src: p(port_pc),
                    dst: u(new.port_us),
                },
                SaDesc {
                    direction: SaDirection::Outbound,
                    spi: new.spi_uc,
                    src: p(port_ps),
                    dst: u(new.port_uc),
                },
                SaDesc {
                    direction: SaDirection::Inbound,
                    spi: spi_pc,
                    src: u(new.port_us),
                    dst: p(port_pc),
                },
            ],
            integ: new.integ,
            encr: new.encr,
            mode: new.mode,
            keys: new.keys,
            expires_at,
        });
        self.by_spi.insert(spi_ps, id);
        self.by_spi.insert(spi_pc, id);
        *self.per_impi.entry(new.impi.clone()).or_insert(0) += 1;
        self.sets.insert(
            id,
            SaSet {
                id,
                contact,
                kind: SetKind::Temporary,
                expires_at,
                desc: desc.clone(),
                security_client: new.security_client,
                security_server: Box::new([]),
                initiated_on: None,
            },
        );
        if let Some(c) = self.contacts.get_mut(&contact) {
            c.temporary = Some(id);
        }
        self.timers.schedule(expires_at, TimerKey::SetExpiry(id));
        self.updates.push(TableUpdate::InstallSaSet(desc));
        Ok((
            id,
            LocalParams {
                spi_pc,
                spi_ps,
                port_pc,
                port_ps,
            },
        ))
    }

    /// Remember the Security-Server sent for the temporary `set` and the set
    /// its challenge was initiated on.
    pub fn set_challenge(&mut self, set: SaSetId, server: Box<[u8]>, initiated_on: Option<SaSetId>) {
        if let Some(s) = self.sets.get_mut(&set) {
            s.security_server = server;
            s.initiated_on = initiated_on;
        }
    }

    /// Remove the temporary set of `contact`, if any.
    pub fn remove_temporary(&mut self, now: Instant, contact: ContactId) {
        if let Some(t) = self.contacts.get(&contact).and_then(|c| c.temporary) {
            self.remove_set(now, t);
        }
    }

    /// Rows 1 and 2: a SIP message from the UE arrived over `set`. Over the
    /// newly established set not yet in use: take it into use and cut every
    /// other established set to 64*T1. Over any other set: no action.
    pub fn message_on(&mut self, now: Instant, set: SaSetId) {
        let Some(s) = self.sets.get(&set) else { return };
        let contact = s.contact;
        if self.contacts.get(&contact).and_then(|c| c.newly) == Some(set) {
            self.take_into_use(now, contact, set, true);
        }
    }

    fn take_into_use(&mut self, now: Instant, contact: ContactId, set: SaSetId, cut_old: bool) {
        let cut_to = now + self.params.t1_64();
        let Some(c) = self.contacts.get_mut(&contact) else {
            return;
        };
        if c.newly == Some(set) {
            c.newly = None;
        }
        c.in_use = Some(set);
        c.switchover_at = None;
        let others: SmallVec<[SaSetId; 4]> = c.established.iter().copied().filter(|&x| x != set).collect();
        self.updates.push(TableUpdate::TakeIntoUse { contact, set });
        if cut_old {
            for o in others {
                self.shorten(o, cut_to);
            }
        }
    }

    /// Set `set`'s lifetime to `at` if that is earlier.
    fn shorten(&mut self, set: SaSetId, at: Instant) {
        if let Some(s) = self.sets.get_mut(&set) {
            if s.expires_at > at {
                self.timers.cancel(s.expires_at, TimerKey::SetExpiry(set));
                s.expires_at = at;
                self.timers.schedule(at, TimerKey::SetExpiry(set));
                self.updates
                    .push(TableUpdate::SetLifetime { set, expires_at: at });
            }
        }
    }

    /// Set `set`'s lifetime to `at` if that is later.
    fn extend(&mut self, set: SaSetId, at: Instant) {
        if let Some(s) = self.sets.get_mut(&set) {
            if s.expires_at < at {
                self.timers.cancel(s.expires_at, TimerKey::SetExpiry(set));
                s.expires_at = at;
                self.timers.schedule(at, TimerKey::SetExpiry(set));
                self.updates
                    .push(TableUpdate::SetLifetime { set, expires_at: at });
            }
        }
    }

    /// 200 OK step 1: the REGISTER arrived on the established `set` and no
    /// authentication concluded: lifetime = max(previous, now + reg + 30 s).
    pub fn refresh(&mut self, now: Instant, set: SaSetId, reg: Duration) {
        self.extend(set, now + reg + Duration::from_secs(30));
        if let Some(c) = self.sets.get(&set).map(|s| s.contact) {
            self.reschedule_switchover(now, c);
        }
    }

    /// Rows 5 and 6 (and 200 OK step 2): the 200 OK to the REGISTER that
    /// arrived on the temporary set `temp` concludes an authentication that
    /// was initiated unprotected (`initiated_on == None`, initial
    /// authentication) or on the set `initiated_on` (re-authentication).
    pub fn conclude_authentication(
        &mut self,
        now: Instant,
        temp: SaSetId,
        initiated_on: Option<SaSetId>,
        reg: Duration,
    ) {
        let Some(contact) = self.sets.get(&temp).map(|s| s.contact) else {
            return;
        };
        let Some(c) = self.contacts.get(&contact) else {
            return;
        };
        if c.temporary != Some(temp) {
            return;
        }
        let prev = c
            .in_use
            .and_then(|s| self.sets.get(&s))
            .map(|s| s.expires_at)
            .unwrap_or(Instant::ZERO);
        let lifetime = prev.max(now + reg + Duration::from_secs(30));
        let olds: SmallVec<[SaSetId; 4]> = c.established.clone();
        let initiated_on = initiated_on.filter(|s| olds.contains(s));
        // Temporary column: becomes the newly established set.
        if let Some(s) = self.sets.get_mut(&temp) {
            s.kind = SetKind::Established;
        }
        self.extend(temp, lifetime);
        if let Some(c) = self.contacts.get_mut(&contact) {
            c.temporary = None;
            c.newly = Some(temp);
            c.established.push(temp);
            c.last_authenticated = Some(temp);
        }
        match initiated_on {
            None => {
                // Row 6: initial authentication. Take the new set into use
                // at once; the previous newly established set and every old
                // set are deleted.
                for o in olds {
                    self.remove_set(now, o);
                }
                self.take_into_use(now, contact, temp, false);
            }
            Some(keep) => {
                // Row 5: re-authentication. The previous newly established
                // set is treated as old; keep the set the re-authentication
                // was initiated on and go on using it; delete the other old
                // sets.
                for o in olds {
                    if o != keep {
                        self.remove_set(now, o);
                    }
                }
                let changed = self
                    .contacts
                    .get(&contact)
                    .map(|c| c.in_use != Some(keep))
                    .unwrap_or(false);
                if changed {
                    if let Some(c) = self.contacts.get_mut(&contact) {
                        c.in_use = Some(keep);
                    }
                    self.updates.push(TableUpdate::TakeIntoUse { contact, set: keep });
                }
                self.reschedule_switchover(now, contact);
            }
        }
    }

    /// Row 3 scheduling: when the set in use will have 64*T1 left while a
    /// newly established set waits. Applied at once when already due.
    fn reschedule_switchover(&mut self, now: Instant, contact: ContactId) {
        let t1_64 = self.params.t1_64();
        let Some(c) = self.contacts.get(&contact) else {
            return;
        };
        let old = c.switchover_at;
        let new = match (c.in_use, c.newly) {
            (Some(u), Some(_)) => self.sets.get(&u).map(|s| s.expires_at - t1_64),
            (None, Some(n)) => Some(now).filter(|_| self.sets.contains_key(&n)),
            _ => None,
        };
        if old == new {
            return;
        }
        if let Some(t) = old {
            self.timers.cancel(t, TimerKey::Switchover(contact));
        }
        if let Some(c) = self.contacts.get_mut(&contact) {
            c.switchover_at = new;
        }
        match new {
            Some(t) if t <= now => self.switchover(now, contact),
            Some(t) => self.timers.schedule(t, TimerKey::Switchover(contact)),
            None => {}
        }
    }

    /// Row 3: the old set in use expires within 64*T1: take the newly
    /// established set into use (old column: no action).
    fn switchover(&mut self, now: Instant, contact: ContactId) {
        let Some(c) = self.contacts.get_mut(&contact) else {
            return;
        };
        c.switchover_at = None;
        if let Some(n) = c.newly {
            self.take_into_use(now, contact, n, false);
        }
    }

    /// Record the registration of `contact` and bind its sets to `identity`.
    pub fn registered(&mut self, contact: ContactId, identity: Arc<Identity>, until: Instant) {
        let Some(c) = self.contacts.get_mut(&contact) else {
            return;
        };
        if let Some(t) = c.reg_expires_at {
            self.timers.cancel(t, TimerKey::RegExpiry(contact));
        }
        c.reg_expires_at = Some(until);
        c.identity = Some(identity.clone());
        let sets = c.established.clone();
        self.timers.schedule(until, TimerKey::RegExpiry(contact));
        for set in sets {
            self.updates.push(TableUpdate::SetIdentity {
                set,
                identity: identity.clone(),
            });
        }
    }

    /// Deregistration or expiry: remove every set of `contact` and the
    /// contact itself.
    pub fn remove_contact(&mut self, now: Instant, contact: ContactId) {
        let Some(c) = self.contacts.get(&contact) else {
            return;
        };
        let mut all: SmallVec<[SaSetId; 4]> = c.established.clone();
        all.extend(c.temporary);
        for s in all {
            self.remove_set(now, s);
        }
        if let Some(c) = self.contacts.remove(&contact) {
            if let Some(t) = c.reg_expires_at {
                self.timers.cancel(t, TimerKey::RegExpiry(contact));
            }
            if let Some(t) = c.switchover_at {
                self.timers.cancel(t, TimerKey::Switchover(contact));
            }
            self.by_key.remove(&(c.impi, c.ue_ip));
        }
    }

    /// Remove one set: table update, SPI quarantine, ports back, contact
    /// fields cleared.
    pub fn remove_set(&mut self, now: Instant, set: SaSetId) {
        let Some(s) = self.sets.remove(&set) else { return };
        self.timers.cancel(s.expires_at, TimerKey::SetExpiry(set));
        let spis = s.desc.inbound_spis();
        let until = now + self.params.spi_quarantine;
        for spi in spis {
            self.by_spi.remove(&spi);
            self.spis.release(spi, until);
        }
        self.ports.release(s.desc.ue_ip, s.desc.sas[1].src.port());
        if let Some(n) = self.per_impi.get_mut(&s.desc.impi) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.per_impi.remove(&s.desc.impi);
            }
        }
        let mut resched = false;
        if let Some(c) = self.contacts.get_mut(&s.contact) {
            if c.temporary == Some(set) {
                c.temporary = None;
            }
            if c.newly == Some(set) {
                c.newly = None;
                resched = true;
            }
            if c.in_use == Some(set) {
                c.in_use = None;
                resched = true;
            }
            if c.last_authenticated == Some(set) {
                c.last_authenticated = None;
            }
            c.established.retain(|x| *x != set);
        }
        self.updates.push(TableUpdate::RemoveSaSet {
            set,
            inbound_spis: spis,
        });
        if resched {
            self.reschedule_switchover(now, s.contact);
        }
    }

    /// Fire the set timers due at `now`. Returns the due deadlines that are
    /// the caller's: registration expiries (the caller removes bindings, then
    /// the contact) and transaction timeouts.
    pub(crate) fn handle_timeout(&mut self, now: Instant) -> SmallVec<[TimerKey; 2]> {
        self.spis.expire(now);
        let mut expired = SmallVec::new();
        while let Some((t, key)) = self.timers.pop_due(now) {
            match key {
                TimerKey::SetExpiry(set) => {
                    if self.sets.get(&set).map(|s| s.expires_at) == Some(t) {
                        self.remove_set(now, set);
                    }
                }
                TimerKey::Switchover(c) => {
                    if self.contacts.get(&c).and_then(|c| c.switchover_at) == Some(t) {
                        self.switchover(now, c);
                    }
                }
                TimerKey::RegExpiry(c) => {
                    if self.contacts.get(&c).and_then(|c| c.reg_expires_at) == Some(t) {
                        expired.push(key);
                    }
                }
                TimerKey::Txn(_) | TimerKey::Binding(_) => expired.push(key),
            }
        }
        expired
    }

    /// The earliest set or contact deadline (SPI quarantine ends need no
    /// wake-up: they are checked lazily before allocating).
    pub fn next_deadline(&self) -> Option<Instant> {
        self.timers.next()
    }

    /// Number of pending timer entries (for tests bounding memory).
    pub fn timer_entries(&self) -> usize {
        self.timers.len()
    }
}
