//! The few typed views of SIP headers the registration procedures need,
//! read from the zero-copy parser's borrowed header values, and a splice
//! editor that rewrites only the byte ranges it must.
//!
//! Owns: reading Via, Authorization, WWW-Authenticate (ck/ik), Contact,
//! Expires, P-Associated-URI and the sec-agree headers' `ipsec-3gpp`
//! mechanisms into plain values; writing the edits of §5.2.2.2. Must never:
//! panic on any input (every index is checked), or copy bytes it does not
//! change.

use crate::sip::{auth_params, params, values, Header, Message};
use crate::types::{EncrAlg, IntegAlg};
use smallvec::SmallVec;

/// Why a REGISTER (or its response) could not be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Bad {
    /// Malformed or contradictory header (400).
    Malformed(&'static str),
}

pub(crate) type R<T> = Result<T, Bad>;

/// The top Via value.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TopVia<'b> {
    /// The whole first Via value.
    pub raw: &'b [u8],
    /// Where it starts in the message buffer.
    pub value_start: usize,
    pub host: &'b [u8],
    pub port: Option<u16>,
    /// Range in the message buffer of the top Via value (to append params).
    pub value_end: usize,
}

/// Read the first Via value.
pub(crate) fn top_via<'b>(m: &Message<'b, '_>) -> R<TopVia<'b>> {
    let h: &Header<'b> = m.header("Via").ok_or(Bad::Malformed("missing Via"))?;
    let first = values(h.value)
        .next()
        .ok_or(Bad::Malformed("empty Via"))?
        .map_err(|_| Bad::Malformed("Via"))?;
    // `first` borrows from h.value, so its offset inside the buffer is known.
    let off = (first.as_ptr() as usize).wrapping_sub(h.value.as_ptr() as usize);
    let value_end = h.value_range().start + off + first.len();
    let (proto, rest) = split_ws(first);
    if !proto.starts_with(b"SIP/2.0/") {
        return Err(Bad::Malformed("Via sent-protocol"));
    }
    let rest = trim(rest);
    let semi = rest.iter().position(|&c| c == b';').unwrap_or(rest.len());
    let (sent_by, ps) = rest.split_at(semi);
    let (host, port) = split_host_port(trim(sent_by))?;
    if host.is_empty() {
        return Err(Bad::Malformed("Via sent-by"));
    }
    for p in params(ps) {
        p.map_err(|_| Bad::Malformed("Via params"))?;
    }
    Ok(TopVia {
        raw: first,
        value_start: value_end - first.len(),
        host,
        port,
        value_end,
    })
}

fn split_ws(s: &[u8]) -> (&[u8], &[u8]) {
    let s = trim(s);
    // Sent-protocol may contain spaces around '/', rare; take up to the first
    // whitespace after the last '/'.
    match s.iter().position(|c| c.is_ascii_whitespace()) {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, &[]),
    }
}

/// Split `host[:port]` (IPv6 in brackets).
pub(crate) fn split_host_port(s: &[u8]) -> R<(&[u8], Option<u16>)> {
    if s.first() == Some(&b'[') {
        let close = s
            .iter()
            .position(|&c| c == b']')
            .ok_or(Bad::Malformed("IPv6 reference"))?;
        let host = &s[1..close];
        let rest = &s[close + 1..];
        return match rest.split_first() {
            None => Ok((host, None)),
            Some((b':', p)) => Ok((host, Some(port(p)?))),
            _ => Err(Bad::Malformed("host:port")),
        };
    }
    match s.iter().position(|&c| c == b':') {
        Some(i) => Ok((&s[..i], Some(port(&s[i + 1..])?))),
        None => Ok((s, None)),
    }
}

fn port(p: &[u8]) -> R<u16> {
    parse_dec(trim(p), u64::from(u16::MAX))
        .map(|v| v as u16)
        .map_err(|_| Bad::Malformed("port"))
}

/// The Authorization header of a REGISTER: IMPI and whether it carries a
/// challenge response.
#[derive(Debug, Clone)]
pub(crate) struct Authz<'b> {
    pub username: &'b [u8],
    pub has_response: bool,
    /// Where the header value ends (to append `integrity-protected`).
    pub value_end: usize,
    /// Range of an existing integrity-protected param to overwrite
    /// (including its leading comma), if the UE sent one.
    pub ip_param: Option<core::ops::Range<usize>>,
}

/// Read the single Authorization header (Digest).
pub(crate) fn authorization<'b>(m: &Message<'b, '_>) -> R<Option<Authz<'b>>> {
    let mut it = m.headers_named("Authorization");
    let Some(h) = it.next() else { return Ok(None) };
    if it.next().is_some() {
        return Err(Bad::Malformed("several Authorization headers"));
    }
    let v = h.value;
    let sp = v
        .iter()
        .position(|c| c.is_ascii_whitespace())
        .ok_or(Bad::Malformed("Authorization"))?;
    if !v[..sp].eq_ignore_ascii_case(b"Digest") {
        return Err(Bad::Malformed("Authorization scheme"));
    }
    let mut username = None;
    let mut has_response = false;
    let mut ip_param = None;
    let base = h.value_range().start;
    let mut prev_end = base + sp;
    for p in auth_params(&v[sp..]) {
        let p = p.map_err(|_| Bad::Malformed("Authorization params"))?;
        let name_off = base + (p.name.as_ptr() as usize).wrapping_sub(v.as_ptr() as usize);
        let end = match p.value {
            Some(val) => base + (val.as_ptr() as usize).wrapping_sub(v.as_ptr() as usize) + val.len(),
            None => name_off + p.name.len(),
        };
        if p.is("username") {
            if username.is_some() {
                return Err(Bad::Malformed("duplicate username"));
            }
            username = p.unquoted();
        } else if p.is("response") {
            has_response = p.unquoted().is_some_and(|r| !r.is_empty());
        } else if p.is("integrity-protected") {
            ip_param = Some(prev_end..end);
        }
        prev_end = end;
    }
    let username = username
        .filter(|u| !u.is_empty())
        .ok_or(Bad::Malformed("Authorization username"))?;
    Ok(Some(Authz {
        username,
        has_response,
        value_end: h.value_range().end,
        ip_param,
    }))
}

/// One `ipsec-3gpp` offer of a sec-agree header (RFC 3329, TS 33.203
/// Annex H).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Offer {
    pub q: u16,
    /// Raw alg token (lower-case) and parsed value.
    pub alg: Option<IntegAlg>,
    pub alg_known: bool,
    pub ealg: Option<EncrAlg>,
    pub ealg_known: bool,
    pub spi_c: u32,
    pub spi_s: u32,
    pub port_c: u16,
    pub port_s: u16,
    pub udp_enc_tun: bool,
}

/// Parse every mechanism of every header named `name`. Non-`ipsec-3gpp`
/// mechanisms are skipped; a malformed `ipsec-3gpp` one is an error. Also
/// returns a canonical byte form of the whole header set for comparisons
/// (mechanism and parameters, lower-cased, whitespace removed, in order).
/// Offers plus the canonical form.
pub(crate) type SecAgree = Option<(SmallVec<[Offer; 4]>, Vec<u8>)>;

pub(crate) fn sec_agree(m: &Message<'_, '_>, name: &str) -> R<SecAgree> {
    sec_agree_values(m.values_named(name))
}

/// [`sec_agree`] over raw comma-separated values.
pub(crate) fn sec_agree_values<'a>(
    vals: impl Iterator<Item = Result<&'a [u8], crate::sip::Error>>,
) -> R<SecAgree> {
    let mut any = false;
    let mut offers = SmallVec::new();
    let mut canon = Vec::new();
    for v in vals {
        any = true;
        let v = v.map_err(|_| Bad::Malformed("sec-agree list"))?;
        let semi = v.iter().position(|&c| c == b';').unwrap_or(v.len());
        let mech = trim(&v[..semi]);
        if mech.is_empty() || !mech.iter().all(|&c| is_token(c)) {
            return Err(Bad::Malformed("sec-agree mechanism"));
        }
        if !canon.is_empty() {
            canon.push(b',');
        }
        canon.extend(mech.iter().map(u8::to_ascii_lowercase));
        let mut o = Offer {
            q: 1000,
            alg: None,
            alg_known: false,
            ealg: None,
            ealg_known: true,
            spi_c: 0,
            spi_s: 0,
            port_c: 0,
            port_s: 0,
            udp_enc_tun: false,
        };
        let mut seen = [false; 4];
        let mut has_alg = false;
        for p in params(&v[semi..]) {
            let p = p.map_err(|_| Bad::Malformed("sec-agree params"))?;
            let val = p.unquoted().unwrap_or(b"");
            canon.push(b';');
            canon.extend(p.name.iter().map(u8::to_ascii_lowercase));
            canon.push(b'=');
            canon.extend(val.iter().map(u8::to_ascii_lowercase));
            let s = core::str::from_utf8(val).unwrap_or("");
            let num = |max: u64| parse_dec(val, max).map_err(|_| Bad::Malformed("sec-agree number"));
            let mut once = |i: usize| {
                if core::mem::replace(&mut seen[i], true) {
                    Err(Bad::Malformed("duplicate sec-agree parameter"))
                } else {
                    Ok(())
                }
            };
            if p.is("alg") {
                if has_alg {
                    return Err(Bad::Malformed("duplicate alg"));
                }
                has_alg = true;
                o.alg = IntegAlg::from_name(s);
                o.alg_known = o.alg.is_some();
            } else if p.is("ealg") {
                o.ealg = EncrAlg::from_name(s);
                o.ealg_known = o.ealg.is_some();
            } else if p.is("spi-c") {
                once(0)?;
                o.spi_c = num(u32::MAX.into())? as u32;
            } else if p.is("spi-s") {
                once(1)?;
                o.spi_s = num(u32::MAX.into())? as u32;
            } else if p.is("port-c") {
                once(2)?;
                o.port_c = num(u16::MAX.into())? as u16;
            } else if p.is("port-s") {
                once(3)?;
                o.port_s = num(u16::MAX.into())? as u16;
            } else if p.is("q") {
                o.q = parse_q(val)?;
            } else if p.is("mod") {
                o.udp_enc_tun = s.eq_ignore_ascii_case("UDP-enc-tun");
            } else if p.is("prot") && !s.eq_ignore_ascii_case("esp") {
                return Err(Bad::Malformed("prot"));
            }
        }
        if mech.eq_ignore_ascii_case(b"ipsec-3gpp") {
            if !(has_alg && seen.iter().all(|&x| x)) {
                return Err(Bad::Malformed("ipsec-3gpp parameter missing"));
            }
            offers.push(o);
        }
    }
    Ok(if any { Some((offers, canon)) } else { None })
}

/// `q` as thousandths (0..=1000).
fn parse_q(v: &[u8]) -> R<u16> {
    let bad = Bad::Malformed("q");
    let (int, frac) = match v.iter().position(|&c| c == b'.') {
        Some(i) => (&v[..i], &v[i + 1..]),
        None => (v, &b""[..]),
    };
    if frac.len() > 3 || !frac.iter().all(u8::is_ascii_digit) {
        return Err(bad);
    }
    let i = parse_dec(int, 1).map_err(|_| bad)? as u16;
    let mut f = 0u16;
    for k in 0..3 {
        f = f * 10 + frac.get(k).map(|c| u16::from(c - b'0')).unwrap_or(0);
    }
    let q = i * 1000 + f;
    if q > 1000 {
        return Err(bad);
    }
    Ok(q)
}

/// What the Contact and Expires headers of a REGISTER say.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ContactInfo {
    /// The first contact carries `reg-id` (RFC 5626 outbound).
    pub reg_id: bool,
    /// Requested expiry in seconds (Contact `expires`, else Expires), or
    /// `None` when neither says.
    pub expires: Option<u32>,
    /// All contacts have expires 0 (or `*` with Expires: 0): deregistration.
    pub dereg: bool,
    /// No Contact header (a fetch of bindings).
    pub none: bool,
}

/// Read Contact and Expires. Absurd values (non-numeric, above 2^32-1) are
/// errors; contradictory duplicates of Expires are errors.
pub(crate) fn contact_info(m: &Message<'_, '_>) -> R<ContactInfo> {
    let expires_hdr = match m.single("Expires") {
        Ok(Some(v)) => Some(parse_dec(v, u32::MAX.into()).map_err(|_| Bad::Malformed("Expires"))? as u32),
        Ok(None) => None,
        Err(_) => return Err(Bad::Malformed("contradictory Expires")),
    };
    let mut info = ContactInfo {
        none: true,
        ..Default::default()
    };
    let mut all_zero = true;
    let mut max: Option<u32> = None;
    for (i, v) in m.values_named("Contact").enumerate() {
        let v = v.map_err(|_| Bad::Malformed("Contact"))?;
        info.none = false;
        if v == b"*" {
            if expires_hdr != Some(0) {
                return Err(Bad::Malformed("Contact * without Expires: 0"));
            }
            continue;
        }
        let ps = match v.iter().position(|&c| c == b'>') {
            Some(i) => &v[i + 1..],
            None => {
                let semi = v.iter().position(|&c| c == b';').unwrap_or(v.len());
                &v[semi..]
            }
        };
        let mut e = None;
        for p in params(ps) {
            let p = p.map_err(|_| Bad::Malformed("Contact params"))?;
            if p.is("expires") {
                if e.is_some() {
                    return Err(Bad::Malformed("duplicate Contact expires"));
                }
                let val = p.unquoted().ok_or(Bad::Malformed("Contact expires"))?;
                e = Some(
                    parse_dec(val, u32::MAX.into()).map_err(|_| Bad::Malformed("Contact expires"))? as u32,
                );
            } else if p.is("reg-id") && i == 0 {
                info.reg_id = true;
            }
        }
        let e = e.or(expires_hdr);
        if e != Some(0) {
            all_zero = false;
        }
        if let Some(e) = e {
            max = Some(max.map_or(e, |m: u32| m.max(e)));
        }
    }
    info.expires = max.or(expires_hdr);
    info.dereg = !info.none && all_zero;
    Ok(info)
}

/// ck and ik of a 401's WWW-Authenticate (hex, 32 digits each) and the
/// rewritten header value without them.
pub(crate) struct Challenge {
    pub ck: Option<[u8; 16]>,
    pub ik: Option<[u8; 16]>,
    pub header_line: core::ops::Range<usize>,
    pub new_value: Vec<u8>,
    pub name: Vec<u8>,
}

/// Read the single WWW-Authenticate header of a 401 and rebuild it without
/// ck/ik.
pub(crate) fn challenge(m: &Message<'_, '_>) -> R<Option<Challenge>> {
    let mut it = m.headers_named("WWW-Authenticate");
    let Some(h) = it.next() else { return Ok(None) };
    if it.next().is_some() {
        return Err(Bad::Malformed("several WWW-Authenticate headers"));
    }
    let v = h.value;
    let sp = v.iter().position(|c| c.is_ascii_whitespace()).unwrap_or(v.len());
    let mut out = Vec::with_capacity(v.len());
    out.extend_from_slice(&v[..sp]);
    let (mut ck, mut ik) = (None, None);
    let mut first = true;
    for p in auth_params(&v[sp..]) {
        let p = p.map_err(|_| Bad::Malformed("WWW-Authenticate params"))?;
        if p.is("ck") || p.is("ik") {
            let k = hex16(p.unquoted().unwrap_or(b"")).ok_or(Bad::Malformed("ck/ik"))?;
            if p.is("ck") {
                ck = Some(k);
            } else {
                ik = Some(k);
            }
            continue;
        }
        out.extend_from_slice(if first { b" " } else { b", " });
        first = false;
        out.extend_from_slice(p.name);
        if let Some(val) = p.value {
            out.push(b'=');
            out.extend_from_slice(val);
        }
    }
    Ok(Some(Challenge {
        ck,
        ik,
        header_line: h.line_range(),
        new_value: out,
        name: h.name.to_vec(),
    }))
}

fn hex16(s: &[u8]) -> Option<[u8; 16]> {
    if s.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, o) in out.iter_mut().enumerate() {
        let h = (s[2 * i] as char).to_digit(16)?;
        let l = (s[2 * i + 1] as char).to_digit(16)?;
        *o = (h * 16 + l) as u8;
    }
    Some(out)
}

/// The URIs of P-Associated-URI, in order.
pub(crate) fn associated_uris(m: &Message<'_, '_>) -> R<Vec<String>> {
    let mut out = Vec::new();
    for v in m.values_named("P-Associated-URI") {
        let v = v.map_err(|_| Bad::Malformed("P-Associated-URI"))?;
        let uri = match (
            v.iter().position(|&c| c == b'<'),
            v.iter().position(|&c| c == b'>'),
        ) {
            (Some(a), Some(b)) if a < b => &v[a + 1..b],
            _ => v.split(|&c| c == b';').next().unwrap_or(v),
        };
        let uri = core::str::from_utf8(trim(uri)).map_err(|_| Bad::Malformed("P-Associated-URI"))?;
        if !uri.is_empty() {
            out.push(uri.to_owned());
        }
    }
    Ok(out)
}

/// Call-ID and CSeq number + method of a message: the transaction key.
pub(crate) fn txn_key(m: &Message<'_, '_>) -> R<(Box<[u8]>, u32)> {
    let call_id = m
        .single("Call-ID")
        .map_err(|_| Bad::Malformed("contradictory Call-ID"))?;
    let call_id = call_id
        .filter(|c| !c.is_empty())
        .ok_or(Bad::Malformed("missing Call-ID"))?;
    let cseq = m
        .single("CSeq")
        .map_err(|_| Bad::Malformed("contradictory CSeq"))?;
    let cseq = cseq.ok_or(Bad::Malformed("missing CSeq"))?;
    let num = cseq.split(|c| c.is_ascii_whitespace()).next().unwrap_or(b"");
    let n = parse_dec(num, u32::MAX.into()).map_err(|_| Bad::Malformed("CSeq"))? as u32;
    Ok((call_id.into(), n))
}

/// A set of non-overlapping byte-range replacements applied in one copy.
#[derive(Debug, Default)]
pub(crate) struct Edits {
    list: SmallVec<[(usize, usize, Vec<u8>); 8]>,
}

impl Edits {
    /// Replace `range` with `with` (an empty range inserts).
    pub fn replace(&mut self, range: core::ops::Range<usize>, with: Vec<u8>) {
        self.list.push((range.start, range.end, with));
    }

    /// Insert at `at`.
    pub fn insert(&mut self, at: usize, with: Vec<u8>) {
        self.list.push((at, at, with));
    }

    /// Remove a whole header line.
    pub fn remove_line(&mut self, h: &Header<'_>) {
        let r = h.line_range();
        self.list.push((r.start, r.end, Vec::new()));
    }

    /// Apply to `buf`. Overlapping edits keep the first and drop later ones.
    pub fn apply(mut self, buf: &[u8]) -> Vec<u8> {
        self.list.sort_by_key(|e| (e.0, e.1));
        let extra: usize = self.list.iter().map(|e| e.2.len()).sum();
        let mut out = Vec::with_capacity(buf.len() + extra);
        let mut at = 0;
        for (s, e, w) in self.list {
            if s < at || e > buf.len() || s > e {
                continue;
            }
            out.extend_from_slice(&buf[at..s]);
            out.extend_from_slice(&w);
            at = e;
        }
        out.extend_from_slice(buf.get(at..).unwrap_or(&[]));
        out
    }
}

/// Trim SIP whitespace (SP, HTAB, CR, LF) at both ends.
pub(crate) fn trim(mut s: &[u8]) -> &[u8] {
    while let [f, rest @ ..] = s {
        if matches!(f, b' ' | b'\t' | b'\r' | b'\n') {
            s = rest;
        } else {
            break;
        }
    }
    while let [rest @ .., l] = s {
        if matches!(l, b' ' | b'\t' | b'\r' | b'\n') {
            s = rest;
        } else {
            break;
        }
    }
    s
}

/// RFC 3261 token character.
fn is_token(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&c)
}

/// Unsigned decimal no larger than `max`.
pub(crate) fn parse_dec(s: &[u8], max: u64) -> Result<u64, ()> {
    if s.is_empty() || s.len() > 20 {
        return Err(());
    }
    let mut v: u64 = 0;
    for &c in s {
        if !c.is_ascii_digit() {
            return Err(());
        }
        v = v
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(c - b'0')))
            .ok_or(())?;
        if v > max {
            return Err(());
        }
    }
    Ok(v)
}
