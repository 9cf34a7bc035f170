//! The concrete lookup tables the workers read and the control thread writes.
//!
//! Built from the generic lock-free [`crate::table::LfMap`]: one writer (the
//! control-thread runner, through [`TableWriters`]) and one cloned
//! [`TableReaders`] per worker. Values are immutable once inserted; a change
//! is a replacement, and the old value is freed only after every worker has
//! passed a quiescent point.

use std::net::IpAddr;
use std::sync::Arc;

use control::types::{BindingKey, Identity, Transport};

use crate::table::{Guard, LfMap, MapReader, MapWriter, QsbrDomain};

/// Who sits behind an Annex N binding or a registered contact.
#[derive(Debug)]
pub struct Binding {
    /// The registered identities. Shared by every entry of one registration;
    /// workers only read through it (no reference-count traffic).
    pub identity: Arc<Identity>,
}

/// The writer side of every table; owned by the control thread.
pub struct TableWriters {
    /// Source IP → Annex N binding (no outbound).
    pub by_ip: MapWriter<IpAddr, Binding>,
    /// (Source IP, port, transport) → Annex N binding (RFC 5626 outbound).
    pub by_ip_port: MapWriter<(IpAddr, u16, Transport), Binding>,
    /// (UE IP, port) → registered contact, for requests from the core.
    pub contacts: MapWriter<(IpAddr, u16), Binding>,
}

/// The reader side of every table; one clone per worker.
#[derive(Clone)]
pub struct TableReaders {
    /// See [`TableWriters::by_ip`].
    pub by_ip: MapReader<IpAddr, Binding>,
    /// See [`TableWriters::by_ip_port`].
    pub by_ip_port: MapReader<(IpAddr, u16, Transport), Binding>,
    /// See [`TableWriters::contacts`].
    pub contacts: MapReader<(IpAddr, u16), Binding>,
}

/// Build every table in `domain`, each pre-sized for `capacity` entries.
pub fn tables(domain: &QsbrDomain, capacity: usize) -> (TableWriters, TableReaders) {
    let (by_ip, r_ip) = LfMap::with_capacity(domain, capacity);
    let (by_ip_port, r_ipp) = LfMap::with_capacity(domain, capacity);
    let (contacts, r_c) = LfMap::with_capacity(domain, capacity);
    (TableWriters { by_ip, by_ip_port, contacts }, TableReaders { by_ip: r_ip, by_ip_port: r_ipp, contacts: r_c })
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
                self.by_ip_port.insert((ip, port, t), Binding { identity: identity.clone() });
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

    /// Close the current batch of updates: publish them and reclaim what no
    /// worker can still see.
    pub fn publish(&mut self) {
        self.by_ip.publish();
        self.by_ip_port.publish();
        self.contacts.publish();
    }
}

impl TableReaders {
    /// The binding of a sender: the outbound (IP, port, transport) entry
    /// first, then the IP-only entry.
    #[inline]
    pub fn sender<'a>(&'a self, g: &Guard<'a>, ip: IpAddr, port: u16, t: Transport) -> Option<&'a Binding> {
        self.by_ip_port.get(g, &(ip, port, t)).or_else(|| self.by_ip.get(g, &ip))
    }

    /// The registered contact at (ip, port), falling back to an IP-only
    /// binding.
    #[inline]
    pub fn contact<'a>(&'a self, g: &Guard<'a>, ip: IpAddr, port: u16) -> Option<&'a Binding> {
        self.contacts.get(g, &(ip, port)).or_else(|| self.by_ip.get(g, &ip))
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
        assert_eq!(&*r.sender(&g, ip, 5061, Transport::Udp).unwrap().identity.impi, "a@x");
    }
}
