//! Typed header values: Via, Contact, name-addr lists (Path, Service-Route,
//! P-Associated-URI, P-Preferred-Identity, P-Asserted-Identity, From, To),
//! Digest credentials and challenges, CSeq, Expires, Call-ID, Max-Forwards.
//!
//! Owns the syntax of single header values. Everything borrows from the
//! value; nothing allocates; numbers are range-checked (never wrap).
//! Each parser takes ONE list element (see [`super::values`]) unless it says
//! otherwise.

use super::parse::Method;
use super::text::{self, is_token, is_token_str, parse_dec, trim, Params};
use super::uri::{self, Uri};
use super::Error;
use crate::types::Transport;

/// `name-addr` (`"Display" <uri>;params`) or `addr-spec` (`uri;params`).
/// For an addr-spec, `;` starts header parameters (RFC 3261 §20.10).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NameAddr<'a> {
    /// The display name as written (quotes kept), if any.
    pub display: Option<&'a [u8]>,
    /// The URI text, without angle brackets.
    pub uri: &'a [u8],
    /// Header parameters, raw, from the first `;` (empty if none).
    pub params: &'a [u8],
    /// Whether the URI was in angle brackets.
    pub angle: bool,
}

impl<'a> NameAddr<'a> {
    /// Parse one element.
    pub fn parse(v: &'a [u8]) -> Result<NameAddr<'a>, Error> {
        let v = trim(v);
        if v.is_empty() {
            return Err(Error::InvalidNameAddr);
        }
        let (display, rest) = if v[0] == b'"' {
            let n = text::quoted_len(v)?;
            (Some(&v[..n]), trim(&v[n..]))
        } else {
            match memchr::memchr(b'<', v) {
                Some(lt) => {
                    let d = trim(&v[..lt]);
                    if !d.iter().all(|&c| is_token(c) || text::is_ws(c)) {
                        return Err(Error::InvalidNameAddr);
                    }
                    (if d.is_empty() { None } else { Some(d) }, &v[lt..])
                }
                None => (None, v),
            }
        };
        if let Some(r) = rest.strip_prefix(b"<") {
            let gt = memchr::memchr(b'>', r).ok_or(Error::UnterminatedAngle)?;
            let uri = trim(&r[..gt]);
            let params = trim(&r[gt + 1..]);
            if uri.is_empty() || !(params.is_empty() || params[0] == b';') {
                return Err(Error::InvalidNameAddr);
            }
            return Ok(NameAddr {
                display,
                uri,
                params,
                angle: true,
            });
        }
        if display.is_some() {
            return Err(Error::InvalidNameAddr);
        }
        let semi = memchr::memchr(b';', rest).unwrap_or(rest.len());
        let uri = trim(&rest[..semi]);
        if uri.is_empty()
            || uri
                .iter()
                .any(|&c| text::is_ws(c) || c == b'>' || c == b',' || c == b'?')
        {
            return Err(Error::InvalidNameAddr);
        }
        Ok(NameAddr {
            display: None,
            uri,
            params: &rest[semi..],
            angle: false,
        })
    }

    /// Parse the URI.
    pub fn parsed_uri(&self) -> Result<Uri<'a>, Error> {
        Uri::parse(self.uri)
    }

    /// The header parameters.
    pub fn params(&self) -> Params<'a> {
        text::params(self.params)
    }

    /// First header parameter named `name` (`Some(None)` for a flag).
    pub fn param(&self, name: &str) -> Result<Option<Option<&'a [u8]>>, Error> {
        text::find_param(self.params, name)
    }

    /// The `tag` parameter (From/To); `None` when absent, valueless, or the
    /// parameters do not parse (use [`NameAddr::param`] to tell these apart).
    pub fn tag(&self) -> Option<&'a [u8]> {
        self.param("tag").ok().flatten().flatten()
    }
}

/// All name-addr elements of a list header value (Path, Service-Route,
/// P-Associated-URI, P-Preferred-Identity, P-Asserted-Identity, Route,
/// Record-Route).
pub fn name_addrs(value: &[u8]) -> impl Iterator<Item = Result<NameAddr<'_>, Error>> {
    text::values(value).map(|r| r.and_then(NameAddr::parse))
}

/// The `rport` Via parameter (RFC 3581).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rport {
    /// Not present.
    Absent,
    /// Present without a value (the client asks for it).
    Requested,
    /// Present with a port.
    Value(u16),
}

/// One Via element: `SIP/2.0/UDP host:port;branch=..;received=..;rport`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Via<'a> {
    /// The transport token as written (`UDP`, `TCP`, `TLS`, ...).
    pub transport: &'a [u8],
    /// sent-by host (IPv6 keeps its brackets).
    pub host: &'a [u8],
    /// sent-by port, if written.
    pub port: Option<u16>,
    /// The `branch` parameter.
    pub branch: Option<&'a [u8]>,
    /// The `received` parameter.
    pub received: Option<&'a [u8]>,
    /// The `rport` parameter.
    pub rport: Rport,
    /// All parameters, raw, from the first `;`.
    pub params: &'a [u8],
}

impl<'a> Via<'a> {
    /// Parse one Via element. Duplicate `branch`, `received` or `rport` is
    /// [`Error::DuplicateParam`].
    pub fn parse(v: &'a [u8]) -> Result<Via<'a>, Error> {
        let v = trim(v);
        // sent-protocol = name SLASH version SLASH transport, LWS allowed around slashes.
        let mut parts = [&[][..]; 3];
        let mut rest = v;
        for (i, part) in parts.iter_mut().enumerate() {
            let r = trim(rest);
            let n = r.iter().take_while(|&&c| is_token(c)).count();
            if n == 0 {
                return Err(Error::InvalidVia);
            }
            *part = &r[..n];
            rest = trim(&r[n..]);
            if i < 2 {
                rest = rest.strip_prefix(b"/").ok_or(Error::InvalidVia)?;
            }
        }
        if !parts[0].eq_ignore_ascii_case(b"SIP") || parts[1] != b"2.0" {
            return Err(Error::InvalidVia);
        }
        let transport = parts[2];
        let semi = memchr::memchr(b';', rest).unwrap_or(rest.len());
        let sent_by = trim(&rest[..semi]);
        let params = &rest[semi..];
        let (host, port) = split_hostport(sent_by).ok_or(Error::InvalidVia)?;
        let mut via = Via {
            transport,
            host,
            port,
            branch: None,
            received: None,
            rport: Rport::Absent,
            params,
        };
        for p in text::params(params) {
            let p = p?;
            if p.is("branch") {
                if via.branch.is_some() {
                    return Err(Error::DuplicateParam);
                }
                via.branch = Some(p.value.filter(|b| is_token_str(b)).ok_or(Error::InvalidVia)?);
            } else if p.is("received") {
                if via.received.is_some() {
                    return Err(Error::DuplicateParam);
                }
                via.received = Some(p.value.filter(|b| !b.is_empty()).ok_or(Error::InvalidVia)?);
            } else if p.is("rport") {
                if via.rport != Rport::Absent {
                    return Err(Error::DuplicateParam);
                }
                via.rport = match p.value {
                    None => Rport::Requested,
                    Some(v) => {
                        Rport::Value(parse_dec(v, u16::MAX.into()).map_err(|_| Error::InvalidPort)? as u16)
                    }
                };
            }
        }
        Ok(via)
    }

    /// The transport, if UDP or TCP.
    pub fn transport(&self) -> Option<Transport> {
        if self.transport.eq_ignore_ascii_case(b"UDP") {
            Some(Transport::Udp)
        } else if self.transport.eq_ignore_ascii_case(b"TCP") {
            Some(Transport::Tcp)
        } else {
            None
        }
    }
}

/// Split `host[:port]` (IPv6 in brackets). `None` if malformed.
fn split_hostport(s: &[u8]) -> Option<(&[u8], Option<u16>)> {
    let hl = if s.first() == Some(&b'[') {
        memchr::memchr(b']', s)? + 1
    } else {
        s.iter()
            .take_while(|&&c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_'))
            .count()
    };
    if hl == 0 {
        return None;
    }
    let host = &s[..hl];
    match &s[hl..] {
        [] => Some((host, None)),
        [b':', p @ ..] => Some((host, Some(parse_dec(trim(p), u16::MAX.into()).ok()? as u16))),
        _ => None,
    }
}

/// Parse a q-value (`0`, `0.5`, `1.000`) into thousandths (0..=1000).
pub fn parse_qvalue(s: &[u8]) -> Result<u16, Error> {
    let (int, frac) = match memchr::memchr(b'.', s) {
        Some(d) => (&s[..d], &s[d + 1..]),
        None => (s, &[][..]),
    };
    if frac.len() > 3 || !frac.iter().all(u8::is_ascii_digit) {
        return Err(Error::InvalidNumber);
    }
    let mut f = 0u16;
    for i in 0..3 {
        f = f * 10 + frac.get(i).map_or(0, |&c| u16::from(c - b'0'));
    }
    match int {
        b"0" => Ok(f),
        b"1" if f == 0 => Ok(1000),
        b"1" => Err(Error::NumberOutOfRange),
        _ if int.iter().all(u8::is_ascii_digit) && !int.is_empty() => Err(Error::NumberOutOfRange),
        _ => Err(Error::InvalidNumber),
    }
}

/// One Contact element.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Contact<'a> {
    /// `*` (remove all bindings).
    Star,
    /// A binding.
    Addr(ContactAddr<'a>),
}

/// A Contact binding with the parameters the registrar needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ContactAddr<'a> {
    /// The address.
    pub addr: NameAddr<'a>,
    /// `expires` (seconds).
    pub expires: Option<u32>,
    /// `reg-id` (RFC 5626).
    pub reg_id: Option<u32>,
    /// `+sip.instance`, unquoted (e.g. `<urn:gsma:imei:...>`).
    pub instance: Option<&'a [u8]>,
    /// `q` in thousandths.
    pub q: Option<u16>,
}

impl<'a> Contact<'a> {
    /// Parse one element. Duplicate expires/reg-id/+sip.instance/q is
    /// [`Error::DuplicateParam`]; expires above 2^32-1 is
    /// [`Error::NumberOutOfRange`].
    pub fn parse(v: &'a [u8]) -> Result<Contact<'a>, Error> {
        let v = trim(v);
        if v == b"*" {
            return Ok(Contact::Star);
        }
        let addr = NameAddr::parse(v)?;
        let mut c = ContactAddr {
            addr,
            expires: None,
            reg_id: None,
            instance: None,
            q: None,
        };
        for p in addr.params() {
            let p = p?;
            let val = || p.value.map(text::unquote).ok_or(Error::InvalidParam);
            if p.is("expires") {
                set_once(&mut c.expires, parse_dec(val()?, u32::MAX.into())? as u32)?;
            } else if p.is("reg-id") {
                set_once(&mut c.reg_id, parse_dec(val()?, u32::MAX.into())? as u32)?;
            } else if p.is("+sip.instance") {
                set_once(&mut c.instance, val()?)?;
            } else if p.is("q") {
                set_once(&mut c.q, parse_qvalue(val()?)?)?;
            }
        }
        Ok(Contact::Addr(c))
    }
}

fn set_once<T>(slot: &mut Option<T>, v: T) -> Result<(), Error> {
    if slot.is_some() {
        return Err(Error::DuplicateParam);
    }
    *slot = Some(v);
    Ok(())
}

/// Digest credentials (Authorization, Proxy-Authorization) or a challenge
/// (WWW-Authenticate, Proxy-Authenticate). Values are unquoted; escapes
/// inside quoted values are kept (see [`super::text::unescape`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Digest<'a> {
    /// The scheme token (`Digest`).
    pub scheme: &'a [u8],
    /// `username` (the IMPI).
    pub username: Option<&'a [u8]>,
    /// `realm`.
    pub realm: Option<&'a [u8]>,
    /// `nonce` (for IMS AKA: base64 of RAND||AUTN||...).
    pub nonce: Option<&'a [u8]>,
    /// `uri`.
    pub uri: Option<&'a [u8]>,
    /// `response`.
    pub response: Option<&'a [u8]>,
    /// `algorithm` (e.g. `AKAv1-MD5`).
    pub algorithm: Option<&'a [u8]>,
    /// `qop`.
    pub qop: Option<&'a [u8]>,
    /// `nc`.
    pub nc: Option<&'a [u8]>,
    /// `cnonce`.
    pub cnonce: Option<&'a [u8]>,
    /// `opaque`.
    pub opaque: Option<&'a [u8]>,
    /// `integrity-protected` (TS 24.229 §7.2A.2).
    pub integrity_protected: Option<&'a [u8]>,
    /// `ck` (TS 24.229 §7.2A.1; hex, from the S-CSCF).
    pub ck: Option<&'a [u8]>,
    /// `ik`.
    pub ik: Option<&'a [u8]>,
    /// All auth-params, raw, after the scheme.
    pub params: &'a [u8],
}

impl<'a> Digest<'a> {
    /// Parse a whole credentials/challenge header value. A duplicated known
    /// parameter is [`Error::DuplicateParam`].
    pub fn parse(v: &'a [u8]) -> Result<Digest<'a>, Error> {
        let v = trim(v);
        let n = v.iter().take_while(|&&c| is_token(c)).count();
        if n == 0 || (n < v.len() && !text::is_ws(v[n])) {
            return Err(Error::InvalidDigest);
        }
        let mut d = Digest {
            scheme: &v[..n],
            params: trim(&v[n..]),
            ..Digest::default()
        };
        for p in text::auth_params(d.params) {
            let p = p.map_err(|e| {
                if e == Error::UnterminatedQuote {
                    e
                } else {
                    Error::InvalidDigest
                }
            })?;
            let Some(val) = p.unquoted() else {
                return Err(Error::InvalidDigest);
            };
            let slot = match () {
                _ if p.is("username") => &mut d.username,
                _ if p.is("realm") => &mut d.realm,
                _ if p.is("nonce") => &mut d.nonce,
                _ if p.is("uri") => &mut d.uri,
                _ if p.is("response") => &mut d.response,
                _ if p.is("algorithm") => &mut d.algorithm,
                _ if p.is("qop") => &mut d.qop,
                _ if p.is("nc") => &mut d.nc,
                _ if p.is("cnonce") => &mut d.cnonce,
                _ if p.is("opaque") => &mut d.opaque,
                _ if p.is("integrity-protected") => &mut d.integrity_protected,
                _ if p.is("ck") => &mut d.ck,
                _ if p.is("ik") => &mut d.ik,
                _ => continue,
            };
            set_once(slot, val)?;
        }
        Ok(d)
    }

    /// Whether the scheme is Digest.
    pub fn is_digest(&self) -> bool {
        self.scheme.eq_ignore_ascii_case(b"Digest")
    }

    /// The auth-params.
    pub fn auth_params(&self) -> Params<'a> {
        text::auth_params(self.params)
    }
}

/// CSeq: sequence number (< 2^31, RFC 3261 §8.1.1.5) and method.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CSeq<'a> {
    /// The sequence number.
    pub seq: u32,
    /// The method.
    pub method: Method<'a>,
}

impl<'a> CSeq<'a> {
    /// Parse a CSeq value.
    pub fn parse(v: &'a [u8]) -> Result<CSeq<'a>, Error> {
        let v = trim(v);
        let n = v.iter().take_while(|c| c.is_ascii_digit()).count();
        let seq = match parse_dec(&v[..n], (1u64 << 31) - 1) {
            Ok(s) => s as u32,
            Err(Error::NumberOutOfRange) => return Err(Error::NumberOutOfRange),
            Err(_) => return Err(Error::InvalidCSeq),
        };
        let rest = &v[n..];
        let m = trim(rest);
        if !rest.first().is_some_and(|&c| text::is_ws(c)) || !is_token_str(m) {
            return Err(Error::InvalidCSeq);
        }
        Ok(CSeq {
            seq,
            method: Method::from_bytes(m),
        })
    }
}

/// Expires: delta-seconds up to 2^32-1 ([`Error::NumberOutOfRange`] above).
pub fn parse_expires(v: &[u8]) -> Result<u32, Error> {
    Ok(parse_dec(trim(v), u32::MAX.into())? as u32)
}

/// Max-Forwards (0..=255 in practice; up to 2^32-1 accepted).
pub fn parse_max_forwards(v: &[u8]) -> Result<u32, Error> {
    Ok(parse_dec(trim(v), u32::MAX.into())? as u32)
}

/// Call-ID: `word [@ word]`, no whitespace, not empty.
pub fn parse_call_id(v: &[u8]) -> Result<&[u8], Error> {
    let v = trim(v);
    if v.is_empty() || v.iter().any(|&c| c <= 0x20 || c >= 0x7f) {
        return Err(Error::InvalidValue);
    }
    Ok(v)
}

/// An IMS AKA key of a 401's WWW-Authenticate, `ck` or `ik` (TS 24.229
/// §7.2A.1): exactly 32 hexadecimal digits (either case), unquoted, as
/// 16 bytes. Anything else is [`Error::InvalidValue`].
pub fn parse_hex_key(v: &[u8]) -> Result<[u8; 16], Error> {
    if v.len() != 32 {
        return Err(Error::InvalidValue);
    }
    let mut out = [0u8; 16];
    for (o, pair) in out.iter_mut().zip(v.chunks_exact(2)) {
        let (h, l) = (uri::hex(pair[0]), uri::hex(pair[1]));
        *o = h.zip(l).map(|(h, l)| h << 4 | l).ok_or(Error::InvalidValue)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_via_full() {
        let v = Via::parse(b"SIP/2.0/UDP [2001:db8::9]:5060;branch=z9hG4bKnashds7;rport;received=192.0.2.1")
            .unwrap();
        assert_eq!(v.transport, b"UDP");
        assert_eq!(v.transport(), Some(Transport::Udp));
        assert_eq!(v.host, b"[2001:db8::9]");
        assert_eq!(v.port, Some(5060));
        assert_eq!(v.branch, Some(&b"z9hG4bKnashds7"[..]));
        assert_eq!(v.received, Some(&b"192.0.2.1"[..]));
        assert_eq!(v.rport, Rport::Requested);
        let v = Via::parse(b"SIP / 2.0 / TCP  pc33.atlanta.com ; rport=5070").unwrap();
        assert_eq!(v.transport(), Some(Transport::Tcp));
        assert_eq!(
            (v.host, v.port, v.rport),
            (&b"pc33.atlanta.com"[..], None, Rport::Value(5070))
        );
    }

    #[test]
    fn parse_via_bad() {
        for bad in [
            &b"SIP/2.0 host"[..],
            b"SIP/3.0/UDP host",
            b"SIP/2.0/UDP",
            b"SIP/2.0/UDP host:70000",
            b"SIP/2.0/UDP host;rport=99999",
            b"SIP/2.0/UDP host;branch=a;branch=b",
            b"SIP/2.0/UDP host;rport;rport=1",
            b"SIP/2.0/UDP host;branch",
        ] {
            assert!(Via::parse(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn parse_contact_params() {
        let c = Contact::parse(
            b"<sip:alice@[2001:db8::1]:5060>;expires=600000;reg-id=1;+sip.instance=\"<urn:gsma:imei:35-1-1-0>\";q=0.5",
        )
        .unwrap();
        let Contact::Addr(c) = c else { panic!("star") };
        assert_eq!(c.addr.uri, b"sip:alice@[2001:db8::1]:5060");
        assert_eq!(c.expires, Some(600000));
        assert_eq!(c.reg_id, Some(1));
        assert_eq!(c.instance, Some(&b"<urn:gsma:imei:35-1-1-0>"[..]));
        assert_eq!(c.q, Some(500));
        assert_eq!(Contact::parse(b" * ").unwrap(), Contact::Star);
        let Contact::Addr(c) = Contact::parse(b"sip:bob@h;expires=0").unwrap() else {
            panic!("star")
        };
        assert_eq!(
            (c.addr.uri, c.expires, c.addr.angle),
            (&b"sip:bob@h"[..], Some(0), false)
        );
    }

    #[test]
    fn parse_contact_bad_numbers() {
        assert_eq!(
            Contact::parse(b"<sip:a@h>;expires=4294967296"),
            Err(Error::NumberOutOfRange)
        );
        assert_eq!(
            Contact::parse(b"<sip:a@h>;expires=1;expires=2"),
            Err(Error::DuplicateParam)
        );
        assert_eq!(Contact::parse(b"<sip:a@h>;q=1.5"), Err(Error::NumberOutOfRange));
        assert_eq!(Contact::parse(b"<sip:a@h>;q=0.1234"), Err(Error::InvalidNumber));
        assert_eq!(Contact::parse(b"<sip:a@h"), Err(Error::UnterminatedAngle));
    }

    #[test]
    fn parse_name_addr_forms() {
        let n = NameAddr::parse(b"\"Alice \\\"A\\\" <x>\" <sip:alice@example.com>;tag=88").unwrap();
        assert_eq!(n.display, Some(&b"\"Alice \\\"A\\\" <x>\""[..]));
        assert_eq!(n.uri, b"sip:alice@example.com");
        assert_eq!(n.tag(), Some(&b"88"[..]));
        let n = NameAddr::parse(b"Bob Smith <tel:+1-212-555-0101>").unwrap();
        assert_eq!(n.display, Some(&b"Bob Smith"[..]));
        let n = NameAddr::parse(b"sip:carol@chicago.com;tag=1").unwrap();
        assert_eq!((n.uri, n.params), (&b"sip:carol@chicago.com"[..], &b";tag=1"[..]));
        assert!(NameAddr::parse(b"\"x\" sip:a@b").is_err());
        assert!(NameAddr::parse(b"<sip:a@b> junk").is_err());
        let all: Vec<_> = name_addrs(b"<sip:a@h;lr>, <sip:b@h>;x=1 , <tel:+1>")
            .map(|r| r.unwrap().uri)
            .collect();
        assert_eq!(all, vec![&b"sip:a@h;lr"[..], b"sip:b@h", b"tel:+1"]);
    }

    #[test]
    fn parse_digest_aka_challenge() {
        let d = Digest::parse(
            b"Digest realm=\"ims.example.com\", nonce=\"A34Cm+Fva37UYWpGNB34JP\", algorithm=AKAv1-MD5,\r\n qop=\"auth\", ik=\"0123456789abcdeffedcba9876543210\", ck=\"ffeeddccbbaa99887766554433221100\"",
        )
        .unwrap();
        assert!(d.is_digest());
        assert_eq!(d.realm, Some(&b"ims.example.com"[..]));
        assert_eq!(d.nonce, Some(&b"A34Cm+Fva37UYWpGNB34JP"[..]));
        assert_eq!(d.algorithm, Some(&b"AKAv1-MD5"[..]));
        assert_eq!(d.qop, Some(&b"auth"[..]));
        assert_eq!(d.ik, Some(&b"0123456789abcdeffedcba9876543210"[..]));
        assert_eq!(d.ck, Some(&b"ffeeddccbbaa99887766554433221100"[..]));
    }

    #[test]
    fn parse_digest_bad() {
        assert_eq!(
            Digest::parse(b"Digest realm=\"a\", realm=\"b\""),
            Err(Error::DuplicateParam)
        );
        assert_eq!(Digest::parse(b"Digest realm=\"a"), Err(Error::UnterminatedQuote));
        assert_eq!(Digest::parse(b"Digest realm"), Err(Error::InvalidDigest));
        assert_eq!(Digest::parse(b""), Err(Error::InvalidDigest));
        assert_eq!(
            Digest::parse(b"Digest username=\"a\\\"b\"").unwrap().username,
            Some(&b"a\\\"b"[..])
        );
    }

    #[test]
    fn parse_cseq_expires_callid() {
        assert_eq!(
            CSeq::parse(b" 2147483647 REGISTER").unwrap(),
            CSeq {
                seq: 2147483647,
                method: Method::Register
            }
        );
        assert_eq!(CSeq::parse(b"2147483648 INVITE"), Err(Error::NumberOutOfRange));
        assert_eq!(
            CSeq::parse(b"99999999999999999999999 INVITE"),
            Err(Error::NumberOutOfRange)
        );
        assert_eq!(CSeq::parse(b"1"), Err(Error::InvalidCSeq));
        assert_eq!(CSeq::parse(b"INVITE"), Err(Error::InvalidCSeq));
        assert_eq!(CSeq::parse(b"1INVITE"), Err(Error::InvalidCSeq));
        assert_eq!(parse_expires(b"600000"), Ok(600000));
        assert_eq!(parse_expires(b"4294967296"), Err(Error::NumberOutOfRange));
        assert_eq!(parse_expires(b"-1"), Err(Error::InvalidNumber));
        assert_eq!(
            parse_call_id(b" a84b4c76e66710@pc33 "),
            Ok(&b"a84b4c76e66710@pc33"[..])
        );
        assert_eq!(parse_call_id(b"a b"), Err(Error::InvalidValue));
        assert_eq!(parse_max_forwards(b"70"), Ok(70));
    }

    #[test]
    fn parse_hex_key_ck_ik() {
        let k = parse_hex_key(b"0123456789abcdefFEDCBA9876543210").unwrap();
        assert_eq!(
            k,
            [
                0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32,
                0x10
            ]
        );
        for bad in [
            &b""[..],
            b"0123456789abcdef0123456789abcde",
            b"0123456789abcdef0123456789abcdef0",
            b"0123456789abcdef0123456789abcdeg",
            b"\"0123456789abcdef0123456789abcd\"",
            b" 123456789abcdef0123456789abcdef",
        ] {
            assert_eq!(
                parse_hex_key(bad),
                Err(Error::InvalidValue),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        // The ck of a parsed challenge decodes.
        let d = Digest::parse(b"Digest nonce=\"n\", ck=\"00112233445566778899aabbccddeeff\"").unwrap();
        assert_eq!(
            d.ck.map(parse_hex_key),
            Some(Ok([
                0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee,
                0xff
            ]))
        );
    }
}
