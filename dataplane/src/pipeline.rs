//! The per-packet pipeline: classify, look up the sender, assert identity,
//! rewrite and forward — or hand the packet to the control thread, or drop it
//! with a counted reason.
//!
//! The P-CSCF runs here as a stateless proxy (RFC 3261 §16.11) between two
//! sides: `access` (UEs) and `core` (the S-CSCF next hop). It inserts its own
//! Via on every request it forwards; the Via branch carries the address the
//! response must go back to, authenticated with a keyed hash, so responses are
//! routed without per-transaction state and a forged Via cannot steer them.
//!
//! Must never: panic on packet content, allocate, block, or trust any identity
//! claim from a UE (P-Asserted-Identity and P-Preferred-Identity sent by a UE
//! are always removed; the sender is known only from the tables).

use std::hash::BuildHasher;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4};
use std::sync::Arc;

use control::types::Transport;

use crate::buf::{Buf, BufError};
use crate::config::Config;
use crate::counters::{DropReason, LocalCounters};
use crate::esp;
use crate::sipfast::{self, Method, StartLine};
use crate::state::{Binding, TableReaders};
use crate::table::Guard;
use crate::table::{AddrKey, Found};
use crate::wire::template::{L4Csum, UdpTemplate};
use crate::wire::{self, HeadersRepr, L3};

/// Which side of the P-CSCF a port faces.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    /// Toward the UEs.
    Access = 0,
    /// Toward the IMS core.
    Core = 1,
}

impl Side {
    /// The other side.
    #[inline]
    pub fn other(self) -> Side {
        match self {
            Side::Access => Side::Core,
            Side::Core => Side::Access,
        }
    }
}

/// Why a packet goes to the control thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExceptionKind {
    /// A REGISTER request.
    Register,
    /// A response to a REGISTER, from the core.
    RegisterResponse,
    /// A request from a sender with no binding.
    UnknownSender,
    /// The first packet over a newly installed SA set (no frame attached).
    SaFirstUse(control::registrar::SaSetId),
}

/// What to do with a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Send it out of this side's port (already rewritten).
    Forward(Side),
    /// Hand it to the control thread.
    Exception(ExceptionKind),
    /// Drop it, counting the reason.
    Drop(DropReason),
}

/// One side's addresses.
#[derive(Clone, Debug)]
pub struct SideAddrs {
    /// Our MAC on this side's port.
    pub mac: [u8; 6],
    /// Next layer-2 hop.
    pub gateway_mac: [u8; 6],
    /// Our IPv4 address.
    pub ipv4: Option<Ipv4Addr>,
    /// Our IPv6 address.
    pub ipv6: Option<Ipv6Addr>,
    /// Our SIP port.
    pub sip_port: u16,
    /// Largest IP packet this side's port sends.
    pub mtu: usize,
    /// `Via: SIP/2.0/UDP <v4>:<port>;branch=z9hG4bKpdp` for IPv4 peers.
    via_v4: Vec<u8>,
    /// The same for IPv6 peers.
    via_v6: Vec<u8>,
    /// Headers of the datagrams we send from our IPv4 address.
    tmpl_v4: Option<UdpTemplate>,
    /// The same from our IPv6 address.
    tmpl_v6: Option<UdpTemplate>,
    /// `Record-Route: <sip:<v4>:` (the port and `;lr>` follow).
    rr_v4: Vec<u8>,
    /// The same for IPv6.
    rr_v6: Vec<u8>,
}

impl SideAddrs {
    /// Build from the configuration of one side.
    pub fn new(c: &crate::config::SideConfig, mac: [u8; 6], mtu: usize) -> Self {
        let via = |a: Option<String>| {
            a.map(|h| format!("Via: SIP/2.0/UDP {h}:{};branch={BRANCH_MAGIC}", c.sip_port).into_bytes())
                .unwrap_or_default()
        };
        SideAddrs {
            mac,
            gateway_mac: c.gateway_mac,
            ipv4: c.ipv4,
            ipv6: c.ipv6,
            sip_port: c.sip_port,
            mtu,
            via_v4: via(c.ipv4.map(|a| a.to_string())),
            via_v6: via(c.ipv6.map(|a| format!("[{a}]"))),
            tmpl_v4: c
                .ipv4
                .map(|a| UdpTemplate::new(wire::MacAddr(mac), wire::MacAddr(c.gateway_mac), a.into(), 64)),
            tmpl_v6: c
                .ipv6
                .map(|a| UdpTemplate::new(wire::MacAddr(mac), wire::MacAddr(c.gateway_mac), a.into(), 64)),
            rr_v4: c
                .ipv4
                .map(|a| format!("Record-Route: <sip:{a}:").into_bytes())
                .unwrap_or_default(),
            rr_v6: c
                .ipv6
                .map(|a| format!("Record-Route: <sip:[{a}]:").into_bytes())
                .unwrap_or_default(),
        }
    }

    /// The start of our Record-Route line for peers of `ip`'s family (up to
    /// the port), or None if this side has no address of that family.
    #[inline]
    fn record_route_prefix(&self, ip: IpAddr) -> Option<&[u8]> {
        let pre = if ip.is_ipv4() { &self.rr_v4 } else { &self.rr_v6 };
        (!pre.is_empty()).then_some(&pre[..])
    }

    /// The length of the line [`SideAddrs::write_record_route`] writes, or
    /// None if this side has no address of `ip`'s family.
    #[inline]
    fn record_route_len(&self, ip: IpAddr, port: u16) -> Option<usize> {
        let pre = self.record_route_prefix(ip)?;
        Some(pre.len() + port_digits(port).1 + RR_SUFFIX.len())
    }

    /// Write our Record-Route line for peers of `ip`'s family with `port`
    /// into `out`; returns its length, or None if this side has no address
    /// of that family or `out` is too short.
    fn write_record_route(&self, ip: IpAddr, port: u16, out: &mut [u8]) -> Option<usize> {
        let pre = self.record_route_prefix(ip)?;
        let (digits, n) = port_digits(port);
        let mut w = 0;
        for part in [pre, &digits[5 - n..], RR_SUFFIX] {
            out.get_mut(w..w + part.len())?.copy_from_slice(part);
            w += part.len();
        }
        Some(w)
    }

    #[inline]
    fn is_ours(&self, ip: IpAddr) -> bool {
        match ip {
            IpAddr::V4(a) => self.ipv4 == Some(a),
            IpAddr::V6(a) => self.ipv6 == Some(a),
        }
    }

    /// The headers of datagrams from our address of `peer`'s family.
    #[inline]
    fn template(&self, peer: IpAddr) -> Option<&UdpTemplate> {
        match peer {
            IpAddr::V4(_) => self.tmpl_v4.as_ref(),
            IpAddr::V6(_) => self.tmpl_v6.as_ref(),
        }
    }

    /// Our address of the same family as `peer`.
    #[inline]
    pub fn addr_for(&self, peer: IpAddr) -> Option<IpAddr> {
        match peer {
            IpAddr::V4(_) => self.ipv4.map(IpAddr::V4),
            IpAddr::V6(_) => self.ipv6.map(IpAddr::V6),
        }
    }
}

impl SideAddrs {
    /// The Ethernet/IP/UDP headers of a datagram we send out of this side
    /// from `src` to `dst` (to the side's next layer-2 hop, untagged).
    #[inline]
    fn udp_headers(&self, src: SocketAddr, dst: SocketAddr) -> HeadersRepr {
        HeadersRepr {
            eth_src: wire::MacAddr(self.mac),
            eth_dst: wire::MacAddr(self.gateway_mac),
            vlan: [None, None],
            src: src.ip(),
            dst: dst.ip(),
            hop_limit: 64,
            src_port: src.port(),
            dst_port: dst.port(),
        }
    }
}

/// What follows the port in our Record-Route line.
const RR_SUFFIX: &[u8] = b";lr>\r\n";

/// `port` in decimal: the digits are the last `n` bytes of the array.
#[inline]
fn port_digits(port: u16) -> ([u8; 5], usize) {
    let mut digits = [0u8; 5];
    let mut n = 0;
    let mut v = port;
    loop {
        digits[4 - n] = b'0' + (v % 10) as u8;
        n += 1;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    (digits, n)
}

/// Build in `buf` a frame out of side `o` from `src` to `dst` carrying
/// `payload`, ESP-encapsulated with `sa` when one is given. Fails with
/// [`DropReason::SipTooLarge`] when the result would exceed the side's MTU or
/// the buffer.
pub fn emit_datagram<B: Buf>(
    buf: &mut B,
    o: &SideAddrs,
    src: SocketAddr,
    dst: SocketAddr,
    payload: &[u8],
    sa: Option<&esp::OutboundSa>,
) -> Result<(), DropReason> {
    let h = o.udp_headers(src, dst);
    let hl = h.udp_header_len();
    let overhead = sa.map_or(0, |s| s.overhead(payload.len() + 8));
    if hl + payload.len() + overhead - h.l3_offset() > o.mtu {
        return Err(DropReason::SipTooLarge);
    }
    buf.set_len(hl + payload.len())
        .map_err(|_| DropReason::SipTooLarge)?;
    buf.data_mut()[hl..].copy_from_slice(payload);
    h.emit_udp(buf.data_mut(), payload.len())
        .map_err(|_| DropReason::SipTooLarge)?;
    if let Some(sa) = sa {
        esp::encap(buf, h.l3_offset(), sa)?;
    }
    Ok(())
}

/// The magic cookie plus our marker at the start of every branch we create.
pub const BRANCH_MAGIC: &str = "z9hG4bKpdp";

/// A fresh random AES key for the branch authenticator. The system RNG
/// failing at start-up is fatal (nothing could be authenticated).
fn branch_key() -> BranchKey {
    use aes::cipher::KeyInit;
    use zeroize::Zeroize;
    let mut k = [0u8; 16];
    if ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut k).is_err() {
        panic!("system random number generator unavailable");
    }
    #[cfg(target_arch = "x86_64")]
    let c = match crate::simd::Aes128Ni::new(&k) {
        Some(ni) => BranchKey::Ni(ni),
        None => BranchKey::Soft(Box::new(aes::Aes128Enc::new(&k.into()))),
    };
    #[cfg(not(target_arch = "x86_64"))]
    let c = BranchKey::Soft(Box::new(aes::Aes128Enc::new(&k.into())));
    k.zeroize();
    c
}

/// The branch authenticator's AES-128 key: AES-NI with the block in
/// registers where the CPU has it ([`crate::simd::Aes128Ni`]), the `aes`
/// crate otherwise.
enum BranchKey {
    #[cfg(target_arch = "x86_64")]
    Ni(crate::simd::Aes128Ni),
    /// Boxed: the crate's key holds every backend's schedule (704 bytes).
    Soft(Box<aes::Aes128Enc>),
}

impl BranchKey {
    /// The encryption of one block, its bytes as `u128::from_le_bytes`
    /// reads them.
    #[inline(always)]
    fn encrypt(&self, block: u128) -> u128 {
        match self {
            #[cfg(target_arch = "x86_64")]
            BranchKey::Ni(ni) => ni.encrypt(block),
            BranchKey::Soft(soft) => encrypt_soft(soft, block),
        }
    }
}

/// [`BranchKey::encrypt`] through the `aes` crate (a CPU without AES-NI).
#[inline(never)]
fn encrypt_soft(soft: &aes::Aes128Enc, block: u128) -> u128 {
    use aes::cipher::BlockEncrypt;
    let mut b = aes::Block::from(block.to_le_bytes());
    soft.encrypt_block(&mut b);
    u128::from_le_bytes(b.into())
}

/// Read-only context shared by every worker.
#[derive(Clone)]
pub struct Context {
    /// UE side.
    pub access: SideAddrs,
    /// Core side.
    pub core: SideAddrs,
    /// Where requests toward the core go.
    pub next_hop: SocketAddr,
    /// Verify UDP checksums on receive.
    pub verify_udp_checksum: bool,
    /// Every port the workers send from has UDP transmit checksum offload
    /// enabled: forwarded plaintext datagrams leave the checksum to the NIC
    /// (see [`Buf::request_tx_udp_csum`]). Set by the start-up code from the
    /// opened ports; false by default.
    pub tx_udp_csum_offload: bool,
    /// Key of the branch authenticator: AES-128 under a random per-process
    /// key, used as a CBC-MAC over the (fixed-length per family) branch
    /// fields, truncated to 32 bits.
    branch_key: Arc<BranchKey>,
    /// Seed of the per-transaction nonce hash (fast, not a MAC).
    nonce_seed: u64,
}

impl Context {
    /// Build from a checked configuration and the opened ports' MACs/MTUs.
    pub fn new(cfg: &Config, access: ([u8; 6], usize), core: ([u8; 6], usize)) -> Self {
        Context {
            access: SideAddrs::new(&cfg.access, access.0, access.1),
            core: SideAddrs::new(&cfg.core, core.0, core.1),
            next_hop: cfg.next_hop,
            verify_udp_checksum: cfg.verify_udp_checksum,
            tx_udp_csum_offload: false,
            branch_key: Arc::new(branch_key()),
            // A random seed: the hash of a constant under a random state.
            nonce_seed: foldhash::fast::RandomState::default().hash_one(0x5049_4443_u64),
        }
    }

    /// Whether a Route element (`<sip:host...;lr>`) names this P-CSCF: its
    /// host is one of our addresses, on either side.
    fn is_our_route(&self, elem: &[u8]) -> bool {
        let uri = match (memchr::memchr(b'<', elem), memchr::memchr(b'>', elem)) {
            (Some(a), Some(b)) if a < b => &elem[a + 1..b],
            _ => return false,
        };
        uri_ip_port(uri).is_some_and(|(ip, _)| self.access.is_ours(ip) || self.core.is_ours(ip))
    }

    /// The addresses of one side.
    #[inline]
    pub fn side(&self, s: Side) -> &SideAddrs {
        match s {
            Side::Access => &self.access,
            Side::Core => &self.core,
        }
    }

    /// [`Context::mac32`] of a body that fits one block: the first 32 bits
    /// of its AES encryption (CBC-MAC of one block, a zero IV).
    #[inline(always)]
    fn mac_block(&self, block: [u8; 16]) -> u32 {
        // The first four bytes, big-endian.
        (self.branch_key.encrypt(u128::from_le_bytes(block)) as u32).swap_bytes()
    }

    /// The 32-bit authenticator of a branch body: its first `n` bytes (at
    /// most 32, the first byte fixing `n`), the rest of `body` being zero:
    /// CBC-MAC with AES, a PRF for messages of a fixed length, truncated.
    #[inline]
    fn mac32(&self, body: &[u8; 32], n: usize) -> u32 {
        let block = |k: usize| {
            let mut b = [0u8; 16];
            b.copy_from_slice(&body[16 * k..16 * k + 16]);
            u128::from_le_bytes(b)
        };
        let mut state = 0u128;
        for k in 0..n.div_ceil(16).min(2) {
            state = self.branch_key.encrypt(state ^ block(k));
        }
        (state as u32).swap_bytes()
    }
}

/// Per-worker mutable state of the pipeline.
pub struct PipeState {
    /// Counters for this worker.
    pub counters: LocalCounters,
    /// Set by [`process`] when the packet was the first seen on a new SA
    /// set; the worker reports it to the control thread and clears it.
    pub first_use: Option<control::registrar::SaSetId>,
    /// The inbound SPI the last processed packet arrived on, if protected.
    pub arrival_spi: Option<u32>,
    rng: u64,
    /// The scan of the packet in hand, reused from packet to packet so that
    /// the scanner writes in place instead of returning (and copying) it.
    scan: sipfast::Scan,
}

impl PipeState {
    /// Fresh state; `seed` differs per worker.
    pub fn new(seed: u64) -> Self {
        PipeState {
            counters: LocalCounters::default(),
            first_use: None,
            arrival_spi: None,
            rng: seed | 1,
            scan: sipfast::Scan::EMPTY,
        }
    }
}

/// The next number from a worker's xorshift64* state: picks among several
/// default IMPUs, nothing secret. (A free function so that it borrows only
/// the state word, not the whole [`PipeState`] holding the scan.)
#[inline]
fn random(rng: &mut u64) -> u32 {
    *rng ^= *rng >> 12;
    *rng ^= *rng << 25;
    *rng ^= *rng >> 27;
    (rng.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 32) as u32
}

/// A seeded hash of an incoming top Via value, the per-transaction nonce of
/// our branch: retransmissions get the same one, distinct transactions
/// almost surely not. Uniqueness only: the MAC over the branch token is what
/// authenticates it. Eight bytes per multiply, the tail as one overlapping
/// word.
#[inline(always)]
#[allow(unsafe_code)]
fn nonce_of(seed: u64, v: &[u8]) -> u32 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let word = |c: &[u8]| {
        let mut b = [0u8; 8];
        b.copy_from_slice(c);
        u64::from_le_bytes(b)
    };
    let step = |h: u64, w: u64| (h ^ w).wrapping_mul(K).rotate_left(29);
    let mut h = (seed ^ v.len() as u64).wrapping_mul(K);
    let mut chunks = v.chunks_exact(8);
    let n = v.len() / 8;
    if n <= 8 {
        // Up to 8 whole words (a Via value up to 71 bytes): word `i` of an
        // 8-word window whose last word is the last whole word of `v`, so
        // that every count runs the same straight-line tail of the match
        // (one jump in, no loop).
        let end = v.as_ptr().wrapping_add(8 * n);
        // SAFETY: called only for `i >= 8 - n`, so the word lies at bytes
        // `8 * (n - 8 + i) ..` + 8 of `v`, within its first `8 * n`.
        let w = |i: usize| unsafe {
            u64::from_le((end.wrapping_sub(8 * (8 - i)) as *const u64).read_unaligned())
        };
        macro_rules! words {
            ($($i:literal)*) => {{ $(h = step(h, w($i));)* }};
        }
        match n {
            8 => words!(0 1 2 3 4 5 6 7),
            7 => words!(1 2 3 4 5 6 7),
            6 => words!(2 3 4 5 6 7),
            5 => words!(3 4 5 6 7),
            4 => words!(4 5 6 7),
            3 => words!(5 6 7),
            2 => words!(6 7),
            1 => words!(7),
            _ => {}
        }
    } else {
        for c in &mut chunks {
            h = step(h, word(c));
        }
    }
    let tail = if v.len() >= 8 {
        word(&v[v.len() - 8..])
    } else {
        chunks
            .remainder()
            .iter()
            .rev()
            .fold(0u64, |a, &b| a << 8 | u64::from(b))
    };
    h = (h ^ tail).wrapping_mul(K);
    (h ^ h >> 32) as u32
}

/// Where a response must go, carried in our Via branch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BranchTarget {
    /// Side to send the response out of.
    pub side: Side,
    /// Destination.
    pub addr: SocketAddr,
}

/// The value of a hex digit (either case), or 0xff.
static UNHEX: [u8; 256] = {
    let mut t = [0xffu8; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        t[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

/// Encode a branch token for `t`, unique per incoming transaction `nonce`,
/// into `out`; returns its length (≤ 54).
#[inline]
fn encode_branch(ctx: &Context, t: BranchTarget, nonce: u32, out: &mut [u8; 64]) -> usize {
    if let SocketAddr::V4(a) = t.addr {
        let line = branch_line_v4(ctx, t.side, a, nonce);
        out[..30].copy_from_slice(&line[..30]);
        return 30;
    }
    encode_branch_any(ctx, t, nonce, out)
}

/// [`encode_branch`]'s token for an IPv4 target (30 digits) followed by the
/// CRLF that ends our Via line: the 32 bytes, built in registers, that
/// [`forward_request`] stores straight into the gap. The same bytes as the
/// field by field form, which a test checks: the eleven bytes of fields fit
/// one zero-padded AES block, built whole, and the MAC takes the place of
/// the first four zeros; the last byte stays zero, and its two digits
/// become the CRLF.
#[inline(always)]
fn branch_line_v4(ctx: &Context, side: Side, a: SocketAddrV4, nonce: u32) -> [u8; 32] {
    // Big-endian, as one number: byte 0 is the top byte.
    let fields = u128::from(side as u8) << 120
        | u128::from(a.ip().to_bits()) << 88
        | u128::from(a.port()) << 72
        | u128::from(nonce) << 40;
    let mac = ctx.mac_block(fields.to_be_bytes());
    crate::simd::hex16_crlf(&(fields | u128::from(mac) << 8).to_be_bytes())
}

/// The branch line (token and CRLF) [`forward_request`] would build for a
/// request whose scan is `scan` toward `back`, built ahead of it: `None`
/// for an IPv6 `back`, whose line it writes itself.
#[inline(always)]
fn early_branch_line(
    ctx: &Context,
    payload: &[u8],
    scan: &sipfast::Scan,
    back: BranchTarget,
) -> Option<[u8; 32]> {
    match back.addr {
        SocketAddr::V4(a) => Some(branch_line_v4(ctx, back.side, a, via_nonce(ctx, payload, scan))),
        SocketAddr::V6(_) => None,
    }
}

/// Per-transaction nonce of a request: a hash of its incoming top Via, so
/// retransmissions map to the same branch. Uniqueness only (the MAC over
/// the token is what authenticates it).
#[inline(always)]
fn via_nonce(ctx: &Context, payload: &[u8], scan: &sipfast::Scan) -> u32 {
    let v = scan.top_via.map(|l| l.value(payload)).unwrap_or_default();
    nonce_of(ctx.nonce_seed, v)
}

/// Write the branch token for `t` and the CRLF ending our Via line into
/// `out`, which must be exactly that long (the token's length plus 2);
/// false if it is not. Out of line: the IPv4 form is built in
/// [`forward_request`] itself.
#[cold]
#[inline(never)]
fn write_branch_line(ctx: &Context, t: BranchTarget, nonce: u32, out: &mut [u8]) -> bool {
    let mut tok = [0u8; 64];
    let n = encode_branch(ctx, t, nonce, &mut tok);
    tok[n..n + 2].copy_from_slice(b"\r\n");
    match tok.get(..n + 2) {
        Some(line) if line.len() == out.len() => {
            out.copy_from_slice(line);
            true
        }
        _ => false,
    }
}

/// [`encode_branch`] for either family, field by field; the IPv4 form there
/// writes the same bytes, which a test checks.
fn encode_branch_any(ctx: &Context, t: BranchTarget, nonce: u32, out: &mut [u8; 64]) -> usize {
    let mut raw = [0u8; 32];
    raw[0] = t.side as u8 | if t.addr.is_ipv6() { 2 } else { 0 };
    let mut n = 1;
    match t.addr.ip() {
        IpAddr::V4(a) => {
            raw[1..5].copy_from_slice(&a.octets());
            n += 4;
        }
        IpAddr::V6(a) => {
            raw[1..17].copy_from_slice(&a.octets());
            n += 16;
        }
    }
    raw[n..n + 2].copy_from_slice(&t.addr.port().to_be_bytes());
    raw[n + 2..n + 6].copy_from_slice(&nonce.to_be_bytes());
    n += 6;
    // Bytes from `n` on are still zero.
    let mac = ctx.mac32(&raw, n);
    raw[n..n + 4].copy_from_slice(&mac.to_be_bytes());
    n += 4;
    crate::simd::hex_lower32(&raw, out, n);
    2 * n
}

/// Decode and authenticate a branch token (the part after [`BRANCH_MAGIC`]).
pub fn decode_branch(ctx: &Context, hex: &[u8]) -> Option<BranchTarget> {
    if !hex.len().is_multiple_of(2) || hex.len() > 54 {
        return None;
    }
    let mut raw = [0u8; 27];
    for (r, pair) in raw.iter_mut().zip(hex.chunks_exact(2)) {
        let (h, l) = (UNHEX[usize::from(pair[0])], UNHEX[usize::from(pair[1])]);
        if h | l == 0xff {
            return None;
        }
        *r = h << 4 | l;
    }
    let n = hex.len() / 2;
    let v6 = raw[0] & 2 != 0;
    let want = if v6 { 27 } else { 15 };
    if n != want || raw[0] & !3 != 0 {
        return None;
    }
    let mac = u32::from_be_bytes([raw[n - 4], raw[n - 3], raw[n - 2], raw[n - 1]]);
    let mut body = [0u8; 32];
    body[..n - 4].copy_from_slice(&raw[..n - 4]);
    if ctx.mac32(&body, n - 4) != mac {
        return None;
    }
    let (ip, p) = if v6 {
        let mut o = [0u8; 16];
        o.copy_from_slice(&raw[1..17]);
        (IpAddr::V6(Ipv6Addr::from(o)), 17)
    } else {
        (IpAddr::V4(Ipv4Addr::new(raw[1], raw[2], raw[3], raw[4])), 5)
    };
    let port = u16::from_be_bytes([raw[p], raw[p + 1]]);
    let side = if raw[0] & 1 == 0 { Side::Access } else { Side::Core };
    Some(BranchTarget {
        side,
        addr: SocketAddr::new(ip, port),
    })
}

/// Parse host and port of a SIP/SIPS Request-URI whose host is an IP
/// literal (`sip:user@10.0.0.2:5061;transport=udp`). Default port 5060.
pub fn uri_ip_port(uri: &[u8]) -> Option<(IpAddr, u16)> {
    let rest = uri.strip_prefix(b"sip:").or_else(|| uri.strip_prefix(b"sips:"))?;
    let end = rest
        .iter()
        .position(|&c| c == b';' || c == b'?')
        .unwrap_or(rest.len());
    let hostport = &rest[..end];
    let hostport = match memchr::memrchr(b'@', hostport) {
        Some(i) => &hostport[i + 1..],
        None => hostport,
    };
    let s = core::str::from_utf8(hostport).ok()?;
    if let Some(v6) = s.strip_prefix('[') {
        let close = v6.find(']')?;
        let ip: Ipv6Addr = v6[..close].parse().ok()?;
        let port = match &v6[close + 1..] {
            "" => 5060,
            p => p.strip_prefix(':')?.parse().ok()?,
        };
        return Some((IpAddr::V6(ip), port));
    }
    let (h, port) = match s.rsplit_once(':') {
        Some((h, p)) => (h, p.parse().ok()?),
        None => (s, 5060),
    };
    Some((IpAddr::V4(h.parse().ok()?), port))
}

/// The sender key (UDP source address, or ESP SPI) of an untagged
/// IPv4/IPv6 frame, read at fixed offsets
/// without validating anything (a hint only: `process` does the real parse,
/// and uses what was looked up for this key only when its parse gives the
/// same source address).
enum Peek {
    Udp(AddrKey),
    Esp(u32),
}

#[inline]
fn peek_sender(f: &[u8]) -> Option<Peek> {
    let be16 = |i: usize| f.get(i..i + 2).map(|b| u16::from_be_bytes([b[0], b[1]]));
    let (proto, src, l4) = match be16(12)? {
        0x0800 => {
            let ihl = usize::from(*f.get(14)? & 0x0f) * 4;
            let s: [u8; 4] = f.get(26..30)?.try_into().ok()?;
            (
                *f.get(23)?,
                AddrKey::from_v4_bits(u32::from_be_bytes(s)),
                14 + ihl,
            )
        }
        0x86dd => {
            let s: [u8; 16] = f.get(22..38)?.try_into().ok()?;
            (*f.get(20)?, AddrKey::from_v6_bits(u128::from_be_bytes(s)), 54)
        }
        _ => return None,
    };
    match proto {
        17 => Some(Peek::Udp(src)),
        50 => {
            let b = f.get(l4..l4 + 4)?;
            Some(Peek::Esp(u32::from_be_bytes([b[0], b[1], b[2], b[3]])))
        }
        _ => None,
    }
}

/// What [`lookup_burst`] found for a burst: for each frame from a UE whose
/// source address it could peek, that address and its Annex N binding by
/// address, looked up for the whole burst at once. Nothing when the burst
/// was not looked up (its arrays are then not even written).
pub struct BurstLookups<'a>(Option<Senders<'a>>);

struct Senders<'a> {
    /// Per frame: its index in `keys` and `found`, or [`Senders::NONE`].
    at: [u8; crate::port::BURST],
    keys: [AddrKey; crate::port::BURST],
    found: [Found<'a, AddrKey, Binding>; crate::port::BURST],
}

impl<'a> Senders<'a> {
    const NONE: u8 = u8::MAX;

    /// Frame `i`'s peeked address and what its lookup found, if it had one.
    #[inline(always)]
    fn of(&self, i: usize) -> Option<(&AddrKey, Found<'a, AddrKey, Binding>)> {
        match self.at.get(i) {
            Some(&k) if k != Self::NONE => Some((&self.keys[k as usize], self.found[k as usize])),
            _ => None,
        }
    }
}

impl<'a> BurstLookups<'a> {
    /// Nothing looked up: every frame's lookups are done by [`process`].
    pub fn none() -> Self {
        BurstLookups(None)
    }

    /// What was looked up for frame `i` of the burst.
    ///
    /// Also starts loading the identity behind the binding found for frame
    /// `i + IDENTITY_AHEAD` (a hint: its key is not compared yet). In a
    /// large table that identity is a cache miss, and the frame's own
    /// entry is known only once the burst's lookups are in: so each frame,
    /// processed in turn, loads one a little further on.
    #[inline(always)]
    pub fn frame(&self, i: usize) -> FrameLookup<'_> {
        let Some(s) = &self.0 else {
            return FrameLookup(None);
        };
        if let Some(b) = s.of(i + IDENTITY_AHEAD).and_then(|(_, f)| f.candidate()) {
            prefetch_identity(&b.identity);
        }
        FrameLookup(s.of(i))
    }
}

/// How many frames ahead [`BurstLookups::frame`] starts loading an
/// identity: a frame takes about 200 ns, a miss about 100.
const IDENTITY_AHEAD: usize = 2;

/// Start loading every line of `id`'s allocation (the reference counts,
/// then the identity with its IMPUs and their P-Asserted-Identity lines,
/// which are in it when they fit: `control::types::IMPUS_INLINE`).
#[inline(always)]
fn prefetch_identity(id: &std::sync::Arc<control::types::Identity>) {
    // The two counts sit in front of the value; from the line the
    // allocation starts in to the one it ends in (a fixed count, unrolled).
    const COUNTS: usize = 2 * core::mem::size_of::<usize>();
    const BYTES: usize = COUNTS + core::mem::size_of::<control::types::Identity>();
    const LINES: usize = BYTES.div_ceil(64) + 1;
    let start = std::sync::Arc::as_ptr(id).cast::<u8>().wrapping_sub(COUNTS);
    let first = start.wrapping_sub(start as usize % 64);
    for k in 0..LINES {
        crate::table::prefetch(first.wrapping_add(64 * k));
    }
}

/// What [`lookup_burst`] found for one frame ([`BurstLookups::frame`]), for
/// [`process_with`]: at most a source address and what the burst's lookup
/// found for it.
#[derive(Clone, Copy, Default)]
pub struct FrameLookup<'a>(Option<(&'a AddrKey, Found<'a, AddrKey, Binding>)>);

impl<'a> FrameLookup<'a> {
    /// Nothing looked up for the frame.
    pub const NONE: FrameLookup<'static> = FrameLookup(None);

    /// What was found for `ip`, when this lookup was for `ip`.
    #[inline(always)]
    fn sender(self, ip: &AddrKey) -> Found<'a, AddrKey, Binding> {
        match self.0 {
            Some((k, f)) if *k == *ip => f,
            _ => Found::NONE,
        }
    }
}

/// Before a burst from `from` is processed: begin the lookup of every
/// frame's sender by address for the whole burst at once
/// ([`crate::table::MapReader::find_bulk`], what `rte_hash_lookup_bulk` does
/// for DPDK applications: every key's table line, then every candidate
/// entry, loaded together instead of one packet at a time), and start
/// loading the inbound SA table's lines for ESP frames. [`process_with`]
/// then takes the frame's [`BurstLookups::frame`]: it compares the
/// candidate entry's key, by then most likely in cache, instead of hashing
/// and probing again. Only UE-side frames look up a sender.
///
/// A sender or inbound SA table of at most [`PREFETCH_MIN_SLOTS`] slots
/// (its slot words and entries fit in a core's L2 cache) is not looked up
/// here, and when both are that small the frames are not peeked at either:
/// their lookups hit the cache anyway, and `process` does them with no
/// extra pass (a burst of 400-byte requests from 256 senders bound in a
/// table of 1 000 ran 206–214 ns a frame with a prefetch pass and 196
/// without it). Until the tenth session this pass only prefetched, and
/// `process` did the whole lookup again: with 1 M bindings and 256 senders
/// that was 147 instructions a frame spent on lines already in cache
/// (BENCHMARKS.md).
///
/// The results go into `found` (kept by the caller across its bursts, so
/// that a burst that looks nothing up costs one store, not a kilobyte
/// returned by value).
pub fn lookup_burst<'a, B: Buf>(
    bufs: &[B],
    from: Side,
    tables: &'a TableReaders,
    g: &Guard<'a>,
    found: &mut BurstLookups<'a>,
) {
    found.0 = None;
    if from != Side::Access || bufs.is_empty() {
        return;
    }
    // The same threshold for the inbound SA table (its table entries are
    // as small; the SA itself is behind a pointer and not prefetched).
    let senders = tables.sender_slots(g) > PREFETCH_MIN_SLOTS;
    let sas = tables.sa_in.slots(g) > PREFETCH_MIN_SLOTS;
    if !senders && !sas {
        return;
    }
    let l = found.0.insert(Senders {
        at: [Senders::NONE; crate::port::BURST],
        keys: [AddrKey::from_v4_bits(0); crate::port::BURST],
        found: [Found::NONE; crate::port::BURST],
    });
    let mut n = 0;
    let mut spis = [0u64; crate::port::BURST];
    let mut m = 0;
    for (at, b) in l.at.iter_mut().zip(bufs) {
        match peek_sender(b.data()) {
            Some(Peek::Udp(ip)) if senders => {
                l.keys[n] = ip;
                *at = n as u8;
                n += 1;
            }
            Some(Peek::Esp(spi)) if sas => {
                let h = tables.sa_in.hash_key(&spi);
                tables.sa_in.prefetch_home(g, h);
                spis[m] = h;
                m += 1;
            }
            Some(Peek::Udp(_) | Peek::Esp(_)) | None => {}
        }
    }
    for h in &spis[..m] {
        tables.sa_in.prefetch_entry(g, *h);
    }
    if n > 0 {
        tables.senders_by_ip(g, &l.keys[..n], &mut l.found[..n]);
    }
    if !senders {
        found.0 = None;
    }
}

/// Sender tables of this many slots or fewer are not looked up in by
/// [`lookup_burst`]: 8 192 slots of 8 bytes and at most 7 168 entries of
/// 32 bytes, under 300 KiB, within a core's L2 cache (512 KiB to 2 MiB on
/// current x86 server cores).
pub const PREFETCH_MIN_SLOTS: usize = 8 * 1024;

/// Run one received frame through the pipeline.
///
/// On [`Verdict::Forward`] the frame has been rewritten in place and goes out
/// of that side's port. On [`Verdict::Exception`] it is untouched.
#[inline]
pub fn process<B: Buf>(
    buf: &mut B,
    from: Side,
    ctx: &Context,
    tables: &TableReaders,
    g: &Guard<'_>,
    st: &mut PipeState,
) -> Verdict {
    process_with(buf, from, ctx, tables, g, st, FrameLookup::NONE)
}

/// [`process`] for frame `i` of a burst given to [`lookup_burst`], with
/// `lookups.frame(i)`: a sender found there is not looked up again. (A
/// lookup for another address than the one the parse finds, as for a
/// frame the peek misread, is ignored.) Always inlined, as `process` was
/// alone: out of line, with `process` calling it too, the demo's worker
/// ran 4.5 % slower.
#[inline(always)]
pub fn process_with<'a, B: Buf>(
    buf: &mut B,
    from: Side,
    ctx: &Context,
    tables: &'a TableReaders,
    g: &Guard<'a>,
    st: &mut PipeState,
    found: FrameLookup<'a>,
) -> Verdict {
    st.arrival_spi = None;
    let verify = verify_l4(ctx, buf);
    // The common frame (untagged IPv4/UDP) gets the checks below inlined
    // with what its parse implies known (IPv4, UDP, no ESP); any other
    // takes the general parse, out of line.
    let r = match wire::parse_ipv4_udp(buf.data(), verify) {
        Some(p) => classify(buf, from, ctx, tables, g, st, &p, found),
        None => process_general(buf, from, ctx, tables, g, st, found),
    };
    r.unwrap_or_else(Verdict::Drop)
}

/// Whether the received datagram's UDP checksum is verified here: when the
/// configuration asks for it and the NIC has not verified it (receive
/// offload).
#[inline(always)]
fn verify_l4<B: Buf>(ctx: &Context, buf: &B) -> bool {
    ctx.verify_udp_checksum && !buf.rx_l4_csum_good()
}

/// [`process_with`] for a frame the one-pass parse does not take. It
/// works out `verify` again (two loads) rather than take it: kept live
/// for this call, it cost a register move at each exit of the inlined
/// parse.
#[inline(never)]
fn process_general<'a, B: Buf>(
    buf: &mut B,
    from: Side,
    ctx: &Context,
    tables: &'a TableReaders,
    g: &Guard<'a>,
    st: &mut PipeState,
    found: FrameLookup<'a>,
) -> Result<Verdict, DropReason> {
    let verify = verify_l4(ctx, buf);
    // The one-pass parse has refused this frame already: `parse_frame`
    // would try it (and sum the datagram) again before the general parse.
    let p = wire::parse_frame_general(buf.data(), verify)?;
    classify(buf, from, ctx, tables, g, st, &p, found)
}

/// The rest of [`process_with`] once the frame is parsed.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn classify<'a, B: Buf>(
    buf: &mut B,
    from: Side,
    ctx: &Context,
    tables: &'a TableReaders,
    g: &Guard<'a>,
    st: &mut PipeState,
    outer: &wire::Parsed,
    found: FrameLookup<'a>,
) -> Result<Verdict, DropReason> {
    let me = ctx.side(from);
    // By reference: the ESP path below switches to the inner summary.
    let mut p = outer;
    // The frame is taken once and kept until the first edit (only the ESP
    // path edits before the scan, and takes it again).
    let mut frame = buf.data();
    if p.l3 == L3::Arp {
        let len =
            wire::arp_reply_in_place(buf.data_mut(), p, wire::MacAddr(me.mac), |ip| me.ipv4 == Some(ip))
                .ok_or(DropReason::NotForUs)?;
        buf.set_len(len).map_err(|_| DropReason::EthTruncated)?;
        return Ok(Verdict::Forward(from));
    }
    if p.l3 == L3::Ndp {
        // Neighbor Discovery, the IPv6 counterpart of ARP.
        buf.set_len(p.l2_len as usize + wire::ndp::ADVERT_L3_LEN)
            .map_err(|_| DropReason::NotForUs)?;
        let len =
            wire::ndp::advert_in_place(buf.data_mut(), p, wire::MacAddr(me.mac), |ip| me.ipv6 == Some(ip))
                .ok_or(DropReason::NotForUs)?;
        buf.set_len(len).map_err(|_| DropReason::NotForUs)?;
        return Ok(Verdict::Forward(from));
    }
    if !me.is_ours(p.dst) {
        return Err(DropReason::NotForUs);
    }
    if p.ttl == 0 {
        return Err(DropReason::TtlExpired);
    }
    let mut via_sa = None;
    let inner;
    if p.is_esp() {
        if from != Side::Access {
            return Err(DropReason::EspUnknownSpi);
        }
        if p.encap == wire::Encap::Esp {
            return Err(DropReason::EspUdpEncapUnsupported);
        }
        let e = tables.sa_in.get(g, &p.spi).ok_or(DropReason::EspUnknownSpi)?;
        // Verifies the ICV before anything else, then replay, padding, next
        // header and the inner ports against the SA.
        esp::decap(buf, p.l3_off as usize, |_| Some(&*e.sa))?;
        if e.take_first_use() {
            st.first_use = Some(e.set);
        }
        st.arrival_spi = Some(p.spi);
        via_sa = Some(e);
        // The inner checksum was covered by the ICV; it is still verified,
        // as the UE computed it.
        frame = buf.data();
        inner = wire::parse_frame(frame, ctx.verify_udp_checksum);
        p = match &inner {
            Ok(p) => p,
            Err(r) => return Err(*r),
        };
    } else if p.dst_port != me.sip_port {
        return Err(DropReason::NotSip);
    }
    if !p.is_udp() {
        return Err(if p.is_tcp() {
            DropReason::TcpSipUnsupported
        } else {
            DropReason::UnsupportedProtocol
        });
    }
    let payload = p.payload(frame);
    sipfast::scan_into(payload, &mut st.scan)?;
    let scan = &st.scan;
    let src = p.src_socket();
    match (from, scan.start) {
        (
            Side::Access,
            StartLine::Request {
                method: Method::Register,
                ..
            },
        ) => Ok(Verdict::Exception(ExceptionKind::Register)),
        (Side::Access, StartLine::Request { .. }) => {
            let target = BranchTarget {
                side: Side::Access,
                addr: src,
            };
            // Our branch token before anything else: its MAC is one AES
            // block, a long chain of dependent instructions that runs here
            // alongside the sender's lookup, the identity assertion and the
            // edits instead of after them (about 10 ns a request on the
            // bench machine: BENCHMARKS.md).
            let line = early_branch_line(ctx, payload, scan, target);
            let identity = match via_sa {
                Some(e) => e.identity.as_deref().ok_or(DropReason::TemporarySaNotRegister)?,
                None => {
                    let ip = AddrKey::new(src.ip());
                    match tables.sender_key_found(g, ip, src.port(), Transport::Udp, found.sender(&ip)) {
                        Some(b) => &*b.identity,
                        None => return Ok(Verdict::Exception(ExceptionKind::UnknownSender)),
                    }
                }
            };
            let mut pai: &[u8] = &[];
            if !scan.to_tag {
                // Initial or standalone request: TS 24.229 §5.2.6.3.
                let ppis = scan.ppi.iter().map(|l| l.value(payload));
                if let Some(impu) =
                    control::identity::assert_identity_values_with(ppis, identity, || random(&mut st.rng))
                {
                    pai = impu.pai_line();
                }
            }
            let asserted = !pai.is_empty();
            let dst = ctx.next_hop;
            // Our access-side Record-Route entry names the port the request
            // arrived at (the protected server port over IPsec).
            let rr = creates_dialog(scan).then_some(p.dst_port);
            forward_request(buf, p, scan, ctx, None, Side::Core, target, line, dst, pai, rr)?;
            if asserted {
                st.counters.asserted += 1;
            }
            Ok(Verdict::Forward(Side::Core))
        }
        (Side::Core, StartLine::Request { uri, .. }) => {
            let (ip, port) = uri_ip_port(&payload[uri.0..uri.1]).ok_or(DropReason::UnknownContact)?;
            if tables.contact(g, ip, port).is_none() {
                return Err(DropReason::UnknownContact);
            }
            let target = BranchTarget {
                side: Side::Core,
                addr: src,
            };
            let dst = SocketAddr::new(ip, port);
            // Toward a UE with IPsec, our access-side Record-Route entry names
            // the protected server port of its SA set (where the UE sends
            // its requests); toward an Annex N UE, our SIP port.
            let rr = creates_dialog(scan).then(|| {
                tables
                    .sa_out
                    .get(g, &(ip, port))
                    .map_or(ctx.access.sip_port, |e| e.server_port)
            });
            forward_request(
                buf,
                p,
                scan,
                ctx,
                Some((tables, g)),
                Side::Access,
                target,
                None,
                dst,
                &[],
                rr,
            )?;
            Ok(Verdict::Forward(Side::Access))
        }
        (_, StartLine::Response { .. }) => {
            forward_response(buf, p, scan, ctx, Some((tables, g)), from, &mut st.counters, true)
        }
    }
}

/// Proxy a message the control thread decided to pass on: a request (no
/// identity is asserted, and UE-supplied identity headers are still removed)
/// or a response (our Via is popped), as the fast path would.
pub fn proxy<B: Buf>(
    buf: &mut B,
    from: Side,
    ctx: &Context,
    tables: Option<(&TableReaders, &Guard<'_>)>,
    st: &mut PipeState,
) -> Verdict {
    let run = |buf: &mut B, st: &mut PipeState| -> Result<Verdict, DropReason> {
        let p = wire::parse_frame(buf.data(), false)?;
        if !p.is_udp() {
            return Err(DropReason::UnsupportedProtocol);
        }
        let scan = sipfast::scan(p.payload(buf.data()))?;
        match scan.start {
            StartLine::Request { .. } if from == Side::Access => {
                let target = BranchTarget {
                    side: Side::Access,
                    addr: p.src_socket(),
                };
                let rr = creates_dialog(&scan).then_some(p.dst_port);
                forward_request(
                    buf,
                    &p,
                    &scan,
                    ctx,
                    None,
                    Side::Core,
                    target,
                    None,
                    ctx.next_hop,
                    &[],
                    rr,
                )?;
                Ok(Verdict::Forward(Side::Core))
            }
            StartLine::Request { .. } => Err(DropReason::NoRoute),
            StartLine::Response { .. } => {
                forward_response(buf, &p, &scan, ctx, tables, from, &mut st.counters, false)
            }
        }
    };
    match run(buf, st) {
        Ok(v) => v,
        Err(r) => Verdict::Drop(r),
    }
}

/// Replace the SIP payload of the frame in `buf` with `msg` and address it
/// from our SIP port on side `out` to `dst`.
pub fn reply_in_place<B: Buf>(
    buf: &mut B,
    ctx: &Context,
    out: Side,
    dst: SocketAddr,
    msg: &[u8],
) -> Result<(), DropReason> {
    let o = ctx.side(out);
    let src = o.addr_for(dst.ip()).ok_or(DropReason::NoRoute)?;
    emit_datagram(buf, o, SocketAddr::new(src, o.sip_port), dst, msg, None)
}

/// Whether a request creates a dialog that later requests must route through
/// us: an initial (no To tag) INVITE, SUBSCRIBE or REFER.
fn creates_dialog(scan: &sipfast::Scan) -> bool {
    matches!(
        scan.start,
        StartLine::Request {
            method: Method::Invite | Method::Subscribe | Method::Refer,
            ..
        }
    ) && !scan.to_tag
}

/// The ranges (in the payload) to remove so that the Route entries at the
/// top of the route set that name us, at most two, are gone: whole lines,
/// or the leading elements of a line that lists several.
fn route_cuts(
    payload: &[u8],
    scan: &sipfast::Scan,
    ctx: &Context,
    cuts: &mut smallvec::SmallVec<[(usize, usize); 6]>,
) {
    let mut pops = 0;
    'lines: for l in &scan.routes {
        let v = l.value(payload);
        let mut off = 0;
        loop {
            let (elem, next) = sipfast::first_list_element(&v[off..]);
            if pops == 2 || !ctx.is_our_route(elem) {
                if off > 0 {
                    cuts.push((l.value, l.value + off));
                }
                break 'lines;
            }
            pops += 1;
            match next {
                Some(n) => off += n,
                None => {
                    cuts.push((l.start, l.end));
                    continue 'lines;
                }
            }
        }
    }
}

/// The branch token of our Via on `side`, if the top Via is ours.
fn our_branch<'a>(payload: &'a [u8], scan: &sipfast::Scan) -> Option<(&'a [u8], bool)> {
    let top = scan.top_via?;
    let (first, more) = sipfast::first_via_value(top.value(payload));
    let branch = sipfast::via_param(first, b"branch")?;
    Some((branch.strip_prefix(BRANCH_MAGIC.as_bytes())?, more))
}

#[allow(clippy::too_many_arguments)]
fn forward_response<B: Buf>(
    buf: &mut B,
    p: &wire::Parsed,
    scan: &sipfast::Scan,
    ctx: &Context,
    tables: Option<(&TableReaders, &Guard<'_>)>,
    from: Side,
    counters: &mut LocalCounters,
    register_exception: bool,
) -> Result<Verdict, DropReason> {
    let payload = p.payload(buf.data());
    let (token, more) = our_branch(payload, scan).ok_or(DropReason::NoRoute)?;
    let t = decode_branch(ctx, token).ok_or(DropReason::NoRoute)?;
    if t.side == from {
        return Err(DropReason::NoRoute);
    }
    let Some(top) = scan.top_via else {
        return Err(DropReason::NoRoute);
    };
    // Remove our Via: the whole line, or only its first element when the
    // line carries more.
    let cut = if more {
        let v = top.value(payload);
        let comma = memchr::memchr(b',', v).ok_or(DropReason::NoRoute)?;
        let mut e = top.value + comma + 1;
        while e < top.value_end && matches!(payload[e], b' ' | b'\t' | b'\r' | b'\n') {
            e += 1;
        }
        (top.value, e)
    } else {
        (top.start, top.end)
    };
    if let StartLine::Response { code } = scan.start {
        if register_exception && from == Side::Core && code >= 200 && is_register_response(payload, scan) {
            return Ok(Verdict::Exception(ExceptionKind::RegisterResponse));
        }
    }
    let off = p.payload_off as usize;
    let mut removed = 0;
    let mut msg_len = scan.msg_len;
    buf.set_len(off + msg_len).map_err(|_| DropReason::SipMalformed)?;
    buf.remove(off + cut.0, cut.1 - cut.0)
        .map_err(|_| DropReason::SipMalformed)?;
    removed += cut.1 - cut.0;
    msg_len -= removed;
    emit_toward(buf, p, ctx, tables, t.side, t.addr, msg_len)?;
    counters.responses += 1;
    Ok(Verdict::Forward(t.side))
}

fn is_register_response(payload: &[u8], scan: &sipfast::Scan) -> bool {
    // The CSeq method decides (RFC 3261 §8.1.3.1 matches responses by it).
    scan.cseq.is_some_and(|l| {
        let v = l.value(payload);
        v.ends_with(b"REGISTER") && v.len() > 8 && matches!(v[v.len() - 9], b' ' | b'\t')
    })
}

// Always inlined (into `classify`, once per direction, and `proxy`): each
// copy knows its side, its tables argument and the parse summary's fields
// (no summary built in memory), and there is no call, prologue or
// argument shuffle per forwarded request. The helpers it calls on every
// request (`nonce_of`, `cut_payload`, `Context::mac_block`, `Buf::set_len`,
// `Buf::remove`) are always inlined too: with this body inlined, LLVM kept
// them out of line.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn forward_request<B: Buf>(
    buf: &mut B,
    p: &wire::Parsed,
    scan: &sipfast::Scan,
    ctx: &Context,
    tables: Option<(&TableReaders, &Guard<'_>)>,
    out: Side,
    back: BranchTarget,
    line: Option<[u8; 32]>,
    dst: SocketAddr,
    pai: &[u8],
    record_route: Option<u16>,
) -> Result<(), DropReason> {
    let off = p.payload_off as usize;
    let out_addrs = ctx.side(out);
    let nonce = {
        // The payload, taken once for both steps below.
        let payload = buf
            .data_mut()
            .get_mut(p.payload_range())
            .ok_or(DropReason::SipMalformed)?;
        // Max-Forwards (RFC 3261 §16.6 step 3), in place, same width.
        if let Some(mf) = scan.max_forwards {
            let v = payload
                .get_mut(mf.value..mf.value_end)
                .ok_or(DropReason::SipMalformed)?;
            if !sipfast::decrement_max_forwards(v) {
                return Err(DropReason::TooManyHops);
            }
        }
        // (The nonce is not needed when the caller built the IPv4 branch
        // line.)
        if line.is_some() {
            0
        } else {
            via_nonce(ctx, payload, scan)
        }
    };
    // Edits from the back: remove every UE-supplied identity header.
    buf.set_len(off + scan.msg_len)
        .map_err(|_| DropReason::SipMalformed)?;
    let mut msg_len = scan.msg_len;
    let ids = if out == Side::Core {
        scan.ppi.len() + scan.pai.len()
    } else {
        0
    };
    if scan.routes.is_empty() && ids <= 1 {
        // The common case: no Route, at most one identity line to remove.
        // One identity line: the P-Preferred-Identity's if there is one,
        // else the P-Asserted-Identity's (one branch, no select of both).
        if ids == 1 {
            let lines = if scan.ppi.len() == 1 { &scan.ppi } else { &scan.pai };
            if let Some(l) = lines.first() {
                msg_len -= cut_payload(buf, off, l.start, l.end)?;
            }
        }
    } else {
        let mut cuts: smallvec::SmallVec<[(usize, usize); 6]> = smallvec::SmallVec::new();
        if out == Side::Core {
            for l in scan.ppi.iter().chain(&scan.pai) {
                cuts.push((l.start, l.end));
            }
        }
        // Loose routing (RFC 3261 §16.4): Route entries at the top of the
        // route set that name us (one per side when we record-routed twice)
        // are ours to remove.
        if !scan.routes.is_empty() {
            route_cuts(buf.data().get(off..).unwrap_or_default(), scan, ctx, &mut cuts);
        }
        if cuts.len() > 1 {
            cuts.sort_unstable_by_key(|c| core::cmp::Reverse(c.0));
        }
        for (s, e) in cuts {
            msg_len -= cut_payload(buf, off, s, e)?;
        }
    }
    // Record-Route (RFC 3261 §16.6 step 4) for a dialog-creating request,
    // once per side (RFC 5658): the entry the next hop uses first, then the
    // one the previous hop uses. Only the lengths here; the lines are
    // written into the gap below.
    let mut rr = None;
    let mut rr_len = 0;
    if let Some(access_port) = record_route {
        let (first, second) = match out {
            Side::Core => (
                (&ctx.core, dst.ip(), ctx.core.sip_port),
                (&ctx.access, p.dst, access_port),
            ),
            Side::Access => (
                (&ctx.access, dst.ip(), access_port),
                (&ctx.core, p.dst, ctx.core.sip_port),
            ),
        };
        for (side, ip, port) in [first, second] {
            rr_len += side.record_route_len(ip, port).ok_or(DropReason::NoRoute)?;
        }
        rr = Some([first, second]);
    }
    // Insert our Via (and P-Asserted-Identity) right after the start line.
    let via_prefix = if dst.is_ipv6() {
        &out_addrs.via_v6
    } else {
        &out_addrs.via_v4
    };
    if via_prefix.is_empty() {
        return Err(DropReason::NoRoute);
    }
    // The token and the CRLF that ends our Via line: for an IPv4 target
    // (the usual case) built here, in registers, and stored into the gap
    // below; otherwise written there out of line. 30 or 54 digits.
    let (line_v4, tl) = match (line, back.addr) {
        (Some(l), _) => (Some(l), 32),
        (None, SocketAddr::V4(a)) => (Some(branch_line_v4(ctx, back.side, a, nonce)), 32),
        (None, SocketAddr::V6(_)) => (None, 56),
    };
    let ins = via_prefix.len() + tl + rr_len + pai.len();
    let at = off + scan.headers_start;
    if at > buf.len() {
        return Err(DropReason::SipMalformed);
    }
    // Headroom that must stay free after the gap is opened at the front:
    // what `emit_toward` prepends when the new headers are longer than the
    // old ones, and toward a UE room for an ESP header (possibly added
    // there).
    let reserve = match out {
        Side::Core => out_addrs
            .template(dst.ip())
            .map_or(0, |t| t.header_len().saturating_sub(off)),
        Side::Access => 64,
    };
    if buf.headroom() >= ins + reserve {
        // Open the gap by moving the start line into the headroom; the
        // headers in front of the payload are re-emitted below, so they
        // need not move. The payload offset is unchanged relative to the new
        // frame start, so `at` still points at the gap.
        buf.prepend(ins).map_err(|_| DropReason::SipTooLarge)?;
        move_short(buf.data_mut(), off + ins..at + ins, off);
    } else {
        buf.insert_back(at, ins).map_err(|_| DropReason::SipTooLarge)?;
    }
    let gap = buf
        .data_mut()
        .get_mut(at..at + ins)
        .ok_or(DropReason::SipTooLarge)?;
    // The parts add up to `ins` by construction.
    let (via, rest) = gap.split_at_mut(via_prefix.len());
    copy_short(via, via_prefix);
    let (t, rest) = rest.split_at_mut(tl);
    match (line_v4, t.first_chunk_mut::<32>()) {
        (Some(line), Some(d)) => *d = line,
        _ => {
            if !write_branch_line(ctx, back, nonce, t) {
                return Err(DropReason::SipTooLarge);
            }
        }
    }
    let (r, rest) = rest.split_at_mut(rr_len);
    if let Some(pair) = rr {
        let mut w = 0;
        for (side, ip, port) in pair {
            w += side
                .write_record_route(ip, port, r.get_mut(w..).unwrap_or_default())
                .ok_or(DropReason::NoRoute)?;
        }
    }
    copy_short(rest, pai);
    msg_len += ins;
    emit_toward(buf, p, ctx, tables, out, dst, msg_len)
}

/// `dst.copy_from_slice(src)` for slices of equal length, without a call
/// to `memcpy` when they are at most 64 bytes long: two fixed-size copies
/// that overlap in the middle. Panics, as `copy_from_slice` does, when the
/// lengths differ (callers split `dst` to `src`'s length).
#[inline(always)]
fn copy_short(dst: &mut [u8], src: &[u8]) {
    #[inline(always)]
    fn ends<const K: usize>(dst: &mut [u8], src: &[u8]) -> bool {
        if dst.len() != src.len() {
            return false;
        }
        match (dst.first_chunk_mut::<K>(), src.first_chunk::<K>()) {
            (Some(d), Some(s)) => *d = *s,
            _ => return false,
        }
        match (dst.last_chunk_mut::<K>(), src.last_chunk::<K>()) {
            (Some(d), Some(s)) => *d = *s,
            _ => return false,
        }
        true
    }
    let done = match src.len() {
        32..=64 => ends::<32>(dst, src),
        16..=31 => ends::<16>(dst, src),
        8..=15 => ends::<8>(dst, src),
        _ => false,
    };
    if !done {
        dst.copy_from_slice(src);
    }
}

/// `d.copy_within(src, to)` without a call when the range is 8 to 64
/// bytes long (a start line usually is): the bytes are read into registers
/// whole (two fixed-size pieces that overlap in the middle) before any is
/// written, so the ranges may overlap. Panics, as `copy_within` does, when
/// either range is out of bounds.
#[inline(always)]
fn move_short(d: &mut [u8], src: core::ops::Range<usize>, to: usize) {
    #[inline(always)]
    fn ends<const K: usize>(d: &mut [u8], src: &core::ops::Range<usize>, to: usize) -> bool {
        let n = src.end.wrapping_sub(src.start);
        // Both ranges checked first, then every byte read, then written.
        let (Some(s), Some(_)) = (d.get(src.clone()), d.get(to..to.wrapping_add(n))) else {
            return false;
        };
        let (Some(a), Some(b)) = (s.first_chunk::<K>().copied(), s.last_chunk::<K>().copied()) else {
            return false;
        };
        let Some(t) = d.get_mut(to..to + n) else {
            return false;
        };
        match t.first_chunk_mut::<K>() {
            Some(x) => *x = a,
            None => return false,
        }
        // `t` is as long as `s`, so this piece fits too.
        if let Some(x) = t.last_chunk_mut::<K>() {
            *x = b;
        }
        true
    }
    // The 32-byte pieces as four 16-byte words, held in registers (as
    // arrays, LLVM copied the last piece through the stack).
    #[inline(always)]
    fn ends32(d: &mut [u8], src: &core::ops::Range<usize>, to: usize) -> bool {
        let n = src.end.wrapping_sub(src.start);
        let (Some(s), Some(_)) = (d.get(src.clone()), d.get(to..to.wrapping_add(n))) else {
            return false;
        };
        let word = |c: Option<&[u8; 16]>| c.map(|c| u128::from_ne_bytes(*c));
        let a = (
            word(s.first_chunk::<16>()),
            word(s.get(16..).and_then(|x| x.first_chunk::<16>())),
        );
        let b = (
            word(s.last_chunk::<16>()),
            word(s.get(..n.wrapping_sub(16)).and_then(|x| x.last_chunk::<16>())),
        );
        let ((Some(a0), Some(a1)), (Some(b1), Some(b0))) = (a, b) else {
            return false;
        };
        let Some(t) = d.get_mut(to..to + n) else {
            return false;
        };
        let mut put = |at: usize, v: u128| {
            if let Some(x) = t.get_mut(at..).and_then(|x| x.first_chunk_mut::<16>()) {
                *x = v.to_ne_bytes();
            }
        };
        put(0, a0);
        put(16, a1);
        put(n - 32, b0);
        put(n - 16, b1);
        true
    }
    let done = match src.end.wrapping_sub(src.start) {
        32..=64 => ends32(d, &src, to),
        16..=31 => ends::<16>(d, &src, to),
        8..=15 => ends::<8>(d, &src, to),
        _ => false,
    };
    if !done {
        d.copy_within(src, to);
    }
}

/// Remove bytes `s..e` of the payload that starts at `off` in `buf`, by
/// moving whichever side of the cut is shorter: the tail back, or the
/// payload in front of the cut forward (the frame then starts `e - s` bytes
/// later, so offsets from the frame start keep their meaning). The bytes in
/// front of the payload are left unspecified: the caller re-emits them.
/// Returns the number of bytes removed.
#[inline(always)]
fn cut_payload<B: Buf>(buf: &mut B, off: usize, s: usize, e: usize) -> Result<usize, DropReason> {
    let len = buf.len();
    let n = e.checked_sub(s).ok_or(DropReason::SipMalformed)?;
    if off + e > len {
        return Err(DropReason::SipMalformed);
    }
    if s < len - (off + e) {
        buf.data_mut().copy_within(off..off + s, off + n);
        buf.adj(n).map_err(|_| DropReason::SipMalformed)?;
    } else {
        buf.remove(off + s, n).map_err(|_| DropReason::SipMalformed)?;
    }
    Ok(n)
}

/// Re-emit Ethernet/IP/UDP headers in front of the `msg_len`-byte payload
/// sitting at `p.payload_off`, from our address on side `out` to `dst`.
/// Toward a UE port that has an outbound SA, the datagram leaves from our
/// protected port and is ESP-encapsulated.
// Always inlined (into its two callers): out of line it cost a prologue,
// an epilogue and the argument shuffle on every forwarded datagram.
#[inline(always)]
fn emit_toward<B: Buf>(
    buf: &mut B,
    p: &wire::Parsed,
    ctx: &Context,
    tables: Option<(&TableReaders, &Guard<'_>)>,
    out: Side,
    dst: SocketAddr,
    msg_len: usize,
) -> Result<(), DropReason> {
    let o = ctx.side(out);
    let sa = match (out, tables) {
        (Side::Access, Some((t, g))) => t.sa_out.get(g, &(dst.ip(), dst.port())),
        _ => None,
    };
    let h = o.template(dst.ip()).ok_or(DropReason::NoRoute)?;
    let src_port = sa.map_or(o.sip_port, |e| e.src_port);
    let hl = h.header_len();
    let l3 = wire::ethernet::HEADER_LEN;
    let esp_overhead = sa.map_or(0, |e| e.sa.overhead(msg_len + 8));
    if hl + msg_len + esp_overhead - l3 > o.mtu {
        return Err(DropReason::SipTooLarge);
    }
    // The payload moves to just behind the new headers. Only a payload
    // offset beyond the frame (TooShort) is malformed; anything else is
    // a lack of room.
    buf.reframe(p.payload_off as usize, hl, hl + msg_len)
        .map_err(|e| match e {
            BufError::TooShort => DropReason::SipMalformed,
            _ => DropReason::SipTooLarge,
        })?;
    match sa {
        // A datagram that leaves in clear may leave its checksum to the NIC;
        // one that gets ESP-encapsulated needs it before encryption.
        None if ctx.tx_udp_csum_offload && buf.request_tx_udp_csum(l3, h.ip_header_len(), dst.is_ipv4()) => {
            h.emit(buf.data_mut(), dst, src_port, msg_len, L4Csum::Offload)
        }
        _ => h.emit(buf.data_mut(), dst, src_port, msg_len, L4Csum::Software),
    }
    .map_err(|_| DropReason::SipTooLarge)?;
    if let Some(e) = sa {
        esp::encap(buf, l3, &e.sa)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::buf::{BufError, PacketBuf};
    use crate::testgen::PipelineFixture;

    /// A buffer whose "NIC" takes UDP checksum requests, as a DPDK mbuf on an
    /// offloading queue does.
    struct OffloadBuf {
        inner: PacketBuf,
        asked: Option<(usize, usize, bool)>,
    }

    impl Buf for OffloadBuf {
        fn data(&self) -> &[u8] {
            self.inner.data()
        }
        fn data_mut(&mut self) -> &mut [u8] {
            self.inner.data_mut()
        }
        fn headroom(&self) -> usize {
            self.inner.headroom()
        }
        fn tailroom(&self) -> usize {
            self.inner.tailroom()
        }
        fn prepend(&mut self, n: usize) -> Result<(), BufError> {
            self.inner.prepend(n)
        }
        fn adj(&mut self, n: usize) -> Result<(), BufError> {
            self.inner.adj(n)
        }
        fn append(&mut self, n: usize) -> Result<(), BufError> {
            self.inner.append(n)
        }
        fn trim(&mut self, n: usize) -> Result<(), BufError> {
            self.inner.trim(n)
        }
        fn request_tx_udp_csum(&mut self, l2_len: usize, l3_len: usize, ipv4: bool) -> bool {
            self.asked = Some((l2_len, l3_len, ipv4));
            true
        }
    }

    /// A buffer with too little headroom for a request's insertions to
    /// go in front, so that the tail moves instead.
    struct TightBuf(PacketBuf);

    /// Headroom [`TightBuf`] hides.
    const HIDDEN: usize = crate::buf::HEADROOM - 8;

    impl Buf for TightBuf {
        fn data(&self) -> &[u8] {
            self.0.data()
        }
        fn data_mut(&mut self) -> &mut [u8] {
            self.0.data_mut()
        }
        fn headroom(&self) -> usize {
            self.0.headroom().saturating_sub(HIDDEN)
        }
        fn tailroom(&self) -> usize {
            self.0.tailroom()
        }
        fn prepend(&mut self, n: usize) -> Result<(), BufError> {
            if n > self.headroom() {
                return Err(BufError::NoHeadroom);
            }
            self.0.prepend(n)
        }
        fn adj(&mut self, n: usize) -> Result<(), BufError> {
            self.0.adj(n)
        }
        fn append(&mut self, n: usize) -> Result<(), BufError> {
            self.0.append(n)
        }
        fn trim(&mut self, n: usize) -> Result<(), BufError> {
            self.0.trim(n)
        }
    }

    fn forward(f: &PipelineFixture, ctx: &Context, buf: &mut impl Buf) -> Verdict {
        let reader = f.domain.register().expect("reader");
        let mut st = PipeState::new(7);
        let g = reader.guard();
        process(buf, Side::Access, ctx, &f.readers, &g, &mut st)
    }

    /// Every combination of edits (identity lines of odd and even length
    /// removed, our Route entries popped, Record-Route added, bytes past
    /// Content-Length dropped, Max-Forwards rewritten) leaves a datagram
    /// whose checksums verify.
    #[test]
    fn checksums_verify_after_every_kind_of_edit() {
        let f = PipelineFixture::new(4, 4, 400);
        let ue: SocketAddr = SocketAddr::new(crate::demo::ue_addr(0).into(), 5060);
        let pcscf = SocketAddr::new(f.cfg.access.ipv4.expect("v4").into(), 5060);
        let core = f.cfg.core.ipv4.expect("core v4");
        let mut n = 0;
        for method in ["MESSAGE", "INVITE"] {
            for ppi in [
                "",
                "P-Preferred-Identity: <tel:+15550000000>\r\n",
                "P-Preferred-Identity: <tel:+155500000000>\r\n",
            ] {
                for pai in [
                    "",
                    "P-Asserted-Identity: <sip:x@y>\r\n",
                    "P-Asserted-Identity: <sip:xy@y>\r\nP-Asserted-Identity: <tel:1>\r\n",
                ] {
                    for route in [
                        String::new(),
                        format!("Route: <sip:{pcscf};lr>\r\n"),
                        format!("Route: <sip:{core}:5060;lr>, <sip:{pcscf};lr>,<sip:s.example;lr>\r\n"),
                    ] {
                        for (body, extra) in [("", ""), ("hello", ""), ("hell", "junk"), ("hello", "x")] {
                            let msg = format!(
                                "{method} sip:bob@ims.example SIP/2.0\r\nVia: SIP/2.0/UDP {ue};branch=z9hG4bK{n}\r\n\
                                 Max-Forwards: 10\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:bob@ims.example>\r\n\
                                 Call-ID: c{n}\r\nCSeq: 1 {method}\r\n{route}{ppi}{pai}\
                                 Content-Length: {}\r\n\r\n{body}{extra}",
                                body.len()
                            );
                            n += 1;
                            let frame = crate::testgen::udp_frame(
                                f.cfg.access.gateway_mac,
                                f.cfg.access.mac,
                                ue,
                                pcscf,
                                msg.as_bytes(),
                            );
                            let mut b = PacketBuf::new();
                            assert!(b.fill(&frame));
                            let v = forward(&f, &f.ctx, &mut b);
                            assert_eq!(v, Verdict::Forward(Side::Core), "{msg}");
                            // The same frame out of the path that moves the
                            // tail to open the gap (no room in front).
                            let mut t = TightBuf(PacketBuf::new());
                            assert!(t.0.fill(&frame));
                            assert_eq!(forward(&f, &f.ctx, &mut t), v, "tight: {msg}");
                            assert_eq!(t.data(), b.data(), "tight headroom changed the frame:\n{msg}");
                            let out = wire::parse_frame(b.data(), true);
                            assert!(out.is_ok(), "{:?} for\n{msg}", out.err());
                            // The content: the message with exactly the
                            // expected edits, whichever side of each cut moved.
                            let got = out.map(|p| p.payload(b.data()).to_vec()).unwrap_or_default();
                            let got = String::from_utf8(got).expect("utf-8");
                            let (start, rest) = got.split_once("\r\n").expect("start line");
                            assert_eq!(start, format!("{method} sip:bob@ims.example SIP/2.0"));
                            let (via, mut rest) = rest.split_once("\r\n").expect("our Via");
                            assert!(
                                via.starts_with("Via: SIP/2.0/UDP ") && via.contains(";branch=z9hG4bKpdp")
                            );
                            for ours in [
                                "Record-Route: <sip:",
                                "Record-Route: <sip:",
                                "P-Asserted-Identity: ",
                            ] {
                                if rest.starts_with(ours) {
                                    rest = rest.split_once("\r\n").expect("line").1;
                                }
                            }
                            let route_left = if route.contains("s.example") {
                                "Route: <sip:s.example;lr>\r\n"
                            } else {
                                ""
                            };
                            let want = format!(
                                "Via: SIP/2.0/UDP {ue};branch=z9hG4bK{}\r\n\
                                 Max-Forwards: 09\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:bob@ims.example>\r\n\
                                 Call-ID: c{}\r\nCSeq: 1 {method}\r\n{route_left}\
                                 Content-Length: {}\r\n\r\n{body}",
                                n - 1,
                                n - 1,
                                body.len()
                            );
                            assert_eq!(rest, want, "for\n{msg}");
                        }
                    }
                }
            }
        }
        assert_eq!(n, 216);
    }

    /// A datagram whose UDP checksum does not verify is dropped as
    /// `UdpBadChecksum`, whatever else the frame would have led to: a
    /// request with or without an identity line to cut (of odd and of even
    /// length), with bytes past Content-Length, a REGISTER, a request from
    /// an unknown sender, or one to another port. Pins the verdict for
    /// every place a corruption can sit relative to the edits a forwarded
    /// request gets (start line, cut line, Max-Forwards, body, bytes past
    /// Content-Length, the checksum field itself), so that a change to when
    /// or how the checksum is verified keeps it.
    #[test]
    fn corrupt_udp_checksums_are_dropped_before_anything_else() {
        let f = PipelineFixture::new(4, 4, 400);
        let ue: SocketAddr = SocketAddr::new(crate::demo::ue_addr(0).into(), 5060);
        let stranger: SocketAddr = SocketAddr::new(crate::demo::ue_addr(100).into(), 5060);
        let pcscf = SocketAddr::new(f.cfg.access.ipv4.expect("v4").into(), 5060);
        let mut n = 0;
        for method in ["MESSAGE", "REGISTER"] {
            for ppi in [
                "",
                "P-Preferred-Identity: <tel:+15550000000>\r\n",
                "P-Preferred-Identity: <tel:+155500000000>\r\n",
            ] {
                for extra in ["", "junk", "x"] {
                    for (from, to) in [
                        (ue, pcscf),
                        (stranger, pcscf),
                        (ue, SocketAddr::new(pcscf.ip(), 5070)),
                    ] {
                        let msg = format!(
                            "{method} sip:bob@ims.example SIP/2.0\r\nVia: SIP/2.0/UDP {from};branch=z9hG4bK{n}\r\n\
                             Max-Forwards: 10\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:bob@ims.example>\r\n\
                             Call-ID: c{n}\r\nCSeq: 1 {method}\r\n{ppi}Content-Length: 5\r\n\r\nhello{extra}"
                        );
                        n += 1;
                        let frame = crate::testgen::udp_frame(
                            f.cfg.access.gateway_mac,
                            f.cfg.access.mac,
                            from,
                            to,
                            msg.as_bytes(),
                        );
                        let mut b = PacketBuf::new();
                        assert!(b.fill(&frame));
                        let good = forward(&f, &f.ctx, &mut b);
                        assert!(
                            !matches!(good, Verdict::Drop(DropReason::UdpBadChecksum)),
                            "intact frame dropped for its checksum:\n{msg}"
                        );
                        let p = wire::parse_frame(&frame, true).expect("intact frame parses");
                        let pl = p.payload(&frame);
                        let at = |needle: &str| {
                            pl.windows(needle.len())
                                .position(|w| w == needle.as_bytes())
                                .map(|i| p.payload_off as usize + i)
                        };
                        // Offsets in the frame to corrupt: the checksum field,
                        // the start line, Max-Forwards' digits, the body, the
                        // identity line and the bytes past Content-Length.
                        let mut spots = vec![
                            p.l4_off as usize + 6,
                            p.payload_off as usize,
                            p.payload_off as usize + 1,
                        ];
                        spots.extend(at("10\r\n"));
                        spots.extend(at("hello").map(|i| i + 1));
                        spots.extend(at("tel:+").map(|i| i + 3));
                        if !extra.is_empty() {
                            spots.push(frame.len() - 1);
                        }
                        for spot in spots {
                            let mut bad = frame.clone();
                            bad[spot] ^= 0x20;
                            let mut b = PacketBuf::new();
                            assert!(b.fill(&bad));
                            assert_eq!(
                                forward(&f, &f.ctx, &mut b),
                                Verdict::Drop(DropReason::UdpBadChecksum),
                                "byte {spot} flipped in\n{msg}"
                            );
                        }
                    }
                }
            }
        }
        assert_eq!(n, 54);
    }

    /// `copy_short` writes exactly what `copy_from_slice` does, at every
    /// length around its size classes, and nothing outside `dst`.
    #[test]
    fn copy_short_matches_copy_from_slice() {
        let src: Vec<u8> = (0..100u8).map(|i| i.wrapping_mul(37) ^ 0x5a).collect();
        for len in 0..=100 {
            for at in [0usize, 1, 7] {
                let mut want = [0xeeu8; 128];
                let mut got = want;
                want[at..at + len].copy_from_slice(&src[..len]);
                copy_short(&mut got[at..at + len], &src[..len]);
                assert_eq!(got, want, "len {len} at {at}");
            }
        }
    }

    /// `nonce_of` (straight-line up to 8 whole words) gives what the plain
    /// word loop gives, at every length around and past the short form,
    /// at several offsets and seeds.
    #[test]
    fn nonce_of_matches_the_word_loop() {
        fn reference(seed: u64, v: &[u8]) -> u32 {
            const K: u64 = 0x9e37_79b9_7f4a_7c15;
            let word = |c: &[u8]| u64::from_le_bytes(c.try_into().expect("8 bytes"));
            let mut h = (seed ^ v.len() as u64).wrapping_mul(K);
            let mut chunks = v.chunks_exact(8);
            for c in &mut chunks {
                h = (h ^ word(c)).wrapping_mul(K).rotate_left(29);
            }
            let tail = if v.len() >= 8 {
                word(&v[v.len() - 8..])
            } else {
                chunks
                    .remainder()
                    .iter()
                    .rev()
                    .fold(0u64, |a, &b| a << 8 | u64::from(b))
            };
            h = (h ^ tail).wrapping_mul(K);
            (h ^ h >> 32) as u32
        }
        let bytes: Vec<u8> = (0..200u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        for seed in [0, 1, 0x0123_4567_89ab_cdef, u64::MAX] {
            for at in [0usize, 1, 3, 8] {
                for len in 0..=150 {
                    let v = &bytes[at..at + len];
                    assert_eq!(
                        nonce_of(seed, v),
                        reference(seed, v),
                        "seed {seed:#x} at {at} len {len}"
                    );
                }
            }
        }
    }

    #[test]
    fn burst_lookup_reads_sender_keys_and_never_panics() {
        // A table small enough to skip the burst lookup, and one large
        // enough to take it.
        for (ues, looked_up) in [(4, false), (20_000, true)] {
            let f = PipelineFixture::new(ues, 4, 400);
            // A valid frame gives its UDP sender.
            let p = wire::parse_frame(&f.frames[0], false).expect("frame");
            match peek_sender(&f.frames[0]) {
                Some(Peek::Udp(ip)) => assert_eq!(ip, AddrKey::new(p.src)),
                _ => panic!("no UDP sender peeked"),
            }
            // Every prefix of it, and garbage, is only a missed lookup.
            let mut bufs = Vec::new();
            for n in 0..f.frames[0].len().min(80) {
                let mut b = PacketBuf::new();
                assert!(b.fill(&f.frames[0][..n]));
                bufs.push(b);
            }
            let reader = f.domain.register().expect("reader");
            let g = reader.guard();
            assert_eq!(
                f.readers.sender_slots(&g) > PREFETCH_MIN_SLOTS,
                looked_up,
                "{ues} UEs"
            );
            for chunk in bufs.chunks(crate::port::BURST) {
                lookup_burst(chunk, Side::Access, &f.readers, &g, &mut BurstLookups::none());
            }
            let mut junk = PacketBuf::new();
            assert!(junk.fill(&[0x08, 0x00].repeat(40)));
            lookup_burst(
                std::slice::from_ref(&junk),
                Side::Access,
                &f.readers,
                &g,
                &mut BurstLookups::none(),
            );
            // More frames than a burst: the ones past it are not looked up.
            let whole: Vec<PacketBuf> = (0..crate::port::BURST + 3)
                .map(|i| {
                    let mut b = PacketBuf::new();
                    assert!(b.fill(&f.frames[i % f.frames.len()]));
                    b
                })
                .collect();
            let mut found = BurstLookups::none();
            lookup_burst(&whole, Side::Access, &f.readers, &g, &mut found);
            for (i, b) in whole.iter().enumerate() {
                let fr = found.frame(i);
                let p = wire::parse_frame(b.data(), false).expect("frame");
                let key = AddrKey::new(p.src);
                assert_eq!(fr.0.is_some(), looked_up && i < crate::port::BURST, "frame {i}");
                // Completed, what the burst's lookup began finds what a
                // lookup of that address alone finds: the same entry.
                let one = f.readers.sender(&g, p.src, 0, Transport::Udp).expect("bound");
                let bulk = f
                    .readers
                    .by_ip
                    .resolve_compact(&g, fr.sender(&key), &key)
                    .expect("bound");
                assert!(std::ptr::eq(bulk, one), "frame {i}");
            }
            // Frames from the core side are never looked up.
            lookup_burst(&whole, Side::Core, &f.readers, &g, &mut found);
            assert!(found.0.is_none());
        }
    }

    /// `process_with` after `lookup_burst` gives what `process` gives, frame
    /// for frame and byte for byte: bound and unbound senders, an address
    /// bound by port as well (that binding wins over the burst's lookup by
    /// address), IPv6, truncated frames and garbage, with a table small
    /// enough to skip the burst lookup and one large enough to take it.
    #[test]
    fn process_with_burst_lookups_matches_process() {
        use control::types::{BindingKey, Identity};
        for ues in [4, 20_000] {
            let mut f = PipelineFixture::new(ues, 8, 400);
            let pcscf: SocketAddr = SocketAddr::new(IpAddr::V4(f.cfg.access.ipv4.expect("v4")), 5060);
            let (gw, me) = (f.cfg.access.gateway_mac, f.cfg.access.mac);
            // UE 0 is bound by port too, to another identity.
            let ue0 = SocketAddr::new(IpAddr::V4(crate::demo::ue_addr(0)), 5060);
            f.writers.bind(
                BindingKey::IpPort(ue0.ip(), 5060, Transport::Udp),
                Arc::new(Identity::new("other@ims.example", &["sip:other@ims.example"])),
            );
            f.writers.publish();
            let mut frames = f.frames.clone();
            for from in [
                SocketAddr::new(IpAddr::V4(crate::demo::ue_addr(ues + 5)), 5060),
                "[2001:db8::5]:5060".parse().expect("addr"),
            ] {
                let msg = crate::testgen::message(from, pcscf, None, 7, 400);
                frames.push(crate::testgen::udp_frame(gw, me, from, pcscf, &msg));
            }
            frames.push(f.frames[1][..60].to_vec());
            frames.push([0x08, 0x00].repeat(40));
            let reader = f.domain.register().expect("reader");
            let g = reader.guard();
            let mut forwarded = 0;
            for chunk in frames.chunks(crate::port::BURST) {
                let fill = |fr: &Vec<u8>| {
                    let mut b = PacketBuf::new();
                    assert!(b.fill(fr));
                    b
                };
                let mut one: Vec<PacketBuf> = chunk.iter().map(fill).collect();
                let mut burst: Vec<PacketBuf> = chunk.iter().map(fill).collect();
                let (mut st1, mut st2) = (PipeState::new(9), PipeState::new(9));
                let mut found = BurstLookups::none();
                lookup_burst(&burst, Side::Access, &f.readers, &g, &mut found);
                for (i, (a, b)) in one.iter_mut().zip(burst.iter_mut()).enumerate() {
                    let va = process(a, Side::Access, &f.ctx, &f.readers, &g, &mut st1);
                    let vb = process_with(b, Side::Access, &f.ctx, &f.readers, &g, &mut st2, found.frame(i));
                    assert_eq!(va, vb, "{ues} UEs, frame {i}");
                    assert_eq!(a.data(), b.data(), "{ues} UEs, frame {i}");
                    forwarded += matches!(va, Verdict::Forward(Side::Core)) as usize;
                }
            }
            // The bound senders' frames went through (not a test of drops).
            assert_eq!(forwarded, f.frames.len(), "{ues} UEs");
        }
    }

    /// `process_with` uses a lookup given for the frame's own address and
    /// ignores one given for another address.
    #[test]
    fn process_with_uses_only_a_lookup_for_the_frames_own_address() {
        let f = PipelineFixture::new(4, 1, 400);
        let reader = f.domain.register().expect("reader");
        let g = reader.guard();
        let src = wire::parse_frame(&f.frames[0], false).expect("frame").src;
        let run = |found: FrameLookup<'_>| {
            let mut b = PacketBuf::new();
            assert!(b.fill(&f.frames[0]));
            process_with(
                &mut b,
                Side::Access,
                &f.ctx,
                &f.readers,
                &g,
                &mut PipeState::new(1),
                found,
            )
        };
        assert_eq!(run(FrameLookup::NONE), Verdict::Forward(Side::Core));
        // A settled miss, as the burst lookup finds for an unbound address.
        let unbound = AddrKey::new(IpAddr::V4(crate::demo::ue_addr(9)));
        let mut miss = [Found::NONE];
        f.readers.senders_by_ip(&g, &[unbound], &mut miss);
        assert!(f.readers.by_ip.resolve_compact(&g, miss[0], &unbound).is_none());
        // Given for this frame's address: believed.
        let src = AddrKey::new(src);
        assert_eq!(
            run(FrameLookup(Some((&src, miss[0])))),
            Verdict::Exception(ExceptionKind::UnknownSender)
        );
        // Given for another address: ignored.
        assert_eq!(
            run(FrameLookup(Some((&unbound, miss[0])))),
            Verdict::Forward(Side::Core)
        );
    }

    #[test]
    fn branch_tokens_round_trip_and_reject_any_change() {
        let f = PipelineFixture::new(4, 4, 400);
        let targets = [
            BranchTarget {
                side: Side::Access,
                addr: "10.64.0.9:5060".parse().expect("addr"),
            },
            BranchTarget {
                side: Side::Core,
                addr: "[2001:db8::7]:6000".parse().expect("addr"),
            },
        ];
        for t in targets {
            let mut tok = [0u8; 64];
            let n = encode_branch(&f.ctx, t, 0xdead_beef, &mut tok);
            assert_eq!(decode_branch(&f.ctx, &tok[..n]), Some(t));
            // Upper-case hex is the same token.
            assert_eq!(decode_branch(&f.ctx, &tok[..n].to_ascii_uppercase()), Some(t));
            // Any other digit in any position breaks the authenticator.
            for i in 0..n {
                let mut bad = tok;
                bad[i] = if bad[i] == b'0' { b'1' } else { b'0' };
                assert_eq!(decode_branch(&f.ctx, &bad[..n]), None, "digit {i} changed");
            }
            assert_eq!(decode_branch(&f.ctx, &tok[..n - 2]), None, "truncated");
            // Another process (another key) does not accept it.
            let other = PipelineFixture::new(4, 4, 400);
            assert_eq!(decode_branch(&other.ctx, &tok[..n]), None, "foreign key");
        }
    }

    /// The one-block IPv4 branch encoding writes the token the field by
    /// field form does.
    #[test]
    fn ipv4_branch_tokens_match_the_general_encoding() {
        let f = PipelineFixture::new(4, 4, 400);
        for side in [Side::Access, Side::Core] {
            for ip in ["0.0.0.0", "10.64.0.9", "255.255.255.255", "1.2.3.4"] {
                for port in [0u16, 1, 5060, 65535] {
                    for nonce in [0u32, 1, 0xdead_beef, 0x8000_0000, u32::MAX] {
                        let t = BranchTarget {
                            side,
                            addr: SocketAddr::new(ip.parse().expect("ip"), port),
                        };
                        let (mut a, mut b) = ([0u8; 64], [0u8; 64]);
                        let n = encode_branch(&f.ctx, t, nonce, &mut a);
                        assert_eq!(n, encode_branch_any(&f.ctx, t, nonce, &mut b));
                        assert_eq!(a[..n], b[..n], "{t:?} nonce {nonce:#x}");
                        assert_eq!(decode_branch(&f.ctx, &a[..n]), Some(t));
                    }
                }
            }
        }
    }

    /// The IPv4 Via line end built in registers is the general encoding's
    /// token followed by CRLF, as the out-of-line writer produces it.
    #[test]
    fn ipv4_branch_line_is_the_general_token_and_crlf() {
        let f = PipelineFixture::new(4, 4, 400);
        for side in [Side::Access, Side::Core] {
            for ip in ["0.0.0.0", "10.64.0.9", "255.255.255.255", "159.175.191.207"] {
                for port in [0u16, 1, 5060, 0xabcd, 65535] {
                    for nonce in [0u32, 1, 0x9fa0_5a5a, 0x8000_0000, u32::MAX] {
                        let a: SocketAddrV4 = format!("{ip}:{port}").parse().expect("addr");
                        let t = BranchTarget {
                            side,
                            addr: SocketAddr::V4(a),
                        };
                        let mut want = [0u8; 64];
                        let n = encode_branch_any(&f.ctx, t, nonce, &mut want);
                        assert_eq!(n, 30);
                        want[30..32].copy_from_slice(b"\r\n");
                        let line = branch_line_v4(&f.ctx, side, a, nonce);
                        assert_eq!(line[..], want[..32], "{t:?} nonce {nonce:#x}");
                        let mut out = [0u8; 32];
                        assert!(write_branch_line(&f.ctx, t, nonce, &mut out));
                        assert_eq!(out, line);
                        assert!(!write_branch_line(&f.ctx, t, nonce, &mut [0u8; 31]));
                    }
                }
            }
        }
        let t = BranchTarget {
            side: Side::Core,
            addr: "[2001:db8::7]:6000".parse().expect("addr"),
        };
        let mut out = [0u8; 56];
        assert!(write_branch_line(&f.ctx, t, 7, &mut out));
        assert_eq!(&out[54..], b"\r\n");
        assert_eq!(decode_branch(&f.ctx, &out[..54]), Some(t));
    }

    /// `move_short` moves what `copy_within` moves, for every length
    /// around its piece sizes, overlapping either way or not at all, and
    /// panics where `copy_within` panics.
    #[test]
    fn move_short_is_copy_within() {
        let base: Vec<u8> = (0..200u32).map(|i| (i * 7 + 1) as u8).collect();
        for n in 0..80 {
            for (from, to) in [
                (60, 0),
                (60, 59),
                (60, 61),
                (60, 100),
                (0, 120),
                (120, 0),
                (60, 60),
            ] {
                let (mut a, mut b) = (base.clone(), base.clone());
                a.copy_within(from..from + n, to);
                move_short(&mut b, from..from + n, to);
                assert_eq!(a, b, "{n} bytes {from} -> {to}");
            }
        }
        let (ten, five) = (10, 5);
        for (src, to) in [(190..210, 0), (0..20, 190), (ten..five, 0)] {
            let r = std::panic::catch_unwind(|| move_short(&mut base.clone(), src.clone(), to));
            assert!(r.is_err(), "{src:?} -> {to}");
        }
    }

    #[test]
    fn offloaded_udp_checksum_leaves_the_pseudo_header_sum_for_the_nic() {
        let f = PipelineFixture::new(4, 4, 400);
        let mut ctx = f.ctx.clone();
        ctx.tx_udp_csum_offload = true;
        let mut b = OffloadBuf {
            inner: PacketBuf::new(),
            asked: None,
        };
        assert!(b.inner.fill(&f.frames[0]));
        assert_eq!(forward(&f, &ctx, &mut b), Verdict::Forward(Side::Core));
        assert_eq!(b.asked, Some((14, 20, true)));
        let p = wire::parse_frame(b.data(), false).expect("forwarded frame parses");
        let seg = &b.data()[p.l4_off as usize..];
        let field = u16::from_be_bytes([seg[6], seg[7]]);
        let ph = wire::checksum::pseudo_header(&p.src, &p.dst, 17, seg.len() as u32);
        assert_eq!(field, ph, "checksum field holds the pseudo-header sum");
        // What the NIC does: sum the segment (the field included), invert.
        let mut done = b.data().to_vec();
        let l4 = p.l4_off as usize;
        let c = !wire::checksum::data(&done[l4..]);
        done[l4 + 6..l4 + 8].copy_from_slice(&c.to_be_bytes());
        assert!(
            wire::parse_frame(&done, true).is_ok(),
            "NIC-completed checksum verifies"
        );
        // Without the offload flag in the context the same buffer is not asked.
        let mut b2 = OffloadBuf {
            inner: PacketBuf::new(),
            asked: None,
        };
        assert!(b2.inner.fill(&f.frames[0]));
        assert_eq!(forward(&f, &f.ctx, &mut b2), Verdict::Forward(Side::Core));
        assert_eq!(b2.asked, None);
        assert!(
            wire::parse_frame(b2.data(), true).is_ok(),
            "software checksum verifies"
        );
    }
}
