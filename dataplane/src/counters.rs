//! Per-worker counters.
//!
//! Each worker owns one cache-padded [`WorkerCounters`]. It counts into plain
//! local integers ([`LocalCounters`]) and publishes them with relaxed stores
//! once per burst, so the hot path does no atomic read-modify-write and no
//! two workers share a cache line. Readers (the stats printer, the runner)
//! load them with relaxed loads.

use core::sync::atomic::{AtomicU64, Ordering};
use crossbeam_utils::CachePadded;

macro_rules! drop_reasons {
    ($( $(#[doc = $doc:literal])* $name:ident => $label:literal, )*) => {
        /// Why a packet was dropped. Every drop in the data plane is counted
        /// under exactly one of these.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[repr(u8)]
        pub enum DropReason {
            $( $(#[doc = $doc])* $name, )*
        }

        impl DropReason {
            /// Every reason, in counter order.
            pub const ALL: &'static [DropReason] = &[$(DropReason::$name,)*];
            /// Number of reasons.
            pub const COUNT: usize = Self::ALL.len();

            /// Stable snake_case label used in reports and JSON.
            pub const fn label(self) -> &'static str {
                match self { $(DropReason::$name => $label,)* }
            }
        }
    };
}

drop_reasons! {
    /// Frame shorter than an Ethernet header, or a truncated VLAN tag.
    EthTruncated => "eth_truncated",
    /// EtherType that is neither IPv4, IPv6 nor a handled ARP.
    EthUnsupportedType => "eth_unsupported_type",
    /// More than two stacked VLAN tags.
    EthTooManyTags => "eth_too_many_tags",
    /// Frame larger than the port's MTU or the buffer.
    Oversized => "oversized",
    /// IPv4 header truncated, bad version, IHL < 5 or total length out of range.
    Ipv4Malformed => "ipv4_malformed",
    /// IPv4 header checksum wrong.
    Ipv4BadChecksum => "ipv4_bad_checksum",
    /// IPv4 fragment (no reassembly).
    Ipv4Fragment => "ipv4_fragment",
    /// IPv4 options malformed.
    Ipv4BadOptions => "ipv4_bad_options",
    /// TTL or hop limit would reach zero.
    TtlExpired => "ttl_expired",
    /// IPv6 header truncated, bad version or payload length out of range.
    Ipv6Malformed => "ipv6_malformed",
    /// IPv6 extension header chain truncated or too long.
    Ipv6BadExtHeader => "ipv6_bad_ext_header",
    /// IPv6 fragment header (no reassembly).
    Ipv6Fragment => "ipv6_fragment",
    /// Source or destination address that must never appear (multicast,
    /// unspecified, loopback on the wire).
    BadAddress => "bad_address",
    /// Destination address is not one of ours.
    NotForUs => "not_for_us",
    /// IP protocol other than UDP, TCP or ESP (ICMPv6 other than a Neighbor
    /// Solicitation included).
    UnsupportedProtocol => "unsupported_protocol",
    /// IPv6 Neighbor Solicitation that fails RFC 4861 §7.1.1 validation.
    NdMalformed => "nd_malformed",
    /// UDP header truncated or length out of range.
    UdpMalformed => "udp_malformed",
    /// UDP checksum wrong.
    UdpBadChecksum => "udp_bad_checksum",
    /// TCP header truncated or data offset out of range.
    TcpMalformed => "tcp_malformed",
    /// TCP checksum wrong.
    TcpBadChecksum => "tcp_bad_checksum",
    /// SIP over TCP is not handled by the fast path yet.
    TcpSipUnsupported => "tcp_sip_unsupported",
    /// Destination port is not a SIP port of ours.
    NotSip => "not_sip",
    /// Payload is not a parseable SIP message.
    SipMalformed => "sip_malformed",
    /// Rewriting the message would exceed the buffer or the MTU.
    SipTooLarge => "sip_too_large",
    /// A response whose top Via is not ours, or whose target cannot be decoded.
    NoRoute => "no_route",
    /// A request from the core to a contact that is not registered here.
    UnknownContact => "unknown_contact",
    /// Max-Forwards reached zero.
    TooManyHops => "too_many_hops",
    /// ESP packet shorter than header, IV and ICV.
    EspTruncated => "esp_truncated",
    /// Inbound SPI not in the table.
    EspUnknownSpi => "esp_unknown_spi",
    /// ICV verification failed.
    EspBadIcv => "esp_bad_icv",
    /// Sequence number already seen.
    EspReplay => "esp_replay",
    /// Sequence number left of the anti-replay window.
    EspTooOld => "esp_too_old",
    /// Padding bytes or pad length wrong (RFC 4303 §2.4).
    EspBadPadding => "esp_bad_padding",
    /// Next header not UDP or TCP.
    EspBadNextHeader => "esp_bad_next_header",
    /// Inner ports do not match the SA.
    EspPortMismatch => "esp_port_mismatch",
    /// Ciphertext not a multiple of the cipher block size.
    EspBadLength => "esp_bad_length",
    /// UDP-encapsulated ESP (RFC 3948) is not supported.
    EspUdpEncapUnsupported => "esp_udp_encap_unsupported",
    /// Outbound sequence number would wrap; the SA must be replaced.
    EspSeqOverflow => "esp_seq_overflow",
    /// A request other than REGISTER over a temporary SA set.
    TemporarySaNotRegister => "temporary_sa_not_register",
    /// Plaintext SIP that must arrive protected.
    UnprotectedOnProtectedPort => "unprotected_on_protected_port",
    /// The exception queue to the control thread was full.
    ExceptionQueueFull => "exception_queue_full",
    /// The TX queue was full.
    TxFull => "tx_full",
    /// The control thread could not handle the exception.
    ControlRejected => "control_rejected",
}

/// Counters a worker keeps locally during a burst.
#[derive(Clone, Debug)]
pub struct LocalCounters {
    /// Frames received.
    pub rx: u64,
    /// Frames transmitted.
    pub tx: u64,
    /// Frames handed to the control thread.
    pub exceptions: u64,
    /// Requests forwarded with an asserted identity.
    pub asserted: u64,
    /// Responses forwarded.
    pub responses: u64,
    /// Drops, indexed by `DropReason as usize`.
    pub drops: [u64; DropReason::COUNT],
}

impl Default for LocalCounters {
    fn default() -> Self {
        LocalCounters {
            rx: 0,
            tx: 0,
            exceptions: 0,
            asserted: 0,
            responses: 0,
            drops: [0; DropReason::COUNT],
        }
    }
}

impl LocalCounters {
    /// Count one drop.
    #[inline]
    pub fn drop(&mut self, r: DropReason) {
        self.drops[r as usize] += 1;
    }

    /// Total drops.
    pub fn total_drops(&self) -> u64 {
        self.drops.iter().sum()
    }

    /// Add another set of counters into this one.
    pub fn add(&mut self, o: &LocalCounters) {
        self.rx += o.rx;
        self.tx += o.tx;
        self.exceptions += o.exceptions;
        self.asserted += o.asserted;
        self.responses += o.responses;
        for (a, b) in self.drops.iter_mut().zip(o.drops.iter()) {
            *a += *b;
        }
    }

    /// Non-zero drops as (label, count).
    pub fn drops_by_reason(&self) -> Vec<(&'static str, u64)> {
        DropReason::ALL
            .iter()
            .filter(|r| self.drops[**r as usize] > 0)
            .map(|r| (r.label(), self.drops[*r as usize]))
            .collect()
    }
}

/// The shared, published copy of one worker's counters.
#[derive(Debug)]
pub struct WorkerCounters {
    rx: AtomicU64,
    tx: AtomicU64,
    exceptions: AtomicU64,
    asserted: AtomicU64,
    responses: AtomicU64,
    drops: [AtomicU64; DropReason::COUNT],
}

impl Default for WorkerCounters {
    fn default() -> Self {
        WorkerCounters {
            rx: AtomicU64::new(0),
            tx: AtomicU64::new(0),
            exceptions: AtomicU64::new(0),
            asserted: AtomicU64::new(0),
            responses: AtomicU64::new(0),
            drops: core::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

impl WorkerCounters {
    /// A new cache-padded block.
    pub fn new_padded() -> CachePadded<WorkerCounters> {
        CachePadded::new(WorkerCounters::default())
    }

    /// Publish the owner's local counters (single writer: plain stores).
    #[inline]
    pub fn publish(&self, l: &LocalCounters) {
        self.rx.store(l.rx, Ordering::Relaxed);
        self.tx.store(l.tx, Ordering::Relaxed);
        self.exceptions.store(l.exceptions, Ordering::Relaxed);
        self.asserted.store(l.asserted, Ordering::Relaxed);
        self.responses.store(l.responses, Ordering::Relaxed);
        for (a, v) in self.drops.iter().zip(l.drops.iter()) {
            a.store(*v, Ordering::Relaxed);
        }
    }

    /// Read a snapshot.
    pub fn snapshot(&self) -> LocalCounters {
        LocalCounters {
            rx: self.rx.load(Ordering::Relaxed),
            tx: self.tx.load(Ordering::Relaxed),
            exceptions: self.exceptions.load(Ordering::Relaxed),
            asserted: self.asserted.load(Ordering::Relaxed),
            responses: self.responses.load(Ordering::Relaxed),
            drops: core::array::from_fn(|i| self.drops[i].load(Ordering::Relaxed)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for r in DropReason::ALL {
            assert!(seen.insert(r.label()), "duplicate label {}", r.label());
            assert_eq!(DropReason::ALL[*r as usize], *r);
        }
    }

    #[test]
    fn publish_and_snapshot() {
        let mut l = LocalCounters {
            rx: 3,
            ..Default::default()
        };
        l.drop(DropReason::NotSip);
        let w = WorkerCounters::default();
        w.publish(&l);
        let s = w.snapshot();
        assert_eq!(s.rx, 3);
        assert_eq!(s.drops_by_reason(), vec![("not_sip", 1)]);
    }
}
