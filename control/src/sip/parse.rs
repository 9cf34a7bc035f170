//! The zero-copy message parser: start line, header lines (with folding and
//! compact names), Content-Length framing.
//!
//! Owns framing. Must never allocate, copy or panic: headers go into the
//! caller's array as borrowed slices, line ends are found with `memchr`
//! (runtime-selected SIMD), and every index is bounds-checked.

use super::names::{AsHeaderName, HeaderName};
use super::text::{self, is_token, Values};
use super::Error;

/// Result of a parse that may need more bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status<T> {
    /// A whole message.
    Complete(T),
    /// The header section (or, on a stream, the body) is incomplete.
    Partial,
}

impl<T> Status<T> {
    /// The message, if complete.
    pub fn complete(self) -> Option<T> {
        match self {
            Status::Complete(t) => Some(t),
            Status::Partial => None,
        }
    }

    /// Whether this is [`Status::Complete`].
    pub fn is_complete(&self) -> bool {
        matches!(self, Status::Complete(_))
    }
}

/// How the message is framed on its transport.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// UDP: one message per datagram. A missing Content-Length means the body
    /// runs to the end; a body shorter than Content-Length is
    /// [`Error::BodyTooShort`]; bytes after it are [`Error::TrailingData`]
    /// (stricter than RFC 3261 §18.3, which discards them: a security proxy
    /// must not forward bytes a next hop might read differently).
    Datagram,
    /// TCP/TLS: Content-Length is mandatory; a short body is
    /// [`Status::Partial`]; bytes after the body belong to the next message
    /// ([`Message::len`] tells where it starts).
    Stream,
}

/// Size limits. Defaults: 8 KiB per physical line, 64 KiB of header section,
/// 1 MiB of body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Longest physical line, CRLF excluded.
    pub max_line_len: usize,
    /// Longest header section, start line and blank line included.
    pub max_header_bytes: usize,
    /// Largest Content-Length accepted.
    pub max_body_len: usize,
}

impl Limits {
    /// The default limits.
    pub const DEFAULT: Limits = Limits {
        max_line_len: 8192,
        max_header_bytes: 65536,
        max_body_len: 1 << 20,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}

/// A configured parser (framing plus limits). [`parse`] is
/// `Parser::DATAGRAM.parse`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Parser {
    /// Framing rules.
    pub framing: Framing,
    /// Size limits.
    pub limits: Limits,
}

/// The method of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum Method<'b> {
    Register,
    Invite,
    Ack,
    Bye,
    Cancel,
    Options,
    Message,
    Subscribe,
    Notify,
    Publish,
    Info,
    Prack,
    Update,
    Refer,
    /// Any other token (methods are case-sensitive, RFC 3261 §7.1).
    Other(&'b [u8]),
}

impl<'b> Method<'b> {
    /// Classify a method token (case-sensitive).
    pub fn from_bytes(m: &'b [u8]) -> Method<'b> {
        match m {
            b"REGISTER" => Method::Register,
            b"INVITE" => Method::Invite,
            b"ACK" => Method::Ack,
            b"BYE" => Method::Bye,
            b"CANCEL" => Method::Cancel,
            b"OPTIONS" => Method::Options,
            b"MESSAGE" => Method::Message,
            b"SUBSCRIBE" => Method::Subscribe,
            b"NOTIFY" => Method::Notify,
            b"PUBLISH" => Method::Publish,
            b"INFO" => Method::Info,
            b"PRACK" => Method::Prack,
            b"UPDATE" => Method::Update,
            b"REFER" => Method::Refer,
            other => Method::Other(other),
        }
    }

    /// The method as bytes.
    pub fn as_bytes(&self) -> &'b [u8] {
        match self {
            Method::Register => b"REGISTER",
            Method::Invite => b"INVITE",
            Method::Ack => b"ACK",
            Method::Bye => b"BYE",
            Method::Cancel => b"CANCEL",
            Method::Options => b"OPTIONS",
            Method::Message => b"MESSAGE",
            Method::Subscribe => b"SUBSCRIBE",
            Method::Notify => b"NOTIFY",
            Method::Publish => b"PUBLISH",
            Method::Info => b"INFO",
            Method::Prack => b"PRACK",
            Method::Update => b"UPDATE",
            Method::Refer => b"REFER",
            Method::Other(m) => m,
        }
    }
}

/// The first line of a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartLine<'b> {
    /// `Method SP Request-URI SP SIP/2.0`.
    Request {
        /// The method.
        method: Method<'b>,
        /// The Request-URI, raw.
        uri: &'b [u8],
    },
    /// `SIP/2.0 SP Status-Code SP Reason-Phrase`.
    Response {
        /// 100..=699.
        code: u16,
        /// The reason phrase, possibly empty.
        reason: &'b [u8],
    },
}

/// One header line: borrowed name and value plus its byte offsets in the
/// message buffer (for the editor).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Header<'b> {
    /// The name as written (compact or long form).
    pub name: &'b [u8],
    /// The value, without leading/trailing whitespace. A folded value keeps
    /// its inner CRLF + whitespace; the typed parsers treat them as spaces.
    pub value: &'b [u8],
    /// The classified name.
    pub kind: HeaderName,
    line_start: u32,
    line_end: u32,
    value_start: u32,
}

impl<'b> Header<'b> {
    /// An empty slot for the caller's header array.
    pub const EMPTY: Header<'static> = Header {
        name: b"",
        value: b"",
        kind: HeaderName::Other,
        line_start: 0,
        line_end: 0,
        value_start: 0,
    };

    /// Whether this header has the given name (compact and long forms match,
    /// case-insensitively).
    pub fn is<'n>(&self, name: impl AsHeaderName<'n>) -> bool {
        let (k, t) = name.to_lookup();
        self.matches(k, t)
    }

    #[inline]
    fn matches(&self, k: HeaderName, t: &[u8]) -> bool {
        if k != HeaderName::Other {
            self.kind == k
        } else {
            self.kind == HeaderName::Other && self.name.eq_ignore_ascii_case(t)
        }
    }

    /// Byte range of the whole header line in the message buffer, from the
    /// first byte of the name to after the last CRLF (continuation lines
    /// included).
    pub fn line_range(&self) -> core::ops::Range<usize> {
        self.line_start as usize..self.line_end as usize
    }

    /// Byte range of [`Header::value`] in the message buffer.
    pub fn value_range(&self) -> core::ops::Range<usize> {
        self.value_start as usize..self.value_start as usize + self.value.len()
    }

    /// The comma-separated elements of the value.
    pub fn values(&self) -> Values<'b> {
        text::values(self.value)
    }
}

/// A parsed message. Everything borrows from the input buffer and the
/// caller's header array.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Message<'b, 'h> {
    buf: &'b [u8],
    /// The start line.
    pub start: StartLine<'b>,
    /// The headers, in order.
    pub headers: &'h [Header<'b>],
    start_off: u32,
    headers_end: u32,
    body_off: u32,
    end: u32,
    content_length: Option<u32>,
}

impl<'b, 'h> Message<'b, 'h> {
    /// The whole input buffer the message was parsed from.
    pub fn buf(&self) -> &'b [u8] {
        self.buf
    }

    /// Offset of the start line (after any leading CRLFs).
    pub fn start_offset(&self) -> usize {
        self.start_off as usize
    }

    /// Offset where the blank line ending the header section begins (where
    /// a header appended last would go).
    pub fn headers_end(&self) -> usize {
        self.headers_end as usize
    }

    /// Offset of the body.
    pub fn body_offset(&self) -> usize {
        self.body_off as usize
    }

    /// The body.
    pub fn body(&self) -> &'b [u8] {
        self.buf
            .get(self.body_off as usize..self.end as usize)
            .unwrap_or(&[])
    }

    /// Length of the message in the buffer (offset where a following message
    /// on a stream starts).
    pub fn len(&self) -> usize {
        self.end as usize
    }

    /// Whether the message is empty (never true for a parsed message).
    pub fn is_empty(&self) -> bool {
        self.end == 0
    }

    /// The value of Content-Length, if present.
    pub fn content_length(&self) -> Option<u32> {
        self.content_length
    }

    /// Whether this is a request.
    pub fn is_request(&self) -> bool {
        matches!(self.start, StartLine::Request { .. })
    }

    /// The method of a request.
    pub fn method(&self) -> Option<Method<'b>> {
        match self.start {
            StartLine::Request { method, .. } => Some(method),
            StartLine::Response { .. } => None,
        }
    }

    /// The Request-URI of a request.
    pub fn request_uri(&self) -> Option<&'b [u8]> {
        match self.start {
            StartLine::Request { uri, .. } => Some(uri),
            StartLine::Response { .. } => None,
        }
    }

    /// The status code of a response.
    pub fn status(&self) -> Option<u16> {
        match self.start {
            StartLine::Response { code, .. } => Some(code),
            StartLine::Request { .. } => None,
        }
    }

    /// The first header with this name.
    pub fn header<'n>(&self, name: impl AsHeaderName<'n>) -> Option<&'h Header<'b>> {
        let (k, t) = name.to_lookup();
        self.headers.iter().find(|h| h.matches(k, t))
    }

    /// Index in [`Message::headers`] of the first header with this name.
    pub fn header_index<'n>(&self, name: impl AsHeaderName<'n>) -> Option<usize> {
        let (k, t) = name.to_lookup();
        self.headers.iter().position(|h| h.matches(k, t))
    }

    /// All headers with this name, in order.
    pub fn headers_named<'n>(&self, name: impl AsHeaderName<'n>) -> HeadersNamed<'b, 'h, 'n> {
        let (kind, text) = name.to_lookup();
        HeadersNamed {
            iter: self.headers.iter(),
            kind,
            text,
        }
    }

    /// All comma-separated values of all headers with this name, in order.
    pub fn values_named<'n>(&self, name: impl AsHeaderName<'n>) -> ValuesNamed<'b, 'h, 'n> {
        ValuesNamed {
            headers: self.headers_named(name),
            cur: None,
        }
    }

    /// The value of the only header with this name: `Ok(None)` if absent,
    /// [`Error::DuplicateHeader`] if it appears twice with different values.
    pub fn single<'n>(&self, name: impl AsHeaderName<'n>) -> Result<Option<&'b [u8]>, Error> {
        let mut it = self.headers_named(name);
        let Some(first) = it.next() else { return Ok(None) };
        for h in it {
            if h.value != first.value {
                return Err(Error::DuplicateHeader(first.kind));
            }
        }
        Ok(Some(first.value))
    }
}

/// Iterator returned by [`Message::headers_named`].
#[derive(Clone, Debug)]
pub struct HeadersNamed<'b, 'h, 'n> {
    iter: core::slice::Iter<'h, Header<'b>>,
    kind: HeaderName,
    text: &'n [u8],
}

impl<'b, 'h> Iterator for HeadersNamed<'b, 'h, '_> {
    type Item = &'h Header<'b>;

    fn next(&mut self) -> Option<Self::Item> {
        let (k, t) = (self.kind, self.text);
        self.iter.by_ref().find(|h| h.matches(k, t))
    }
}

/// Iterator returned by [`Message::values_named`].
#[derive(Clone, Debug)]
pub struct ValuesNamed<'b, 'h, 'n> {
    headers: HeadersNamed<'b, 'h, 'n>,
    cur: Option<Values<'b>>,
}

impl<'b> Iterator for ValuesNamed<'b, '_, '_> {
    type Item = Result<&'b [u8], Error>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(v) = self.cur.as_mut().and_then(|c| c.next()) {
                return Some(v);
            }
            self.cur = Some(self.headers.next()?.values());
        }
    }
}

/// Parse one message from a datagram (see [`Framing::Datagram`]) with the
/// default limits. `headers` bounds the header count:
/// [`Error::TooManyHeaders`] when it is too small.
pub fn parse<'b, 'h>(buf: &'b [u8], headers: &'h mut [Header<'b>]) -> Result<Status<Message<'b, 'h>>, Error> {
    Parser::DATAGRAM.parse(buf, headers)
}

/// Where a line ends: `Ok(Some(i))` with `buf[i..i+2] == CRLF`, `Ok(None)`
/// if more bytes are needed.
#[inline]
fn line_end(buf: &[u8], from: usize, max_line: usize) -> Result<Option<usize>, Error> {
    let window_end = from.saturating_add(max_line).saturating_add(2).min(buf.len());
    let window = buf.get(from..window_end).unwrap_or(&[]);
    match memchr::memchr2(b'\r', b'\n', window) {
        Some(i) => {
            if window[i] == b'\n' {
                return Err(Error::InvalidLineEnding);
            }
            let at = from + i;
            match buf.get(at + 1) {
                Some(b'\n') => {
                    if i > max_line {
                        return Err(Error::LineTooLong);
                    }
                    Ok(Some(at))
                }
                Some(_) => Err(Error::InvalidLineEnding),
                None => Ok(None),
            }
        }
        None if window_end == buf.len() && window.len() <= max_line + 1 => Ok(None),
        None => Err(Error::LineTooLong),
    }
}

impl Parser {
    /// Datagram framing, default limits.
    pub const DATAGRAM: Parser = Parser {
        framing: Framing::Datagram,
        limits: Limits::DEFAULT,
    };
    /// Stream framing, default limits.
    pub const STREAM: Parser = Parser {
        framing: Framing::Stream,
        limits: Limits::DEFAULT,
    };

    /// Parse one message from `buf`.
    pub fn parse<'b, 'h>(
        &self,
        buf: &'b [u8],
        headers: &'h mut [Header<'b>],
    ) -> Result<Status<Message<'b, 'h>>, Error> {
        if buf.len() > u32::MAX as usize {
            return Err(Error::MessageTooLarge);
        }
        let lim = &self.limits;
        // RFC 3261 §7.5: ignore CRLFs before the start line (stream
        // keep-alives); harmless on datagrams.
        let mut pos = 0;
        while buf.get(pos..pos + 2) == Some(b"\r\n") {
            pos += 2;
        }
        let start_off = pos;
        if pos == buf.len() || buf[pos..] == *b"\r" {
            return Ok(Status::Partial);
        }
        let Some(eol) = line_end(buf, pos, lim.max_line_len)? else {
            return Ok(Status::Partial);
        };
        let start = parse_start_line(&buf[pos..eol])?;
        pos = eol + 2;

        let mut n = 0usize;
        let mut content_length: Option<u32> = None;
        loop {
            if pos - start_off > lim.max_header_bytes {
                return Err(Error::HeadersTooLarge);
            }
            let Some(eol) = line_end(buf, pos, lim.max_line_len)? else {
                return Ok(Status::Partial);
            };
            let line = &buf[pos..eol];
            if line.is_empty() {
                break;
            }
            if line[0] == b' ' || line[0] == b'\t' {
                // Folding: extend the previous header's value to this line.
                let prev = match n.checked_sub(1).and_then(|i| headers.get_mut(i)) {
                    Some(p) => p,
                    None => return Err(Error::FoldWithoutHeader),
                };
                let lead = line.iter().take_while(|&&c| c == b' ' || c == b'\t').count();
                let trail = line[lead..]
                    .iter()
                    .rev()
                    .take_while(|&&c| c == b' ' || c == b'\t')
                    .count();
                if lead + trail < line.len() {
                    // An empty value so far starts at this continuation.
                    let vs = if prev.value.is_empty() {
                        pos + lead
                    } else {
                        prev.value_start as usize
                    };
                    prev.value = &buf[vs..eol - trail];
                    prev.value_start = vs as u32;
                }
                prev.line_end = (eol + 2) as u32;
                pos = eol + 2;
                continue;
            }
            // Name: token characters, optional whitespace, colon.
            let mut i = 0;
            while i < line.len() && is_token(line[i]) {
                i += 1;
            }
            let name = &line[..i];
            while i < line.len() && (line[i] == b' ' || line[i] == b'\t') {
                i += 1;
            }
            if name.is_empty() || line.get(i) != Some(&b':') {
                return Err(Error::InvalidHeaderName);
            }
            i += 1;
            let mut vs = i;
            while vs < line.len() && (line[vs] == b' ' || line[vs] == b'\t') {
                vs += 1;
            }
            let mut ve = line.len();
            while ve > vs && (line[ve - 1] == b' ' || line[ve - 1] == b'\t') {
                ve -= 1;
            }
            let kind = HeaderName::classify(name);
            let slot = headers.get_mut(n).ok_or(Error::TooManyHeaders)?;
            *slot = Header {
                name,
                value: &line[vs..ve],
                kind,
                line_start: pos as u32,
                line_end: (eol + 2) as u32,
                value_start: (pos + vs) as u32,
            };
            n += 1;
            pos = eol + 2;
        }
        let headers_end = pos;
        let body_off = pos + 2;

        // Content-Length, after folding is resolved.
        for h in headers[..n]
            .iter()
            .filter(|h| h.kind == HeaderName::ContentLength)
        {
            let v = match text::parse_dec(text::trim(h.value), u64::from(u32::MAX)) {
                Ok(v) => v,
                Err(Error::NumberOutOfRange) => return Err(Error::ContentLengthTooLarge),
                Err(_) => return Err(Error::InvalidContentLength),
            };
            // parse_dec bounded v by u32::MAX.
            let v = v as u32;
            match content_length {
                Some(c) if c != v => return Err(Error::ConflictingContentLength),
                _ => content_length = Some(v),
            }
        }
        if let Some(cl) = content_length {
            if cl as usize > lim.max_body_len {
                return Err(Error::ContentLengthTooLarge);
            }
        }
        let avail = buf.len() - body_off;
        let end = match (self.framing, content_length) {
            (Framing::Datagram, None) => buf.len(),
            (Framing::Datagram, Some(cl)) => {
                let cl = cl as usize;
                if avail < cl {
                    return Err(Error::BodyTooShort);
                }
                if avail > cl {
                    return Err(Error::TrailingData);
                }
                buf.len()
            }
            (Framing::Stream, None) => return Err(Error::MissingContentLength),
            (Framing::Stream, Some(cl)) => {
                if avail < cl as usize {
                    return Ok(Status::Partial);
                }
                body_off + cl as usize
            }
        };
        Ok(Status::Complete(Message {
            buf,
            start,
            headers: &headers[..n],
            start_off: start_off as u32,
            headers_end: headers_end as u32,
            body_off: body_off as u32,
            end: end as u32,
            content_length,
        }))
    }
}

fn parse_start_line(line: &[u8]) -> Result<StartLine<'_>, Error> {
    if line.len() >= 8 && line[..8].eq_ignore_ascii_case(b"SIP/2.0 ") {
        // Status-Line = SIP-Version SP Status-Code SP Reason-Phrase
        let rest = &line[8..];
        let code = rest.get(..3).ok_or(Error::InvalidStatusCode)?;
        if !code.iter().all(u8::is_ascii_digit) {
            return Err(Error::InvalidStatusCode);
        }
        let code =
            u16::from(code[0] - b'0') * 100 + u16::from(code[1] - b'0') * 10 + u16::from(code[2] - b'0');
        if !(100..=699).contains(&code) {
            return Err(Error::InvalidStatusCode);
        }
        let reason = match rest.get(3..) {
            Some([]) | None => &[][..],
            Some([b' ', r @ ..]) => r,
            Some(_) => return Err(Error::InvalidStatusCode),
        };
        if reason.iter().any(|&c| c < 0x20 && c != b'\t' || c == 0x7f) {
            return Err(Error::InvalidStartLine);
        }
        return Ok(StartLine::Response { code, reason });
    }
    // Request-Line = Method SP Request-URI SP SIP-Version
    let sp1 = memchr::memchr(b' ', line).ok_or(Error::InvalidStartLine)?;
    let method = &line[..sp1];
    if !text::is_token_str(method) {
        return Err(Error::InvalidMethod);
    }
    let rest = &line[sp1 + 1..];
    let sp2 = memchr::memchr(b' ', rest).ok_or(Error::InvalidStartLine)?;
    let uri = &rest[..sp2];
    if uri.is_empty() || uri.iter().any(|&c| c <= 0x20 || c == 0x7f) {
        return Err(Error::InvalidRequestUri);
    }
    let version = &rest[sp2 + 1..];
    if !version.eq_ignore_ascii_case(b"SIP/2.0") {
        return Err(Error::InvalidVersion);
    }
    Ok(StartLine::Request {
        method: Method::from_bytes(method),
        uri,
    })
}
