//! Whole-message tests: real SIP messages (TS 24.229 / 24.228 style flows) as
//! vectors, framing edge cases, byte-exact editing and property tests.

use super::*;
use crate::secagree;

pub(crate) const REGISTER: &[u8] = b"REGISTER sip:registrar.home1.net SIP/2.0\r\n\
Via: SIP/2.0/UDP [5555::aaa:bbb:ccc:ddd]:5060;comp=sigcomp;branch=z9hG4bKnashds7;rport\r\n\
Max-Forwards: 70\r\n\
P-Access-Network-Info: 3GPP-UTRAN-TDD; utran-cell-id-3gpp=234151D0FCE11\r\n\
From: <sip:user1_public1@home1.net>;tag=4fa3\r\n\
To: <sip:user1_public1@home1.net>\r\n\
Contact: <sip:[5555::aaa:bbb:ccc:ddd]:5060>;expires=600000;+sip.instance=\"<urn:gsma:imei:35-209900-176148-1>\";reg-id=1\r\n\
Call-ID: apb03a0s09dkjdfglkj49111\r\n\
Authorization: Digest username=\"user1_private@home1.net\", realm=\"registrar.home1.net\", nonce=\"\",\r\n uri=\"sip:registrar.home1.net\", response=\"\"\r\n\
Security-Client: ipsec-3gpp; alg=hmac-sha-1-96; spi-c=23456789; spi-s=12345678; port-c=2468; port-s=1357\r\n\
Require: sec-agree\r\n\
Proxy-Require: sec-agree\r\n\
CSeq: 1 REGISTER\r\n\
Supported: path, gruu\r\n\
Content-Length: 0\r\n\
\r\n";

pub(crate) const UNAUTHORIZED: &[u8] = b"SIP/2.0 401 Unauthorized\r\n\
Via: SIP/2.0/UDP pcscf1.visited1.net;branch=z9hG4bK240f34.1, SIP/2.0/UDP [5555::aaa:bbb:ccc:ddd]:5060;comp=sigcomp;received=5555::aaa:bbb:ccc:ddd;rport=5060;branch=z9hG4bKnashds7\r\n\
From: <sip:user1_public1@home1.net>;tag=4fa3\r\n\
To: <sip:user1_public1@home1.net>;tag=5ef4\r\n\
Call-ID: apb03a0s09dkjdfglkj49111\r\n\
WWW-Authenticate: Digest realm=\"registrar.home1.net\", nonce=\"A34Cm+Fva37UYWpGNB34JP\", algorithm=AKAv1-MD5, ik=\"0123456789abcdeedcba9876543210\", ck=\"9876543210abcdeedcba0123456789\"\r\n\
CSeq: 1 REGISTER\r\n\
Content-Length: 0\r\n\
\r\n";

pub(crate) const OK: &[u8] = b"SIP/2.0 200 OK\r\n\
Via: SIP/2.0/UDP pcscf1.visited1.net;branch=z9hG4bK351g45.1, SIP/2.0/UDP [5555::aaa:bbb:ccc:ddd]:1357;comp=sigcomp;branch=z9hG4bKnashds8\r\n\
Path: <sip:term@pcscf1.visited1.net;lr>\r\n\
Service-Route: <sip:orig@scscf1.home1.net;lr>\r\n\
From: <sip:user1_public1@home1.net>;tag=4fa3\r\n\
To: <sip:user1_public1@home1.net>;tag=5ef4\r\n\
Call-ID: apb03a0s09dkjdfglkj49111\r\n\
Contact: <sip:[5555::aaa:bbb:ccc:ddd]:1357;comp=sigcomp>;expires=600000\r\n\
CSeq: 2 REGISTER\r\n\
Date: Wed, 11 July 2001 08:49:37 GMT\r\n\
P-Associated-URI: <sip:user1_public2@home1.net>, <sip:user1_public3@home1.net>, <tel:+1-212-555-1111>\r\n\
Content-Length: 0\r\n\
\r\n";

/// A MESSAGE of about 800 bytes with P-Preferred-Identity (also the bench vector).
pub(crate) const MESSAGE: &[u8] = b"MESSAGE sip:user2_public1@home2.net SIP/2.0\r\n\
Via: SIP/2.0/UDP [5555::aaa:bbb:ccc:ddd]:1357;comp=sigcomp;branch=z9hG4bKnashds7\r\n\
Max-Forwards: 70\r\n\
Route: <sip:pcscf1.visited1.net:7531;lr;comp=sigcomp>, <sip:orig@scscf1.home1.net;lr>\r\n\
P-Preferred-Identity: \"John Doe\" <sip:user1_public1@home1.net>\r\n\
P-Access-Network-Info: 3GPP-UTRAN-TDD; utran-cell-id-3gpp=234151D0FCE11\r\n\
From: <sip:user1_public1@home1.net>;tag=31415\r\n\
To: <sip:user2_public1@home2.net>\r\n\
Call-ID: b89rjhnedlrfjflslj40a222\r\n\
CSeq: 61 MESSAGE\r\n\
Accept-Contact: *;+g.3gpp.icsi-ref=\"urn%3Aurn-7%3A3gpp-service.ims.icsi.mmtel\"\r\n\
User-Agent: pcscf-dp test vector\r\n\
Content-Type: text/plain\r\n\
Content-Length: 150\r\n\
\r\n\
Watson, come here. I want to see you. This body pads the request to about eight hundred bytes, the size the benchmark measures; it is never parsed....";

fn msg<'b, 'h>(buf: &'b [u8], h: &'h mut [Header<'b>]) -> Message<'b, 'h> {
    match parse(buf, h) {
        Ok(Status::Complete(m)) => m,
        other => panic!("expected a complete message, got {other:?}"),
    }
}

#[test]
fn parse_register_with_security_client() {
    let mut h = [Header::EMPTY; 32];
    let m = msg(REGISTER, &mut h);
    assert_eq!(m.method(), Some(Method::Register));
    assert_eq!(m.request_uri(), Some(&b"sip:registrar.home1.net"[..]));
    assert_eq!(m.headers.len(), 14);
    let via = Via::parse(m.header(HeaderName::Via).unwrap().value).unwrap();
    assert_eq!(
        (via.host, via.port, via.rport),
        (&b"[5555::aaa:bbb:ccc:ddd]"[..], Some(5060), Rport::Requested)
    );
    let Contact::Addr(c) = Contact::parse(m.header("m").unwrap().value).unwrap() else {
        panic!("star")
    };
    assert_eq!((c.expires, c.reg_id), (Some(600000), Some(1)));
    assert_eq!(c.instance, Some(&b"<urn:gsma:imei:35-209900-176148-1>"[..]));
    // Folded Authorization.
    let auth = m.header("authorization").unwrap();
    assert!(auth.value.windows(3).any(|w| w == b"\r\n "));
    let d = Digest::parse(auth.value).unwrap();
    assert_eq!(d.username, Some(&b"user1_private@home1.net"[..]));
    assert_eq!(d.uri, Some(&b"sip:registrar.home1.net"[..]));
    assert_eq!(d.nonce, Some(&b""[..]));
    assert_eq!(d.integrity_protected, None);
    let sc = secagree::from_message(&m, HeaderName::SecurityClient)
        .unwrap()
        .unwrap();
    let ip = sc[0].ipsec.unwrap();
    assert_eq!(
        (ip.spi_c, ip.spi_s, ip.port_c, ip.port_s),
        (23456789, 12345678, 2468, 1357)
    );
    assert_eq!(
        CSeq::parse(m.header(HeaderName::CSeq).unwrap().value)
            .unwrap()
            .seq,
        1
    );
    assert_eq!(
        parse_call_id(m.header("i").unwrap().value),
        Ok(&b"apb03a0s09dkjdfglkj49111"[..])
    );
    assert_eq!(
        m.values_named("Supported")
            .map(Result::unwrap)
            .collect::<Vec<_>>(),
        vec![&b"path"[..], b"gruu"]
    );
    assert_eq!(m.body(), b"");
    assert_eq!(m.body_offset(), REGISTER.len());
}

#[test]
fn parse_401_with_ck_ik() {
    let mut h = [Header::EMPTY; 32];
    let m = msg(UNAUTHORIZED, &mut h);
    assert_eq!(m.status(), Some(401));
    assert_eq!(
        m.start,
        StartLine::Response {
            code: 401,
            reason: b"Unauthorized"
        }
    );
    let d = Digest::parse(m.header(HeaderName::WwwAuthenticate).unwrap().value).unwrap();
    assert_eq!(d.ik, Some(&b"0123456789abcdeedcba9876543210"[..]));
    assert_eq!(d.ck, Some(&b"9876543210abcdeedcba0123456789"[..]));
    let vias: Vec<_> = m
        .values_named(HeaderName::Via)
        .map(|v| Via::parse(v.unwrap()).unwrap())
        .collect();
    assert_eq!(vias.len(), 2);
    assert_eq!(vias[1].received, Some(&b"5555::aaa:bbb:ccc:ddd"[..]));
    assert_eq!(vias[1].rport, Rport::Value(5060));
    assert_eq!(vias[1].branch, Some(&b"z9hG4bKnashds7"[..]));
}

#[test]
fn parse_200_with_associated_uris_and_service_route() {
    let mut h = [Header::EMPTY; 32];
    let m = msg(OK, &mut h);
    let pau: Vec<_> = m
        .headers_named(HeaderName::PAssociatedUri)
        .flat_map(|h| name_addrs(h.value))
        .map(|n| n.unwrap().uri)
        .collect();
    assert_eq!(
        pau,
        vec![
            &b"sip:user1_public2@home1.net"[..],
            b"sip:user1_public3@home1.net",
            b"tel:+1-212-555-1111"
        ]
    );
    let sr: Vec<_> = name_addrs(m.header("Service-Route").unwrap().value)
        .map(|n| n.unwrap().uri)
        .collect();
    assert_eq!(sr, vec![&b"sip:orig@scscf1.home1.net;lr"[..]]);
    let path = NameAddr::parse(m.header("path").unwrap().value).unwrap();
    let Uri::Sip(u) = path.parsed_uri().unwrap() else {
        panic!("sip")
    };
    assert_eq!(u.param("lr"), Some(None));
    // Date's comma is split by values(); callers do not split Date.
    assert_eq!(m.header("date").unwrap().value, b"Wed, 11 July 2001 08:49:37 GMT");
}

#[test]
fn parse_message_with_ppi_and_body() {
    let mut h = [Header::EMPTY; 32];
    let m = msg(MESSAGE, &mut h);
    assert!((750..=850).contains(&MESSAGE.len()), "{}", MESSAGE.len());
    assert_eq!(m.content_length(), Some(150));
    assert_eq!(m.body().len(), 150);
    let ppi = NameAddr::parse(m.header(HeaderName::PPreferredIdentity).unwrap().value).unwrap();
    assert_eq!(ppi.display, Some(&b"\"John Doe\""[..]));
    assert_eq!(ppi.uri, b"sip:user1_public1@home1.net");
    assert_eq!(m.header_index("P-Preferred-Identity"), Some(3));
    assert!(m.header("X-Absent").is_none());
}

#[test]
fn parse_compact_and_long_forms_match() {
    let buf = b"OPTIONS sip:a@b SIP/2.0\r\nv: SIP/2.0/TCP h;branch=z9hG4bK1\r\nVIA: SIP/2.0/UDP g;branch=z9hG4bK2\r\n\
f: <sip:x@y>;tag=1\r\nt: <sip:a@b>\r\ni: c1\r\nCSEQ: 1 OPTIONS\r\nm: <sip:x@1.2.3.4>\r\nk: path\r\nX-Custom: 1\r\nx-custom: 2\r\nl: 0\r\n\r\n";
    let mut h = [Header::EMPTY; 16];
    let m = msg(buf, &mut h);
    assert_eq!(m.headers_named("Via").count(), 2);
    assert_eq!(m.headers_named("v").count(), 2);
    assert_eq!(m.headers_named(HeaderName::Via).count(), 2);
    assert_eq!(m.header("call-id").unwrap().value, b"c1");
    assert_eq!(m.header("Contact").unwrap().name, b"m");
    assert_eq!(
        m.headers_named("X-CUSTOM").map(|h| h.value).collect::<Vec<_>>(),
        vec![&b"1"[..], b"2"]
    );
    assert_eq!(
        m.single("x-custom"),
        Err(Error::DuplicateHeader(HeaderName::Other))
    );
    assert_eq!(m.content_length(), Some(0));
    assert!(m.header("k").unwrap().is("Supported"));
}

#[test]
fn parse_folding_joins_continuation_lines() {
    let buf = b"SIP/2.0 200 OK\r\nSubject: first\r\n   second\r\n\tthird  \r\nEmpty:\r\n late\r\nContent-Length: 0\r\n\r\n";
    let mut h = [Header::EMPTY; 8];
    let m = msg(buf, &mut h);
    assert_eq!(m.headers[0].value, b"first\r\n   second\r\n\tthird");
    assert_eq!(
        &buf[m.headers[0].line_range()],
        b"Subject: first\r\n   second\r\n\tthird  \r\n"
    );
    assert_eq!(m.headers[1].value, b"late");
    assert_eq!(&buf[m.headers[1].value_range()], b"late");
    assert_eq!(m.headers[2].kind, HeaderName::ContentLength);
    let bad = b"SIP/2.0 200 OK\r\n folded-first\r\n\r\n";
    assert_eq!(parse(bad, &mut [Header::EMPTY; 4]), Err(Error::FoldWithoutHeader));
}

#[test]
fn parse_partial_at_every_truncation() {
    for full in [REGISTER, UNAUTHORIZED, OK, MESSAGE] {
        let hdr_end = full.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        for cut in 0..full.len() {
            let mut h = [Header::EMPTY; 32];
            let r = parse(&full[..cut], &mut h);
            if cut < hdr_end {
                assert_eq!(r, Ok(Status::Partial), "cut {cut}");
            } else {
                assert_eq!(r, Err(Error::BodyTooShort), "cut {cut}");
            }
            let mut h = [Header::EMPTY; 32];
            assert_eq!(
                Parser::STREAM.parse(&full[..cut], &mut h),
                Ok(Status::Partial),
                "stream cut {cut}"
            );
        }
    }
}

#[test]
fn parse_datagram_rejects_trailing_data() {
    let mut buf = MESSAGE.to_vec();
    buf.extend_from_slice(b"\r\n");
    assert_eq!(parse(&buf, &mut [Header::EMPTY; 32]), Err(Error::TrailingData));
}

#[test]
fn parse_datagram_without_content_length_takes_rest() {
    let buf = b"MESSAGE sip:a@b SIP/2.0\r\nTo: <sip:a@b>\r\n\r\nhello";
    let mut h = [Header::EMPTY; 4];
    let m = msg(buf, &mut h);
    assert_eq!(m.body(), b"hello");
    assert_eq!(m.content_length(), None);
    assert_eq!(
        Parser::STREAM.parse(buf, &mut [Header::EMPTY; 4]),
        Err(Error::MissingContentLength)
    );
}

#[test]
fn parse_stream_two_messages_and_keepalive() {
    let mut buf = b"\r\n\r\n".to_vec();
    buf.extend_from_slice(MESSAGE);
    buf.extend_from_slice(REGISTER);
    let mut h = [Header::EMPTY; 32];
    let Status::Complete(m) = Parser::STREAM.parse(&buf, &mut h).unwrap() else {
        panic!("partial")
    };
    assert_eq!(m.start_offset(), 4);
    assert_eq!(m.len(), 4 + MESSAGE.len());
    let next = &buf[m.len()..];
    let mut h2 = [Header::EMPTY; 32];
    let Status::Complete(m2) = Parser::STREAM.parse(next, &mut h2).unwrap() else {
        panic!("partial")
    };
    assert_eq!(m2.method(), Some(Method::Register));
    assert_eq!(Parser::STREAM.parse(b"\r\n\r\n", &mut h2), Ok(Status::Partial));
}

#[test]
fn parse_content_length_errors() {
    let with = |cl: &str| format!("SIP/2.0 200 OK\r\n{cl}\r\n\r\n").into_bytes();
    let p = |b: &[u8]| parse(b, &mut [Header::EMPTY; 8]).err();
    assert_eq!(
        p(&with("Content-Length: 99999999999")),
        Some(Error::ContentLengthTooLarge)
    );
    assert_eq!(
        p(&with("Content-Length: 4294967295")),
        Some(Error::ContentLengthTooLarge)
    );
    assert_eq!(
        p(&with("Content-Length: 2000000")),
        Some(Error::ContentLengthTooLarge)
    );
    assert_eq!(p(&with("Content-Length: -1")), Some(Error::InvalidContentLength));
    assert_eq!(
        p(&with("Content-Length: 0x10")),
        Some(Error::InvalidContentLength)
    );
    assert_eq!(p(&with("Content-Length:")), Some(Error::InvalidContentLength));
    assert_eq!(
        p(&with("Content-Length: 0\r\nl: 1")),
        Some(Error::ConflictingContentLength)
    );
    assert_eq!(p(&with("Content-Length: 0\r\nl: 0")), None);
    assert_eq!(p(&with("Content-Length: 5")), Some(Error::BodyTooShort));
}

#[test]
fn parse_start_line_errors() {
    let p = |b: &[u8]| parse(b, &mut [Header::EMPTY; 8]).err();
    assert_eq!(p(b"SIP/2.0 99 Low\r\n\r\n"), Some(Error::InvalidStatusCode));
    assert_eq!(p(b"SIP/2.0 700 High\r\n\r\n"), Some(Error::InvalidStatusCode));
    assert_eq!(p(b"SIP/2.0 2000 OK\r\n\r\n"), Some(Error::InvalidStatusCode));
    assert_eq!(p(b"SIP/2.0 200\r\n\r\n"), None);
    assert_eq!(p(b"INVITE sip:a@b SIP/3.0\r\n\r\n"), Some(Error::InvalidVersion));
    assert_eq!(p(b"INV(TE sip:a@b SIP/2.0\r\n\r\n"), Some(Error::InvalidMethod));
    assert_eq!(p(b"INVITE  SIP/2.0\r\n\r\n"), Some(Error::InvalidRequestUri));
    assert_eq!(p(b"INVITE\r\n\r\n"), Some(Error::InvalidStartLine));
    assert_eq!(p(b"HTTP/1.1 200 OK\r\n\r\n"), Some(Error::InvalidMethod));
    assert_eq!(p(b"INVITE sip:a@b SIP/2.0\n\n"), Some(Error::InvalidLineEnding));
    assert_eq!(
        p(b"INVITE sip:a@b SIP/2.0\r\nTo: x\rFrom: y\r\n\r\n"),
        Some(Error::InvalidLineEnding)
    );
    assert_eq!(
        p(b"INVITE sip:a@b SIP/2.0\r\nTo x\r\n\r\n"),
        Some(Error::InvalidHeaderName)
    );
    assert_eq!(
        p(b"INVITE sip:a@b SIP/2.0\r\n: x\r\n\r\n"),
        Some(Error::InvalidHeaderName)
    );
    assert_eq!(
        p(b"INVITE sip:a@b SIP/2.0\r\nT(o: x\r\n\r\n"),
        Some(Error::InvalidHeaderName)
    );
    let mut h = [Header::EMPTY; 2];
    let Some(Status::Complete(m)) = parse(b"FOO sip:a@b sip/2.0\r\nTo : x\r\n\r\n", &mut h).ok() else {
        panic!("whitespace before colon is allowed")
    };
    assert_eq!(m.method(), Some(Method::Other(b"FOO")));
}

#[test]
fn parse_limits() {
    let mut h = [Header::EMPTY; 4];
    assert_eq!(parse(REGISTER, &mut h), Err(Error::TooManyHeaders));
    let long = format!("SIP/2.0 200 OK\r\nX: {}\r\n\r\n", "a".repeat(10_000));
    assert_eq!(
        parse(long.as_bytes(), &mut [Header::EMPTY; 4]),
        Err(Error::LineTooLong)
    );
    // Even while still incomplete, an over-long line is an error, not Partial.
    assert_eq!(
        parse(&long.as_bytes()[..9000], &mut [Header::EMPTY; 4]),
        Err(Error::LineTooLong)
    );
    let tight = Parser {
        framing: Framing::Datagram,
        limits: Limits {
            max_header_bytes: 200,
            ..Limits::DEFAULT
        },
    };
    assert_eq!(
        tight.parse(REGISTER, &mut [Header::EMPTY; 32]),
        Err(Error::HeadersTooLarge)
    );
    let exact = Parser {
        framing: Framing::Datagram,
        limits: Limits {
            max_line_len: "Via: SIP/2.0/UDP h".len(),
            ..Limits::DEFAULT
        },
    };
    assert!(exact
        .parse(
            b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h\r\n\r\n",
            &mut [Header::EMPTY; 2]
        )
        .is_ok());
    assert_eq!(
        exact.parse(
            b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP hh\r\n\r\n",
            &mut [Header::EMPTY; 2]
        ),
        Err(Error::LineTooLong)
    );
}

#[test]
fn parse_absurd_numbers_and_contradictory_headers() {
    let buf = b"REGISTER sip:h SIP/2.0\r\nExpires: 4294967296\r\nCSeq: 4294967296 REGISTER\r\n\
Max-Forwards: 99999999999999999999\r\nExpires: 600\r\nCall-ID: a\r\nCall-ID: b\r\nContent-Length: 0\r\n\r\n";
    let mut h = [Header::EMPTY; 16];
    let m = msg(buf, &mut h);
    assert_eq!(
        parse_expires(m.header("Expires").unwrap().value),
        Err(Error::NumberOutOfRange)
    );
    assert_eq!(
        CSeq::parse(m.header("CSeq").unwrap().value),
        Err(Error::NumberOutOfRange)
    );
    assert_eq!(
        parse_max_forwards(m.header("Max-Forwards").unwrap().value),
        Err(Error::NumberOutOfRange)
    );
    assert_eq!(
        m.single("Expires"),
        Err(Error::DuplicateHeader(HeaderName::Expires))
    );
    assert_eq!(
        m.single(HeaderName::CallId),
        Err(Error::DuplicateHeader(HeaderName::CallId))
    );
    assert_eq!(m.single("Content-Length"), Ok(Some(&b"0"[..])));
    assert_eq!(m.single("Route"), Ok(None));
}

#[test]
fn parse_garbage_is_an_error_not_a_panic() {
    let p = |b: &[u8]| parse(b, &mut [Header::EMPTY; 8]).map(|s| s.is_complete());
    assert!(p(b"\x00\x01\x02\r\n\r\n").is_err());
    assert!(p(b"\xff\xfe SIP/2.0\r\n\r\n").is_err());
    assert!(p(b"INVITE sip:a@b SIP/2.0\r\n\x80\x81: x\r\n\r\n").is_err());
    assert_eq!(p(b""), Ok(false));
    assert_eq!(p(b"\r"), Ok(false));
    assert_eq!(p(b"INVITE sip:a@b SIP/2.0\r"), Ok(false));
}

// ---- editing ----

fn apply(ed: &mut Editor, m: &Message<'_, '_>) -> Vec<u8> {
    let mut out = Vec::new();
    ed.apply(m, &mut out).unwrap();
    out
}

fn replaced(orig: &[u8], from: &str, to: &str) -> Vec<u8> {
    let s = String::from_utf8(orig.to_vec()).unwrap();
    assert_eq!(s.matches(from).count(), 1, "ambiguous replacement {from}");
    s.replacen(from, to, 1).into_bytes()
}

#[test]
fn emit_no_edits_is_byte_identical() {
    for v in [REGISTER, UNAUTHORIZED, OK, MESSAGE] {
        let mut h = [Header::EMPTY; 32];
        let m = msg(v, &mut h);
        assert_eq!(apply(&mut Editor::new(), &m), v);
    }
}

#[test]
fn emit_via_rport_and_received() {
    let mut h = [Header::EMPTY; 32];
    let m = msg(REGISTER, &mut h);
    let via = m.header_index(HeaderName::Via).unwrap();
    let mut ed = Editor::new();
    ed.set_param(&m, via, b"rport", Some(b"5060")).unwrap();
    ed.set_param(&m, via, b"received", Some(b"5555::aaa:bbb:ccc:ddd"))
        .unwrap();
    let out = apply(&mut ed, &m);
    let expected = replaced(
        REGISTER,
        "branch=z9hG4bKnashds7;rport\r\n",
        "branch=z9hG4bKnashds7;rport=5060;received=5555::aaa:bbb:ccc:ddd\r\n",
    );
    assert_eq!(String::from_utf8_lossy(&out), String::from_utf8_lossy(&expected));
    // The rewritten message parses and carries the values.
    let mut h2 = [Header::EMPTY; 32];
    let m2 = msg(&out, &mut h2);
    let v = Via::parse(m2.header("via").unwrap().value).unwrap();
    assert_eq!(
        (v.rport, v.received),
        (Rport::Value(5060), Some(&b"5555::aaa:bbb:ccc:ddd"[..]))
    );
}

#[test]
fn emit_param_on_first_via_value_only() {
    let mut h = [Header::EMPTY; 32];
    let m = msg(UNAUTHORIZED, &mut h);
    let mut ed = Editor::new();
    ed.set_param(&m, 0, b"received", Some(b"10.0.0.1")).unwrap();
    ed.remove_param(&m, 0, b"branch").unwrap();
    let out = apply(&mut ed, &m);
    let expected = replaced(
        UNAUTHORIZED,
        "Via: SIP/2.0/UDP pcscf1.visited1.net;branch=z9hG4bK240f34.1, ",
        "Via: SIP/2.0/UDP pcscf1.visited1.net;received=10.0.0.1, ",
    );
    assert_eq!(String::from_utf8_lossy(&out), String::from_utf8_lossy(&expected));
}

#[test]
fn emit_authorization_integrity_protected() {
    let mut h = [Header::EMPTY; 32];
    let m = msg(REGISTER, &mut h);
    let i = m.header_index(HeaderName::Authorization).unwrap();
    let mut ed = Editor::new();
    ed.set_auth_param(&m, i, b"integrity-protected", b"\"no\"")
        .unwrap();
    let out = apply(&mut ed, &m);
    let expected = replaced(
        REGISTER,
        "response=\"\"\r\n",
        "response=\"\", integrity-protected=\"no\"\r\n",
    );
    assert_eq!(String::from_utf8_lossy(&out), String::from_utf8_lossy(&expected));
    // Setting it again replaces in place.
    let mut h2 = [Header::EMPTY; 32];
    let m2 = msg(&out, &mut h2);
    let mut ed = Editor::new();
    ed.set_auth_param(&m2, i, b"integrity-protected", b"\"yes\"")
        .unwrap();
    let out2 = apply(&mut ed, &m2);
    assert_eq!(
        out2,
        replaced(
            REGISTER,
            "response=\"\"\r\n",
            "response=\"\", integrity-protected=\"yes\"\r\n"
        )
    );
}

#[test]
fn emit_401_without_ck_ik() {
    let mut h = [Header::EMPTY; 32];
    let m = msg(UNAUTHORIZED, &mut h);
    let i = m.header_index(HeaderName::WwwAuthenticate).unwrap();
    let mut ed = Editor::new();
    ed.remove_auth_param(&m, i, b"ck").unwrap();
    ed.remove_auth_param(&m, i, b"ik").unwrap();
    ed.insert_after(
        &m,
        i,
        b"Security-Server",
        b"ipsec-3gpp;q=0.1;alg=hmac-sha-1-96;spi-c=1;spi-s=2;port-c=3;port-s=4",
    )
    .unwrap();
    let out = apply(&mut ed, &m);
    let expected = replaced(
        UNAUTHORIZED,
        ", ik=\"0123456789abcdeedcba9876543210\", ck=\"9876543210abcdeedcba0123456789\"\r\n",
        "\r\nSecurity-Server: ipsec-3gpp;q=0.1;alg=hmac-sha-1-96;spi-c=1;spi-s=2;port-c=3;port-s=4\r\n",
    );
    assert_eq!(String::from_utf8_lossy(&out), String::from_utf8_lossy(&expected));
    let mut h2 = [Header::EMPTY; 32];
    let m2 = msg(&out, &mut h2);
    let d = Digest::parse(m2.header(HeaderName::WwwAuthenticate).unwrap().value).unwrap();
    assert_eq!((d.ck, d.ik, d.algorithm), (None, None, Some(&b"AKAv1-MD5"[..])));
}

#[test]
fn emit_remove_first_auth_param() {
    let buf = b"SIP/2.0 401 Unauthorized\r\nWWW-Authenticate: Digest ck=\"aa\" ,  realm=\"r\",ik=\"bb\"\r\nContent-Length: 0\r\n\r\n";
    let mut h = [Header::EMPTY; 4];
    let m = msg(buf, &mut h);
    let mut ed = Editor::new();
    ed.remove_auth_param(&m, 0, b"ck")
        .unwrap()
        .remove_auth_param(&m, 0, b"IK")
        .unwrap();
    assert_eq!(
        apply(&mut ed, &m),
        replaced(buf, "ck=\"aa\" ,  realm=\"r\",ik=\"bb\"", "realm=\"r\"")
    );
}

#[test]
fn emit_append_param_moves_rport_after_received() {
    let mut h = [Header::EMPTY; 32];
    let m = msg(REGISTER, &mut h);
    let via = m.header_index(HeaderName::Via).unwrap();
    let mut ed = Editor::new();
    ed.remove_param(&m, via, b"received").unwrap();
    ed.remove_param(&m, via, b"rport").unwrap();
    ed.append_param(&m, via, b"received", Some(b"192.0.2.7"))
        .unwrap()
        .append_param(&m, via, b"rport", Some(b"40000"))
        .unwrap();
    let out = apply(&mut ed, &m);
    let expected = replaced(
        REGISTER,
        "branch=z9hG4bKnashds7;rport\r\n",
        "branch=z9hG4bKnashds7;received=192.0.2.7;rport=40000\r\n",
    );
    assert_eq!(String::from_utf8_lossy(&out), String::from_utf8_lossy(&expected));
    // Appending does not replace: a second `lr` flag is added after the first.
    let buf = b"OPTIONS sip:a@b SIP/2.0\r\nRoute: <sip:p;lr>;lr, <sip:q>\r\nContent-Length: 0\r\n\r\n";
    let mut h = [Header::EMPTY; 4];
    let m = msg(buf, &mut h);
    let mut ed = Editor::new();
    ed.append_param(&m, 0, b"lr", None).unwrap();
    assert_eq!(apply(&mut ed, &m), replaced(buf, ";lr, ", ";lr;lr, "));
    let mut ed = Editor::new();
    for bad in [&b"1;x=2"[..], b"a,b", b"a\r\nX: y"] {
        assert_eq!(
            ed.append_param(&m, 0, b"x", Some(bad)).err(),
            Some(Error::InvalidEdit)
        );
    }
    assert_eq!(
        ed.append_param(&m, 0, b"a b", None).err(),
        Some(Error::InvalidEdit)
    );
    assert_eq!(ed.append_param(&m, 9, b"x", None).err(), Some(Error::InvalidEdit));
    assert!(ed.is_empty());
}

#[test]
fn emit_remove_auth_params_any_position() {
    let cases: [(&str, &str); 6] = [
        // Trailing (the usual 401).
        (
            "Digest realm=\"r\", nonce=\"n\", ik=\"b\", ck=\"a\"",
            "Digest realm=\"r\", nonce=\"n\"",
        ),
        // Leading and adjacent: one remove_auth_param after the other would overlap here.
        ("Digest ck=\"a\", IK=\"b\", realm=\"r\"", "Digest realm=\"r\""),
        ("Digest ck=\"a\" ,  realm=\"r\",ik=\"b\"", "Digest realm=\"r\""),
        (
            "Digest realm=\"r\", ck=\"a\", qop=\"auth\", ik=\"b\", opaque=\"o\"",
            "Digest realm=\"r\", qop=\"auth\", opaque=\"o\"",
        ),
        // Everything removed.
        ("Digest ck=\"a\", ik=\"b\"", "Digest"),
        // Nothing to remove.
        ("Digest realm=\"r\"", "Digest realm=\"r\""),
    ];
    for (value, want) in cases {
        let buf =
            format!("SIP/2.0 401 Unauthorized\r\nWWW-Authenticate: {value}\r\nContent-Length: 0\r\n\r\n");
        let mut h = [Header::EMPTY; 4];
        let m = msg(buf.as_bytes(), &mut h);
        let mut ed = Editor::new();
        ed.remove_auth_params(&m, 0, &[b"ck", b"ik"]).unwrap();
        let out = apply(&mut ed, &m);
        assert_eq!(String::from_utf8_lossy(&out), buf.replace(value, want), "{value}");
        let mut h2 = [Header::EMPTY; 4];
        let m2 = msg(&out, &mut h2);
        let d = Digest::parse(m2.headers[0].value).unwrap();
        assert_eq!((d.ck, d.ik), (None, None), "{value}");
    }
    // A malformed challenge is an error, not a guess, and records nothing
    // (here after a removal it could already have recorded).
    let buf = b"SIP/2.0 401 Unauthorized\r\nWWW-Authenticate: Digest realm=\"r\", ck=\"a\", ik=\"b\r\nContent-Length: 0\r\n\r\n";
    let mut h = [Header::EMPTY; 4];
    let m = msg(buf, &mut h);
    let mut ed = Editor::new();
    assert_eq!(
        ed.remove_auth_params(&m, 0, &[b"ck", b"ik"]).err(),
        Some(Error::InvalidDigest)
    );
    assert!(ed.is_empty());
    assert_eq!(
        ed.remove_auth_params(&m, 7, &[b"ck"]).err(),
        Some(Error::InvalidEdit)
    );
}

#[test]
fn emit_remove_security_client_and_insert_lines() {
    let mut h = [Header::EMPTY; 32];
    let m = msg(REGISTER, &mut h);
    let sc = m.header_index(HeaderName::SecurityClient).unwrap();
    let mut ed = Editor::new();
    ed.remove_header(&m, sc).unwrap();
    ed.insert_top(
        &m,
        b"Via",
        b"SIP/2.0/UDP pcscf1.visited1.net;branch=z9hG4bK240f34.1",
    )
    .unwrap();
    ed.insert_before(&m, sc + 1, b"Path", b"<sip:term@pcscf1.visited1.net;lr>")
        .unwrap();
    ed.append_header(&m, b"P-Charging-Vector", b"icid-value=1")
        .unwrap();
    let out = apply(&mut ed, &m);
    let mut expected = replaced(
        REGISTER,
        "Security-Client: ipsec-3gpp; alg=hmac-sha-1-96; spi-c=23456789; spi-s=12345678; port-c=2468; port-s=1357\r\n",
        "Path: <sip:term@pcscf1.visited1.net;lr>\r\n",
    );
    expected = replaced(
        &expected,
        "SIP/2.0\r\nVia:",
        "SIP/2.0\r\nVia: SIP/2.0/UDP pcscf1.visited1.net;branch=z9hG4bK240f34.1\r\nVia:",
    );
    expected = replaced(
        &expected,
        "Content-Length: 0\r\n",
        "Content-Length: 0\r\nP-Charging-Vector: icid-value=1\r\n",
    );
    assert_eq!(String::from_utf8_lossy(&out), String::from_utf8_lossy(&expected));
}

#[test]
fn emit_replace_body_fixes_content_length() {
    let mut h = [Header::EMPTY; 32];
    let m = msg(MESSAGE, &mut h);
    let mut ed = Editor::new();
    ed.replace_body(&m, b"short").unwrap();
    let out = apply(&mut ed, &m);
    let hdr_end = MESSAGE.len() - 150;
    let mut expected = replaced(&MESSAGE[..hdr_end], "Content-Length: 150", "Content-Length: 5");
    expected.extend_from_slice(b"short");
    assert_eq!(out, expected);
    // Without a Content-Length header one is added.
    let buf = b"MESSAGE sip:a@b SIP/2.0\r\nTo: <sip:a@b>\r\n\r\nhello";
    let mut h = [Header::EMPTY; 4];
    let m = msg(buf, &mut h);
    let mut ed = Editor::new();
    ed.replace_body(&m, b"").unwrap();
    assert_eq!(
        apply(&mut ed, &m),
        b"MESSAGE sip:a@b SIP/2.0\r\nTo: <sip:a@b>\r\nContent-Length: 0\r\n\r\n"
    );
}

#[test]
fn emit_replace_value_and_name_addr_param() {
    let mut h = [Header::EMPTY; 32];
    let m = msg(MESSAGE, &mut h);
    let mut ed = Editor::new();
    ed.replace_value(&m, m.header_index("Max-Forwards").unwrap(), b"69")
        .unwrap();
    ed.set_param(&m, m.header_index("To").unwrap(), b"tag", Some(b"abc"))
        .unwrap();
    ed.set_param(&m, m.header_index("From").unwrap(), b"tag", Some(b"xyz"))
        .unwrap();
    let out = apply(&mut ed, &m);
    let mut e = replaced(MESSAGE, "Max-Forwards: 70", "Max-Forwards: 69");
    e = replaced(
        &e,
        "To: <sip:user2_public1@home2.net>\r\n",
        "To: <sip:user2_public1@home2.net>;tag=abc\r\n",
    );
    e = replaced(&e, ";tag=31415", ";tag=xyz");
    assert_eq!(String::from_utf8_lossy(&out), String::from_utf8_lossy(&e));
}

#[test]
fn emit_rejects_overlap_and_injection() {
    let mut h = [Header::EMPTY; 32];
    let m = msg(REGISTER, &mut h);
    let via = m.header_index(HeaderName::Via).unwrap();
    let mut ed = Editor::new();
    ed.remove_header(&m, via).unwrap();
    ed.set_param(&m, via, b"received", Some(b"1.2.3.4")).unwrap();
    let mut out = b"keep".to_vec();
    assert_eq!(ed.apply(&m, &mut out), Err(Error::InvalidEdit));
    assert_eq!(out, b"keep", "output untouched on error");
    let mut ed = Editor::new();
    assert_eq!(
        ed.insert_top(&m, b"X", b"a\r\nInjected: 1").err(),
        Some(Error::InvalidEdit)
    );
    assert_eq!(
        ed.insert_top(&m, b"Bad Name", b"a").err(),
        Some(Error::InvalidEdit)
    );
    assert_eq!(
        ed.set_param(&m, via, b"received", Some(b"1;x=2")).err(),
        Some(Error::InvalidEdit)
    );
    assert_eq!(ed.remove_header(&m, 99).err(), Some(Error::InvalidEdit));
    assert!(ed.is_empty());
}

// ---- property tests: never panic on any input ----

/// Run every parser in the crate over a byte string and a parsed message.
pub(crate) fn exercise(buf: &[u8]) {
    for parser in [Parser::DATAGRAM, Parser::STREAM] {
        let mut h = [Header::EMPTY; 24];
        if let Ok(Status::Complete(m)) = parser.parse(buf, &mut h) {
            assert!(m.len() <= buf.len() && m.body_offset() <= m.len());
            for (i, hd) in m.headers.iter().enumerate() {
                assert!(hd.line_range().end <= buf.len());
                assert_eq!(&buf[hd.value_range()], hd.value);
                exercise_value(hd.value);
                let _ = secagree::parse_all([hd.value]);
                let mut ed = Editor::new();
                let _ = ed.set_param(&m, i, b"received", Some(b"192.0.2.1"));
                let _ = ed.remove_param(&m, i, b"rport");
                let _ = ed.set_auth_param(&m, i, b"integrity-protected", b"\"yes\"");
                let _ = ed.remove_auth_param(&m, i, b"ck");
                let _ = ed.append_param(&m, i, b"rport", Some(b"5060"));
                let _ = ed.remove_auth_params(&m, i, &[b"ck", b"ik"]);
                let mut out = Vec::new();
                if ed.apply(&m, &mut out).is_ok() {
                    let mut h2 = [Header::EMPTY; 24];
                    let _ = parser.parse(&out, &mut h2);
                }
            }
            let id = crate::types::Identity::new("x", &["sip:a@b", "tel:+1"]);
            let _ = crate::identity::assert_identity_msg(&m, &id, 3);
            let _ = crate::identity::is_initial_or_standalone(&m);
            let mut ed = Editor::new();
            let _ = crate::identity::rewrite_identity(&m, &id, 1, &mut ed);
            let _ = ed.replace_body(&m, b"x");
            let mut out = Vec::new();
            let _ = ed.apply(&m, &mut out);
        }
    }
    exercise_value(buf);
}

fn exercise_value(v: &[u8]) {
    let _ = Via::parse(v);
    let _ = Contact::parse(v);
    let _ = Digest::parse(v);
    let _ = CSeq::parse(v);
    let _ = parse_expires(v);
    let _ = parse_max_forwards(v);
    let _ = parse_call_id(v);
    let _ = parse_qvalue(v);
    for na in name_addrs(v).take(8).flatten() {
        if let Ok(u) = na.parsed_uri() {
            let _ = u.equivalent(&u);
        }
    }
    for x in values(v).take(8).flatten() {
        for p in params(x).take(8).flatten() {
            let _ = p.unquoted().map(|q| unescape(q).count());
        }
    }
    if let Ok(u) = Uri::parse(v) {
        assert!(u.equivalent(&u) || matches!(u, Uri::Sip(_) | Uri::Tel(_)));
        let other = Uri::parse(b"sip:alice@example.com;transport=udp?x=y").unwrap();
        assert_eq!(u.equivalent(&other), other.equivalent(&u));
    }
    let _ = secagree::equivalent_values(v, v);
}

mod prop {
    use super::*;
    use proptest::prelude::*;

    fn mutate(base: &[u8], edits: &[(usize, u8, u8)]) -> Vec<u8> {
        let mut v = base.to_vec();
        for &(pos, kind, byte) in edits {
            if v.is_empty() {
                v.push(byte);
                continue;
            }
            let p = pos % v.len();
            match kind % 4 {
                0 => v[p] = byte,
                1 => v.insert(p, byte),
                2 => {
                    v.remove(p);
                }
                _ => {
                    // Interesting bytes for SIP syntax.
                    const SPECIAL: &[u8] = b"\r\n ;,:<>\"\\=%@?&";
                    v[p] = SPECIAL[byte as usize % SPECIAL.len()];
                }
            }
        }
        v
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        #[test]
        fn parse_random_bytes_never_panics(buf in proptest::collection::vec(any::<u8>(), 0..600)) {
            exercise(&buf);
        }

        #[test]
        fn parse_mutated_messages_never_panic(
            which in 0usize..4,
            edits in proptest::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 1..8),
        ) {
            let base = [REGISTER, UNAUTHORIZED, OK, MESSAGE][which];
            exercise(&mutate(base, &edits));
        }

        #[test]
        fn parse_mutated_header_values_never_panic(
            which in 0usize..4,
            edits in proptest::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 1..6),
        ) {
            let base = [REGISTER, UNAUTHORIZED, OK, MESSAGE][which];
            let mut h = [Header::EMPTY; 32];
            let Ok(Status::Complete(m)) = parse(base, &mut h) else { panic!("vector must parse") };
            for hd in m.headers {
                exercise_value(&mutate(hd.value, &edits));
            }
        }
    }
}
