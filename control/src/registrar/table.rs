//! The outputs of the registrar that the data plane applies: SA-set
//! descriptions, table updates, transmits and their destinations.
//!
//! Contract with the data plane:
//! - Every [`Transmit`] and every [`TableUpdate`] carries a `seq` drawn from
//!   one counter. The data plane applies them in `seq` order. The
//!   `poll_transmit`/`poll_table_update` pair of [`super::Pcscf`] enforces
//!   this: each returns its queue's head only when that head is the oldest
//!   output of both queues, so a caller that polls both until both return
//!   `None` sees them in order (or it calls [`super::Pcscf::poll_output`]).
//!   This is what makes the 200 OK to a de-REGISTER leave protected before
//!   its SA sets are removed.
//! - An [`SaSetDesc`] is immutable once published; the data plane shares it
//!   with workers behind a pointer. It holds precomputed key material
//!   ([`SaKeys`]) so that workers never derive keys.
//! - Must never: carry anything the data plane would have to parse again
//!   (no SIP text in table updates).

use crate::keys::SaKeys;
use crate::time::Instant;
use crate::types::{BindingKey, EncrAlg, Identity, IntegAlg, Transport};
use core::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// Identifier of one SA set (four SAs), unique for the life of a
/// [`super::Pcscf`] (never reused).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SaSetId(pub u32);

/// Identifier of one UE contact (an IMPI registering from one UE IP
/// address), unique for the life of a [`super::Pcscf`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContactId(pub u32);

/// Direction of an SA as seen from the P-CSCF.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SaDirection {
    /// UE → P-CSCF: the data plane looks the SA up by its SPI.
    Inbound,
    /// P-CSCF → UE.
    Outbound,
}

/// ESP mode of an SA set (TS 33.203 Annex H `mod`, Annex M).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EspMode {
    /// Transport mode (`mod=trans`), no NAT.
    Transport,
    /// UDP-encapsulated tunnel mode (`mod=UDP-enc-tun`, RFC 3948), behind
    /// NAT. `ue_port` is the UE's NAT-mapped UDP source port.
    UdpEncapTunnel {
        /// The port the encapsulated ESP is sent to at the UE (its NAT).
        ue_port: u16,
    },
}

/// One of the four SAs of a set (TS 33.203 §7.1, SPEC-NOTES table).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SaDesc {
    /// Inbound (SA 1, SA 4) or outbound (SA 2, SA 3).
    pub direction: SaDirection,
    /// The SPI: chosen by the P-CSCF for inbound SAs, by the UE for outbound.
    pub spi: u32,
    /// Source address of protected packets.
    pub src: SocketAddr,
    /// Destination address of protected packets.
    pub dst: SocketAddr,
}

/// A complete SA set: the four SAs between a UE and the P-CSCF, their
/// algorithms and keys.
///
/// `sas` is indexed as in TS 33.203 §7.1: `[0]` = SA1 UE port-uc → P port-ps
/// (inbound, spi-ps); `[1]` = SA2 P port-pc → UE port-us (outbound, spi-us);
/// `[2]` = SA3 P port-ps → UE port-uc (outbound, spi-uc); `[3]` = SA4 UE
/// port-us → P port-pc (inbound, spi-pc).
#[derive(Clone, Debug)]
pub struct SaSetDesc {
    /// The set.
    pub id: SaSetId,
    /// The contact it belongs to.
    pub contact: ContactId,
    /// The IMPI that was challenged for this set.
    pub impi: Box<str>,
    /// UE IP address.
    pub ue_ip: IpAddr,
    /// P-CSCF IP address.
    pub pcscf_ip: IpAddr,
    /// The four SAs, in §7.1 order (see the type docs).
    pub sas: [SaDesc; 4],
    /// Integrity algorithm.
    pub integ: IntegAlg,
    /// Encryption algorithm.
    pub encr: EncrAlg,
    /// ESP mode.
    pub mode: EspMode,
    /// Key material for all four SAs (IMS AKA uses the same keys in both
    /// directions), precomputed per algorithm.
    pub keys: SaKeys,
    /// SIP-level lifetime at install time (see [`TableUpdate::SetLifetime`]).
    pub expires_at: Instant,
}

impl SaSetDesc {
    /// The two inbound SPIs (spi-ps, spi-pc), which the P-CSCF allocated.
    pub fn inbound_spis(&self) -> [u32; 2] {
        [self.sas[0].spi, self.sas[3].spi]
    }
}

/// A change to the data plane's tables.
#[derive(Clone, Debug)]
pub enum TableUpdate {
    /// Install a new SA set (four SAs). Inbound SPIs are unique among live
    /// sets and never reused while quarantined.
    InstallSaSet(Arc<SaSetDesc>),
    /// From now on, send requests and UDP responses towards this contact
    /// over `set` (table 5.2.2-1 "take into use").
    TakeIntoUse {
        /// The contact.
        contact: ContactId,
        /// The set now used for sending.
        set: SaSetId,
    },
    /// The SIP-level lifetime of `set` changed (shortened to 64*T1 or
    /// extended at registration). Informational: the registrar itself emits
    /// [`TableUpdate::RemoveSaSet`] when it runs out.
    SetLifetime {
        /// The set.
        set: SaSetId,
        /// New expiry.
        expires_at: Instant,
    },
    /// The identity that messages arriving on `set` are asserted with
    /// (filled at the 200 OK to REGISTER; TS 24.229 §5.2.6.3).
    SetIdentity {
        /// The set.
        set: SaSetId,
        /// The registered identity.
        identity: Arc<Identity>,
    },
    /// Remove the set's four SAs. Its inbound SPIs stay quarantined inside
    /// the registrar for a while and are not reused meanwhile.
    RemoveSaSet {
        /// The set.
        set: SaSetId,
        /// Its inbound SPIs, for a data plane indexed by SPI.
        inbound_spis: [u32; 2],
    },
    /// Annex N.2.1: bind a source address to the identity registered from it
    /// (replaces any earlier entry for the key).
    InstallBinding {
        /// IP, or IP:port:transport with outbound.
        key: BindingKey,
        /// The registered identity.
        identity: Arc<Identity>,
    },
    /// Annex N: remove the binding for `key`.
    RemoveBinding {
        /// The key.
        key: BindingKey,
    },
    /// Annex O: associate a TLS connection with an identity.
    InstallTlsAssociation {
        /// Source address of the TLS connection.
        peer: SocketAddr,
        /// TLS session id.
        session_id: Box<[u8]>,
        /// The registered identity.
        identity: Arc<Identity>,
    },
    /// Annex O: remove the association of a TLS connection.
    RemoveTlsAssociation {
        /// Source address of the TLS connection.
        peer: SocketAddr,
        /// TLS session id.
        session_id: Box<[u8]>,
    },
}

/// Where a [`Transmit`] goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Destination {
    /// To the UE without protection, from the P-CSCF's unprotected port. For
    /// UDP `addr` is the Via received/rport address (the request's source);
    /// for TCP it names the connection the request arrived on.
    UeUnprotected {
        /// UE address (or TCP connection peer).
        addr: SocketAddr,
        /// Transport.
        transport: Transport,
    },
    /// To the UE over an SA of `set`: from P-CSCF port `local_port` to `addr`
    /// with outbound SPI `spi`. For TCP `addr` names the connection.
    UeProtected {
        /// The SA set.
        set: SaSetId,
        /// Outbound SPI (spi-uc for responses, spi-us for requests).
        spi: u32,
        /// P-CSCF source port (port-ps or port-pc).
        local_port: u16,
        /// UE address and port.
        addr: SocketAddr,
        /// Transport.
        transport: Transport,
    },
    /// Over an Annex O TLS connection.
    UeTls {
        /// Peer of the TLS connection.
        peer: SocketAddr,
    },
    /// To the S-CSCF (the next hop in the core).
    Scscf,
}

/// A SIP message to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transmit {
    /// Position in the registrar's single output order.
    pub seq: u64,
    /// Where.
    pub dest: Destination,
    /// The whole SIP message.
    pub payload: Vec<u8>,
}

/// One output, in order: see [`super::Pcscf::poll_output`].
#[derive(Clone, Debug)]
pub enum Output {
    /// Send a message.
    Transmit(Transmit),
    /// Apply a table update; `.0` is its `seq`.
    Table(u64, TableUpdate),
}
