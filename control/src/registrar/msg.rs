//! The registrar's reading of a REGISTER and of the S-CSCF's responses: a
//! thin adapter over the typed SIP API ([`crate::sip`]) and the sec-agree
//! parser ([`crate::secagree`]).
//!
//! Owns the registrar's rules on top of the syntax those modules own: which
//! headers must be present and single (Authorization, WWW-Authenticate,
//! Call-ID, CSeq, Expires), what a Contact set means for the binding
//! (requested expiry, deregistration, `reg-id`), which `ipsec-3gpp` offers
//! the registrar can use, and the transaction key. Syntax errors of any of
//! them are [`Bad::Malformed`] (the caller answers 400, or drops or rejects
//! a response). Edits are recorded in a [`crate::sip::Editor`], which
//! copies every byte it does not change. Must never panic on any input.

use crate::secagree::{self, Alg, Mechanism, Mode, Prot, SecError};
use crate::sip::{self, CSeq, Contact, Digest, Editor, Header, HeaderName, Message, Via};
use crate::types::{EncrAlg, IntegAlg};
use smallvec::SmallVec;

/// Why a REGISTER (or its response) could not be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Bad {
    /// Malformed or contradictory header (400).
    Malformed(&'static str),
}

pub(crate) type R<T> = Result<T, Bad>;

/// `map_err` to [`Bad::Malformed`] naming `what`.
fn bad<E>(what: &'static str) -> impl FnOnce(E) -> Bad {
    move |_| Bad::Malformed(what)
}

/// The only header of `kind` and its index; several is [`Bad`].
fn only<'b>(m: &Message<'b, '_>, kind: HeaderName, what: &'static str) -> R<Option<(usize, Header<'b>)>> {
    let mut it = m.headers.iter().enumerate().filter(|(_, h)| h.kind == kind);
    let Some((i, h)) = it.next() else { return Ok(None) };
    if it.next().is_some() {
        return Err(Bad::Malformed(what));
    }
    Ok(Some((i, *h)))
}

/// The topmost via-parm and the index of its header (to edit it).
#[derive(Debug, Clone, Copy)]
pub(crate) struct TopVia<'b> {
    /// Index of the first Via header in [`Message::headers`].
    pub idx: usize,
    /// Its first value.
    pub via: Via<'b>,
}

/// Read the first Via value.
pub(crate) fn top_via<'b>(m: &Message<'b, '_>) -> R<TopVia<'b>> {
    let idx = m
        .header_index(HeaderName::Via)
        .ok_or(Bad::Malformed("missing Via"))?;
    let value = m.headers.get(idx).ok_or(Bad::Malformed("missing Via"))?.value;
    let first = sip::values(value)
        .next()
        .ok_or(Bad::Malformed("empty Via"))?
        .map_err(bad("Via"))?;
    // The Editor edits the element before the first top-level comma: an
    // empty leading element (`Via: , SIP/2.0/UDP ...`) would make it edit
    // another element than the one read here.
    let off = (first.as_ptr() as usize).wrapping_sub(value.as_ptr() as usize);
    if value.get(..off).is_none_or(|lead| lead.contains(&b',')) {
        return Err(Bad::Malformed("empty Via element"));
    }
    let via = Via::parse(first).map_err(bad("Via"))?;
    Ok(TopVia { idx, via })
}

/// The Authorization header of a REGISTER: IMPI and whether it carries a
/// challenge response.
#[derive(Debug, Clone)]
pub(crate) struct Authz<'b> {
    /// Index of the header (to set `integrity-protected`).
    pub idx: usize,
    /// `username` (the IMPI), not empty.
    pub username: &'b [u8],
    /// A non-empty `response` is present.
    pub has_response: bool,
}

/// Read the single Authorization header (Digest).
pub(crate) fn authorization<'b>(m: &Message<'b, '_>) -> R<Option<Authz<'b>>> {
    let Some((idx, h)) = only(m, HeaderName::Authorization, "several Authorization headers")? else {
        return Ok(None);
    };
    let d = Digest::parse(h.value).map_err(bad("Authorization"))?;
    if !d.is_digest() {
        return Err(Bad::Malformed("Authorization scheme"));
    }
    let username = d
        .username
        .filter(|u| !u.is_empty())
        .ok_or(Bad::Malformed("Authorization username"))?;
    Ok(Some(Authz {
        idx,
        username,
        has_response: d.response.is_some_and(|r| !r.is_empty()),
    }))
}

/// One `ipsec-3gpp` offer of a Security-Client, copied out of the message
/// (it outlives the REGISTER in the pending transaction).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Offer {
    /// Both algorithms; `None` when this build does not know one of them
    /// (such an offer is never chosen).
    pub algs: Option<(IntegAlg, EncrAlg)>,
    /// `ealg` was written (an absent one means null, and Security-Server
    /// then leaves a null `ealg` out too).
    pub ealg_written: bool,
    /// `spi-c`.
    pub spi_c: u32,
    /// `spi-s`.
    pub spi_s: u32,
    /// `port-c`.
    pub port_c: u16,
    /// `port-s`.
    pub port_s: u16,
    /// `mod=UDP-enc-tun` (TS 33.203 Annex M).
    pub udp_enc_tun: bool,
}

/// The sec-agree headers of one name in a message.
#[derive(Debug, Clone)]
pub(crate) struct SecAgree<'b> {
    /// Every mechanism, in order.
    mechs: Vec<Mechanism<'b>>,
    /// The `ipsec-3gpp` offers, in order.
    pub offers: SmallVec<[Offer; 4]>,
    /// The header values as received, joined with `, `: what is stored for
    /// the comparison of step 3a ([`SecAgree::matches`]).
    pub raw: Box<[u8]>,
}

impl SecAgree<'_> {
    /// Whether these mechanisms are [`secagree::equivalent`] to the stored
    /// `raw` of an earlier [`SecAgree`] or Security-Server value (TS 24.229
    /// §5.2.2.2 step 3a). An echo byte for byte (the usual case) is decided
    /// without parsing `stored` again: `equivalent` is reflexive on any list
    /// that parses, and this one did.
    pub fn matches(&self, stored: &[u8]) -> bool {
        *self.raw == *stored
            || secagree::parse_all([stored]).is_ok_and(|s| secagree::equivalent(&self.mechs, &s))
    }
}

/// Parse every mechanism of every header `kind` (Security-Client,
/// Security-Verify). `Ok(None)` when there is no mechanism at all; a
/// malformed mechanism, or an `ipsec-3gpp` one with `prot` other than `esp`,
/// is [`Bad`]. Mechanisms other than `ipsec-3gpp` are kept for the
/// comparison but offer nothing.
pub(crate) fn sec_agree<'b>(m: &Message<'b, '_>, kind: HeaderName) -> R<Option<SecAgree<'b>>> {
    let mechs = match secagree::from_message(m, kind) {
        Ok(Some(mechs)) => mechs,
        Ok(None) | Err(SecError::Empty) => return Ok(None),
        Err(_) => return Err(Bad::Malformed("sec-agree")),
    };
    let mut offers = SmallVec::new();
    for mech in &mechs {
        let Some(i) = mech.ipsec else { continue };
        if i.prot != Prot::Esp {
            return Err(Bad::Malformed("prot"));
        }
        offers.push(Offer {
            algs: i.algs().ok(),
            // Absent means null: only a null one needs a look at the text.
            ealg_written: i.ealg != Alg::Known(EncrAlg::Null)
                || sip::find_param(mech.params, "ealg").is_ok_and(|p| p.is_some()),
            spi_c: i.spi_c,
            spi_s: i.spi_s,
            port_c: i.port_c,
            port_s: i.port_s,
            udp_enc_tun: i.mode == Mode::UdpEncTun,
        });
    }
    let mut raw = Vec::new();
    for h in m.headers_named(kind) {
        if !raw.is_empty() {
            raw.extend_from_slice(b", ");
        }
        raw.extend_from_slice(h.value);
    }
    Ok(Some(SecAgree {
        mechs,
        offers,
        raw: raw.into(),
    }))
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

/// Read Contact and Expires. Malformed contacts, absurd values
/// (non-numeric, above 2^32-1) and contradictory duplicates of Expires are
/// errors.
pub(crate) fn contact_info(m: &Message<'_, '_>) -> R<ContactInfo> {
    let expires_hdr = m
        .single(HeaderName::Expires)
        .map_err(bad("contradictory Expires"))?
        .map(sip::parse_expires)
        .transpose()
        .map_err(bad("Expires"))?;
    let mut info = ContactInfo {
        none: true,
        ..Default::default()
    };
    let mut all_zero = true;
    let mut max: Option<u32> = None;
    for (i, v) in m.values_named(HeaderName::Contact).enumerate() {
        info.none = false;
        let c = match v.and_then(Contact::parse).map_err(bad("Contact"))? {
            Contact::Star if expires_hdr == Some(0) => continue,
            Contact::Star => return Err(Bad::Malformed("Contact * without Expires: 0")),
            Contact::Addr(c) => c,
        };
        info.reg_id |= i == 0 && c.reg_id.is_some();
        let e = c.expires.or(expires_hdr);
        all_zero &= e == Some(0);
        if let Some(e) = e {
            max = Some(max.map_or(e, |m| m.max(e)));
        }
    }
    info.expires = max.or(expires_hdr);
    info.dereg = !info.none && all_zero;
    Ok(info)
}

/// The single WWW-Authenticate header of a 401 and its decoded ck and ik.
pub(crate) struct Challenge {
    /// Index of the header (to strip ck and ik).
    pub idx: usize,
    /// `ck`, if present.
    pub ck: Option<[u8; 16]>,
    /// `ik`, if present.
    pub ik: Option<[u8; 16]>,
}

/// Read the single WWW-Authenticate header of a 401. A ck or ik that is not
/// 32 hex digits is [`Bad`].
pub(crate) fn challenge(m: &Message<'_, '_>) -> R<Option<Challenge>> {
    let Some((idx, h)) = only(m, HeaderName::WwwAuthenticate, "several WWW-Authenticate headers")? else {
        return Ok(None);
    };
    let d = Digest::parse(h.value).map_err(bad("WWW-Authenticate"))?;
    let key = |k: Option<&[u8]>| k.map(sip::parse_hex_key).transpose().map_err(bad("ck/ik"));
    Ok(Some(Challenge {
        idx,
        ck: key(d.ck)?,
        ik: key(d.ik)?,
    }))
}

/// The URIs of P-Associated-URI, in order.
///
/// The list comes from the S-CSCF; an element that does not parse is
/// skipped rather than costing the UE every other identity it registered.
pub(crate) fn associated_uris(m: &Message<'_, '_>) -> R<Vec<String>> {
    let mut out = Vec::new();
    for h in m.headers_named(HeaderName::PAssociatedUri) {
        for na in sip::name_addrs(h.value).flatten() {
            // Only a URI that parses as a SIP, SIPS or tel URI is an identity.
            if sip::Uri::parse(na.uri).is_err() {
                continue;
            }
            if let Ok(uri) = core::str::from_utf8(na.uri) {
                out.push(uri.to_owned());
            }
        }
    }
    Ok(out)
}

/// Call-ID and CSeq number of a message: the transaction key.
pub(crate) fn txn_key(m: &Message<'_, '_>) -> R<(Box<[u8]>, u32)> {
    let call_id = m
        .single(HeaderName::CallId)
        .map_err(bad("contradictory Call-ID"))?
        .ok_or(Bad::Malformed("missing Call-ID"))?;
    let call_id = sip::parse_call_id(call_id).map_err(bad("Call-ID"))?;
    let cseq = m
        .single(HeaderName::CSeq)
        .map_err(bad("contradictory CSeq"))?
        .ok_or(Bad::Malformed("missing CSeq"))?;
    let cseq = CSeq::parse(cseq).map_err(bad("CSeq"))?;
    Ok((call_id.into(), cseq.seq))
}

/// Write `m` with the edits of `ed` applied (overlapping edits are
/// [`Bad`]).
pub(crate) fn apply(ed: &mut Editor, m: &Message<'_, '_>) -> R<Vec<u8>> {
    let mut out = Vec::new();
    ed.apply(m, &mut out).map_err(bad("edit"))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::{parse, Status};

    /// Parse `headers` (CRLF-terminated lines) under a REGISTER start line.
    fn with<T>(headers: &str, f: impl FnOnce(&Message<'_, '_>) -> T) -> T {
        let buf = format!("REGISTER sip:ims.example SIP/2.0\r\n{headers}Content-Length: 0\r\n\r\n");
        let mut h = [Header::EMPTY; 16];
        let Ok(Status::Complete(m)) = parse(buf.as_bytes(), &mut h) else {
            panic!("test message must parse: {headers}")
        };
        f(&m)
    }

    const OFFER: &str =
        "ipsec-3gpp;alg=hmac-sha-1-96;ealg=aes-cbc;prot=esp;mod=trans;spi-c=1;spi-s=2;port-c=3;port-s=4";

    #[test]
    fn sec_agree_offers_raw_and_comparison() {
        let sa = with(
            &format!("Security-Client: digest, {OFFER}\r\nSecurity-Client: ipsec-3gpp;alg=null;spi-c=5;spi-s=6;port-c=7;port-s=8;mod=UDP-enc-tun\r\n"),
            |m| sec_agree(m, HeaderName::SecurityClient).map(|s| s.map(|s| (s.offers, s.raw))),
        );
        let (offers, raw) = sa.unwrap().unwrap();
        assert_eq!(offers.len(), 2, "digest offers nothing");
        assert_eq!(offers[0].algs, Some((IntegAlg::HmacSha196, EncrAlg::AesCbc)));
        assert!(offers[0].ealg_written && !offers[0].udp_enc_tun);
        assert_eq!(
            (
                offers[0].spi_c,
                offers[0].spi_s,
                offers[0].port_c,
                offers[0].port_s
            ),
            (1, 2, 3, 4)
        );
        assert_eq!(offers[1].algs, Some((IntegAlg::Null, EncrAlg::Null)));
        assert!(!offers[1].ealg_written && offers[1].udp_enc_tun);
        assert!(
            raw.starts_with(b"digest, ipsec-3gpp;alg=hmac-sha-1-96"),
            "headers joined"
        );
        // Step 3a: the same list written differently matches; a changed one does not.
        let echo = "IPSEC-3GPP; spi-s=2 ;spi-c=1;port-c=3;port-s=4;ALG=hmac-sha-1-96;ealg=aes-cbc";
        with(&format!("Security-Verify: {echo}\r\n"), |m| {
            let v = sec_agree(m, HeaderName::SecurityVerify).unwrap().unwrap();
            assert!(v.matches(OFFER.as_bytes()));
            assert!(v.matches(echo.as_bytes()), "byte-for-byte echo");
            assert!(!v.matches(OFFER.replace("spi-c=1", "spi-c=9").as_bytes()));
            assert!(!v.matches(format!("{OFFER}, tls").as_bytes()));
            assert!(!v.matches(b"garbage;;=="));
        });
    }

    #[test]
    fn sec_agree_absent_empty_and_malformed() {
        let none = |hdrs: &str| {
            with(hdrs, |m| {
                sec_agree(m, HeaderName::SecurityClient).map(|s| s.is_none())
            })
        };
        assert_eq!(none(""), Ok(true));
        assert_eq!(none("Security-Client: ,\r\n"), Ok(true));
        assert_eq!(none("Security-Client: digest\r\n"), Ok(false));
        for bad in [
            "ipsec-3gpp;alg=hmac-sha-1-96;spi-c=abc;spi-s=1;port-c=1;port-s=2",
            "ipsec-3gpp;alg=hmac-sha-1-96;spi-c=1",
            "ipsec-3gpp;alg=hmac-sha-1-96;prot=ah;spi-c=1;spi-s=2;port-c=3;port-s=4",
            "ipsec-3gpp;alg=\"unterminated",
            ";alg=x",
        ] {
            assert!(none(&format!("Security-Client: {bad}\r\n")).is_err(), "{bad}");
        }
        // An unknown algorithm is not malformed: the offer is never chosen.
        let o = with(
            "Security-Client: ipsec-3gpp;alg=hmac-sha-512;spi-c=1;spi-s=2;port-c=3;port-s=4\r\n",
            |m| sec_agree(m, HeaderName::SecurityClient).map(|s| s.map(|s| s.offers)),
        );
        assert_eq!(o.unwrap().unwrap()[0].algs, None);
    }

    #[test]
    fn top_via_first_element() {
        let v = with(
            "Max-Forwards: 70\r\nVia: SIP/2.0/UDP [2001:db8::1]:5062;branch=z9hG4bK1;rport, SIP/2.0/UDP x\r\n",
            |m| top_via(m).map(|v| (v.idx, v.via.host.to_vec(), v.via.port)),
        );
        assert_eq!(v, Ok((1, b"[2001:db8::1]".to_vec(), Some(5062))));
        for bad in [
            "",
            "Via: , SIP/2.0/UDP h;branch=z9hG4bK1\r\n",
            "Via: SIP/2.0 h\r\n",
            "Via: SIP/2.0/UDP h:99999\r\n",
            "Via: SIP/2.0/UDP h;rport;rport\r\n",
        ] {
            assert!(with(bad, |m| top_via(m).is_err()), "{bad}");
        }
    }

    #[test]
    fn authorization_single_digest_with_username() {
        let a = with(
            "Authorization: Digest username=\"u@ims\", nonce=\"\", response=\"ab\"\r\n",
            |m| authorization(m).map(|a| a.map(|a| (a.idx, a.username.to_vec(), a.has_response))),
        );
        assert_eq!(a, Ok(Some((0, b"u@ims".to_vec(), true))));
        let no_res = with("Authorization: Digest username=\"u\", response=\"\"\r\n", |m| {
            authorization(m).map(|a| a.map(|a| a.has_response))
        });
        assert_eq!(no_res, Ok(Some(false)));
        assert_eq!(with("", |m| authorization(m).map(|a| a.is_none())), Ok(true));
        for bad in [
            "Authorization: Digest username=\"a\"\r\nAuthorization: Digest username=\"b\"\r\n",
            "Authorization: Basic username=\"a\"\r\n",
            "Authorization: Digest username=\"\"\r\n",
            "Authorization: Digest realm=\"r\"\r\n",
            "Authorization: Digest username=\"a\", username=\"b\"\r\n",
        ] {
            assert!(with(bad, |m| authorization(m).is_err()), "{bad}");
        }
    }

    #[test]
    fn contact_info_expiry_dereg_and_reg_id() {
        let i = with(
            "Contact: <sip:a@h>;expires=60;reg-id=1, <sip:b@h>\r\nExpires: 600\r\n",
            contact_info,
        )
        .unwrap();
        assert_eq!(
            (i.reg_id, i.expires, i.dereg, i.none),
            (true, Some(600), false, false)
        );
        let i = with("Contact: *\r\nExpires: 0\r\n", contact_info).unwrap();
        assert!(i.dereg);
        let i = with(
            "Contact: <sip:a@h>;expires=0, <sip:b@h>;reg-id=2\r\n",
            contact_info,
        )
        .unwrap();
        assert_eq!((i.reg_id, i.expires, i.dereg), (false, Some(0), false));
        let i = with("", contact_info).unwrap();
        assert_eq!((i.none, i.dereg, i.expires), (true, false, None));
        for bad in [
            "Contact: *\r\n",
            "Contact: <sip:a@h>;expires=4294967296\r\n",
            "Contact: <sip:a@h>;expires=1;expires=2\r\n",
            "Contact: <sip:a@h\r\n",
            "Expires: 5\r\nExpires: 6\r\n",
            "Expires: -1\r\n",
        ] {
            assert!(with(bad, |m| contact_info(m).is_err()), "{bad}");
        }
    }

    #[test]
    fn challenge_keys_and_txn_key() {
        let k = "00112233445566778899aabbccddeeff";
        let c = with(
            &format!(
                "WWW-Authenticate: Digest ck=\"{k}\", ik=\"{}\", nonce=\"n\"\r\n",
                k.to_uppercase()
            ),
            |m| challenge(m).map(|c| c.map(|c| (c.idx, c.ck, c.ik))),
        );
        let want = [
            0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff,
        ];
        assert_eq!(c, Ok(Some((0, Some(want), Some(want)))));
        let c = with("WWW-Authenticate: Digest nonce=\"n\"\r\n", |m| {
            challenge(m).map(|c| c.map(|c| (c.ck, c.ik)))
        });
        assert_eq!(c, Ok(Some((None, None))));
        for bad in [
            "WWW-Authenticate: Digest ck=\"0011\"\r\n",
            "WWW-Authenticate: Digest ck=\"00112233445566778899aabbccddeegg\"\r\n",
            "WWW-Authenticate: Digest nonce=\"a\"\r\nWWW-Authenticate: Digest nonce=\"b\"\r\n",
        ] {
            assert!(with(bad, |m| challenge(m).is_err()), "{bad}");
        }
        let t = with("Call-ID: abc@h\r\nCSeq: 7 REGISTER\r\n", txn_key);
        assert_eq!(t, Ok((b"abc@h".to_vec().into(), 7)));
        for bad in [
            "CSeq: 7 REGISTER\r\n",
            "Call-ID: a\r\n",
            "Call-ID: a\r\nCall-ID: b\r\nCSeq: 1 REGISTER\r\n",
            "Call-ID: a\r\nCSeq: x REGISTER\r\n",
        ] {
            assert!(with(bad, |m| txn_key(m).is_err()), "{bad}");
        }
    }

    #[test]
    fn associated_uris_in_order() {
        let u = with(
            "P-Associated-URI: <sip:u@ims.example>, \"Me\" <tel:+15550100>;x=1\r\nP-Associated-URI: sip:v@ims.example\r\n",
            associated_uris,
        );
        assert_eq!(
            u,
            Ok(vec![
                "sip:u@ims.example".to_string(),
                "tel:+15550100".to_string(),
                "sip:v@ims.example".to_string()
            ])
        );
        // A malformed element is skipped; the others are kept.
        assert_eq!(
            with(
                "P-Associated-URI: <tel:+15550100>, <sip:u@ims, <mailto:x@y>\r\nP-Associated-URI: <sip:v@ims.example\r\n",
                associated_uris
            ),
            Ok(vec!["tel:+15550100".to_string()])
        );
    }
}
