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
    /// SUBSCRIBE (creates a dialog).
    Subscribe,
    /// REFER (creates a dialog).
    Refer,
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
    /// The value bytes (empty if `p` is not the payload the line came from).
    #[inline]
    pub fn value<'a>(&self, p: &'a [u8]) -> &'a [u8] {
        p.get(self.value..self.value_end).unwrap_or_default()
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
    /// The first two Route lines (the proxy looks only at the top of the
    /// route set, for entries naming itself).
    pub routes: SmallVec<[Line; 2]>,
    /// The Max-Forwards line.
    pub max_forwards: Option<Line>,
    /// The CSeq line (at most one).
    pub cseq: Option<Line>,
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

/// Whether byte `c` may appear in an RFC 3261 `token` (the table the full
/// parser in `control::sip` uses).
#[inline(always)]
fn is_token_char(c: u8) -> bool {
    control::sip::is_token(c)
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
        b"SUBSCRIBE" => Method::Subscribe,
        b"REFER" => Method::Refer,
        _ => Method::Other,
    })
}

/// Parse the start line `p[..len]` (the CR excluded).
fn parse_start(p: &[u8], len: usize) -> Option<StartLine> {
    let line = p.get(..len)?;
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
    // Both spaces usually come out of one 64-byte mask (taken over the
    // payload: a space past the line's end is rejected below).
    let mut sp = crate::simd::Finder::new(p, b' ', 0);
    let sp1 = sp.next().filter(|&i| i < len)?;
    let method = method_of(&line[..sp1])?;
    let sp2 = sp.next().filter(|&i| i < len)?;
    if &line[sp2 + 1..] != b"SIP/2.0" || sp2 == sp1 + 1 {
        return None;
    }
    Some(StartLine::Request {
        method,
        uri: (sp1 + 1, sp2),
    })
}

#[inline]
fn is_ws(c: u8) -> bool {
    c == b' ' || c == b'\t'
}

fn parse_uint(v: &[u8]) -> Option<usize> {
    if v.is_empty() || v.len() > 9 {
        return None;
    }
    let mut n = 0usize;
    for &c in v {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        n = n * 10 + usize::from(d);
    }
    Some(n)
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

/// Eight bytes of `p` from `at` as a little-endian word, zero-padded past
/// the end.
#[inline(always)]
fn word(p: &[u8], at: usize) -> u64 {
    match p.get(at..at + 8) {
        Some(b) => <[u8; 8]>::try_from(b).map_or(0, u64::from_le_bytes),
        None => {
            let mut w = [0u8; 8];
            for (d, s) in w.iter_mut().zip(p.get(at..).unwrap_or_default()) {
                *d = *s;
            }
            u64::from_le_bytes(w)
        }
    }
}

/// `lit` (at most 24 bytes) as three little-endian words, zero-padded.
const fn words(lit: &[u8]) -> [u64; 3] {
    let mut w = [0u64; 3];
    let mut i = 0;
    while i < lit.len() {
        w[i / 8] |= (lit[i] as u64) << (8 * (i % 8));
        i += 1;
    }
    w
}

/// Whether the `N`-byte header name at `p[at..]` is the name whose
/// lowercase form (letters and `-`) packs into `want` (see [`words`]),
/// ignoring ASCII case, eight bytes at a time. The name is known to hold
/// only token characters: `c | 0x20` is a lowercase letter only for that
/// letter in either case, and `-` only for `-` (CR would map to it too, and
/// is no token character), so one OR and one compare per word decide.
#[inline(always)]
fn name_is<const N: usize>(p: &[u8], at: usize, want: &[u64; 3]) -> bool {
    const LOWER: u64 = 0x2020_2020_2020_2020;
    let mask = |left: usize| {
        if left >= 8 {
            u64::MAX
        } else {
            (1u64 << (8 * left)) - 1
        }
    };
    let w0 = (word(p, at) | LOWER) & mask(N) == want[0];
    if N <= 8 {
        return w0;
    }
    let w1 = (word(p, at + 8) | LOWER) & mask(N - 8) == want[1];
    if N <= 16 {
        return w0 & w1;
    }
    w0 & w1 && (word(p, at + 16) | LOWER) & mask(N.saturating_sub(16)) == want[2]
}

/// A header name the scanner compares, as its length and packed words.
macro_rules! name {
    ($p:expr, $at:expr, $lit:literal) => {{
        const W: [u64; 3] = words($lit);
        name_is::<{ $lit.len() }>($p, $at, &W)
    }};
}

/// The headers [`scan`] acts on.
#[derive(Clone, Copy)]
enum Hdr {
    Via,
    To,
    ContentLength,
    CSeq,
    MaxForwards,
    Pai,
    Ppi,
    Route,
}

/// Which of the headers the fast path acts on the `n`-byte name at
/// `p[at..]` is: picked by length, then compared as whole words.
#[inline(always)]
fn classify(p: &[u8], at: usize, n: usize) -> Option<Hdr> {
    match n {
        1 => match p.get(at).map(|c| c | 0x20) {
            Some(b'v') => Some(Hdr::Via),
            Some(b't') => Some(Hdr::To),
            Some(b'l') => Some(Hdr::ContentLength),
            _ => None,
        },
        2 if name!(p, at, b"to") => Some(Hdr::To),
        3 if name!(p, at, b"via") => Some(Hdr::Via),
        4 if name!(p, at, b"cseq") => Some(Hdr::CSeq),
        5 if name!(p, at, b"route") => Some(Hdr::Route),
        12 if name!(p, at, b"max-forwards") => Some(Hdr::MaxForwards),
        14 if name!(p, at, b"content-length") => Some(Hdr::ContentLength),
        19 if name!(p, at, b"p-asserted-identity") => Some(Hdr::Pai),
        20 if name!(p, at, b"p-preferred-identity") => Some(Hdr::Ppi),
        _ => None,
    }
}

/// The header name of the line `p[pos..nl]` (`nl` its LF, `p[nl - 1]` its
/// CR): its length and the offset of the colon after it. The name is a run
/// of token characters from the line start, optionally followed by
/// whitespace, then the colon (a CR, a NUL or a space inside a name could
/// make a downstream parser see a header we did not, such as a
/// P-Asserted-Identity we never removed).
#[inline(always)]
fn header_name(p: &[u8], pos: usize, nl: usize) -> Option<(usize, usize)> {
    // Letters and dashes 16 at a time. The run stops at the latest at the
    // line's CR, so `pos + run` is inside the line.
    let run = crate::simd::alpha_dash_run16(p.get(pos..).unwrap_or_default());
    if run > 0 && run < 16 && p.get(pos + run) == Some(&b':') {
        return Some((run, pos + run));
    }
    header_name_slow(p, pos, nl, run)
}

/// [`header_name`] for names of 16 or more bytes, with token characters
/// other than letters and dashes, or with whitespace before the colon.
#[cold]
fn header_name_slow(p: &[u8], pos: usize, nl: usize, run: usize) -> Option<(usize, usize)> {
    let line = p.get(pos..nl)?;
    let mut n = run.min(line.len());
    while n < line.len() && is_token_char(line[n]) {
        n += 1;
    }
    if n == 0 {
        return None;
    }
    let mut j = n;
    while j < line.len() && is_ws(line[j]) {
        j += 1;
    }
    (line.get(j) == Some(&b':')).then_some((n, pos + j))
}

/// Scan a SIP message in a UDP payload.
///
/// One pass: every line end is found 64 bytes at a time
/// ([`crate::simd::Finder`]), and each header name is read once, as a run of
/// token characters that must end at the colon (optionally after
/// whitespace). Only the names the fast path acts on are compared, chosen by
/// their length first.
pub fn scan(p: &[u8]) -> Result<Scan, DropReason> {
    let mut s = Scan::EMPTY;
    scan_into(p, &mut s)?;
    Ok(s)
}

/// [`scan`] into a [`Scan`] the caller owns (no copy of the result; `s` is
/// overwritten whole, and is unspecified after an error).
pub fn scan_into(p: &[u8], s: &mut Scan) -> Result<(), DropReason> {
    let mut nls = crate::simd::Finder::new(p, b'\n', 0);
    let first = nls.next().ok_or(DropReason::SipMalformed)?;
    if first == 0 || p[first - 1] != b'\r' {
        return Err(DropReason::SipMalformed);
    }
    let start = parse_start(p, first - 1).ok_or(DropReason::SipMalformed)?;
    s.reset(start, first + 1);
    let mut pos = first + 1;
    let mut lines = 0usize;
    let mut nl = nls.next().ok_or(DropReason::SipMalformed)?;
    loop {
        // `nl > pos` always (Finder yields increasing offsets from `pos` on),
        // so the line is at least its LF.
        if p[nl - 1] != b'\r' || nl == pos {
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
        let (name_len, colon) = header_name(p, pos, nl).ok_or(DropReason::SipMalformed)?;
        // Fold continuation lines into this header.
        let mut end = nl + 1;
        nl = nls.next().ok_or(DropReason::SipMalformed)?;
        while p.get(end).is_some_and(|&c| is_ws(c)) {
            if p[nl - 1] != b'\r' {
                return Err(DropReason::SipMalformed);
            }
            end = nl + 1;
            nl = nls.next().ok_or(DropReason::SipMalformed)?;
        }
        let Some(kind) = classify(p, pos, name_len) else {
            pos = end;
            continue;
        };
        if matches!(kind, Hdr::Route) && s.routes.len() >= 2 {
            pos = end;
            continue;
        }
        // The value without the whitespace around it (a colon is never the
        // line's CR, so `colon < value_end`).
        let value_end = end - 2;
        let (mut vs, mut ve) = (colon + 1, value_end);
        while vs < ve && p.get(vs).is_some_and(|&c| is_ws(c)) {
            vs += 1;
        }
        while ve > vs && p.get(ve - 1).is_some_and(|&c| is_ws(c)) {
            ve -= 1;
        }
        let line = Line {
            start: pos,
            value: vs,
            value_end: ve,
            end,
        };
        match kind {
            Hdr::Via => s.via(line),
            Hdr::To => s.to(line.value(p))?,
            Hdr::ContentLength => s.set_cl(line.value(p))?,
            Hdr::CSeq => {
                if s.cseq.replace(line).is_some() {
                    return Err(DropReason::SipMalformed);
                }
            }
            Hdr::MaxForwards => {
                if s.max_forwards.replace(line).is_some() {
                    return Err(DropReason::SipMalformed);
                }
            }
            Hdr::Pai => s.pai.push(line),
            Hdr::Ppi => s.ppi.push(line),
            Hdr::Route => s.routes.push(line),
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
    Ok(())
}

impl Scan {
    /// A scan of nothing, to be filled by [`scan_into`].
    pub const EMPTY: Scan = Scan {
        start: StartLine::Response { code: 0 },
        headers_start: 0,
        headers_end: 0,
        body_start: 0,
        msg_len: 0,
        top_via: None,
        via_lines: 0,
        ppi: SmallVec::new_const(),
        pai: SmallVec::new_const(),
        routes: SmallVec::new_const(),
        max_forwards: None,
        cseq: None,
        to_tag: false,
        to_seen: false,
        content_length: None,
    };

    /// Start over for a message with this start line and headers from
    /// `headers_start` on.
    #[inline]
    fn reset(&mut self, start: StartLine, headers_start: usize) {
        self.start = start;
        self.headers_start = headers_start;
        self.headers_end = 0;
        self.body_start = 0;
        self.msg_len = 0;
        self.top_via = None;
        self.via_lines = 0;
        self.ppi.clear();
        self.pai.clear();
        self.routes.clear();
        self.max_forwards = None;
        self.cseq = None;
        self.to_tag = false;
        self.to_seen = false;
        self.content_length = None;
    }

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

/// Split a header value that is a comma-separated list of name-addr /
/// addr-spec elements (Route, Record-Route) after its first element:
/// returns the first element (trimmed) and the offset in `v` where the next
/// element starts (after the comma and whitespace), if there is one. Commas
/// inside quotes or `<...>` do not split.
pub fn first_list_element(v: &[u8]) -> (&[u8], Option<usize>) {
    let (mut inq, mut ina) = (false, false);
    for (i, &c) in v.iter().enumerate() {
        match c {
            b'"' if !ina => inq = !inq,
            b'<' if !inq => ina = true,
            b'>' if !inq => ina = false,
            b',' if !inq && !ina => {
                let mut j = i + 1;
                while j < v.len() && matches!(v[j], b' ' | b'\t' | b'\r' | b'\n') {
                    j += 1;
                }
                return (v[..i].trim_ascii(), Some(j));
            }
            _ => {}
        }
    }
    (v.trim_ascii(), None)
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
    if v.is_empty() || v.len() > 9 {
        return false;
    }
    // One pass: every byte a digit, and not all of them zero.
    let mut nonzero = false;
    for &c in v.iter() {
        if !c.is_ascii_digit() {
            return false;
        }
        nonzero |= c != b'0';
    }
    if !nonzero {
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
#[path = "sipfast_reference.rs"]
mod reference;

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

    /// The rewritten line loop against the scanner it replaced, on valid
    /// messages and on random mutations of them: the same verdict, and on
    /// success the same lines, offsets and flags.
    #[test]
    fn same_result_as_the_reference_scanner() {
        use proptest::prelude::*;
        use proptest::test_runner::{Config, TestRunner};
        let bases: Vec<Vec<u8>> = vec![
            MESSAGE.to_vec(),
            b"SIP/2.0 200 OK\r\nv: SIP/2.0/UDP a;branch=z9hG4bKx,\r\n SIP/2.0/UDP b\r\nt: <sip:b@x>;tag=9\r\nl: 0\r\n\r\n"
                .to_vec(),
            b"INVITE sip:b@x SIP/2.0\r\nRoute: <sip:p;lr>, <sip:q;lr>\r\nroute: <sip:r>\r\nROUTE: <sip:s>\r\n\
Via : SIP/2.0/UDP a\r\nVIA:x\r\nX-Long-Header-Name-Over-16: 1\r\nCall.ID: 2\r\nMax-Forwards:\t 7 \r\n\
P-Preferred-Identity: <tel:+1>\r\nP-Preferred-Identity: <sip:a@b>\r\np-asserted-identity:<sip:c@d>\r\n\
CSeq: 3 INVITE\r\nTo: <sip:b@x>;tag=1\r\nContent-Length: 2\r\n\r\nab"
                .to_vec(),
        ];
        // Bytes that matter to the scanner, so mutations hit its branches.
        let alphabet: &[u8] = b"\r\n :\t-aAvVtTlL;,<>xX0\x00\x80";
        let mut runner = TestRunner::new(Config {
            cases: 4000,
            ..Config::default()
        });
        let strat = (
            0..bases.len(),
            proptest::collection::vec((any::<prop::sample::Index>(), 0..alphabet.len(), 0u8..3), 0..6),
        );
        runner
            .run(&strat, |(b, edits)| {
                let mut m = bases[b].clone();
                for (at, c, op) in edits {
                    let i = at.index(m.len() + 1);
                    match op {
                        0 if i < m.len() => m[i] = alphabet[c],
                        1 => m.insert(i, alphabet[c]),
                        _ if i < m.len() => {
                            m.remove(i);
                        }
                        _ => {}
                    }
                }
                let (new, old) = (scan(&m), reference::scan(&m));
                prop_assert_eq!(new.is_ok(), old.is_ok(), "{}", String::from_utf8_lossy(&m));
                if let (Ok(n), Ok(o)) = (new, old) {
                    prop_assert_eq!(format!("{n:?}"), format!("{o:?}"));
                }
                Ok(())
            })
            .unwrap();
        for m in &bases {
            assert_eq!(
                format!("{:?}", scan(m).unwrap()),
                format!("{:?}", reference::scan(m).unwrap())
            );
        }
    }
}
