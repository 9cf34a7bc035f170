//! TS 33.203 Annex N (IP-address check) and Annex O (TLS) bindings: which
//! identity registered from which source address or TLS connection.
//!
//! Owns: the admission rule of Annex N.2 (without RFC 5626 outbound a
//! REGISTER is accepted only when no NAT is seen: the top Via sent-by equals
//! the packet's source), the binding tables and their lifecycle (bound at
//! the 200 OK to REGISTER, overwritten by a new IMPI from the same key,
//! removed at deregistration or expiry), and the table updates that mirror
//! them in the data plane.
//!
//! Must never: take the sender from Via or From for anything but the NAT
//! check (the key is always the packet's source address or the TLS
//! connection), read a clock, or do I/O. Expiry instants are passed in by
//! the registrar, which owns the timers.

use crate::registrar::table::TableUpdate;
use crate::time::Instant;
use crate::types::{BindingKey, Identity, Transport};
use core::net::{IpAddr, SocketAddr};
use hashbrown::HashMap;
use std::sync::Arc;

/// Why Annex N refused a REGISTER.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AdmitError {
    /// A NAT sits between UE and P-CSCF (Via sent-by differs from the
    /// source) and the UE does not use RFC 5626 outbound (Annex N.2).
    #[error("NAT detected and outbound not used")]
    NatWithoutOutbound,
    /// Via sent-by is a host name, so the absence of NAT cannot be shown.
    #[error("Via sent-by is not an IP address")]
    SentByNotAnAddress,
}

/// The Annex N binding key for a REGISTER from `src`: IP only, or IP, port
/// and transport with outbound (Annex N.2.1).
pub fn binding_key(src: SocketAddr, transport: Transport, outbound: bool) -> BindingKey {
    if outbound {
        BindingKey::IpPort(src.ip(), src.port(), transport)
    } else {
        BindingKey::Ip(src.ip())
    }
}

/// Annex N.2 admission: with outbound, always; without, only when the Via
/// sent-by (host and port, default 5060) equals the packet source.
pub fn admit_register(
    sent_by_host: &str,
    sent_by_port: Option<u16>,
    src: SocketAddr,
    outbound: bool,
) -> Result<(), AdmitError> {
    if outbound {
        return Ok(());
    }
    let host = sent_by_host.trim().trim_start_matches('[').trim_end_matches(']');
    let ip: IpAddr = host.parse().map_err(|_| AdmitError::SentByNotAnAddress)?;
    if ip == src.ip() && sent_by_port.unwrap_or(5060) == src.port() {
        Ok(())
    } else {
        Err(AdmitError::NatWithoutOutbound)
    }
}

#[derive(Debug, Clone)]
struct Entry {
    identity: Arc<Identity>,
    expires_at: Instant,
}

/// The Annex N IP-address check table.
#[derive(Debug, Default)]
pub struct AnnexN {
    table: HashMap<BindingKey, Entry>,
}

impl AnnexN {
    /// Empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Bind `key` to `identity` until `expires_at` (Annex N.2.1). An entry
    /// for the same key, with the same or a different IMPI, is overwritten.
    pub fn bind(&mut self, key: BindingKey, identity: Arc<Identity>, expires_at: Instant) -> TableUpdate {
        self.table.insert(
            key,
            Entry {
                identity: identity.clone(),
                expires_at,
            },
        );
        TableUpdate::InstallBinding { key, identity }
    }

    /// Remove the binding for `key` (deregistration), if any.
    pub fn unbind(&mut self, key: &BindingKey) -> Option<TableUpdate> {
        self.table
            .remove(key)
            .map(|_| TableUpdate::RemoveBinding { key: *key })
    }

    /// Remove the binding for `key` if it expires at `at` or earlier than
    /// `now` (called by the registrar's expiry timer; a later re-registration
    /// moved the expiry and keeps the entry).
    pub fn expire(&mut self, key: &BindingKey, now: Instant) -> Option<TableUpdate> {
        match self.table.get(key) {
            Some(e) if e.expires_at <= now => self.unbind(key),
            _ => None,
        }
    }

    /// The identity bound to `key`.
    pub fn lookup(&self, key: &BindingKey) -> Option<&Arc<Identity>> {
        self.table.get(key).map(|e| &e.identity)
    }

    /// When `key`'s binding expires.
    pub fn expires_at(&self, key: &BindingKey) -> Option<Instant> {
        self.table.get(key).map(|e| e.expires_at)
    }

    /// Number of bindings.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }
}

#[derive(Debug, Clone)]
struct TlsConn {
    session_id: Box<[u8]>,
    bound: Option<Entry>,
}

/// The Annex O TLS association table: source IP/port of a TLS connection,
/// its session id, and (once registered) the IMPI and IMPUs.
#[derive(Debug, Default)]
pub struct AnnexO {
    conns: HashMap<SocketAddr, TlsConn>,
}

impl AnnexO {
    /// Empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// The data plane established a TLS connection from `peer` with session
    /// `session_id`. Replaces an earlier connection from the same peer (and
    /// its binding, returning its removal).
    pub fn connection(&mut self, peer: SocketAddr, session_id: &[u8]) -> Option<TableUpdate> {
        let old = self.conns.insert(
            peer,
            TlsConn {
                session_id: session_id.into(),
                bound: None,
            },
        );
        match old {
            Some(TlsConn {
                session_id,
                bound: Some(_),
            }) => Some(TableUpdate::RemoveTlsAssociation { peer, session_id }),
            _ => None,
        }
    }

    /// Whether a TLS connection from `peer` is known.
    pub fn knows(&self, peer: &SocketAddr) -> bool {
        self.conns.contains_key(peer)
    }

    /// Bind the connection from `peer` to `identity` (200 OK to a REGISTER
    /// that arrived over it). `None` when the connection is unknown.
    pub fn bind(
        &mut self,
        peer: SocketAddr,
        identity: Arc<Identity>,
        expires_at: Instant,
    ) -> Option<TableUpdate> {
        let c = self.conns.get_mut(&peer)?;
        c.bound = Some(Entry {
            identity: identity.clone(),
            expires_at,
        });
        Some(TableUpdate::InstallTlsAssociation {
            peer,
            session_id: c.session_id.clone(),
            identity,
        })
    }

    /// Drop the identity bound to the connection (deregistration); the
    /// connection itself stays known.
    pub fn unbind(&mut self, peer: &SocketAddr) -> Option<TableUpdate> {
        let c = self.conns.get_mut(peer)?;
        c.bound.take()?;
        Some(TableUpdate::RemoveTlsAssociation {
            peer: *peer,
            session_id: c.session_id.clone(),
        })
    }

    /// Expiry of the registration over `peer` (see [`AnnexN::expire`]).
    pub fn expire(&mut self, peer: &SocketAddr, now: Instant) -> Option<TableUpdate> {
        match self.conns.get(peer).and_then(|c| c.bound.as_ref()) {
            Some(e) if e.expires_at <= now => self.unbind(peer),
            _ => None,
        }
    }

    /// The connection closed: forget it and its binding.
    pub fn closed(&mut self, peer: &SocketAddr) -> Option<TableUpdate> {
        let c = self.conns.remove(peer)?;
        c.bound.map(|_| TableUpdate::RemoveTlsAssociation {
            peer: *peer,
            session_id: c.session_id,
        })
    }

    /// The identity bound to the connection from `peer`.
    pub fn lookup(&self, peer: &SocketAddr) -> Option<&Arc<Identity>> {
        self.conns
            .get(peer)
            .and_then(|c| c.bound.as_ref())
            .map(|e| &e.identity)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::time::Duration;

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn annex_n_admits_without_nat_only() {
        let src = sa("10.0.0.1:5060");
        assert_eq!(admit_register("10.0.0.1", None, src, false), Ok(()));
        assert_eq!(admit_register("10.0.0.1", Some(5060), src, false), Ok(()));
        assert_eq!(
            admit_register("192.168.1.2", Some(5060), src, false),
            Err(AdmitError::NatWithoutOutbound)
        );
        assert_eq!(
            admit_register("10.0.0.1", Some(5070), src, false),
            Err(AdmitError::NatWithoutOutbound)
        );
        assert_eq!(
            admit_register("ue.example", None, src, false),
            Err(AdmitError::SentByNotAnAddress)
        );
        assert_eq!(admit_register("192.168.1.2", None, src, true), Ok(()));
    }

    #[test]
    fn annex_n_new_impi_overwrites_and_expiry_removes() {
        let mut n = AnnexN::new();
        let k = binding_key(sa("10.0.0.1:5060"), Transport::Udp, false);
        let t = Instant::ZERO + Duration::from_secs(100);
        let _ = n.bind(k, Arc::new(Identity::new("a@x", &["sip:a@x"])), t);
        let _ = n.bind(k, Arc::new(Identity::new("b@x", &["sip:b@x"])), t);
        assert_eq!(n.len(), 1);
        assert_eq!(&*n.lookup(&k).unwrap().impi, "b@x");
        assert!(n.expire(&k, t - Duration::from_secs(1)).is_none());
        assert!(matches!(n.expire(&k, t), Some(TableUpdate::RemoveBinding { .. })));
        assert!(n.is_empty());
    }

    #[test]
    fn annex_o_lifecycle() {
        let mut o = AnnexO::new();
        let p = sa("10.0.0.1:40000");
        assert!(o
            .bind(p, Arc::new(Identity::new("a@x", &["sip:a@x"])), Instant::ZERO)
            .is_none());
        assert!(o.connection(p, b"sess").is_none());
        assert!(o
            .bind(p, Arc::new(Identity::new("a@x", &["sip:a@x"])), Instant::ZERO)
            .is_some());
        assert!(o.lookup(&p).is_some());
        assert!(o.unbind(&p).is_some());
        assert!(o.lookup(&p).is_none());
        assert!(o.closed(&p).is_none());
    }
}
