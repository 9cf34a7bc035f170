//! Responses the P-CSCF generates itself (RFC 3261 §8.2.6).
//!
//! Pure functions: a parsed request in, the bytes of a response out. Used for
//! the 403 to an unbound sender and other locally generated answers.

use crate::sip::{HeaderName, Message};

/// Why a response could not be built.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReplyError {
    /// The message is a response (responses are never answered).
    #[error("cannot answer a response")]
    NotARequest,
    /// A header every response must copy (Via, From, To, Call-ID, CSeq) is
    /// missing.
    #[error("request lacks a mandatory header")]
    MissingHeader,
    /// ACK is never answered.
    #[error("ACK is never answered")]
    Ack,
}

/// Build a response with `code`/`reason` to `req` into `out` (cleared
/// first). Via, From, Call-ID and CSeq are copied; To gets `to_tag` when it
/// has no tag; `extra` header lines (`Name: value`, without CRLF) are added;
/// the body is empty.
pub fn response(
    req: &Message<'_, '_>,
    code: u16,
    reason: &str,
    to_tag: &str,
    extra: &[&str],
    out: &mut Vec<u8>,
) -> Result<(), ReplyError> {
    let Some(method) = req.method() else {
        return Err(ReplyError::NotARequest);
    };
    if method == crate::sip::Method::Ack {
        return Err(ReplyError::Ack);
    }
    out.clear();
    out.extend_from_slice(format!("SIP/2.0 {code} {reason}\r\n").as_bytes());
    let mut seen = [false; 5];
    for h in req.headers.iter() {
        let slot = match h.kind {
            HeaderName::Via => 0,
            HeaderName::From => 1,
            HeaderName::To => 2,
            HeaderName::CallId => 3,
            HeaderName::CSeq => 4,
            _ => continue,
        };
        seen[slot] = true;
        let name: &[u8] = match h.kind {
            HeaderName::Via => b"Via",
            HeaderName::From => b"From",
            HeaderName::To => b"To",
            HeaderName::CallId => b"Call-ID",
            _ => b"CSeq",
        };
        out.extend_from_slice(name);
        out.extend_from_slice(b": ");
        out.extend_from_slice(h.value);
        if h.kind == HeaderName::To && !has_tag(h.value) {
            out.extend_from_slice(b";tag=");
            out.extend_from_slice(to_tag.as_bytes());
        }
        out.extend_from_slice(b"\r\n");
    }
    if seen.iter().any(|s| !s) {
        out.clear();
        return Err(ReplyError::MissingHeader);
    }
    for e in extra {
        out.extend_from_slice(e.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"Content-Length: 0\r\n\r\n");
    Ok(())
}

fn has_tag(to: &[u8]) -> bool {
    crate::sip::NameAddr::parse(to)
        .ok()
        .and_then(|n| n.tag())
        .is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::{self, Header, Status};

    const REQ: &[u8] = b"MESSAGE sip:bob@ims.example SIP/2.0\r\n\
Via: SIP/2.0/UDP 10.77.0.2:5061;branch=z9hG4bK-1\r\n\
From: <sip:alice@ims.example>;tag=a1\r\n\
To: <sip:bob@ims.example>\r\n\
Call-ID: c1\r\n\
CSeq: 7 MESSAGE\r\n\
Content-Length: 0\r\n\r\n";

    #[test]
    fn emit_403_copies_mandatory_headers_and_adds_to_tag() {
        let mut h = [Header::EMPTY; 32];
        let Ok(Status::Complete(m)) = sip::parse(REQ, &mut h) else {
            panic!("parse")
        };
        let mut out = Vec::new();
        response(
            &m,
            403,
            "Forbidden",
            "pdp1",
            &["Warning: 399 pcscf \"unbound\""],
            &mut out,
        )
        .unwrap();
        let s = String::from_utf8(out).unwrap();
        assert!(s.starts_with("SIP/2.0 403 Forbidden\r\n"), "{s}");
        assert!(s.contains("Via: SIP/2.0/UDP 10.77.0.2:5061;branch=z9hG4bK-1\r\n"));
        assert!(s.contains("To: <sip:bob@ims.example>;tag=pdp1\r\n"));
        assert!(s.contains("CSeq: 7 MESSAGE\r\n"));
        assert!(s.contains("Warning: 399 pcscf \"unbound\"\r\n"));
        assert!(s.ends_with("Content-Length: 0\r\n\r\n"));
        let mut h2 = [Header::EMPTY; 32];
        assert!(matches!(
            sip::parse(s.as_bytes(), &mut h2),
            Ok(Status::Complete(_))
        ));
    }

    #[test]
    fn missing_header_and_ack_are_refused() {
        let mut h = [Header::EMPTY; 32];
        let req =
            b"MESSAGE sip:b@x SIP/2.0\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1\r\nContent-Length: 0\r\n\r\n";
        let Ok(Status::Complete(m)) = sip::parse(req, &mut h) else {
            panic!("parse")
        };
        assert_eq!(
            response(&m, 403, "Forbidden", "t", &[], &mut Vec::new()),
            Err(ReplyError::MissingHeader)
        );
        let ack = String::from_utf8_lossy(REQ)
            .replace("MESSAGE sip", "ACK sip")
            .replace("7 MESSAGE", "7 ACK");
        let ack = ack.into_bytes();
        let mut h = [Header::EMPTY; 32];
        let Ok(Status::Complete(m)) = sip::parse(&ack, &mut h) else {
            panic!("parse ack")
        };
        assert_eq!(
            response(&m, 403, "Forbidden", "t", &[], &mut Vec::new()),
            Err(ReplyError::Ack)
        );
    }
}
