//! SIP, SIPS and tel URIs: borrowed parsing and the equivalence rules of
//! RFC 3261 §19.1.4 and RFC 3966 §4.
//!
//! Owns URI syntax and comparison. Must never allocate (comparison decodes
//! `%XX` escapes on the fly) or panic on any input.

use core::net::IpAddr;

use super::text::{self, parse_dec};
use super::Error;

/// A parsed URI.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Uri<'a> {
    /// `sip:` or `sips:`.
    Sip(SipUri<'a>),
    /// `tel:`.
    Tel(TelUri<'a>),
    /// Any other scheme: never equivalent to a SIP or tel URI.
    Other {
        /// The scheme, without the colon.
        scheme: &'a [u8],
        /// Everything after the colon.
        rest: &'a [u8],
    },
}

/// A SIP or SIPS URI (`sip:user:password@host:port;params?headers`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SipUri<'a> {
    /// `sips:` rather than `sip:`.
    pub secure: bool,
    /// The user part, still escaped.
    pub user: Option<&'a [u8]>,
    /// The password, still escaped.
    pub password: Option<&'a [u8]>,
    /// The host: a hostname, an IPv4 address or a bracketed IPv6 reference.
    pub host: &'a [u8],
    /// The port, if written.
    pub port: Option<u16>,
    /// The URI parameters, raw, starting at the first `;` (empty if none).
    pub params: &'a [u8],
    /// The header component after `?`, raw (empty if none).
    pub headers: &'a [u8],
}

/// A tel URI (`tel:+1-212-555-0101;params`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TelUri<'a> {
    /// The number as written, visual separators included.
    pub number: &'a [u8],
    /// The parameters, raw, starting at the first `;` (empty if none).
    pub params: &'a [u8],
}

impl<'a> TelUri<'a> {
    /// Whether the number is global (`+` prefix).
    pub fn is_global(&self) -> bool {
        self.number.first() == Some(&b'+')
    }
}

impl<'a> SipUri<'a> {
    /// The host as an IP address, if it is one.
    pub fn host_ip(&self) -> Option<IpAddr> {
        host_ip(self.host)
    }

    /// First URI parameter named `name`: `Some(None)` for a flag.
    pub fn param(&self, name: &str) -> Option<Option<&'a [u8]>> {
        text::find_param(self.params, name).ok().flatten()
    }
}

fn host_ip(host: &[u8]) -> Option<IpAddr> {
    let h = core::str::from_utf8(host).ok()?;
    let h = h.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(h);
    h.parse().ok()
}

fn is_host_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'-' || c == b'.' || c == b'_'
}

impl<'a> Uri<'a> {
    /// Parse a URI (no angle brackets, no surrounding whitespace).
    pub fn parse(s: &'a [u8]) -> Result<Uri<'a>, Error> {
        let colon = memchr::memchr(b':', s).ok_or(Error::InvalidUri)?;
        let (scheme, rest) = (&s[..colon], &s[colon + 1..]);
        if scheme.eq_ignore_ascii_case(b"sip") {
            parse_sip(rest, false).map(Uri::Sip)
        } else if scheme.eq_ignore_ascii_case(b"sips") {
            parse_sip(rest, true).map(Uri::Sip)
        } else if scheme.eq_ignore_ascii_case(b"tel") {
            parse_tel(rest).map(Uri::Tel)
        } else if !scheme.is_empty()
            && scheme[0].is_ascii_alphabetic()
            && scheme
                .iter()
                .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'))
        {
            Ok(Uri::Other { scheme, rest })
        } else {
            Err(Error::InvalidUri)
        }
    }

    /// Equivalence per RFC 3261 §19.1.4 (sip/sips) and RFC 3966 §4 (tel).
    /// URIs of different schemes are never equivalent; other schemes compare
    /// by scheme (case-insensitive) and exact remaining bytes.
    pub fn equivalent(&self, other: &Uri<'_>) -> bool {
        match (self, other) {
            (Uri::Sip(a), Uri::Sip(b)) => sip_equivalent(a, b),
            (Uri::Tel(a), Uri::Tel(b)) => tel_equivalent(a, b),
            (Uri::Other { scheme: s1, rest: r1 }, Uri::Other { scheme: s2, rest: r2 }) => {
                s1.eq_ignore_ascii_case(s2) && r1 == r2
            }
            _ => false,
        }
    }
}

fn parse_sip(rest: &[u8], secure: bool) -> Result<SipUri<'_>, Error> {
    // Userinfo ends at the first '@' (user and password never hold a literal '@').
    let (user, password, hp) = match memchr::memchr(b'@', rest) {
        Some(at) => {
            let ui = &rest[..at];
            let (u, p) = match memchr::memchr(b':', ui) {
                Some(c) => (&ui[..c], Some(&ui[c + 1..])),
                None => (ui, None),
            };
            if u.is_empty()
                || ui
                    .iter()
                    .any(|&c| c <= 0x20 || matches!(c, b'<' | b'>' | b'"' | 0x7f))
            {
                return Err(Error::InvalidUri);
            }
            (Some(u), p, &rest[at + 1..])
        }
        None => (None, None, rest),
    };
    // Host.
    let host_len = if hp.first() == Some(&b'[') {
        let close = memchr::memchr(b']', hp).ok_or(Error::InvalidHost)?;
        if !hp[1..close]
            .iter()
            .all(|&c| c.is_ascii_hexdigit() || c == b':' || c == b'.')
            || close < 3
        {
            return Err(Error::InvalidHost);
        }
        close + 1
    } else {
        hp.iter().take_while(|&&c| is_host_char(c)).count()
    };
    if host_len == 0 {
        return Err(Error::InvalidHost);
    }
    let host = &hp[..host_len];
    let mut r = &hp[host_len..];
    let mut port = None;
    if let [b':', p @ ..] = r {
        let n = p.iter().take_while(|c| c.is_ascii_digit()).count();
        port = Some(parse_dec(&p[..n], u16::MAX.into()).map_err(|_| Error::InvalidPort)? as u16);
        r = &p[n..];
    }
    let (params, headers) = match memchr::memchr(b'?', r) {
        Some(q) => (&r[..q], &r[q + 1..]),
        None => (r, &r[r.len()..]),
    };
    if !(params.is_empty() || params[0] == b';') {
        return Err(Error::InvalidUri);
    }
    if params
        .iter()
        .chain(headers)
        .any(|&c| c <= 0x20 || matches!(c, b'<' | b'>' | b'"' | 0x7f))
    {
        return Err(Error::InvalidUri);
    }
    Ok(SipUri {
        secure,
        user,
        password,
        host,
        port,
        params,
        headers,
    })
}

fn parse_tel(rest: &[u8]) -> Result<TelUri<'_>, Error> {
    let end = memchr::memchr(b';', rest).unwrap_or(rest.len());
    let number = &rest[..end];
    let digits = number.strip_prefix(b"+").unwrap_or(number);
    if digits.is_empty()
        || !digits
            .iter()
            .all(|&c| c.is_ascii_hexdigit() || matches!(c, b'*' | b'#' | b'-' | b'.' | b'(' | b')'))
        || !digits
            .iter()
            .any(|&c| c.is_ascii_hexdigit() || c == b'*' || c == b'#')
    {
        return Err(Error::InvalidUri);
    }
    let params = &rest[end..];
    if params
        .iter()
        .any(|&c| c <= 0x20 || matches!(c, b'<' | b'>' | b'"' | b'?' | 0x7f))
    {
        return Err(Error::InvalidUri);
    }
    Ok(TelUri { number, params })
}

/// The value of one hexadecimal digit (either case).
pub(crate) fn hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// The bytes of `s` with `%XX` escapes decoded (a malformed escape stays literal).
fn decoded(s: &[u8]) -> impl Iterator<Item = u8> + '_ {
    let mut i = 0;
    core::iter::from_fn(move || {
        let c = *s.get(i)?;
        if c == b'%' {
            if let (Some(h), Some(l)) = (
                s.get(i + 1).and_then(|&c| hex(c)),
                s.get(i + 2).and_then(|&c| hex(c)),
            ) {
                i += 3;
                return Some(h << 4 | l);
            }
        }
        i += 1;
        Some(c)
    })
}

/// Escape-insensitive comparison; `ci` adds ASCII case-insensitivity.
fn dec_eq(a: &[u8], b: &[u8], ci: bool) -> bool {
    if ci {
        decoded(a)
            .map(|c| c.to_ascii_lowercase())
            .eq(decoded(b).map(|c| c.to_ascii_lowercase()))
    } else {
        decoded(a).eq(decoded(b))
    }
}

fn opt_eq(a: Option<&[u8]>, b: Option<&[u8]>, ci: bool) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => dec_eq(a, b, ci),
        _ => false,
    }
}

/// Parameters that make URIs differ when present in only one of them:
/// `user`, `ttl`, `method` and `maddr` by the rules of §19.1.4, and
/// `transport` by its examples ("can resolve to different transports").
const MUST_MATCH: [&str; 5] = ["user", "ttl", "method", "maddr", "transport"];

fn lookup<'p>(params: &'p [u8], name: &[u8]) -> Option<text::Param<'p>> {
    text::params(params)
        .filter_map(Result::ok)
        .find(|p| dec_eq(p.name, name, true))
}

fn sip_equivalent(a: &SipUri<'_>, b: &SipUri<'_>) -> bool {
    if a.secure != b.secure
        || !opt_eq(a.user, b.user, false)
        || !opt_eq(a.password, b.password, false)
        || a.port != b.port
    {
        return false;
    }
    let host_eq = match (a.host_ip(), b.host_ip()) {
        (Some(x), Some(y)) => x == y,
        _ => dec_eq(a.host, b.host, true),
    };
    if !host_eq {
        return false;
    }
    // Malformed parameter lists compare unequal rather than partially.
    if text::params(a.params).any(|p| p.is_err()) || text::params(b.params).any(|p| p.is_err()) {
        return false;
    }
    for (x, y) in [(a, b), (b, a)] {
        for p in text::params(x.params).filter_map(Result::ok) {
            match lookup(y.params, p.name) {
                Some(q) => {
                    if !opt_eq(p.value, q.value, true) {
                        return false;
                    }
                }
                None => {
                    if MUST_MATCH.iter().any(|m| dec_eq(p.name, m.as_bytes(), true)) {
                        return false;
                    }
                }
            }
        }
    }
    headers_equal(a.headers, b.headers)
}

fn uri_headers(h: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    h.split(|&c| c == b'&')
        .filter(|s| !s.is_empty())
        .map(|s| match memchr::memchr(b'=', s) {
            Some(e) => (&s[..e], &s[e + 1..]),
            None => (s, &s[s.len()..]),
        })
}

/// Every header component must be present in both and match (order-free).
fn headers_equal(a: &[u8], b: &[u8]) -> bool {
    if uri_headers(a).count() != uri_headers(b).count() {
        return false;
    }
    for (x, y) in [(a, b), (b, a)] {
        for (n, v) in uri_headers(x) {
            if !uri_headers(y).any(|(n2, v2)| dec_eq(n, n2, true) && dec_eq(v, v2, true)) {
                return false;
            }
        }
    }
    true
}

fn is_visual(c: u8) -> bool {
    matches!(c, b'-' | b'.' | b'(' | b')')
}

fn phone_eq(a: &[u8], b: &[u8]) -> bool {
    decoded(a)
        .filter(|&c| !is_visual(c))
        .map(|c| c.to_ascii_lowercase())
        .eq(decoded(b)
            .filter(|&c| !is_visual(c))
            .map(|c| c.to_ascii_lowercase()))
}

fn tel_equivalent(a: &TelUri<'_>, b: &TelUri<'_>) -> bool {
    if a.is_global() != b.is_global() || !phone_eq(a.number, b.number) {
        return false;
    }
    if text::params(a.params).any(|p| p.is_err()) || text::params(b.params).any(|p| p.is_err()) {
        return false;
    }
    // RFC 3966 §4: parameters compared by name regardless of order; a name
    // present in only one URI makes them differ; values case-insensitive.
    for (x, y) in [(a, b), (b, a)] {
        for p in text::params(x.params).filter_map(Result::ok) {
            let Some(q) = lookup(y.params, p.name) else {
                return false;
            };
            let same = match (p.value, q.value) {
                (None, None) => true,
                (Some(v), Some(w)) if p.is("phone-context") && v.first() == Some(&b'+') => phone_eq(v, w),
                (Some(v), Some(w)) => dec_eq(v, w, true),
                _ => false,
            };
            if !same {
                return false;
            }
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eq(a: &str, b: &str) -> bool {
        let a = Uri::parse(a.as_bytes()).unwrap();
        let b = Uri::parse(b.as_bytes()).unwrap();
        let r = a.equivalent(&b);
        assert_eq!(r, b.equivalent(&a), "equivalence must be symmetric");
        r
    }

    #[test]
    fn parse_sip_uri_components() {
        let Uri::Sip(u) =
            Uri::parse(b"sips:alice:secret@[2001:db8::1]:5061;transport=tcp;lr?subject=x").unwrap()
        else {
            panic!("not sip")
        };
        assert!(u.secure);
        assert_eq!(u.user, Some(&b"alice"[..]));
        assert_eq!(u.password, Some(&b"secret"[..]));
        assert_eq!(u.host, b"[2001:db8::1]");
        assert_eq!(u.port, Some(5061));
        assert_eq!(u.params, b";transport=tcp;lr");
        assert_eq!(u.headers, b"subject=x");
        assert_eq!(u.param("transport"), Some(Some(&b"tcp"[..])));
        assert_eq!(u.param("lr"), Some(None));
        assert!(u.host_ip().is_some());
    }

    #[test]
    fn parse_bad_uris() {
        for bad in [
            &b"sip:"[..],
            b"sip:@host",
            b"sip:alice@",
            b"sip:host:99999",
            b"sip:host:",
            b"sip:[::1",
            b"sip:host x",
            b"tel:",
            b"tel:+",
            b"tel:abc-xyz",
            b"nocolon",
            b"1x:abc",
        ] {
            assert!(Uri::parse(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }

    // RFC 3261 §19.1.4: "The URIs within each of the following sets are equivalent".
    #[test]
    fn compare_rfc3261_equivalent_escaped_user_and_host_case() {
        assert!(eq(
            "sip:%61lice@atlanta.com;transport=TCP",
            "sip:alice@AtLanTa.CoM;Transport=tcp"
        ));
    }

    #[test]
    fn compare_rfc3261_equivalent_unknown_params_ignored() {
        assert!(eq("sip:carol@chicago.com", "sip:carol@chicago.com;newparam=5"));
        assert!(eq("sip:carol@chicago.com", "sip:carol@chicago.com;security=on"));
        assert!(eq(
            "sip:carol@chicago.com;newparam=5",
            "sip:carol@chicago.com;security=on"
        ));
    }

    #[test]
    fn compare_rfc3261_equivalent_param_order_and_escaped_header() {
        assert!(eq(
            "sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com",
            "sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com"
        ));
    }

    #[test]
    fn compare_rfc3261_equivalent_header_order() {
        assert!(eq(
            "sip:alice@atlanta.com?subject=project%20x&priority=urgent",
            "sip:alice@atlanta.com?priority=urgent&subject=project%20x"
        ));
    }

    // "The URIs within each of the following sets are not equivalent".
    #[test]
    fn compare_rfc3261_not_equivalent_user_case() {
        assert!(!eq(
            "SIP:ALICE@AtLanTa.CoM;Transport=udp",
            "sip:alice@AtLanTa.CoM;Transport=UDP"
        ));
    }

    #[test]
    fn compare_rfc3261_not_equivalent_default_port() {
        assert!(!eq("sip:bob@biloxi.com", "sip:bob@biloxi.com:5060"));
    }

    #[test]
    fn compare_rfc3261_not_equivalent_transport_in_one() {
        assert!(!eq("sip:bob@biloxi.com", "sip:bob@biloxi.com;transport=udp"));
    }

    #[test]
    fn compare_rfc3261_not_equivalent_port_and_transport() {
        assert!(!eq("sip:bob@biloxi.com", "sip:bob@biloxi.com:6000;transport=tcp"));
    }

    #[test]
    fn compare_rfc3261_not_equivalent_header_component() {
        assert!(!eq(
            "sip:carol@chicago.com",
            "sip:carol@chicago.com?Subject=next%20meeting"
        ));
    }

    #[test]
    fn compare_rfc3261_not_equivalent_name_vs_address() {
        assert!(!eq("sip:bob@phone21.boxesbybob.com", "sip:bob@192.0.2.4"));
    }

    #[test]
    fn compare_sip_scheme_sip_vs_sips() {
        assert!(!eq("sip:alice@example.com", "sips:alice@example.com"));
        assert!(eq("SIPS:alice@example.com", "sips:alice@example.com"));
    }

    #[test]
    fn compare_sip_user_ttl_method_maddr_in_one_only() {
        for p in ["user=phone", "ttl=1", "method=INVITE", "maddr=239.255.255.1"] {
            assert!(!eq("sip:a@h", &format!("sip:a@h;{p}")), "{p}");
            assert!(
                eq(&format!("sip:a@h;{p}"), &format!("sip:a@h;{}", p.to_uppercase())),
                "{p}"
            );
        }
        assert!(!eq("sip:a@h;user=phone", "sip:a@h;user=ip"));
    }

    #[test]
    fn compare_sip_password_and_ipv6() {
        assert!(!eq("sip:a:x@h", "sip:a@h"));
        assert!(!eq("sip:a:x@h", "sip:a:X@h"));
        assert!(eq("sip:a@[2001:DB8::1]", "sip:a@[2001:db8:0::1]"));
        assert!(eq("sip:a@h:5070", "sip:a@H:5070"));
    }

    #[test]
    fn compare_tel_visual_separators() {
        assert!(eq("tel:+1-212-555-0101", "tel:+12125550101"));
        assert!(eq("tel:+1(212)555.0101", "tel:+12125550101"));
        assert!(!eq("tel:+12125550101", "tel:+12125550102"));
    }

    #[test]
    fn compare_tel_global_vs_local() {
        assert!(!eq("tel:12125550101;phone-context=+1", "tel:+12125550101"));
        assert!(eq(
            "tel:7042;phone-context=example.com",
            "tel:7042;PHONE-CONTEXT=Example.COM"
        ));
        assert!(!eq(
            "tel:7042;phone-context=example.com",
            "tel:7042;phone-context=example.net"
        ));
        assert!(eq(
            "tel:863-1234;phone-context=+1-914-555",
            "tel:8631234;phone-context=+1914555"
        ));
    }

    #[test]
    fn compare_tel_params_must_all_match() {
        assert!(!eq("tel:+12125550101", "tel:+12125550101;ext=22"));
        assert!(eq(
            "tel:+12125550101;ext=22;isub=1",
            "tel:+12125550101;isub=1;EXT=22"
        ));
        assert!(!eq("tel:+12125550101;ext=22", "tel:+12125550101;ext=23"));
    }

    #[test]
    fn compare_cross_scheme_never() {
        assert!(!eq("sip:+12125550101@h;user=phone", "tel:+12125550101"));
        assert!(!eq("mailto:a@b", "sip:a@b"));
        assert!(eq("MAILTO:a@b", "mailto:a@b"));
    }
}
