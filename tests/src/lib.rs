//! UE and S-CSCF simulators and a harness that runs the whole data plane
//! (`dataplane::app::start`) over two `mem` links, for the end-to-end tests
//! in `tests/tests/`.
//!
//! Owns: the test network plan (addresses, MACs), SIP message and frame
//! builders, an independent IPv4/IPv6/UDP checksum checker, a UE simulator
//! (plain or ESP-protected with SAs built from the same CK/IK as the data
//! plane's static `[[sa_set]]`) and an S-CSCF simulator (answers requests by
//! echoing Via/From/To/Call-ID/CSeq, sends requests toward UE contacts).
//!
//! Must never: make timed assertions (receiving waits by bounded polling:
//! up to [`WAIT`], checking every millisecond, and a timeout is a plain
//! "nothing arrived"), leave a data plane running after a test (the harness
//! stops it in [`Harness::finish`] or on drop), or reach outside the
//! process (no sockets, no files).
#![warn(missing_docs)]

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use control::sip::{self, Header, Status};
use control::types::{EncrAlg, IntegAlg};
use dataplane::app::{self, Report, RunOptions, Running};
use dataplane::buf::{Buf, PacketBuf};
use dataplane::config::Config;
use dataplane::counters::DropReason;
use dataplane::esp::{InboundSa, OutboundSa};
use dataplane::port::mem::{self, MemPeer};
use dataplane::wire;

/// Longest a receive waits for a frame.
pub const WAIT: Duration = Duration::from_secs(2);

/// Our (the P-CSCF's) MAC on the access port.
pub const ACCESS_MAC: [u8; 6] = [0x02, 0, 0, 0, 0x01, 0x01];
/// The access side's gateway (the UEs' next hop) MAC.
pub const UE_GW_MAC: [u8; 6] = [0x02, 0, 0, 0, 0x01, 0x02];
/// Our MAC on the core port.
pub const CORE_MAC: [u8; 6] = [0x02, 0, 0, 0, 0x02, 0x01];
/// The core side's gateway MAC.
pub const CORE_GW_MAC: [u8; 6] = [0x02, 0, 0, 0, 0x02, 0x02];
/// Our IPv4 address on the access side.
pub const ACCESS_V4: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 1);
/// Our IPv6 address on the access side.
pub const ACCESS_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x77, 0, 0, 0, 0, 0, 1);
/// Our IPv4 address on the core side.
pub const CORE_V4: Ipv4Addr = Ipv4Addr::new(10, 77, 1, 1);
/// The S-CSCF (core next hop).
pub const SCSCF: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 77, 1, 2)), 5060);
/// Our SIP port on both sides.
pub const SIP_PORT: u16 = 5060;

/// Our SIP address on the access side for a UE of `family`'s address family.
pub fn pcscf_access(family: IpAddr) -> SocketAddr {
    match family {
        IpAddr::V4(_) => SocketAddr::new(IpAddr::V4(ACCESS_V4), SIP_PORT),
        IpAddr::V6(_) => SocketAddr::new(IpAddr::V6(ACCESS_V6), SIP_PORT),
    }
}

/// Our SIP address on the core side.
pub fn pcscf_core() -> SocketAddr {
    SocketAddr::new(IpAddr::V4(CORE_V4), SIP_PORT)
}

/// The base configuration (one worker, `mem` ports, IPv4 and IPv6 on the
/// access side, IPv4 toward [`SCSCF`]); append `[[annex_n]]`, `[[sa_set]]`
/// or `[esp]` sections to it.
pub fn base_toml() -> String {
    format!(
        r#"
[dataplane]
workers = 1
exception_queue_depth = 64
table_capacity = 64

[access]
ipv4 = "{ACCESS_V4}"
ipv6 = "{ACCESS_V6}"
gateway_mac = "02:00:00:00:01:02"
[access.port]
backend = "mem"
mac = "02:00:00:00:01:01"

[core]
ipv4 = "{CORE_V4}"
gateway_mac = "02:00:00:00:02:02"
next_hop = "{SCSCF}"
[core.port]
backend = "mem"
mac = "02:00:00:00:02:01"
"#
    )
}

/// A `[[annex_n]]` section binding `ip` (and `port`, when given) to `impus`
/// (the first is the default).
pub fn annex_n_toml(ip: IpAddr, port: Option<u16>, impi: &str, impus: &[&str]) -> String {
    let list: Vec<String> = impus.iter().map(|u| format!("\"{u}\"")).collect();
    let port = port.map(|p| format!("port = {p}\n")).unwrap_or_default();
    format!(
        "\n[[annex_n]]\nip = \"{ip}\"\n{port}impi = \"{impi}\"\nimpus = [{}]\n",
        list.join(", ")
    )
}

// ---------------------------------------------------------------------------
// Checksums, written here independently of `dataplane::wire`.

fn sum16(mut acc: u32, b: &[u8]) -> u32 {
    let mut it = b.chunks_exact(2);
    for c in &mut it {
        acc += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = it.remainder() {
        acc += u32::from(*last) << 8;
    }
    acc
}

fn fold(mut acc: u32) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

/// Offsets of an untagged Ethernet/IP/UDP frame built by this crate or
/// emitted by the data plane: (l3 offset, is IPv6, l4 offset, IP end).
fn layout(f: &[u8]) -> Option<(usize, bool, usize, usize)> {
    let et = u16::from_be_bytes([*f.get(12)?, *f.get(13)?]);
    match et {
        0x0800 => {
            let ihl = usize::from(f.get(14)? & 0x0f) * 4;
            let total = usize::from(u16::from_be_bytes([*f.get(16)?, *f.get(17)?]));
            Some((14, false, 14 + ihl, 14 + total))
        }
        0x86dd => {
            let plen = usize::from(u16::from_be_bytes([*f.get(18)?, *f.get(19)?]));
            Some((14, true, 54, 54 + plen))
        }
        _ => None,
    }
}

/// Check the IPv4 header checksum and the UDP checksum (pseudo-header
/// included) of an untagged Ethernet/IPv4-or-IPv6/UDP frame without any
/// IPv6 extension header. `Err` says what is wrong.
pub fn verify_checksums(f: &[u8]) -> Result<(), String> {
    let (l3, v6, l4, end) = layout(f).ok_or("not IPv4/IPv6 over Ethernet")?;
    if end > f.len() || l4 + 8 > end {
        return Err(format!("lengths: l4 {l4} end {end} frame {}", f.len()));
    }
    let proto = if v6 { f[l3 + 6] } else { f[l3 + 9] };
    if proto != 17 {
        return Err(format!("protocol {proto} is not UDP"));
    }
    if !v6 && fold(sum16(0, &f[l3..l4])) != 0xffff {
        return Err("IPv4 header checksum".into());
    }
    let ulen = usize::from(u16::from_be_bytes([f[l4 + 4], f[l4 + 5]]));
    if ulen != end - l4 {
        return Err(format!("UDP length {ulen} but IP says {}", end - l4));
    }
    let addrs = if v6 {
        &f[l3 + 8..l3 + 40]
    } else {
        &f[l3 + 12..l3 + 20]
    };
    let mut acc = sum16(0, addrs);
    acc += 17 + ulen as u32;
    acc = sum16(acc, &f[l4..end]);
    let stored = u16::from_be_bytes([f[l4 + 6], f[l4 + 7]]);
    if stored == 0 && !v6 {
        return Ok(());
    }
    if fold(acc) != 0xffff {
        return Err(format!("UDP checksum {stored:#06x} wrong"));
    }
    Ok(())
}

/// Recompute the IPv4 header checksum (if IPv4) and the UDP checksum of an
/// untagged frame in place, after a test edited it. No-op on what it does
/// not understand.
pub fn fix_checksums(f: &mut [u8]) {
    let Some((l3, v6, l4, end)) = layout(f) else {
        return;
    };
    if !v6 {
        if l4 > f.len() || l4 < l3 + 20 {
            return;
        }
        f[l3 + 10] = 0;
        f[l3 + 11] = 0;
        let c = !fold(sum16(0, &f[l3..l4]));
        f[l3 + 10..l3 + 12].copy_from_slice(&c.to_be_bytes());
    }
    if f.len() < l3 + if v6 { 40 } else { 20 } {
        return;
    }
    let proto = if v6 { f[l3 + 6] } else { f[l3 + 9] };
    if proto != 17 || end > f.len() || l4 + 8 > end {
        return;
    }
    f[l4 + 6] = 0;
    f[l4 + 7] = 0;
    let addrs = if v6 {
        &f[l3 + 8..l3 + 40]
    } else {
        &f[l3 + 12..l3 + 20]
    };
    let mut acc = sum16(0, addrs);
    acc += 17 + (end - l4) as u32;
    acc = sum16(acc, &f[l4..end]);
    let mut c = !fold(acc);
    if c == 0 {
        c = 0xffff;
    }
    f[l4 + 6..l4 + 8].copy_from_slice(&c.to_be_bytes());
}

// ---------------------------------------------------------------------------
// SIP messages.

/// A SIP message under construction: start line, header lines in order, body.
/// [`Msg::build`] appends Content-Length.
#[derive(Clone, Debug)]
pub struct Msg {
    /// The start line, without CRLF.
    pub start: String,
    /// Header lines (`Name: value`), without CRLF.
    pub headers: Vec<String>,
    /// The body.
    pub body: Vec<u8>,
}

impl Msg {
    /// A request line.
    pub fn request(method: &str, uri: &str) -> Msg {
        Msg {
            start: format!("{method} {uri} SIP/2.0"),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// A status line.
    pub fn response(code: u16, reason: &str) -> Msg {
        Msg {
            start: format!("SIP/2.0 {code} {reason}"),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// Append a header line.
    pub fn header(mut self, name: &str, value: &str) -> Msg {
        self.headers.push(format!("{name}: {value}"));
        self
    }

    /// Remove every header named `name` (case-insensitive, long form only).
    pub fn without(mut self, name: &str) -> Msg {
        self.headers.retain(|l| {
            !l.split(':')
                .next()
                .is_some_and(|n| n.trim().eq_ignore_ascii_case(name))
        });
        self
    }

    /// Set the body (and a Content-Type).
    pub fn body(mut self, content_type: &str, body: &[u8]) -> Msg {
        self.headers.push(format!("Content-Type: {content_type}"));
        self.body = body.to_vec();
        self
    }

    /// The message bytes, with a Content-Length header added last.
    pub fn build(&self) -> Vec<u8> {
        let mut s = format!("{}\r\n", self.start);
        for h in &self.headers {
            s.push_str(h);
            s.push_str("\r\n");
        }
        s.push_str(&format!("Content-Length: {}\r\n\r\n", self.body.len()));
        let mut v = s.into_bytes();
        v.extend_from_slice(&self.body);
        v
    }
}

/// `host:port` as it appears in a Via sent-by or a SIP URI.
pub fn hostport(a: SocketAddr) -> String {
    match a {
        SocketAddr::V4(v) => v.to_string(),
        SocketAddr::V6(v) => format!("[{}]:{}", v.ip(), v.port()),
    }
}

/// A parsed SIP message, owned, for assertions.
#[derive(Clone, Debug)]
pub struct SipView {
    /// The raw message.
    pub raw: Vec<u8>,
    /// The start line.
    pub start: String,
    /// Header (name as sent, value), in order.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl SipView {
    /// Parse with the control core's full parser (datagram framing).
    pub fn parse(raw: &[u8]) -> Result<SipView, String> {
        let mut hdrs = [Header::EMPTY; 128];
        let msg = match sip::parse(raw, &mut hdrs) {
            Ok(Status::Complete(m)) => m,
            Ok(Status::Partial) => return Err("partial SIP message".into()),
            Err(e) => return Err(format!("SIP parse error {e:?}: {}", String::from_utf8_lossy(raw))),
        };
        let start_end = raw.windows(2).position(|w| w == b"\r\n").unwrap_or(0);
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        Ok(SipView {
            raw: raw.to_vec(),
            start: text(&raw[..start_end]),
            headers: msg
                .headers
                .iter()
                .map(|h| (text(h.name), text(h.value)))
                .collect(),
            body: msg.body().to_vec(),
        })
    }

    /// Values of every header named `name` (long or compact form, any case).
    pub fn all(&self, name: &str) -> Vec<String> {
        let compact = match name.to_ascii_lowercase().as_str() {
            "via" => Some("v"),
            "from" => Some("f"),
            "to" => Some("t"),
            "call-id" => Some("i"),
            "contact" => Some("m"),
            "content-length" => Some("l"),
            "content-type" => Some("c"),
            _ => None,
        };
        self.headers
            .iter()
            .filter(|(n, _)| {
                n.eq_ignore_ascii_case(name) || compact.is_some_and(|c| n.eq_ignore_ascii_case(c))
            })
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// The value of the single header `name`; panics (test failure) when it
    /// is absent or repeated.
    pub fn one(&self, name: &str) -> String {
        let v = self.all(name);
        assert_eq!(
            v.len(),
            1,
            "expected exactly one {name} in\n{}",
            String::from_utf8_lossy(&self.raw)
        );
        v[0].clone()
    }

    /// Status code of a response.
    pub fn status(&self) -> Option<u16> {
        self.start.strip_prefix("SIP/2.0 ")?.get(..3)?.parse().ok()
    }

    /// Method of a request.
    pub fn method(&self) -> Option<&str> {
        if self.start.starts_with("SIP/2.0 ") {
            return None;
        }
        self.start.split(' ').next()
    }

    /// Whether the To header carries a tag parameter.
    pub fn to_has_tag(&self) -> bool {
        self.all("to").iter().any(|v| {
            sip::NameAddr::parse(v.as_bytes())
                .ok()
                .and_then(|n| n.tag())
                .is_some()
        })
    }

    /// The message as text (for failure messages).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.raw).into_owned()
    }
}

// ---------------------------------------------------------------------------
// Frames.

/// A frame the data plane sent, checked and parsed.
#[derive(Clone, Debug)]
pub struct Frame {
    /// The bytes.
    pub bytes: Vec<u8>,
    /// What `wire::parse_frame(bytes, true)` made of it.
    pub p: wire::Parsed,
}

impl Frame {
    /// Parse with checksum verification (IPv4 header and UDP).
    pub fn parse(bytes: Vec<u8>) -> Result<Frame, DropReason> {
        let p = wire::parse_frame(&bytes, true)?;
        Ok(Frame { bytes, p })
    }

    /// Source MAC.
    pub fn src_mac(&self) -> [u8; 6] {
        let mut m = [0; 6];
        m.copy_from_slice(&self.bytes[6..12]);
        m
    }

    /// Destination MAC.
    pub fn dst_mac(&self) -> [u8; 6] {
        let mut m = [0; 6];
        m.copy_from_slice(&self.bytes[0..6]);
        m
    }

    /// Source transport address.
    pub fn src(&self) -> SocketAddr {
        self.p.src_socket()
    }

    /// Destination transport address.
    pub fn dst(&self) -> SocketAddr {
        self.p.dst_socket()
    }

    /// The UDP payload.
    pub fn payload(&self) -> &[u8] {
        self.p.payload(&self.bytes)
    }

    /// The UDP payload parsed as SIP (full parser).
    pub fn sip(&self) -> SipView {
        match SipView::parse(self.payload()) {
            Ok(s) => s,
            Err(e) => panic!("forwarded frame does not carry valid SIP: {e}"),
        }
    }
}

/// An Ethernet/IP/UDP frame with correct checksums.
pub fn udp_frame(
    src_mac: [u8; 6],
    dst_mac: [u8; 6],
    src: SocketAddr,
    dst: SocketAddr,
    payload: &[u8],
) -> Vec<u8> {
    let f = dataplane::testgen::udp_frame(src_mac, dst_mac, src, dst, payload);
    assert!(!f.is_empty(), "address families of {src} and {dst} differ");
    f
}

// ---------------------------------------------------------------------------
// ESP on the UE side.

/// A static SA set as configured in `[[sa_set]]`, and as the UE holds it.
#[derive(Clone, Debug)]
pub struct SaSpec {
    /// UE address.
    pub ue: IpAddr,
    /// UE protected client port.
    pub port_uc: u16,
    /// UE protected server port.
    pub port_us: u16,
    /// P-CSCF protected client port.
    pub port_pc: u16,
    /// P-CSCF protected server port.
    pub port_ps: u16,
    /// SPI the UE receives on at port-uc (P-CSCF → UE).
    pub spi_uc: u32,
    /// SPI the UE receives on at port-us.
    pub spi_us: u32,
    /// SPI the P-CSCF receives on at port-pc.
    pub spi_pc: u32,
    /// SPI the P-CSCF receives on at port-ps (UE → P-CSCF requests).
    pub spi_ps: u32,
    /// Integrity algorithm.
    pub alg: IntegAlg,
    /// Encryption algorithm.
    pub ealg: EncrAlg,
    /// CK.
    pub ck: [u8; 16],
    /// IK.
    pub ik: [u8; 16],
    /// IMPI.
    pub impi: String,
    /// Registered IMPUs (the first is the default).
    pub impus: Vec<String>,
}

impl SaSpec {
    /// A set for `ue` with fixed ports and SPIs derived from `n`, and keys
    /// derived from `n` too.
    pub fn new(ue: IpAddr, n: u32, alg: IntegAlg, ealg: EncrAlg) -> SaSpec {
        let ck: [u8; 16] = core::array::from_fn(|i| (i as u8).wrapping_mul(7) ^ n as u8);
        let ik: [u8; 16] = core::array::from_fn(|i| (i as u8).wrapping_mul(13) ^ 0x5a ^ n as u8);
        SaSpec {
            ue,
            port_uc: 40_000 + n as u16 * 10,
            port_us: 40_001 + n as u16 * 10,
            port_pc: 6100 + n as u16 * 2,
            port_ps: 6101 + n as u16 * 2,
            spi_uc: 0x1000 + n * 4,
            spi_us: 0x1001 + n * 4,
            spi_pc: 0x2000 + n * 4,
            spi_ps: 0x2001 + n * 4,
            alg,
            ealg,
            ck,
            ik,
            impi: format!("esp{n}@ims.example"),
            impus: vec![format!("sip:esp{n}@ims.example"), format!("tel:+1555999{n:04}")],
        }
    }

    /// The `[[sa_set]]` section.
    pub fn toml(&self) -> String {
        let hex = |k: &[u8; 16]| k.iter().map(|b| format!("{b:02x}")).collect::<String>();
        let impus: Vec<String> = self.impus.iter().map(|u| format!("\"{u}\"")).collect();
        format!(
            "\n[[sa_set]]\nue = \"{}\"\nport_uc = {}\nport_us = {}\nport_pc = {}\nport_ps = {}\n\
spi_uc = {}\nspi_us = {}\nspi_pc = {}\nspi_ps = {}\nalg = \"{}\"\nealg = \"{}\"\nck = \"{}\"\nik = \"{}\"\n\
impi = \"{}\"\nimpus = [{}]\n",
            self.ue,
            self.port_uc,
            self.port_us,
            self.port_pc,
            self.port_ps,
            self.spi_uc,
            self.spi_us,
            self.spi_pc,
            self.spi_ps,
            self.alg.name(),
            self.ealg.name(),
            hex(&self.ck),
            hex(&self.ik),
            self.impi,
            impus.join(", ")
        )
    }

    /// The UE's side of the set: the outbound SA toward port-ps and the
    /// inbound SA at port-uc, from the same CK/IK (TS 33.203 Annex I).
    pub fn ue_side(&self) -> UeSa {
        let keys = control::keys::derive_sa_keys(&self.ck, &self.ik, self.alg, self.ealg);
        let out = OutboundSa::new(self.spi_ps, &keys, true).expect("UE outbound SA");
        let inb =
            InboundSa::new(self.spi_uc, &keys, self.port_ps, self.port_uc, true).expect("UE inbound SA");
        UeSa {
            spec: self.clone(),
            out,
            inb,
        }
    }
}

/// The SAs a UE uses for its client flows (port-uc ↔ port-ps).
#[derive(Debug)]
pub struct UeSa {
    /// The set.
    pub spec: SaSpec,
    /// UE → P-CSCF port-ps, SPI spi-ps.
    pub out: OutboundSa,
    /// P-CSCF port-ps → UE port-uc, SPI spi-uc.
    pub inb: InboundSa,
}

impl UeSa {
    /// Our (the P-CSCF's) address for this set's family.
    pub fn pcscf_ip(&self) -> IpAddr {
        pcscf_access(self.spec.ue).ip()
    }

    /// ESP-protect `sip` in a UDP datagram from `src_port` to `dst_port`.
    pub fn protect_ports(&self, sip: &[u8], src_port: u16, dst_port: u16) -> Vec<u8> {
        let src = SocketAddr::new(self.spec.ue, src_port);
        let dst = SocketAddr::new(self.pcscf_ip(), dst_port);
        let f = udp_frame(UE_GW_MAC, ACCESS_MAC, src, dst, sip);
        let mut b = PacketBuf::from_slice(&f).expect("frame fits a buffer");
        if let Err(e) = dataplane::esp::encap(&mut b, 14, &self.out) {
            panic!("UE-side encap failed: {e:?}");
        }
        b.data().to_vec()
    }

    /// ESP-protect `sip` from port-uc to port-ps, as a UE sends a request.
    pub fn protect(&self, sip: &[u8]) -> Vec<u8> {
        self.protect_ports(sip, self.spec.port_uc, self.spec.port_ps)
    }

    /// Decapsulate a frame the P-CSCF sent to port-uc and parse the
    /// plaintext (checksums verified).
    pub fn unprotect(&self, frame: &[u8]) -> Result<Frame, DropReason> {
        let mut b = PacketBuf::from_slice(frame).ok_or(DropReason::Oversized)?;
        dataplane::esp::decap_sa(&mut b, 14, &self.inb)?;
        Frame::parse(b.data().to_vec())
    }
}

// ---------------------------------------------------------------------------
// The UE and the S-CSCF.

/// A UE simulator at one address.
#[derive(Clone, Debug)]
pub struct Ue {
    /// Where it sends from (IP and SIP port).
    pub addr: SocketAddr,
    /// Its user part.
    pub user: String,
}

impl Ue {
    /// A UE at `addr`.
    pub fn new(addr: SocketAddr, user: &str) -> Ue {
        Ue {
            addr,
            user: user.into(),
        }
    }

    /// Where it sends (the P-CSCF's access address of its family).
    pub fn pcscf(&self) -> SocketAddr {
        pcscf_access(self.addr.ip())
    }

    /// A request as this UE sends it: Via (sent-by `via`, `branch`),
    /// Max-Forwards 70, From (with a tag; claims to be `self.user`), To
    /// (`bob`, with `to_tag` if given), Call-ID, CSeq, Contact.
    pub fn request_from(&self, method: &str, via: SocketAddr, call: &str, to_tag: Option<&str>) -> Msg {
        let to = match to_tag {
            Some(t) => format!("<sip:bob@ims.example>;tag={t}"),
            None => "<sip:bob@ims.example>".into(),
        };
        let uri = if method == "REGISTER" {
            "sip:ims.example".to_string()
        } else {
            "sip:bob@ims.example".into()
        };
        Msg::request(method, &uri)
            .header(
                "Via",
                &format!("SIP/2.0/UDP {};branch=z9hG4bK{call}", hostport(via)),
            )
            .header("Max-Forwards", "70")
            .header("From", &format!("<sip:{}@ims.example>;tag=ue{call}", self.user))
            .header("To", &to)
            .header("Call-ID", &format!("{call}@ue"))
            .header("CSeq", &format!("1 {method}"))
            .header("Contact", &format!("<sip:{}@{}>", self.user, hostport(via)))
    }

    /// [`Ue::request_from`] with this UE's own address in Via.
    pub fn request(&self, method: &str, call: &str, to_tag: Option<&str>) -> Msg {
        self.request_from(method, self.addr, call, to_tag)
    }

    /// A plaintext frame carrying `sip` from this UE to the P-CSCF.
    pub fn frame(&self, sip: &[u8]) -> Vec<u8> {
        udp_frame(UE_GW_MAC, ACCESS_MAC, self.addr, self.pcscf(), sip)
    }

    /// A 200 OK to a request the UE received (echoing Via, From, To,
    /// Call-ID, CSeq), as a frame from this UE back to the sender of `req`.
    pub fn answer(&self, req: &Frame, code: u16) -> Vec<u8> {
        let m = echo_response(&req.sip(), code, "ue");
        udp_frame(UE_GW_MAC, ACCESS_MAC, self.addr, req.src(), &m)
    }
}

/// A response to `req` echoing its Via (all, in order), From, To (tagged
/// with `tag` when untagged), Call-ID and CSeq.
pub fn echo_response(req: &SipView, code: u16, tag: &str) -> Vec<u8> {
    let mut m = Msg::response(code, if code == 200 { "OK" } else { "Whatever" });
    for v in req.all("via") {
        m = m.header("Via", &v);
    }
    m = m.header("From", &req.one("from"));
    let to = req.one("to");
    let to = if req.to_has_tag() {
        to
    } else {
        format!("{to};tag={tag}")
    };
    m.header("To", &to)
        .header("Call-ID", &req.one("call-id"))
        .header("CSeq", &req.one("cseq"))
        .build()
}

/// The S-CSCF simulator (the core next hop).
#[derive(Clone, Copy, Debug, Default)]
pub struct Scscf;

impl Scscf {
    /// Check the framing of a request the data plane forwarded to the
    /// core: L2 to the core gateway, L3/L4 from our core address to
    /// [`SCSCF`], valid checksums, our Via on top, SIP parses.
    pub fn check_forwarded(&self, f: &Frame) -> SipView {
        assert_eq!(f.src_mac(), CORE_MAC, "source MAC toward the core");
        assert_eq!(f.dst_mac(), CORE_GW_MAC, "destination MAC toward the core");
        assert_eq!(f.src(), pcscf_core(), "source address toward the core");
        assert_eq!(f.dst(), SCSCF, "destination toward the core");
        if let Err(e) = verify_checksums(&f.bytes) {
            panic!("forwarded frame: {e}");
        }
        let s = f.sip();
        let vias = s.all("via");
        let ours = format!(
            "SIP/2.0/UDP {};branch={}",
            pcscf_core(),
            dataplane::pipeline::BRANCH_MAGIC
        );
        assert!(
            vias.first().is_some_and(|v| v.starts_with(&ours)),
            "top Via is not ours:\n{}",
            s.text()
        );
        s
    }

    /// A response from the S-CSCF to a request it received (`code`,
    /// echoing the request's Via/From/To/Call-ID/CSeq).
    pub fn answer(&self, req: &Frame, code: u16) -> Vec<u8> {
        let m = echo_response(&req.sip(), code, "scscf");
        udp_frame(CORE_GW_MAC, CORE_MAC, SCSCF, req.src(), &m)
    }

    /// A request from the S-CSCF toward the UE contact `contact`, sent to
    /// our core address.
    pub fn request_to(&self, method: &str, contact: SocketAddr, call: &str) -> Vec<u8> {
        let m = Msg::request(method, &format!("sip:ue@{}", hostport(contact)))
            .header(
                "Via",
                &format!("SIP/2.0/UDP {};branch=z9hG4bKs{call}", hostport(SCSCF)),
            )
            .header("Max-Forwards", "69")
            .header("From", &format!("<sip:carol@ims.example>;tag=s{call}"))
            .header("To", "<sip:ue@ims.example>")
            .header("Call-ID", &format!("{call}@scscf"))
            .header("CSeq", &format!("1 {method}"))
            .build();
        udp_frame(CORE_GW_MAC, CORE_MAC, SCSCF, pcscf_core(), &m)
    }
}

// ---------------------------------------------------------------------------
// The harness.

/// Data planes run one at a time in a test process: each pins a polling
/// worker, and the machine is small.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// A running data plane between an access link and a core link.
pub struct Harness {
    running: Option<Running>,
    access: MemPeer,
    core: MemPeer,
    /// The checked configuration it runs with.
    pub cfg: Config,
    sent: u64,
    _serial: MutexGuard<'static, ()>,
}

impl Harness {
    /// Start the data plane from TOML text (backend `mem`).
    pub fn start(toml: &str) -> Harness {
        let serial = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
        let cfg = match Config::from_toml("test.toml", toml) {
            Ok(c) => c,
            Err(e) => panic!("test configuration refused: {e}"),
        };
        let (acc_port, access) = mem::link("access", cfg.access.mac, cfg.workers, 256, Self::LINK_BUFFERS);
        let (core_port, core) = mem::link("core", cfg.core.mac, cfg.workers, 256, Self::LINK_BUFFERS);
        // Workers yield when idle: tests share two cores with everything else.
        let opts = RunOptions {
            idle_yield_after: 64,
            on_worker_start: None,
        };
        let running = match app::start(&cfg, acc_port, core_port, &opts) {
            Ok(r) => r,
            Err(e) => panic!("app::start: {e}"),
        };
        Harness {
            running: Some(running),
            access,
            core,
            cfg,
            sent: 0,
            _serial: serial,
        }
    }

    fn send(q: &mut mem::MemPeerQueue, frame: &[u8]) {
        let mut b = q.alloc();
        assert!(
            b.fill(frame),
            "frame of {} bytes does not fit a buffer",
            frame.len()
        );
        let deadline = Instant::now() + WAIT;
        let mut b = Some(b);
        while let Some(x) = b.take() {
            if let Err(x) = q.send(x) {
                assert!(Instant::now() < deadline, "access ring stayed full");
                std::thread::sleep(Duration::from_millis(1));
                b = Some(x);
            }
        }
    }

    /// Offer a frame on the access link (from the UEs).
    pub fn send_access(&mut self, frame: &[u8]) {
        Self::send(&mut self.access.queues[0], frame);
        self.sent += 1;
    }

    /// Offer a frame on the core link (from the S-CSCF).
    pub fn send_core(&mut self, frame: &[u8]) {
        Self::send(&mut self.core.queues[0], frame);
        self.sent += 1;
    }

    fn poll(mut f: impl FnMut() -> Option<PacketBuf>) -> Option<Vec<u8>> {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(b) = f() {
                return Some(b.data().to_vec());
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// The next frame sent out of the core port (workers' or control
    /// thread's queue), waiting up to [`WAIT`].
    pub fn recv_core_raw(&mut self) -> Option<Vec<u8>> {
        Self::poll(|| self.core.queues[0].recv().or_else(|| self.core.control.recv()))
    }

    /// The next frame sent out of the access port, waiting up to [`WAIT`].
    pub fn recv_access_raw(&mut self) -> Option<Vec<u8>> {
        Self::poll(|| {
            self.access.queues[0]
                .recv()
                .or_else(|| self.access.control.recv())
        })
    }

    /// The next frame toward the core, parsed with checksum verification;
    /// fails the test when none comes.
    pub fn recv_core(&mut self) -> Frame {
        let raw = self.recv_core_raw().expect("nothing reached the core");
        Frame::parse(raw).expect("frame toward the core does not parse (checksums verified)")
    }

    /// The next frame toward the UEs, parsed with checksum verification;
    /// fails the test when none comes.
    pub fn recv_access(&mut self) -> Frame {
        let raw = self.recv_access_raw().expect("nothing reached the access side");
        Frame::parse(raw).expect("frame toward the access side does not parse (checksums verified)")
    }

    /// Wait (bounded) until the workers have taken in every frame offered so
    /// far, so that their counters cover them. False on timeout.
    pub fn settle(&self) -> bool {
        let deadline = Instant::now() + WAIT;
        while self.running.as_ref().is_some_and(|r| r.totals().rx < self.sent) {
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        true
    }

    /// Drops counted by the workers so far, by label.
    pub fn worker_drops(&self) -> BTreeMap<&'static str, u64> {
        self.running
            .as_ref()
            .map(|r| r.totals().drops_by_reason().into_iter().collect())
            .unwrap_or_default()
    }

    /// Stop the data plane and return its final report; fails the test if
    /// any frame was left unreceived on a port, or if the workers did not
    /// take in every frame offered.
    pub fn finish(self) -> Report {
        let (r, a, c) = self.finish_with_strays();
        assert_eq!(
            (a.len(), c.len()),
            (0, 0),
            "frames sent but not checked by the test (access, core)\n{}",
            r.human()
        );
        r
    }

    /// Wait until the workers have taken in every frame offered, then stop
    /// the data plane and return its final report.
    fn stop(&mut self) -> Report {
        assert!(self.settle(), "the workers did not take in every frame");
        self.running.take().map(Running::finish).expect("running")
    }

    /// Buffers each `mem` link of the harness starts with (its pool).
    pub const LINK_BUFFERS: usize = 1024;

    /// Stop the data plane; return its final report and how many of the
    /// access link's buffers are free again: in its pool or the test's
    /// cache. With traffic that is only dropped, that is all of them
    /// ([`Harness::LINK_BUFFERS`]) unless a dropped frame's buffer went back
    /// to the allocator instead of its pool.
    pub fn finish_counting_access_buffers(mut self) -> (Report, usize) {
        let r = self.stop();
        let free = self.access.pool.available()
            + self
                .access
                .queues
                .iter()
                .map(mem::MemPeerQueue::cached)
                .sum::<usize>()
            + self.access.control.cached();
        (r, free)
    }

    /// Stop the data plane; return its final report and the frames still
    /// queued toward the access and the core side.
    pub fn finish_with_strays(mut self) -> (Report, Vec<Vec<u8>>, Vec<Vec<u8>>) {
        let r = self.stop();
        let drain = |p: &mut MemPeer| {
            let mut v = Vec::new();
            while let Some(b) = p.queues[0].recv().or_else(|| p.control.recv()) {
                v.push(b.data().to_vec());
            }
            v
        };
        let (a, c) = (drain(&mut self.access), drain(&mut self.core));
        assert_eq!(r.rx, self.sent, "rx counter vs frames offered\n{}", r.human());
        (r, a, c)
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        if let Some(r) = self.running.take() {
            let _ = r.finish();
        }
    }
}

/// The non-zero drop counters of a report, as a sorted list for
/// `assert_eq!`.
pub fn drops(r: &Report) -> Vec<(&'static str, u64)> {
    r.drops
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(k, n)| (*k, *n))
        .collect()
}
