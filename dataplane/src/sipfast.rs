//! The SIP fast path: a single-pass scanner over a UDP payload and the
//! in-place edits a stateless P-CSCF makes to it.
//!
//! [`scan`] finds the start line and the handful of headers the worker needs
//! (top Via, P-Preferred-Identity, P-Asserted-Identity, Max-Forwards, To tag,
//! Content-Length, CSeq method) without building a full header table; the full
//! parser lives in `control::sip` and serves the control thread. Everything
//! here borrows the payload, allocates nothing and never panics on input:
//! every failure is a [`DropReason`].

use smallvec::SmallVec;

use crate::counters::DropReason;

/// Largest header section the fast path scans.
pub const MAX_HEADER_LINES: usize = 128;

/// The SIP methods the data plane tells apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// REGISTER: always an exception.
    Register,
    /// INVITE.
    Invite,
    /// ACK.
    Ack,
    /// CANCEL.
    Cancel,
    /// Any other method token.
    Other,
}

/// A header line: `[start, end)` covers the whole line including CRLF (and
/// folded continuation lines); `value` is where the value starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Line {
    /// Offset of the header name.
    pub start: usize,
    /// Offset of the value (after the colon and whitespace).
    pub value: usize,
    /// Offset of the trailing CRLF of the value.
    pub value_end: usize,
    /// Offset just past the line's CRLF.
    pub end: usize,
}

impl Line {
    /// The value bytes.
    #[inline]
    pub fn value<'a>(&self, p: &'a [u8]) -> &'a [u8] {
        &p[self.value..self.value_end]
    }
}

/// What kind of message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartLine {
    /// A request, with its method and the Request-URI's range.
    Request {
        /// Method.
        method: Method,
        /// Request-URI `[start, end)`.
        uri: (usize, usize),
    },
    /// A response with its status code.
    Response {
        /// Status code (100..=699).
        code: u16,
    },
}

/// The result of [`scan`].
#[derive(Clone, Debug)]
pub struct Scan {
    /// The start line.
    pub start: StartLine,
    /// Offset just past the start line's CRLF (where headers begin).
    pub headers_start: usize,
    /// Offset of the empty line that ends the headers.
    pub headers_end: usize,
    /// Offset of the body.
    pub body_start: usize,
    /// Length of the message per Content-Length (or the datagram).
    pub msg_len: usize,
    /// The first Via header line.
    pub top_via: Option<Line>,
    /// Number of Via header lines.
    pub via_lines: usize,
    /// P-Preferred-Identity lines.
    pub ppi: SmallVec<[Line; 2]>,
    /// P-Asserted-Identity lines.
    pub pai: SmallVec<[Line; 2]>,
    /// The Max-Forwards line.
    pub max_forwards: Option<Line>,
    /// Whether the To header carries a tag (in-dialog request).
    pub to_tag: bool,
    /// Whether a To header was seen.
    pub to_seen: bool,
    /// The Content-Length value, if present.
    pub content_length: Option<usize>,
}

#[inline]
fn eq_ic(a: &[u8], b: &[u8]) -> bool {
    a.eq_ignore_ascii_case(b)
}

#[inline]
fn is_token_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&c)
}

fn method_of(m: &[u8]) -> Option<Method> {
    if m.is_empty() || !m.iter().all(|c| is_token_char(*c)) {
        return None;
    }
    Some(match m {
        b"REGISTER" => Method::Register,
        b"INVITE" => Method::Invite,
        b"ACK" => Method::Ack,
        b"CANCEL" => Method::Cancel,
        _ => Method::Other,
    })
}

fn parse_start(line: &[u8]) -> Option<StartLine> {
    if let Some(rest) = line.strip_prefix(b"SIP/2.0 ") {
        if rest.len() < 3 || (rest.len() > 3 && rest[3] != b' ') {
            return None;
        }
        let d = &rest[..3];
        if !d.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let code = u16::from(d[0] - b'0') * 100 + u16::from(d[1] - b'0') * 10 + u16::from(d[2] - b'0');
        return (100..=699)
            .contains(&code)
            .then_some(StartLine::Response { code });
    }
    let sp1 = memchr::memchr(b' ', line)?;
    let method = method_of(&line[..sp1])?;
    let sp2 = sp1 + 1 + memchr::memchr(b' ', &line[sp1 + 1..])?;
    if &line[sp2 + 1..] != b"SIP/2.0" || sp2 == sp1 + 1 {
        return None;
    }
    Some(StartLine::Request {
        method,
        uri: (sp1 + 1, sp2),
    })
}

fn trim_ws(p: &[u8], mut s: usize, mut e: usize) -> (usize, usize) {
    while s < e && (p[s] == b' ' || p[s] == b'\t') {
        s += 1;
    }
    while e > s && (p[e - 1] == b' ' || p[e - 1] == b'\t') {
        e -= 1;
    }
    (s, e)
}

fn parse_uint(v: &[u8]) -> Option<usize> {
    if v.is_empty() || v.len() > 9 || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(v.iter().fold(0usize, |a, d| a * 10 + usize::from(d - b'0')))
}

/// Whether a To header value carries a `tag` parameter (outside the URI).
fn has_tag(v: &[u8]) -> bool {
    // Parameters of the header follow the closing '>' for name-addr, or the
    // first ';' for addr-spec.
    let params = match memchr::memchr(b'>', v) {
        Some(i) => &v[i + 1..],
        None => v,
    };
    params.split(|&c| c == b';').skip(1).any(|p| {
        let p = p.trim_ascii();
        p.len() >= 3 && eq_ic(&p[..3], b"tag") && p[3..].trim_ascii_start().starts_with(b"=")
    })
}

/// Scan a SIP message in a UDP payload.
pub fn scan(p: &[u8]) -> Result<Scan, DropReason> {
    let first = memchr::memchr(b'\n', p).ok_or(DropReason::SipMalformed)?;
    if first == 0 || p[first - 1] != b'\r' {
        return Err(DropReason::SipMalformed);
    }
    let start = parse_start(&p[..first - 1]).ok_or(DropReason::SipMalformed)?;
    let headers_start = first + 1;
    let mut s = Scan {
        start,
        headers_start,
        headers_end: 0,
        body_start: 0,
        msg_len: 0,
        top_via: None,
        via_lines: 0,
        ppi: SmallVec::new(),
        pai: SmallVec::new(),
        max_forwards: None,
        to_tag: false,
        to_seen: false,
        content_length: None,
    };
    let mut pos = headers_start;
    let mut lines = 0usize;
    // One pass of the SIMD line finder over the whole header block, instead
    // of a fresh search per line.
    let mut nls = memchr::memchr_iter(b'\n', &p[headers_start..])
        .map(|i| i + headers_start)
        .peekable();
    loop {
        let nl = nls.next().ok_or(DropReason::SipMalformed)?;
        if nl == pos || p[nl - 1] != b'\r' {
            return Err(DropReason::SipMalformed);
        }
        if nl == pos + 1 {
            // Empty line: end of headers.
            s.headers_end = pos;
            s.body_start = nl + 1;
            break;
        }
        lines += 1;
        if lines > MAX_HEADER_LINES {
            return Err(DropReason::SipMalformed);
        }
        // Fold continuation lines into this header.
        let mut end = nl + 1;
        let mut value_end = nl - 1;
        while end < p.len() && (p[end] == b' ' || p[end] == b'\t') {
            let nl2 = nls.next().ok_or(DropReason::SipMalformed)?;
            if p[nl2 - 1] != b'\r' {
                return Err(DropReason::SipMalformed);
            }
            value_end = nl2 - 1;
            end = nl2 + 1;
        }
        // Header names are short: a plain scan beats a SIMD search here.
        let colon = pos
            + p[pos..value_end]
                .iter()
                .position(|&c| c == b':')
                .ok_or(DropReason::SipMalformed)?;
        let (ns, ne) = trim_ws(p, pos, colon);
        if ns != pos || ne == ns {
            return Err(DropReason::SipMalformed);
        }
        // A header name is an RFC 3261 token: anything else (a stray CR, a
        // NUL) could make a downstream parser see a header we did not, such as
        // a P-Asserted-Identity we never removed.
        if !p[ns..ne].iter().all(|c| is_token_char(*c)) {
            return Err(DropReason::SipMalformed);
        }
        let (vs, ve) = trim_ws(p, colon + 1, value_end);
        let line = Line {
            start: pos,
            value: vs,
            value_end: ve,
            end,
        };
        let name = &p[ns..ne];
        match name.len() {
            1 => match name[0].to_ascii_lowercase() {
                b'v' => s.via(line),
                b't' => s.to(line.value(p))?,
                b'l' => s.set_cl(line.value(p))?,
                _ => {}
            },
            2 => {
                if eq_ic(name, b"to") {
                    s.to(line.value(p))?
                }
            }
            _ => {
                if eq_ic(name, b"via") {
                    s.via(line)
                } else if eq_ic(name, b"content-length") {
                    s.set_cl(line.value(p))?
                } else if eq_ic(name, b"max-forwards") {
                    if s.max_forwards.replace(line).is_some() {
                        return Err(DropReason::SipMalformed);
                    }
                } else if eq_ic(name, b"p-preferred-identity") {
                    s.ppi.push(line)
                } else if eq_ic(name, b"p-asserted-identity") {
                    s.pai.push(line)
                }
            }
        }
        pos = end;
    }
    let body_have = p.len() - s.body_start;
    s.msg_len = match s.content_length {
        Some(cl) if cl > body_have => return Err(DropReason::SipMalformed),
        // RFC 3261 §18.3: bytes past Content-Length in a datagram are discarded.
        Some(cl) => s.body_start + cl,
        None => p.len(),
    };
    Ok(s)
}

impl Scan {
    #[inline]
    fn via(&mut self, line: Line) {
        if self.top_via.is_none() {
            self.top_via = Some(line);
        }
        self.via_lines += 1;
    }

    /// A To header: exactly one per message (RFC 3261 §20.39, §7.3.1).
    #[inline]
    fn to(&mut self, v: &[u8]) -> Result<(), DropReason> {
        if self.to_seen {
            return Err(DropReason::SipMalformed);
        }
        self.to_seen = true;
        self.to_tag = has_tag(v);
        Ok(())
    }

    #[inline]
    fn set_cl(&mut self, v: &[u8]) -> Result<(), DropReason> {
        let n = parse_uint(v).ok_or(DropReason::SipMalformed)?;
        match self.content_length {
            Some(old) if old != n => Err(DropReason::SipMalformed),
            _ => {
                self.content_length = Some(n);
                Ok(())
            }
        }
    }

    /// Whether this is a request.
    #[inline]
    pub fn is_request(&self) -> bool {
        matches!(self.start, StartLine::Request { .. })
    }
}

/// The first element of a Via header value (up to an unquoted comma), and
/// whether more elements follow on the same line.
pub fn first_via_value(v: &[u8]) -> (&[u8], bool) {
    let mut inq = false;
    for (i, &c) in v.iter().enumerate() {
        match c {
            b'"' => inq = !inq,
            b',' if !inq => return (v[..i].trim_ascii_end(), true),
            _ => {}
        }
    }
    (v, false)
}

/// The value of parameter `name` in a Via value (`;name=value`), if present.
pub fn via_param<'a>(via: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    via.split(|&c| c == b';').skip(1).find_map(|p| {
        let p = p.trim_ascii();
        let (k, v) = match memchr::memchr(b'=', p) {
            Some(i) => (p[..i].trim_ascii(), p[i + 1..].trim_ascii()),
            None => (p, &p[p.len()..]),
        };
        eq_ic(k, name).then_some(v)
    })
}

/// Decrement a Max-Forwards value in place, keeping its width ("10" → "09").
/// Returns false when it is already zero or not a number.
pub fn decrement_max_forwards(v: &mut [u8]) -> bool {
    if v.is_empty() || v.len() > 9 || !v.iter().all(u8::is_ascii_digit) || v.iter().all(|&d| d == b'0') {
        return false;
    }
    for d in v.iter_mut().rev() {
        if *d == b'0' {
            *d = b'9';
        } else {
            *d -= 1;
            break;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    const MESSAGE: &[u8] = b"MESSAGE sip:bob@ims.example SIP/2.0\r\n\
Via: SIP/2.0/UDP 10.77.0.2:5061;branch=z9hG4bK-1\r\n\
Max-Forwards: 70\r\n\
From: <sip:mallory@ims.example>;tag=1\r\n\
To: <sip:bob@ims.example>\r\n\
Call-ID: c1@10.77.0.2\r\n\
CSeq: 1 MESSAGE\r\n\
P-Preferred-Identity: <sip:alice@ims.example>\r\n\
P-Asserted-Identity: <sip:bob@ims.example>\r\n\
Content-Type: text/plain\r\n\
Content-Length: 5\r\n\
\r\n\
hello";

    #[test]
    fn parse_message_request() {
        let s = scan(MESSAGE).unwrap();
        assert!(matches!(
            s.start,
            StartLine::Request {
                method: Method::Other,
                ..
            }
        ));
        if let StartLine::Request { uri, .. } = s.start {
            assert_eq!(&MESSAGE[uri.0..uri.1], b"sip:bob@ims.example");
        }
        assert_eq!(
            s.top_via.unwrap().value(MESSAGE),
            b"SIP/2.0/UDP 10.77.0.2:5061;branch=z9hG4bK-1"
        );
        assert_eq!(s.ppi.len(), 1);
        assert_eq!(s.ppi[0].value(MESSAGE), b"<sip:alice@ims.example>");
        assert_eq!(s.pai.len(), 1);
        assert_eq!(s.max_forwards.unwrap().value(MESSAGE), b"70");
        assert!(!s.to_tag);
        assert_eq!(&MESSAGE[s.body_start..s.msg_len], b"hello");
        let bye = String::from_utf8_lossy(MESSAGE)
            .replace("To: <sip:bob@ims.example>", "To: <sip:bob@ims.example>;tag=x");
        assert!(scan(bye.as_bytes()).unwrap().to_tag, "long-form To with a tag");
    }

    #[test]
    fn parse_response_compact_and_folded() {
        let m = b"SIP/2.0 200 OK\r\nv: SIP/2.0/UDP a;branch=z9hG4bKx,\r\n SIP/2.0/UDP b\r\nt: <sip:b@x>;tag=9\r\nl: 0\r\n\r\n";
        let s = scan(m).unwrap();
        assert_eq!(s.start, StartLine::Response { code: 200 });
        let v = s.top_via.unwrap().value(m);
        assert_eq!(first_via_value(v), (&b"SIP/2.0/UDP a;branch=z9hG4bKx"[..], true));
        assert!(s.to_tag);
        assert_eq!(s.msg_len, m.len());
    }

    #[test]
    fn trailing_bytes_past_content_length_are_cut() {
        let mut m = MESSAGE.to_vec();
        m.extend_from_slice(b"garbage");
        assert_eq!(scan(&m).unwrap().msg_len, MESSAGE.len());
    }

    #[test]
    fn malformed_messages_are_drops() {
        for m in [
            &b""[..],
            b"MESSAGE sip:x SIP/2.0\r\n",
            b"MESSAGE sip:x SIP/2.0\n\r\n",
            b"MESSAGE  SIP/2.0\r\n\r\n",
            b"MES SAGE sip:x SIP/2.0\r\n\r\n",
            b"SIP/2.0 99 Low\r\n\r\n",
            b"SIP/2.0 2000 OK\r\n\r\n",
            b"SIP/2.0 2x0 OK\r\n\r\n",
            b"OPTIONS sip:x SIP/2.0\r\nNoColon\r\n\r\n",
            b"OPTIONS sip:x SIP/2.0\r\nContent-Length: 10\r\n\r\nshort",
            b"OPTIONS sip:x SIP/2.0\r\nContent-Length: 1\r\nl: 2\r\n\r\nxx",
            b"OPTIONS sip:x SIP/2.0\r\nContent-Length: 99999999999\r\n\r\n",
            b"OPTIONS sip:x SIP/2.0\r\nMax-Forwards: 1\r\nMax-Forwards: 2\r\n\r\n",
            b"OPTIONS sip:x SIP/2.0\r\n : x\r\n\r\n",
            b"OPTIONS sip:x SIP/2.0\r\nP-Asserted-Identity\r: <sip:x@y>\r\n\r\n",
            b"OPTIONS sip:x SIP/2.0\r\nP-Asserted\0Identity: <sip:x@y>\r\n\r\n",
            b"OPTIONS sip:x SIP/2.0\r\nTo: <sip:a@b>\r\nt: <sip:a@b>;tag=1\r\n\r\n",
        ] {
            assert_eq!(
                scan(m).err(),
                Some(DropReason::SipMalformed),
                "{}",
                String::from_utf8_lossy(m)
            );
        }
    }

    #[test]
    fn too_many_header_lines_is_a_drop() {
        let mut m = b"OPTIONS sip:x SIP/2.0\r\n".to_vec();
        for _ in 0..=MAX_HEADER_LINES {
            m.extend_from_slice(b"X: y\r\n");
        }
        m.extend_from_slice(b"\r\n");
        assert_eq!(scan(&m).err(), Some(DropReason::SipMalformed));
    }

    #[test]
    fn max_forwards_decrement_keeps_width() {
        for (a, b) in [("70", "69"), ("10", "09"), ("1", "0"), ("100", "099")] {
            let mut v = a.as_bytes().to_vec();
            assert!(decrement_max_forwards(&mut v));
            assert_eq!(v, b.as_bytes());
        }
        for bad in ["0", "00", "", "x1"] {
            assert!(!decrement_max_forwards(&mut bad.as_bytes().to_vec()), "{bad}");
        }
    }

    #[test]
    fn via_params() {
        let v = b"SIP/2.0/UDP 1.2.3.4:5060;rport;branch=z9hG4bKabc ;received=5.6.7.8";
        assert_eq!(via_param(v, b"branch"), Some(&b"z9hG4bKabc"[..]));
        assert_eq!(via_param(v, b"rport"), Some(&b""[..]));
        assert_eq!(via_param(v, b"RECEIVED"), Some(&b"5.6.7.8"[..]));
        assert_eq!(via_param(v, b"maddr"), None);
    }
}
