//! Identity assertion, TS 24.229 §5.2.6.3 (quoted in seed 002).
//!
//! Owns the choice of the IMPU the P-CSCF asserts for a request from a UE it
//! already knows (by SA, TLS connection or Annex N binding: the caller's
//! job), and the list of identity headers a UE may not send onwards. Must
//! never allocate (the data plane calls it per request), never look at From
//! (NOTE 1), Via or a UE-supplied P-Asserted-Identity, and never compare
//! URIs as raw strings: P-Preferred-Identity matches a registered IMPU by
//! RFC 3261 §19.1.4 / RFC 3966 §4 equivalence ([`crate::sip::Uri::equivalent`]).
//!
//! ## API
//! - [`assert_identity`]`(ppi, id, random)`: `ppi` is one raw
//!   P-Preferred-Identity value (a list is allowed).
//! - [`assert_identity_msg`]`(msg, id, random)`: all P-Preferred-Identity
//!   headers of a parsed message.
//! - [`is_initial_or_standalone`]`(msg)`: a request without a To tag.
//! - [`UE_IDENTITY_HEADERS`], [`must_remove_from_ue`]: P-Asserted-Identity
//!   and P-Preferred-Identity, removed from every request a UE sends.
//! - [`rewrite_identity`]: records in an [`Editor`] the removal of those
//!   headers and the insertion of the asserted IMPU's precomputed line.

use crate::sip::{self, Editor, Header, HeaderName, Message, Uri};
use crate::types::{Identity, Impu};

/// Headers a UE may not send towards the core: the P-CSCF removes them and
/// inserts its own P-Asserted-Identity (TS 24.229 §5.2.6.3).
pub const UE_IDENTITY_HEADERS: [HeaderName; 2] =
    [HeaderName::PAssertedIdentity, HeaderName::PPreferredIdentity];

/// Whether a header of a request from a UE must be removed before it is
/// forwarded (P-Asserted-Identity, P-Preferred-Identity).
pub fn must_remove_from_ue(h: &Header<'_>) -> bool {
    UE_IDENTITY_HEADERS.contains(&h.kind)
}

/// The registered IMPU equivalent to `uri`, if any.
fn match_registered<'a>(uri: &Uri<'_>, id: &'a Identity) -> Option<&'a Impu> {
    id.impus
        .iter()
        .find(|i| Uri::parse(i.uri().as_bytes()).is_ok_and(|r| r.equivalent(uri)))
}

/// The first URI of a P-Preferred-Identity value that matches a registered
/// IMPU. Malformed elements match nothing.
#[inline]
fn match_ppi<'a>(ppi: &[u8], id: &'a Identity) -> Option<&'a Impu> {
    // The usual value is one registered IMPU in angle brackets, byte for
    // byte: found without parsing (`Impu::bracketed` is a single name-addr,
    // what the parse below would find first).
    if let Some(i) = find_bracketed(ppi, id) {
        return Some(i);
    }
    match_ppi_parsed(ppi, id)
}

/// The IMPU whose [`Impu::is_bracketed`] is `ppi`, if any. A plain loop,
/// always inlined: `Iterator::find` over the IMPUs stayed a call on the
/// data plane's per-request path.
#[inline(always)]
#[allow(clippy::manual_find)]
fn find_bracketed<'a>(ppi: &[u8], id: &'a Identity) -> Option<&'a Impu> {
    for i in &id.impus {
        if i.is_bracketed(ppi) {
            return Some(i);
        }
    }
    None
}

/// [`match_ppi`] past its byte-for-byte shortcut. Out of line: the data
/// plane inlines the shortcut into its per-request path, not the parser.
#[inline(never)]
fn match_ppi_parsed<'a>(ppi: &[u8], id: &'a Identity) -> Option<&'a Impu> {
    sip::name_addrs(ppi).filter_map(Result::ok).find_map(|na| {
        // Byte-identical URIs are equivalent: the common case needs no parse.
        id.impus
            .iter()
            .find(|i| i.uri().as_bytes() == na.uri)
            .or_else(|| na.parsed_uri().ok().and_then(|u| match_registered(&u, id)))
    })
}

/// A default IMPU: one of `id.defaults` picked by `random` (indices out of
/// range are ignored), or the first IMPU when there is no usable default.
/// `random` is called only when there are several usable defaults.
#[inline(always)]
fn default_impu(id: &Identity, random: impl FnOnce() -> u32) -> Option<&Impu> {
    if id.defaults.is_empty() {
        // The usual identity (TS 24.229: the first P-Associated-URI).
        return id.impus.first();
    }
    let valid = || id.defaults.iter().filter(|&&k| usize::from(k) < id.impus.len());
    let n = valid().count();
    if n == 0 {
        return id.impus.first();
    }
    let r = if n > 1 { random() } else { 0 };
    let k = valid().nth(r as usize % n)?;
    id.impus.get(usize::from(*k))
}

/// Pick the IMPU to assert for an initial or standalone request.
///
/// `ppi` is the value of a P-Preferred-Identity header (or `None` when there
/// is none). If one of its URIs is equivalent to a registered IMPU, that IMPU
/// is returned; otherwise a default IMPU, chosen with `random` when there are
/// several. `None` only when `id` has no IMPU at all.
pub fn assert_identity<'a>(ppi: Option<&[u8]>, id: &'a Identity, random: u32) -> Option<&'a Impu> {
    ppi.and_then(|p| match_ppi(p, id))
        .or_else(|| default_impu(id, || random))
}

/// [`assert_identity`] over the values of several P-Preferred-Identity
/// headers, in header order: the first URI that matches a registered IMPU
/// wins; otherwise a default IMPU.
#[inline]
pub fn assert_identity_values<'a, 'v>(
    ppis: impl IntoIterator<Item = &'v [u8]>,
    id: &'a Identity,
    random: u32,
) -> Option<&'a Impu> {
    assert_identity_values_with(ppis, id, || random)
}

/// [`assert_identity_values`] with the random number drawn from `random`
/// only when it is needed (when no P-Preferred-Identity matches and `id`
/// has several usable defaults), so a caller on the packet path does not
/// pay for a draw it would throw away.
#[inline(always)]
pub fn assert_identity_values_with<'a, 'v>(
    ppis: impl IntoIterator<Item = &'v [u8]>,
    id: &'a Identity,
    random: impl FnOnce() -> u32,
) -> Option<&'a Impu> {
    let mut ppis = ppis.into_iter();
    // Most requests carry no P-Preferred-Identity and most identities no
    // list of defaults: that case is a few loads, inlined into the caller.
    match ppis.next() {
        None => default_impu(id, random),
        // The usual request has one P-Preferred-Identity, a registered
        // IMPU byte for byte: `match_ppi`'s shortcut for the first value,
        // inlined too (no call for the usual case).
        Some(first) => match find_bracketed(first, id) {
            Some(i) => Some(i),
            None => match_ppis(first, ppis, id, random),
        },
    }
}

/// [`assert_identity_values_with`] once a first value is in hand that is
/// not a registered IMPU byte for byte: the rest of [`match_ppi`] for it,
/// then the other values in header order, then a default IMPU.
#[inline(never)]
fn match_ppis<'a, 'v>(
    first: &'v [u8],
    mut rest: impl Iterator<Item = &'v [u8]>,
    id: &'a Identity,
    random: impl FnOnce() -> u32,
) -> Option<&'a Impu> {
    if let Some(i) = match_ppi_parsed(first, id) {
        return Some(i);
    }
    rest.find_map(|p| match_ppi(p, id))
        .or_else(|| default_impu(id, random))
}

/// [`assert_identity`] over every P-Preferred-Identity header of `msg` (the
/// first matching URI in header order wins). From and any P-Asserted-Identity
/// in the message are ignored.
pub fn assert_identity_msg<'a>(msg: &Message<'_, '_>, id: &'a Identity, random: u32) -> Option<&'a Impu> {
    msg.headers_named(HeaderName::PPreferredIdentity)
        .find_map(|h| match_ppi(h.value, id))
        .or_else(|| default_impu(id, || random))
}

/// Whether `msg` is an initial request for a dialog or a standalone request:
/// a request whose To header has no `tag` (a To tag means in-dialog).
/// Responses return `Ok(false)`. A missing or malformed To is an error.
pub fn is_initial_or_standalone(msg: &Message<'_, '_>) -> Result<bool, sip::Error> {
    if !msg.is_request() {
        return Ok(false);
    }
    let to = msg
        .single(HeaderName::To)?
        .ok_or(sip::Error::MissingHeader(HeaderName::To))?;
    let to = sip::NameAddr::parse(to)?;
    Ok(to.param("tag")?.flatten().is_none())
}

/// Record in `ed` the edits identity assertion makes to a request from a UE:
/// remove every P-Asserted-Identity and P-Preferred-Identity and insert the
/// asserted IMPU's `P-Asserted-Identity` line (at the end of the header
/// block). Returns the asserted IMPU (`None` when `id` has none; then only
/// the removals are recorded).
pub fn rewrite_identity<'a>(
    msg: &Message<'_, '_>,
    id: &'a Identity,
    random: u32,
    ed: &mut Editor,
) -> Result<Option<&'a Impu>, sip::Error> {
    let chosen = assert_identity_msg(msg, id, random);
    for k in UE_IDENTITY_HEADERS {
        ed.remove_all(msg, k);
    }
    if let Some(i) = chosen {
        ed.insert_line(msg, None, i.pai_line())?;
    }
    Ok(chosen)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::{Header, Status};

    fn alice() -> Identity {
        Identity::new(
            "alice@ims.example.com",
            &[
                "sip:Alice@example.com",
                "tel:+12125550101",
                "sip:alice.work@example.com;user=ip",
            ],
        )
    }

    fn request(extra: &str) -> Vec<u8> {
        format!(
            "MESSAGE sip:bob@example.net SIP/2.0\r\n\
             Via: SIP/2.0/UDP [2001:db8::1]:5064;branch=z9hG4bK776asdhds\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:alice.work@example.com>;tag=1928301774\r\n\
             To: <sip:bob@example.net>\r\n\
             Call-ID: a84b4c76e66710@2001:db8::1\r\n\
             CSeq: 1 MESSAGE\r\n\
             {extra}\
             Content-Length: 0\r\n\r\n"
        )
        .into_bytes()
    }

    // "...the request contains a P-Preferred-Identity header that matches one
    // of the registered public user identities, the P-CSCF shall identify the
    // initiator of the request by that public user identity."
    #[test]
    fn sentence1_ppi_matching_registered_impu_is_asserted() {
        let id = alice();
        let got = assert_identity(Some(b"<tel:+12125550101>"), &id, 0).unwrap();
        assert_eq!(got.uri(), "tel:+12125550101");
        let got = assert_identity(Some(b"\"Alice\" <sip:alice.work@example.com;user=ip>"), &id, 7).unwrap();
        assert_eq!(got.uri(), "sip:alice.work@example.com;user=ip");
    }

    // "...contains a P-Preferred-Identity header that does not match one of
    // the registered public user identities ... by a default public user identity."
    #[test]
    fn sentence2_ppi_not_matching_gets_default() {
        let id = alice();
        let got = assert_identity(Some(b"<sip:mallory@example.com>"), &id, 0).unwrap();
        assert_eq!(got.uri(), "sip:Alice@example.com");
        // Malformed PPI matches nothing: default.
        let got = assert_identity(Some(b"<sip:"), &id, 0).unwrap();
        assert_eq!(got.uri(), "sip:Alice@example.com");
    }

    // "...or does not contain a P-Preferred-Identity header, the P-CSCF shall
    // identify the initiator of the request by a default public user identity."
    #[test]
    fn sentence2_no_ppi_gets_default() {
        let id = alice();
        assert_eq!(
            assert_identity(None, &id, 99).unwrap().uri(),
            "sip:Alice@example.com"
        );
        let empty = Identity::new("x", &[]);
        assert_eq!(assert_identity(None, &empty, 0), None);
    }

    // "If there is more than one default public user identity available, the
    // P-CSCF shall randomly select one of them."
    #[test]
    fn sentence3_several_defaults_randomly_selected() {
        let mut id = alice();
        id.defaults = vec![1, 2, 40]; // 40 is out of range and ignored
        let picks: Vec<_> = (0..4)
            .map(|r| assert_identity(None, &id, r).unwrap().uri().to_owned())
            .collect();
        assert_eq!(
            picks,
            [
                "tel:+12125550101",
                "sip:alice.work@example.com;user=ip",
                "tel:+12125550101",
                "sip:alice.work@example.com;user=ip"
            ]
        );
        // Never the non-default first IMPU, whatever the random value.
        for r in [0, 1, u32::MAX, 12345] {
            assert_ne!(
                assert_identity(None, &id, r).unwrap().uri(),
                "sip:Alice@example.com"
            );
        }
    }

    /// The lazy form picks what the eager form picks, for every mix of
    /// P-Preferred-Identity values and defaults, and draws a random number
    /// only when several usable defaults need one.
    #[test]
    fn lazy_random_picks_as_eager_and_draws_only_when_needed() {
        let ppi_sets: [&[&[u8]]; 5] = [
            &[],
            &[b"<tel:+12125550101>"],
            &[b"<sip:mallory@example.com>"],
            &[
                b"<sip:mallory@example.com>",
                b"\"A\" <sip:alice.work@example.com;user=ip>",
            ],
            &[b"<sip:"],
        ];
        let default_sets: [&[u16]; 5] = [&[], &[2], &[7], &[1, 2, 40], &[40, 41]];
        for defaults in default_sets {
            let mut id = alice();
            id.defaults = defaults.to_vec();
            let usable = defaults
                .iter()
                .filter(|&&k| usize::from(k) < id.impus.len())
                .count();
            for ppis in ppi_sets {
                for r in [0, 1, 2, u32::MAX] {
                    let eager = assert_identity_values(ppis.iter().copied(), &id, r);
                    let mut drawn = 0;
                    let lazy = assert_identity_values_with(ppis.iter().copied(), &id, || {
                        drawn += 1;
                        r
                    });
                    assert_eq!(
                        lazy.map(Impu::uri),
                        eager.map(Impu::uri),
                        "{defaults:?} {ppis:?} {r}"
                    );
                    let matched = ppis.iter().any(|p| match_ppi(p, &id).is_some());
                    assert_eq!(
                        drawn,
                        usize::from(!matched && usable > 1),
                        "{defaults:?} {ppis:?}"
                    );
                }
            }
        }
    }

    // NOTE 1: "The contents of the From header do not form any part of this
    // decision process."
    #[test]
    fn note1_from_plays_no_part() {
        let id = alice();
        // From names a registered IMPU other than the default, no PPI: default.
        let buf = request("");
        let mut h = [Header::EMPTY; 32];
        let Status::Complete(m) = sip::parse(&buf, &mut h).unwrap() else {
            panic!("partial")
        };
        assert_eq!(
            assert_identity_msg(&m, &id, 0).unwrap().uri(),
            "sip:Alice@example.com"
        );
        // A UE-supplied P-Asserted-Identity is not trusted either.
        let buf = request("P-Asserted-Identity: <tel:+12125550101>\r\n");
        let mut h = [Header::EMPTY; 32];
        let Status::Complete(m) = sip::parse(&buf, &mut h).unwrap() else {
            panic!("partial")
        };
        assert_eq!(
            assert_identity_msg(&m, &id, 0).unwrap().uri(),
            "sip:Alice@example.com"
        );
    }

    #[test]
    fn compare_ppi_host_case_insensitive() {
        let id = alice();
        let got = assert_identity(Some(b"<sip:Alice@EXAMPLE.com>"), &id, 0).unwrap();
        assert_eq!(got.uri(), "sip:Alice@example.com");
        // Proof that it matched by equivalence and not by default: use a
        // different default.
        let mut id2 = alice();
        id2.defaults = vec![1];
        assert_eq!(
            assert_identity(Some(b"<sip:Alice@EXAMPLE.com>"), &id2, 0)
                .unwrap()
                .uri(),
            "sip:Alice@example.com"
        );
    }

    #[test]
    fn compare_ppi_user_case_sensitive() {
        let mut id = alice();
        id.defaults = vec![1];
        assert_eq!(
            assert_identity(Some(b"<sip:alice@example.com>"), &id, 0)
                .unwrap()
                .uri(),
            "tel:+12125550101"
        );
    }

    #[test]
    fn compare_ppi_tel_visual_separators() {
        let mut id = alice();
        id.defaults = vec![2];
        assert_eq!(
            assert_identity(Some(b"<tel:+1-212-555-0101>"), &id, 0)
                .unwrap()
                .uri(),
            "tel:+12125550101"
        );
        assert_eq!(
            assert_identity(Some(b"tel:+1-212-555-0101"), &id, 0)
                .unwrap()
                .uri(),
            "tel:+12125550101"
        );
    }

    #[test]
    fn compare_ppi_escaped_user_and_param_rules() {
        let mut id = alice();
        id.defaults = vec![1];
        // %61 = 'a'; unknown params are ignored; user=ip must be present.
        assert_eq!(
            assert_identity(Some(b"<sip:%61lice.work@Example.COM;user=IP;foo=bar>"), &id, 0)
                .unwrap()
                .uri(),
            "sip:alice.work@example.com;user=ip"
        );
        assert_eq!(
            assert_identity(Some(b"<sip:alice.work@example.com>"), &id, 0)
                .unwrap()
                .uri(),
            "tel:+12125550101",
            "user param present in only one URI never matches"
        );
    }

    #[test]
    fn compare_ppi_list_and_several_headers() {
        let mut id = alice();
        id.defaults = vec![2];
        let buf = request(
            "P-Preferred-Identity: <sip:nobody@example.com>\r\nP-Preferred-Identity: \"A\" <sip:x@y>, <tel:+1.212.555.0101>\r\n",
        );
        let mut h = [Header::EMPTY; 32];
        let Status::Complete(m) = sip::parse(&buf, &mut h).unwrap() else {
            panic!("partial")
        };
        assert_eq!(assert_identity_msg(&m, &id, 0).unwrap().uri(), "tel:+12125550101");
    }

    /// The unparsed shortcut (`<uri>` equal to a registered IMPU) gives what
    /// the parse gives, and never takes a list for a single element.
    #[test]
    fn bracketed_impu_shortcut_agrees_with_the_parse() {
        let id = alice();
        let one = assert_identity(Some(b"<sip:alice.work@example.com;user=ip>"), &id, 0);
        assert_eq!(one.unwrap().uri(), "sip:alice.work@example.com;user=ip");
        // `<a>, <b>`: starts with '<' and ends with '>', but is a list; its
        // first element (not registered) is skipped, the second matches.
        let list = assert_identity(Some(b"<sip:nobody@example.com>, <tel:+12125550101>"), &id, 0);
        assert_eq!(list.unwrap().uri(), "tel:+12125550101");
        let list = assert_identity(Some(b"<tel:+12125550101>, <sip:Alice@example.com>"), &id, 0);
        assert_eq!(list.unwrap().uri(), "tel:+12125550101");
    }
    #[test]
    fn parse_initial_vs_in_dialog() {
        let buf = request("");
        let mut h = [Header::EMPTY; 32];
        let Status::Complete(m) = sip::parse(&buf, &mut h).unwrap() else {
            panic!("partial")
        };
        assert_eq!(is_initial_or_standalone(&m), Ok(true));
        let buf = String::from_utf8(request("")).unwrap().replace(
            "To: <sip:bob@example.net>",
            "t: <sip:bob@example.net>;tag=a6c85cf",
        );
        let mut h = [Header::EMPTY; 32];
        let Status::Complete(m) = sip::parse(buf.as_bytes(), &mut h).unwrap() else {
            panic!("partial")
        };
        assert_eq!(is_initial_or_standalone(&m), Ok(false));
        let buf = String::from_utf8(request(""))
            .unwrap()
            .replace("To: <sip:bob@example.net>\r\n", "");
        let mut h = [Header::EMPTY; 32];
        let Status::Complete(m) = sip::parse(buf.as_bytes(), &mut h).unwrap() else {
            panic!("partial")
        };
        assert_eq!(
            is_initial_or_standalone(&m),
            Err(sip::Error::MissingHeader(HeaderName::To))
        );
    }

    #[test]
    fn emit_rewrite_removes_ue_identity_headers() {
        let id = alice();
        let buf = request(
            "P-Asserted-Identity: <sip:boss@example.com>\r\nP-Preferred-Identity: <tel:+12125550101>\r\n",
        );
        let mut h = [Header::EMPTY; 32];
        let Status::Complete(m) = sip::parse(&buf, &mut h).unwrap() else {
            panic!("partial")
        };
        assert_eq!(m.headers.iter().filter(|h| must_remove_from_ue(h)).count(), 2);
        let mut ed = Editor::new();
        let got = rewrite_identity(&m, &id, 0, &mut ed).unwrap().unwrap();
        let mut out = Vec::new();
        ed.apply(&m, &mut out).unwrap();
        let expected = request("");
        let expected = String::from_utf8(expected).unwrap().replace(
            "Content-Length: 0\r\n\r\n",
            "Content-Length: 0\r\nP-Asserted-Identity: <tel:+12125550101>\r\n\r\n",
        );
        assert_eq!(got.uri(), "tel:+12125550101");
        assert_eq!(String::from_utf8(out).unwrap(), expected);
    }
}
