//! The concrete lookup tables the workers read and the control thread writes.
//!
//! Built from the generic lock-free [`crate::table::LfMap`]: one writer (the
//! control-thread runner, through [`TableWriters`]) and one cloned
//! [`TableReaders`] per worker. Values are immutable once inserted; a change
//! is a replacement, and the old value is freed only after every worker has
//! passed a quiescent point.
//!
//! The tables keyed by IP address (`by_ip`, `by_ip_port`, `contacts`,
//! `sa_out`) are [`AddrMap`]s: they take `IpAddr`-based keys and store them
//! as the compact [`AddrKey`] (branch-free hash and compare). An IPv4 address
//! and its IPv4-mapped IPv6 form are different keys.

use std::net::IpAddr;
use std::sync::Arc;

use std::sync::atomic::{AtomicBool, Ordering};

use control::registrar::{SaSetDesc, SaSetId};
use control::types::{BindingKey, Identity, Transport};
use hashbrown::HashMap;

use crate::esp::{InboundSa, OutboundSa};
use crate::table::{
    AddrKey, AddrMap, AddrMapReader, AddrMapWriter, CompactKey, Found, Guard, LfMap, MapReader, MapWriter,
    QsbrDomain,
};

/// The [`AddrKey`] tag of a transport.
#[inline(always)]
fn transport_tag(t: Transport) -> u8 {
    match t {
        Transport::Udp => 0,
        Transport::Tcp => 1,
    }
}

impl CompactKey for (IpAddr, u16, Transport) {
    #[inline(always)]
    fn compact(&self) -> AddrKey {
        AddrKey::with_port(self.0, self.1, transport_tag(self.2))
    }
    fn expand(k: &AddrKey) -> Self {
        let t = if k.tag() == transport_tag(Transport::Tcp) {
            Transport::Tcp
        } else {
            Transport::Udp
        };
        (k.ip(), k.port(), t)
    }
}

/// Who sits behind an Annex N binding or a registered contact.
#[derive(Debug)]
pub struct Binding {
    /// The registered identities. Shared by every entry of one registration;
    /// workers only read through it (no reference-count traffic).
    pub identity: Arc<Identity>,
}

/// An inbound SA and who sent over it.
#[derive(Debug)]
pub struct InboundEntry {
    /// The SA (shared with replacements of this entry, so the anti-replay
    /// window survives an identity update).
    pub sa: Arc<InboundSa>,
    /// The SA set it belongs to.
    pub set: SaSetId,
    /// The registered identity; `None` while the set is temporary (only
    /// REGISTER may use it).
    pub identity: Option<Arc<Identity>>,
    /// Set by the first worker that sees a packet on this set after it was
    /// installed; the worker then tells the control thread (first use of a
    /// new SA set). A plain load and store, never a read-modify-write.
    pub reported: Arc<AtomicBool>,
}

impl InboundEntry {
    /// Whether the first use still has to be reported (and mark it).
    #[inline]
    pub fn take_first_use(&self) -> bool {
        if self.reported.load(Ordering::Relaxed) {
            return false;
        }
        // Two workers may both report; the control thread's handling is
        // idempotent.
        self.reported.store(true, Ordering::Relaxed);
        true
    }
}

/// An outbound SA toward one UE port.
#[derive(Debug)]
pub struct OutboundEntry {
    /// The SA (its sequence counter is shared by every worker).
    pub sa: Arc<OutboundSa>,
    /// Our protected port the packets leave from.
    pub src_port: u16,
    /// Our protected server port of the same set (where the UE sends
    /// requests): the port of the access-side Record-Route entry we put in
    /// dialog-creating requests toward this UE.
    pub server_port: u16,
    /// The SA set it belongs to.
    pub set: SaSetId,
}

/// What the writer remembers about an installed SA set.
struct SetRecord {
    inbound: [(u32, Arc<InboundSa>); 2],
    outbound: [(IpAddr, u16); 2],
    outbound_sas: [Arc<OutboundSa>; 2],
    exhaustion_reported: bool,
    reported: Arc<AtomicBool>,
}

/// Why an SA set could not be installed.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    /// The key material does not build an SA (bad length, policy).
    #[error("SA set {0}: {1}")]
    Crypto(u32, String),
}

/// The writer side of every table; owned by the control thread.
pub struct TableWriters {
    /// Inbound SPI → SA entry.
    pub sa_in: MapWriter<u32, InboundEntry>,
    /// (UE IP, UE port) → outbound SA toward it.
    pub sa_out: AddrMapWriter<(IpAddr, u16), OutboundEntry>,
    sets: HashMap<SaSetId, SetRecord>,
    /// Source IP → Annex N binding (no outbound).
    pub by_ip: AddrMapWriter<IpAddr, Binding>,
    /// (Source IP, port, transport) → Annex N binding (RFC 5626 outbound).
    pub by_ip_port: AddrMapWriter<(IpAddr, u16, Transport), Binding>,
    /// (UE IP, port) → registered contact, for requests from the core.
    pub contacts: AddrMapWriter<(IpAddr, u16), Binding>,
}

/// The reader side of every table; one clone per worker.
#[derive(Clone)]
pub struct TableReaders {
    /// See [`TableWriters::sa_in`].
    pub sa_in: MapReader<u32, InboundEntry>,
    /// See [`TableWriters::sa_out`].
    pub sa_out: AddrMapReader<(IpAddr, u16), OutboundEntry>,
    /// See [`TableWriters::by_ip`].
    pub by_ip: AddrMapReader<IpAddr, Binding>,
    /// See [`TableWriters::by_ip_port`].
    pub by_ip_port: AddrMapReader<(IpAddr, u16, Transport), Binding>,
    /// See [`TableWriters::contacts`].
    pub contacts: AddrMapReader<(IpAddr, u16), Binding>,
}

/// Build every table in `domain`, each pre-sized for `capacity` entries.
pub fn tables(domain: &QsbrDomain, capacity: usize) -> (TableWriters, TableReaders) {
    let (by_ip, r_ip) = AddrMap::with_capacity(domain, capacity);
    let (by_ip_port, r_ipp) = AddrMap::with_capacity(domain, capacity);
    let (contacts, r_c) = AddrMap::with_capacity(domain, capacity);
    let (sa_in, r_si) = LfMap::with_capacity(domain, capacity);
    let (sa_out, r_so) = AddrMap::with_capacity(domain, capacity);
    (
        TableWriters {
            sa_in,
            sa_out,
            sets: HashMap::new(),
            by_ip,
            by_ip_port,
            contacts,
        },
        TableReaders {
            sa_in: r_si,
            sa_out: r_so,
            by_ip: r_ip,
            by_ip_port: r_ipp,
            contacts: r_c,
        },
    )
}

impl TableWriters {
    /// Install (or overwrite, Annex N: a new IMPI from the same address
    /// replaces the entry) a binding and its contact entry.
    pub fn bind(&mut self, key: BindingKey, identity: Arc<Identity>) {
        match key {
            BindingKey::Ip(ip) => {
                self.by_ip.insert(ip, Binding { identity });
            }
            BindingKey::IpPort(ip, port, t) => {
                self.by_ip_port.insert(
                    (ip, port, t),
                    Binding {
                        identity: identity.clone(),
                    },
                );
                self.contacts.insert((ip, port), Binding { identity });
            }
        }
    }

    /// Remove a binding and its contact entry.
    pub fn unbind(&mut self, key: BindingKey) {
        match key {
            BindingKey::Ip(ip) => {
                self.by_ip.remove(&ip);
            }
            BindingKey::IpPort(ip, port, t) => {
                self.by_ip_port.remove(&(ip, port, t));
                self.contacts.remove(&(ip, port));
            }
        }
    }

    /// Install the four SAs of a set (TS 33.203 §7.1 order: UE port-uc →
    /// P port-ps inbound, P port-pc → UE port-us outbound, P port-ps → UE
    /// port-uc outbound, UE port-us → P port-pc inbound). `identity` is
    /// `None` for a temporary set.
    pub fn install_sa_set(
        &mut self,
        d: &SaSetDesc,
        identity: Option<Arc<Identity>>,
        allow_md5: bool,
        window: u32,
    ) -> Result<(), InstallError> {
        let err = |e: &dyn std::fmt::Display| InstallError::Crypto(d.id.0, e.to_string());
        let [sa1, sa2, sa3, sa4] = &d.sas;
        let in1 = Arc::new(
            InboundSa::with_window(
                sa1.spi,
                &d.keys,
                sa1.src.port(),
                sa1.dst.port(),
                allow_md5,
                window,
            )
            .map_err(|e| err(&e))?,
        );
        let in4 = Arc::new(
            InboundSa::with_window(
                sa4.spi,
                &d.keys,
                sa4.src.port(),
                sa4.dst.port(),
                allow_md5,
                window,
            )
            .map_err(|e| err(&e))?,
        );
        let out2 = Arc::new(OutboundSa::new(sa2.spi, &d.keys, allow_md5).map_err(|e| err(&e))?);
        let out3 = Arc::new(OutboundSa::new(sa3.spi, &d.keys, allow_md5).map_err(|e| err(&e))?);
        if let Some(old) = self.sets.get(&d.id) {
            let old_in = [old.inbound[0].0, old.inbound[1].0];
            let old_out = old.outbound;
            for spi in old_in {
                self.sa_in.remove(&spi);
            }
            for k in old_out {
                self.sa_out.remove(&k);
            }
        }
        let reported = Arc::new(AtomicBool::new(false));
        for (spi, sa) in [(sa1.spi, &in1), (sa4.spi, &in4)] {
            self.sa_in.insert(
                spi,
                InboundEntry {
                    sa: sa.clone(),
                    set: d.id,
                    identity: identity.clone(),
                    reported: reported.clone(),
                },
            );
        }
        let k2 = (sa2.dst.ip(), sa2.dst.port());
        let k3 = (sa3.dst.ip(), sa3.dst.port());
        let outbound_sas = [out2.clone(), out3.clone()];
        self.sa_out.insert(
            k2,
            OutboundEntry {
                sa: out2,
                src_port: sa2.src.port(),
                server_port: sa1.dst.port(),
                set: d.id,
            },
        );
        self.sa_out.insert(
            k3,
            OutboundEntry {
                sa: out3,
                src_port: sa3.src.port(),
                server_port: sa1.dst.port(),
                set: d.id,
            },
        );
        self.sets.insert(
            d.id,
            SetRecord {
                inbound: [(sa1.spi, in1), (sa4.spi, in4)],
                outbound: [k2, k3],
                outbound_sas,
                exhaustion_reported: false,
                reported,
            },
        );
        Ok(())
    }

    /// Give an installed set its registered identity (after the 200 OK).
    pub fn set_identity(&mut self, set: SaSetId, identity: Arc<Identity>) {
        let Some(r) = self.sets.get(&set) else { return };
        for (spi, sa) in &r.inbound {
            self.sa_in.insert(
                *spi,
                InboundEntry {
                    sa: sa.clone(),
                    set,
                    identity: Some(identity.clone()),
                    reported: r.reported.clone(),
                },
            );
        }
    }

    /// Remove a set's SAs.
    pub fn remove_sa_set(&mut self, set: SaSetId) {
        if let Some(r) = self.sets.remove(&set) {
            for (spi, _) in &r.inbound {
                self.sa_in.remove(spi);
            }
            for k in &r.outbound {
                // Only if the entry still belongs to this set (a newer set
                // toward the same UE port may have replaced it).
                if self.sa_out.get(k).is_some_and(|e| e.set == set) {
                    self.sa_out.remove(k);
                }
            }
        }
    }

    /// Sets with an outbound SA whose sequence space ran out since the last
    /// call (RFC 4303 §3.3.3: the counter never wraps; the worker drops and
    /// counts `esp_seq_overflow`, and the SA is marked exhausted). Each set is
    /// reported once. The control thread polls this; the workers pay nothing.
    pub fn newly_exhausted_sets(&mut self) -> Vec<SaSetId> {
        let mut v = Vec::new();
        for (id, r) in self.sets.iter_mut() {
            if !r.exhaustion_reported && r.outbound_sas.iter().any(|s| s.is_exhausted()) {
                r.exhaustion_reported = true;
                v.push(*id);
            }
        }
        v
    }

    /// Number of installed SA sets.
    pub fn sa_sets(&self) -> usize {
        self.sets.len()
    }

    /// Close the current batch of updates: publish them and reclaim what no
    /// worker can still see.
    pub fn publish(&mut self) {
        self.sa_in.publish();
        self.sa_out.publish();
        self.by_ip.publish();
        self.by_ip_port.publish();
        self.contacts.publish();
    }
}

impl TableReaders {
    /// The binding of a sender: the outbound (IP, port, transport) entry
    /// first, then the IP-only entry. Always inlined: it runs once per
    /// request from a UE, and the call cost a fifth of the lookup.
    #[inline(always)]
    pub fn sender<'a>(&'a self, g: &Guard<'a>, ip: IpAddr, port: u16, t: Transport) -> Option<&'a Binding> {
        self.sender_key(g, AddrKey::new(ip), port, t)
    }

    /// [`TableReaders::sender`] for an address already in [`AddrKey`] form
    /// (port and tag ignored), e.g. built from the header bytes in the
    /// parser's per-family branch, so the lookup has no family branch of its
    /// own. The per-port table is skipped while it is empty (most
    /// deployments bind by address only).
    #[inline(always)]
    pub fn sender_key<'a>(
        &'a self,
        g: &Guard<'a>,
        ip: AddrKey,
        port: u16,
        t: Transport,
    ) -> Option<&'a Binding> {
        self.sender_key_found(g, ip, port, t, Found::NONE)
    }

    /// [`TableReaders::sender_key`] with the lookup by address maybe begun
    /// already: `by_ip` is what [`TableReaders::senders_by_ip`] found for
    /// this address (or [`Found::NONE`]). The per-port table is still looked
    /// up first while it is not empty.
    #[inline(always)]
    pub fn sender_key_found<'a>(
        &'a self,
        g: &Guard<'a>,
        ip: AddrKey,
        port: u16,
        t: Transport,
        by_ip: Found<'a, AddrKey, Binding>,
    ) -> Option<&'a Binding> {
        let ip = ip.at(0, 0);
        if !self.by_ip_port.is_empty() {
            if let Some(b) = self.by_ip_port.get_compact(g, &ip.at(port, transport_tag(t))) {
                return Some(b);
            }
        }
        self.by_ip.resolve_compact(g, by_ip, &ip)
    }

    /// The first passes of the lookups by address of a burst of senders
    /// (`ips` in [`AddrKey`] form, port and tag 0; `out[i]` for `ips[i]`):
    /// [`crate::table::MapReader::find_bulk`], whose results
    /// [`TableReaders::sender_key_found`] completes frame by frame. Not the
    /// per-port table's (that one is still looked up first there).
    #[inline]
    pub fn senders_by_ip<'a>(
        &'a self,
        g: &Guard<'a>,
        ips: &[AddrKey],
        out: &mut [Found<'a, AddrKey, Binding>],
    ) {
        self.by_ip.find_bulk_compact(g, ips, out)
    }

    /// Slots in the sender table (see [`crate::table::MapReader::slots`]).
    #[inline]
    pub fn sender_slots(&self, g: &Guard<'_>) -> usize {
        self.by_ip.slots(g)
    }

    /// The registered contact at (ip, port), falling back to an IP-only
    /// binding.
    #[inline]
    pub fn contact<'a>(&'a self, g: &Guard<'a>, ip: IpAddr, port: u16) -> Option<&'a Binding> {
        let k = AddrKey::new(ip);
        if !self.contacts.is_empty() {
            if let Some(b) = self.contacts.get_compact(g, &k.at(port, 0)) {
                return Some(b);
            }
        }
        self.by_ip.get_compact(g, &k)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bind_lookup_unbind() {
        let d = QsbrDomain::new(2);
        let (mut w, r) = tables(&d, 64);
        let ip: IpAddr = "10.0.0.2".parse().unwrap();
        let id = Arc::new(Identity::new("a@x", &["sip:a@x"]));
        w.bind(BindingKey::IpPort(ip, 5061, Transport::Udp), id.clone());
        w.publish();
        let mut rd = d.register().unwrap();
        {
            let g = rd.guard();
            assert!(r.sender(&g, ip, 5061, Transport::Udp).is_some());
            assert!(r.sender(&g, ip, 5062, Transport::Udp).is_none());
            assert!(r.contact(&g, ip, 5061).is_some());
        }
        rd.quiescent();
        w.bind(BindingKey::Ip(ip), id);
        w.unbind(BindingKey::IpPort(ip, 5061, Transport::Udp));
        w.publish();
        let g = rd.guard();
        assert_eq!(
            &*r.sender(&g, ip, 5061, Transport::Udp).unwrap().identity.impi,
            "a@x"
        );
    }

    #[test]
    fn address_families_ports_and_transports_stay_apart() {
        let d = QsbrDomain::new(1);
        let (mut w, r) = tables(&d, 64);
        let v4: IpAddr = "10.0.0.2".parse().unwrap();
        let mapped: IpAddr = "::ffff:10.0.0.2".parse().unwrap();
        let a = Arc::new(Identity::new("a@x", &["sip:a@x"]));
        let b = Arc::new(Identity::new("b@x", &["sip:b@x"]));
        w.bind(BindingKey::Ip(v4), a.clone());
        w.publish();
        let rd = d.register().unwrap();
        {
            let g = rd.guard();
            let who = |ip, port, t| r.sender(&g, ip, port, t).map(|b| b.identity.impi.to_string());
            assert_eq!(who(v4, 5060, Transport::Udp).as_deref(), Some("a@x"));
            assert_eq!(
                who(mapped, 5060, Transport::Udp),
                None,
                "a v4-mapped v6 source is another sender"
            );
            assert!(r.contact(&g, mapped, 5060).is_none());
            assert!(r.by_ip_port.is_empty());
        }
        w.bind(BindingKey::IpPort(mapped, 5060, Transport::Tcp), b);
        w.publish();
        let g = rd.guard();
        let who = |ip, port, t| r.sender(&g, ip, port, t).map(|b| b.identity.impi.to_string());
        assert_eq!(who(mapped, 5060, Transport::Tcp).as_deref(), Some("b@x"));
        assert_eq!(
            who(mapped, 5060, Transport::Udp),
            None,
            "transport is part of the key"
        );
        assert_eq!(who(mapped, 5061, Transport::Tcp), None, "port is part of the key");
        assert_eq!(
            who(v4, 5060, Transport::Tcp).as_deref(),
            Some("a@x"),
            "falls back to the v4 binding"
        );
        assert_eq!(&*r.contact(&g, mapped, 5060).unwrap().identity.impi, "b@x");
        assert_eq!(&*r.contact(&g, v4, 5060).unwrap().identity.impi, "a@x");
        // The split path (begun for a burst, completed per frame; the
        // address key's port and tag ignored) and the compact-key path agree
        // with `sender`.
        let mut found = [Found::NONE];
        r.senders_by_ip(&g, &[AddrKey::new(v4)], &mut found);
        assert_eq!(
            r.sender_key_found(&g, AddrKey::new(v4).at(7, 1), 5060, Transport::Udp, found[0])
                .map(|b| &*b.identity.impi),
            Some("a@x")
        );
        assert_eq!(
            r.sender_key(&g, AddrKey::new(mapped), 5060, Transport::Tcp)
                .map(|b| &*b.identity.impi),
            Some("b@x")
        );
        // Writer-side views convert back to the API's keys.
        let mut keys = Vec::new();
        w.by_ip_port.for_each(|k, _| keys.push(*k));
        assert_eq!(keys, vec![(mapped, 5060, Transport::Tcp)]);
        assert!(w.contacts.contains_key(&(mapped, 5060)));
        assert!(!w.contacts.contains_key(&(v4, 5060)));
    }

    #[test]
    fn exhausted_outbound_sa_is_reported_once() {
        let toml = r#"
[access]
ipv4 = "10.0.0.1"
gateway_mac = "02:00:00:00:00:09"
[access.port]
backend = "mem"
[core]
ipv4 = "10.1.0.1"
gateway_mac = "02:00:00:00:00:0a"
next_hop = "10.1.0.2:5060"
[core.port]
backend = "mem"
[[sa_set]]
ue = "10.0.0.2"
port_uc = 5100
port_us = 5101
port_pc = 5200
port_ps = 5201
spi_uc = 4096
spi_us = 4097
spi_pc = 4098
spi_ps = 4099
alg = "hmac-sha-1-96"
ealg = "null"
ck = "00112233445566778899aabbccddeeff"
ik = "0102030405060708090a0b0c0d0e0f10"
impi = "a@x"
impus = ["sip:a@x"]
"#;
        let c = crate::config::Config::from_toml("t.toml", toml).unwrap();
        let set = &c.sa_sets[0];
        let d = QsbrDomain::new(1);
        let (mut w, r) = tables(&d, 64);
        w.install_sa_set(&set.desc, Some(Arc::new(set.identity.clone())), false, 1024)
            .unwrap();
        w.publish();
        assert!(w.newly_exhausted_sets().is_empty());
        let rd = d.register().unwrap();
        {
            let g = rd.guard();
            let e = r.sa_out.get(&g, &("10.0.0.2".parse().unwrap(), 5100)).unwrap();
            assert_eq!(e.sa.spi, 4096);
            e.sa.set_last_seq(u32::MAX - 1);
            assert_eq!(e.sa.next_seq(), Some(u32::MAX));
            assert_eq!(e.sa.next_seq(), None, "the counter must not wrap");
        }
        assert_eq!(w.newly_exhausted_sets(), vec![set.desc.id]);
        assert!(w.newly_exhausted_sets().is_empty(), "reported once");
    }
}
