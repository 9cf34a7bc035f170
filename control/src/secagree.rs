//! Sec-agree: RFC 3329 Security-Client / Security-Server / Security-Verify
//! values with the TS 33.203 Annex H `ipsec-3gpp` parameters.
//!
//! Owns the syntax, validation, preference ordering, comparison and
//! serialization of sec-agree values. Must never decide policy (which offer
//! to take is the registrar's job) and never panic on input. Parsing borrows;
//! only [`write_security_server`] writes (into the caller's `Vec`).
//!
//! ## API
//! - [`mechanisms`]`(value)`: iterator over the mechanisms of one header
//!   value; [`parse_all`]`(values)` collects several header values;
//!   [`from_message`]`(msg, HeaderName::SecurityClient)`.
//! - [`Mechanism`] `{ name: MechName, q: Option<u16> (thousandths), ipsec:
//!   Option<Ipsec3gpp>, params }`. [`Ipsec3gpp`] holds `alg`, `ealg`
//!   ([`Alg`]: `Known(IntegAlg/EncrAlg)` or `Unknown(token)`, so an offer
//!   with an algorithm this build does not know is skipped, not fatal),
//!   `prot`, `mode`, `spi_c`, `spi_s`, `port_c`, `port_s`.
//!   [`Ipsec3gpp::algs`] gives `(IntegAlg, EncrAlg)` or
//!   [`SecError::UnknownAlg`].
//! - [`sort_by_preference`]: stable, highest `q` first; an absent `q` ranks
//!   as `q=0` and keeps its listed order among equals.
//! - [`ServerOffer`] / [`write_security_server`]: the Security-Server value
//!   of a 401 from the algorithm policy and the chosen SPIs and ports.
//! - [`equivalent`] / [`equivalent_values`]: the comparison of TS 24.229
//!   §5.2.2.2 step 3a.
//!
//! ## Comparison semantics (a documented choice)
//! Security-Verify must "match" the Security-Server sent and Security-Client
//! the one stored. We compare *parsed* values, not bytes: the lists must have
//! the same mechanisms in the same order (header boundaries do not matter);
//! per mechanism, names compare case-insensitively, `q` numerically,
//! `ipsec-3gpp` parameters by their typed value with Annex H defaults applied
//! (an absent `prot` equals `prot=esp`, absent `mod` equals `mod=trans`,
//! absent `ealg` equals `ealg=null`), and every other parameter as a set of
//! case-insensitive name/value pairs (order-free). Whitespace, parameter
//! order and letter case therefore never cause a mismatch; any change of
//! value, added or dropped mechanism or parameter does. Order of mechanisms
//! is kept significant because, without `q`, it expresses preference: a
//! reordering could be a downgrade.

use crate::sip::{self, HeaderName, Message};
use crate::types::{EncrAlg, IntegAlg};

/// Why a sec-agree value was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SecError {
    /// The value does not tokenize (quotes, separators, empty parameter).
    #[error("malformed sec-agree value: {0}")]
    Syntax(sip::Error),
    /// No mechanism in the header(s).
    #[error("no security mechanism")]
    Empty,
    /// The mechanism name is not a token.
    #[error("malformed mechanism name")]
    InvalidMechanism,
    /// A parameter appears twice in one mechanism.
    #[error("duplicate parameter {0}")]
    DuplicateParam(&'static str),
    /// A parameter required by Annex H is absent.
    #[error("missing parameter {0}")]
    MissingParam(&'static str),
    /// A number out of its range (q > 1, spi > 2^32-1, port > 65535).
    #[error("parameter {0} out of range")]
    OutOfRange(&'static str),
    /// A parameter value with the wrong syntax (non-digit, unknown prot/mod).
    #[error("invalid value for parameter {0}")]
    InvalidValue(&'static str),
    /// `alg` or `ealg` names an algorithm this build does not know.
    #[error("unknown algorithm in parameter {0}")]
    UnknownAlg(&'static str),
}

impl From<sip::Error> for SecError {
    fn from(e: sip::Error) -> Self {
        SecError::Syntax(e)
    }
}

/// A mechanism name (RFC 3329 §2.2 plus `ipsec-3gpp`), case-insensitive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MechName<'a> {
    /// `ipsec-3gpp` (TS 33.203 Annex H).
    Ipsec3gpp,
    /// `digest`.
    Digest,
    /// `tls`.
    Tls,
    /// `ipsec-ike`.
    IpsecIke,
    /// `ipsec-man`.
    IpsecMan,
    /// Any other token, as written.
    Unknown(&'a [u8]),
}

impl<'a> MechName<'a> {
    fn from_token(t: &'a [u8]) -> Self {
        const NAMES: [(&[u8], MechName<'static>); 5] = [
            (b"ipsec-3gpp", MechName::Ipsec3gpp),
            (b"digest", MechName::Digest),
            (b"tls", MechName::Tls),
            (b"ipsec-ike", MechName::IpsecIke),
            (b"ipsec-man", MechName::IpsecMan),
        ];
        NAMES
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(t))
            .map_or(MechName::Unknown(t), |(_, m)| *m)
    }

    fn same(&self, o: &MechName<'_>) -> bool {
        match (self, o) {
            (MechName::Unknown(a), MechName::Unknown(b)) => a.eq_ignore_ascii_case(b),
            (MechName::Ipsec3gpp, MechName::Ipsec3gpp)
            | (MechName::Digest, MechName::Digest)
            | (MechName::Tls, MechName::Tls)
            | (MechName::IpsecIke, MechName::IpsecIke)
            | (MechName::IpsecMan, MechName::IpsecMan) => true,
            _ => false,
        }
    }
}

/// An algorithm token: one this build knows, or the token as written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Alg<'a, T> {
    /// A known algorithm.
    Known(T),
    /// An unknown token (e.g. `des-ede3-cbc`, removed from Annex H).
    Unknown(&'a [u8]),
}

impl<T: PartialEq> Alg<'_, T> {
    fn same(&self, o: &Alg<'_, T>) -> bool {
        match (self, o) {
            (Alg::Known(a), Alg::Known(b)) => a == b,
            (Alg::Unknown(a), Alg::Unknown(b)) => a.eq_ignore_ascii_case(b),
            _ => false,
        }
    }
}

/// The `prot` parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Prot {
    /// `esp` (the default, and the only one 33.203 uses now).
    Esp,
    /// `ah`.
    Ah,
}

/// The `mod` parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// `trans` (the default).
    Trans,
    /// `tun`.
    Tun,
    /// `UDP-enc-tun` (RFC 3948, behind NAT; 33.203 Annex M).
    UdpEncTun,
}

impl Mode {
    /// The Annex H token.
    pub const fn name(self) -> &'static str {
        match self {
            Mode::Trans => "trans",
            Mode::Tun => "tun",
            Mode::UdpEncTun => "UDP-enc-tun",
        }
    }
}

/// The `ipsec-3gpp` parameters of one offer, defaults applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipsec3gpp<'a> {
    /// `alg` (required).
    pub alg: Alg<'a, IntegAlg>,
    /// `ealg` (absent means null encryption).
    pub ealg: Alg<'a, EncrAlg>,
    /// `prot` (absent means esp).
    pub prot: Prot,
    /// `mod` (absent means trans).
    pub mode: Mode,
    /// `spi-c` (required).
    pub spi_c: u32,
    /// `spi-s` (required).
    pub spi_s: u32,
    /// `port-c` (required).
    pub port_c: u16,
    /// `port-s` (required).
    pub port_s: u16,
}

impl Ipsec3gpp<'_> {
    /// Both algorithms, or [`SecError::UnknownAlg`] naming the first unknown one.
    pub fn algs(&self) -> Result<(IntegAlg, EncrAlg), SecError> {
        let a = match self.alg {
            Alg::Known(a) => a,
            Alg::Unknown(_) => return Err(SecError::UnknownAlg("alg")),
        };
        let e = match self.ealg {
            Alg::Known(e) => e,
            Alg::Unknown(_) => return Err(SecError::UnknownAlg("ealg")),
        };
        Ok((a, e))
    }
}

/// One mechanism of a Security-Client/-Server/-Verify list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mechanism<'a> {
    /// The name.
    pub name: MechName<'a>,
    /// `q` in thousandths (0..=1000).
    pub q: Option<u16>,
    /// The Annex H parameters, for `ipsec-3gpp`.
    pub ipsec: Option<Ipsec3gpp<'a>>,
    /// All parameters, raw, from the first `;`.
    pub params: &'a [u8],
}

/// Names handled as typed fields (the rest compare as generic pairs).
const TYPED: [&str; 9] = [
    "q", "alg", "ealg", "prot", "mod", "spi-c", "spi-s", "port-c", "port-s",
];

fn num(v: Option<&[u8]>, name: &'static str, max: u64) -> Result<u64, SecError> {
    let v = sip::unquote(v.ok_or(SecError::InvalidValue(name))?);
    if v.is_empty() || !v.iter().all(u8::is_ascii_digit) {
        return Err(SecError::InvalidValue(name));
    }
    let mut n: u64 = 0;
    for &c in v {
        n = n * 10 + u64::from(c - b'0');
        if n > max {
            return Err(SecError::OutOfRange(name));
        }
    }
    Ok(n)
}

fn set<T>(slot: &mut Option<T>, v: T, name: &'static str) -> Result<(), SecError> {
    if slot.is_some() {
        return Err(SecError::DuplicateParam(name));
    }
    *slot = Some(v);
    Ok(())
}

impl<'a> Mechanism<'a> {
    /// Parse one `sec-mechanism` (one list element).
    pub fn parse(v: &'a [u8]) -> Result<Mechanism<'a>, SecError> {
        let v = sip::trim(v);
        let n = v.iter().take_while(|&&c| c != b';').count();
        let name = sip::trim(&v[..n]);
        if name.is_empty() || !name.iter().all(|&c| sip::is_token(c)) {
            return Err(SecError::InvalidMechanism);
        }
        let params = &v[n..];
        let name = MechName::from_token(name);
        let mut q = None;
        let (mut alg, mut ealg, mut prot, mut mode) = (None, None, None, None);
        let (mut spi_c, mut spi_s, mut port_c, mut port_s) = (None, None, None, None);
        for p in sip::params(params) {
            let p = p?;
            if p.is("q") {
                let val = sip::unquote(p.value.ok_or(SecError::InvalidValue("q"))?);
                let qv = sip::parse_qvalue(val).map_err(|e| match e {
                    sip::Error::NumberOutOfRange => SecError::OutOfRange("q"),
                    _ => SecError::InvalidValue("q"),
                })?;
                set(&mut q, qv, "q")?;
                continue;
            }
            if name != MechName::Ipsec3gpp {
                continue;
            }
            let val = p.value.map(sip::unquote);
            if p.is("alg") {
                let t = val
                    .filter(|t| !t.is_empty())
                    .ok_or(SecError::InvalidValue("alg"))?;
                let a = core::str::from_utf8(t)
                    .ok()
                    .and_then(IntegAlg::from_name)
                    .map_or(Alg::Unknown(t), Alg::Known);
                set(&mut alg, a, "alg")?;
            } else if p.is("ealg") {
                let t = val
                    .filter(|t| !t.is_empty())
                    .ok_or(SecError::InvalidValue("ealg"))?;
                let a = core::str::from_utf8(t)
                    .ok()
                    .and_then(EncrAlg::from_name)
                    .map_or(Alg::Unknown(t), Alg::Known);
                set(&mut ealg, a, "ealg")?;
            } else if p.is("prot") {
                let t = val.ok_or(SecError::InvalidValue("prot"))?;
                let pr = if t.eq_ignore_ascii_case(b"esp") {
                    Prot::Esp
                } else if t.eq_ignore_ascii_case(b"ah") {
                    Prot::Ah
                } else {
                    return Err(SecError::InvalidValue("prot"));
                };
                set(&mut prot, pr, "prot")?;
            } else if p.is("mod") {
                let t = val.ok_or(SecError::InvalidValue("mod"))?;
                let m = [Mode::Trans, Mode::Tun, Mode::UdpEncTun]
                    .into_iter()
                    .find(|m| m.name().as_bytes().eq_ignore_ascii_case(t))
                    .ok_or(SecError::InvalidValue("mod"))?;
                set(&mut mode, m, "mod")?;
            } else if p.is("spi-c") {
                set(&mut spi_c, num(val, "spi-c", u32::MAX.into())? as u32, "spi-c")?;
            } else if p.is("spi-s") {
                set(&mut spi_s, num(val, "spi-s", u32::MAX.into())? as u32, "spi-s")?;
            } else if p.is("port-c") {
                set(&mut port_c, num(val, "port-c", u16::MAX.into())? as u16, "port-c")?;
            } else if p.is("port-s") {
                set(&mut port_s, num(val, "port-s", u16::MAX.into())? as u16, "port-s")?;
            }
        }
        let ipsec = if name == MechName::Ipsec3gpp {
            Some(Ipsec3gpp {
                alg: alg.ok_or(SecError::MissingParam("alg"))?,
                ealg: ealg.unwrap_or(Alg::Known(EncrAlg::Null)),
                prot: prot.unwrap_or(Prot::Esp),
                mode: mode.unwrap_or(Mode::Trans),
                spi_c: spi_c.ok_or(SecError::MissingParam("spi-c"))?,
                spi_s: spi_s.ok_or(SecError::MissingParam("spi-s"))?,
                port_c: port_c.ok_or(SecError::MissingParam("port-c"))?,
                port_s: port_s.ok_or(SecError::MissingParam("port-s"))?,
            })
        } else {
            None
        };
        Ok(Mechanism {
            name,
            q,
            ipsec,
            params,
        })
    }

    /// Parameters other than the typed ones.
    fn others(&self) -> impl Iterator<Item = sip::Param<'a>> + '_ {
        let typed = self.name == MechName::Ipsec3gpp;
        sip::params(self.params)
            .filter_map(Result::ok)
            .filter(move |p| !(p.is("q") || typed && TYPED.iter().any(|t| p.is(t))))
    }

    /// Semantic equality (see the module docs).
    pub fn equivalent(&self, o: &Mechanism<'_>) -> bool {
        if !self.name.same(&o.name) || self.q != o.q {
            return false;
        }
        match (&self.ipsec, &o.ipsec) {
            (Some(a), Some(b)) => {
                if !(a.alg.same(&b.alg)
                    && a.ealg.same(&b.ealg)
                    && a.prot == b.prot
                    && a.mode == b.mode
                    && a.spi_c == b.spi_c
                    && a.spi_s == b.spi_s
                    && a.port_c == b.port_c
                    && a.port_s == b.port_s)
                {
                    return false;
                }
            }
            (None, None) => {}
            _ => return false,
        }
        if self.others().count() != o.others().count() {
            return false;
        }
        let pv = |p: &sip::Param<'_>, q: &sip::Param<'_>| match (p.value, q.value) {
            (None, None) => true,
            (Some(a), Some(b)) => sip::unquote(a).eq_ignore_ascii_case(sip::unquote(b)),
            _ => false,
        };
        self.others().all(|p| {
            o.others()
                .any(|q| q.name.eq_ignore_ascii_case(p.name) && pv(&p, &q))
        }) && o.others().all(|q| {
            self.others()
                .any(|p| p.name.eq_ignore_ascii_case(q.name) && pv(&p, &q))
        })
    }
}

/// The mechanisms of one header value, in order.
pub fn mechanisms(value: &[u8]) -> impl Iterator<Item = Result<Mechanism<'_>, SecError>> {
    sip::values(value).map(|r| r.map_err(SecError::from).and_then(Mechanism::parse))
}

/// All mechanisms of several header values (several headers of one kind), in
/// order. [`SecError::Empty`] if there are none.
pub fn parse_all<'a>(values: impl IntoIterator<Item = &'a [u8]>) -> Result<Vec<Mechanism<'a>>, SecError> {
    let mut out = Vec::new();
    for v in values {
        for m in mechanisms(v) {
            out.push(m?);
        }
    }
    if out.is_empty() {
        return Err(SecError::Empty);
    }
    Ok(out)
}

/// All mechanisms of all headers `kind` (e.g. [`HeaderName::SecurityClient`])
/// of a message. `Ok(None)` when the header is absent.
pub fn from_message<'b>(
    msg: &Message<'b, '_>,
    kind: HeaderName,
) -> Result<Option<Vec<Mechanism<'b>>>, SecError> {
    if msg.header(kind).is_none() {
        return Ok(None);
    }
    parse_all(msg.headers_named(kind).map(|h| h.value)).map(Some)
}

/// Sort by descending `q`, stable (equal or absent `q` keep their order;
/// absent ranks as 0).
pub fn sort_by_preference(m: &mut [Mechanism<'_>]) {
    m.sort_by_key(|m| core::cmp::Reverse(m.q.unwrap_or(0)));
}

/// Semantic equality of two mechanism lists (see the module docs).
pub fn equivalent(a: &[Mechanism<'_>], b: &[Mechanism<'_>]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.equivalent(y))
}

/// [`equivalent`] over raw values (each may hold several comma-separated
/// mechanisms; join several headers with `,`). A value that fails to parse
/// is never equivalent to anything.
pub fn equivalent_values(a: &[u8], b: &[u8]) -> bool {
    match (parse_all([a]), parse_all([b])) {
        (Ok(x), Ok(y)) => equivalent(&x, &y),
        _ => false,
    }
}

/// One `ipsec-3gpp` offer of the P-CSCF for a Security-Server header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServerOffer {
    /// Preference in thousandths, if any.
    pub q: Option<u16>,
    /// Integrity algorithm.
    pub alg: IntegAlg,
    /// Encryption algorithm.
    pub ealg: EncrAlg,
    /// Mode.
    pub mode: Mode,
    /// The P-CSCF's inbound SPI for its client port (spi-pc).
    pub spi_c: u32,
    /// The P-CSCF's inbound SPI for its server port (spi-ps).
    pub spi_s: u32,
    /// The P-CSCF's protected client port (port-pc).
    pub port_c: u16,
    /// The P-CSCF's protected server port (port-ps).
    pub port_s: u16,
}

impl ServerOffer {
    /// Append `ipsec-3gpp;q=..;prot=esp;mod=..;spi-c=..;spi-s=..;port-c=..;port-s=..;alg=..;ealg=..`.
    pub fn write(&self, out: &mut Vec<u8>) {
        use std::io::Write as _;
        out.extend_from_slice(b"ipsec-3gpp");
        if let Some(q) = self.q {
            let q = q.min(1000);
            // Writing into a Vec cannot fail.
            let _ = write!(out, ";q={}.{:03}", q / 1000, q % 1000);
        }
        let _ = write!(
            out,
            ";prot=esp;mod={};spi-c={};spi-s={};port-c={};port-s={};alg={};ealg={}",
            self.mode.name(),
            self.spi_c,
            self.spi_s,
            self.port_c,
            self.port_s,
            self.alg.name(),
            self.ealg.name()
        );
    }
}

/// Append a Security-Server value listing `offers` (comma-separated) to `out`.
pub fn write_security_server(out: &mut Vec<u8>, offers: &[ServerOffer]) {
    for (i, o) in offers.iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(b", ");
        }
        o.write(out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const UE_OFFER: &[u8] = b"ipsec-3gpp;alg=hmac-md5-96;ealg=des-ede3-cbc;spi-c=1111;spi-s=2222;port-c=5062;port-s=5064,\r\n ipsec-3gpp;alg=hmac-sha-1-96;ealg=aes-cbc;spi-c=1111;spi-s=2222;port-c=5062;port-s=5064;q=0.5";

    #[test]
    fn parse_security_client_two_offers() {
        let m = parse_all([UE_OFFER]).unwrap();
        assert_eq!(m.len(), 2);
        let a = m[0].ipsec.unwrap();
        assert_eq!(a.alg, Alg::Known(IntegAlg::HmacMd596));
        assert_eq!(a.ealg, Alg::Unknown(b"des-ede3-cbc"));
        assert_eq!(a.algs(), Err(SecError::UnknownAlg("ealg")));
        assert_eq!((a.spi_c, a.spi_s, a.port_c, a.port_s), (1111, 2222, 5062, 5064));
        assert_eq!((a.prot, a.mode), (Prot::Esp, Mode::Trans));
        let b = m[1].ipsec.unwrap();
        assert_eq!(b.algs(), Ok((IntegAlg::HmacSha196, EncrAlg::AesCbc)));
        assert_eq!(m[1].q, Some(500));
        assert_eq!(m[0].q, None);
    }

    #[test]
    fn parse_several_headers_and_mechanisms() {
        let m = parse_all([
            &b"digest;d-alg=md5;q=0.1, tls;q=0.2"[..],
            b"ipsec-3gpp;alg=aes-gmac;ealg=null;spi-c=1;spi-s=2;port-c=3;port-s=4;mod=UDP-enc-tun",
            b"ipsec-ike;q=0, ipsec-man, foo-bar",
        ])
        .unwrap();
        let names: Vec<_> = m.iter().map(|m| m.name).collect();
        assert_eq!(
            names,
            vec![
                MechName::Digest,
                MechName::Tls,
                MechName::Ipsec3gpp,
                MechName::IpsecIke,
                MechName::IpsecMan,
                MechName::Unknown(b"foo-bar")
            ]
        );
        assert_eq!(m[2].ipsec.unwrap().mode, Mode::UdpEncTun);
        assert!(m[0].ipsec.is_none());
    }

    #[test]
    fn parse_errors_are_clear() {
        let base = "ipsec-3gpp;alg=hmac-sha-1-96;spi-c=1;spi-s=2;port-c=3;port-s=4";
        let e = |s: &str| Mechanism::parse(s.as_bytes()).err();
        assert_eq!(e(base), None);
        assert_eq!(
            e(&format!("{base};alg=null")),
            Some(SecError::DuplicateParam("alg"))
        );
        assert_eq!(
            e(&format!("{base};spi-c=9")),
            Some(SecError::DuplicateParam("spi-c"))
        );
        assert_eq!(
            e("ipsec-3gpp;alg=hmac-sha-1-96;spi-c=1;spi-s=2;port-c=3"),
            Some(SecError::MissingParam("port-s"))
        );
        assert_eq!(
            e("ipsec-3gpp;spi-c=1;spi-s=2;port-c=3;port-s=4"),
            Some(SecError::MissingParam("alg"))
        );
        assert_eq!(
            e("ipsec-3gpp;alg=hmac-sha-1-96;spi-c=4294967296;spi-s=2;port-c=3;port-s=4"),
            Some(SecError::OutOfRange("spi-c"))
        );
        assert_eq!(
            e("ipsec-3gpp;alg=hmac-sha-1-96;spi-c=1;spi-s=2;port-c=65536;port-s=4"),
            Some(SecError::OutOfRange("port-c"))
        );
        assert_eq!(
            e("ipsec-3gpp;alg=hmac-sha-1-96;spi-c=x;spi-s=2;port-c=3;port-s=4"),
            Some(SecError::InvalidValue("spi-c"))
        );
        assert_eq!(e(&format!("{base};q=1.001")), Some(SecError::OutOfRange("q")));
        assert_eq!(e(&format!("{base};q=0.1234")), Some(SecError::InvalidValue("q")));
        assert_eq!(
            e(&format!("{base};q=0.1;q=0.2")),
            Some(SecError::DuplicateParam("q"))
        );
        assert_eq!(
            e(&format!("{base};prot=xyz")),
            Some(SecError::InvalidValue("prot"))
        );
        assert_eq!(
            e(&format!("{base};mod=bogus")),
            Some(SecError::InvalidValue("mod"))
        );
        assert_eq!(e(";alg=x"), Some(SecError::InvalidMechanism));
        assert_eq!(parse_all([&b" , "[..]]).err(), Some(SecError::Empty));
        // An unknown alg parses (the registrar skips the offer) but algs() says why.
        let m = Mechanism::parse(b"ipsec-3gpp;alg=hmac-sha-512;spi-c=1;spi-s=2;port-c=3;port-s=4").unwrap();
        assert_eq!(m.ipsec.unwrap().algs(), Err(SecError::UnknownAlg("alg")));
    }

    #[test]
    fn sort_by_q_is_stable() {
        let mut m = parse_all([&b"tls;q=0.2, digest, ipsec-ike;q=0.9, ipsec-man;q=0.2, foo"[..]]).unwrap();
        sort_by_preference(&mut m);
        let names: Vec<_> = m.iter().map(|m| m.name).collect();
        assert_eq!(
            names,
            vec![
                MechName::IpsecIke,
                MechName::Tls,
                MechName::IpsecMan,
                MechName::Digest,
                MechName::Unknown(b"foo")
            ]
        );
    }

    #[test]
    fn emit_security_server_roundtrip() {
        let offers = [
            ServerOffer {
                q: Some(100),
                alg: IntegAlg::HmacSha196,
                ealg: EncrAlg::AesCbc,
                mode: Mode::Trans,
                spi_c: 4_000_000_001,
                spi_s: 4_000_000_002,
                port_c: 5100,
                port_s: 5101,
            },
            ServerOffer {
                q: Some(1000),
                alg: IntegAlg::Null,
                ealg: EncrAlg::AesGcm,
                mode: Mode::UdpEncTun,
                spi_c: 7,
                spi_s: 8,
                port_c: 5100,
                port_s: 5101,
            },
        ];
        let mut out = Vec::new();
        write_security_server(&mut out, &offers);
        assert_eq!(
            &out[..],
            &b"ipsec-3gpp;q=0.100;prot=esp;mod=trans;spi-c=4000000001;spi-s=4000000002;port-c=5100;port-s=5101;alg=hmac-sha-1-96;ealg=aes-cbc, ipsec-3gpp;q=1.000;prot=esp;mod=UDP-enc-tun;spi-c=7;spi-s=8;port-c=5100;port-s=5101;alg=null;ealg=aes-gcm"[..]
        );
        let m = parse_all([&out[..]]).unwrap();
        assert_eq!(
            m[0].ipsec.unwrap().algs(),
            Ok((IntegAlg::HmacSha196, EncrAlg::AesCbc))
        );
        assert_eq!(m[1].ipsec.unwrap().spi_s, 8);
        assert_eq!(m[1].q, Some(1000));
    }

    #[test]
    fn compare_verify_ignores_whitespace_order_case_and_defaults() {
        let sent = b"ipsec-3gpp;q=0.1;prot=esp;mod=trans;spi-c=1;spi-s=2;port-c=3;port-s=4;alg=hmac-sha-1-96;ealg=null";
        let echoed = b"IPSEC-3GPP ; alg=HMAC-SHA-1-96 ; spi-s=2;spi-c=1; port-s=4;port-c=3;q=0.100";
        assert!(equivalent_values(sent, echoed));
    }

    #[test]
    fn compare_verify_detects_changes() {
        let sent = b"ipsec-3gpp;q=0.1;alg=hmac-sha-1-96;ealg=aes-cbc;spi-c=1;spi-s=2;port-c=3;port-s=4";
        for tampered in [
            &b"ipsec-3gpp;q=0.1;alg=hmac-md5-96;ealg=aes-cbc;spi-c=1;spi-s=2;port-c=3;port-s=4"[..],
            b"ipsec-3gpp;q=0.1;alg=hmac-sha-1-96;ealg=null;spi-c=1;spi-s=2;port-c=3;port-s=4",
            b"ipsec-3gpp;q=0.2;alg=hmac-sha-1-96;ealg=aes-cbc;spi-c=1;spi-s=2;port-c=3;port-s=4",
            b"ipsec-3gpp;q=0.1;alg=hmac-sha-1-96;ealg=aes-cbc;spi-c=1;spi-s=2;port-c=3;port-s=5",
            b"ipsec-3gpp;q=0.1;alg=hmac-sha-1-96;ealg=aes-cbc;spi-c=1;spi-s=2;port-c=3;port-s=4;x=1",
            b"ipsec-3gpp;q=0.1;alg=hmac-sha-1-96;ealg=aes-cbc;spi-c=1;spi-s=2;port-c=3;port-s=4, tls",
            b"garbage;;==",
        ] {
            assert!(
                !equivalent_values(sent, tampered),
                "{}",
                String::from_utf8_lossy(tampered)
            );
        }
        // Mechanism order is significant.
        assert!(!equivalent_values(b"tls, digest", b"digest, tls"));
        assert!(equivalent_values(b"tls;x=\"A\";y, digest", b"TLS;y;X=a,digest"));
    }
}
