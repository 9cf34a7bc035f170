//! The SIP fast path: a scanner over a UDP payload and the in-place edits
//! a stateless P-CSCF makes to it.
//!
//! [`scan`] finds the start line and the handful of headers the worker needs
//! (top Via, P-Preferred-Identity, P-Asserted-Identity, Max-Forwards, To tag,
//! Content-Length, CSeq method) without building a full header table; the full
//! parser lives in `control::sip` and serves the control thread. Everything
//! here borrows the payload, allocates nothing and never panics on input:
//! every failure is a [`DropReason`]. The scanner checks every line in one
//! pass over the lines and records the headers it acts on in a second pass
//! over what the first noted ([`scan_into`]); its per-line kernels are in
//! `simd`, in an SSE2 and an AVX2 build chosen at run time.

use crate::simd::LineKernels;

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

/// Header lines of one kind, in message order: up to two in place (all
/// that the fast path keeps: see `ByKind::fits`), more (only a message
/// with more than two P-Asserted- or P-Preferred-Identity lines has them)
/// all in a `Vec`. Reading the count is one load, and the fast path fills
/// it with plain stores.
#[derive(Clone)]
pub struct Lines {
    n: usize,
    two: [Line; 2],
    more: Vec<Line>,
}

impl Lines {
    /// No lines.
    pub const fn new() -> Lines {
        const NO_LINE: Line = Line {
            start: 0,
            value: 0,
            value_end: 0,
            end: 0,
        };
        Lines {
            n: 0,
            two: [NO_LINE; 2],
            more: Vec::new(),
        }
    }

    /// How many lines.
    #[inline]
    pub fn len(&self) -> usize {
        self.n
    }

    /// Whether there is none.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// The first line.
    #[inline]
    pub fn first(&self) -> Option<&Line> {
        self.as_slice().first()
    }

    /// The lines in message order.
    #[inline]
    pub fn as_slice(&self) -> &[Line] {
        match self.two.get(..self.n) {
            Some(two) => two,
            None => &self.more,
        }
    }

    /// The lines in message order.
    #[inline]
    pub fn iter(&self) -> core::slice::Iter<'_, Line> {
        self.as_slice().iter()
    }

    /// Add a line after the others.
    pub fn push(&mut self, l: Line) {
        match self.n {
            0 | 1 => self.two[self.n] = l,
            2 => {
                self.more.clear();
                self.more.extend_from_slice(&self.two);
                self.more.push(l);
            }
            _ => self.more.push(l),
        }
        self.n += 1;
    }

    /// Remove every line.
    #[inline]
    pub fn clear(&mut self) {
        self.n = 0;
        self.more.clear();
    }
}

impl Default for Lines {
    fn default() -> Lines {
        Lines::new()
    }
}

impl core::ops::Index<usize> for Lines {
    type Output = Line;
    fn index(&self, i: usize) -> &Line {
        &self.as_slice()[i]
    }
}

impl<'a> IntoIterator for &'a Lines {
    type Item = &'a Line;
    type IntoIter = core::slice::Iter<'a, Line>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl core::fmt::Debug for Lines {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
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
    pub ppi: Lines,
    /// P-Asserted-Identity lines.
    pub pai: Lines,
    /// The first two Route lines (the proxy looks only at the top of the
    /// route set, for entries naming itself).
    pub routes: Lines,
    /// The Max-Forwards line.
    pub max_forwards: Option<Line>,
    /// The CSeq line of a response (at most one). `None` for a request:
    /// the fast path reads the CSeq method only in responses (to tell a
    /// REGISTER's), so a request's CSeq line is not trimmed; a request
    /// with more than one is still a drop.
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

/// The method `m`, which starts a payload whose first `run` bytes are
/// letters or dashes. Inlined: out of line its call and the slice passed
/// in pieces cost more than the compares (400 B 2 478 -> 2 470).
#[inline(always)]
fn method_of(m: &[u8], run: usize) -> Option<Method> {
    // Letters and dashes are token characters: a method within that run
    // (every method in use) needs no byte-by-byte check.
    if m.is_empty() || (run < m.len() && !m.iter().all(|c| is_token_char(*c))) {
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
#[cfg(test)]
fn parse_start(p: &[u8], len: usize) -> Option<StartLine> {
    let mut start = StartLine::Response { code: 0 };
    parse_start_sp(p, len, crate::simd::eq_mask64(p, b' '), &mut start).then_some(start)
}

/// [`parse_start`] given `sp`, the mask of the spaces in the first 64
/// bytes of `p` (which the scanner takes with its first LF mask), into
/// `out`; false (and `out` unspecified) when the line is not valid.
///
/// Inlined into the scanner's build for a request whose two spaces are in
/// that mask (nearly every request): no call, and the result is stored
/// where it goes (a returned `StartLine` was copied through the stack).
/// Everything else (responses, long start lines, bad ones) takes
/// [`parse_start_general`], which decides every case the same way.
#[inline(always)]
fn parse_start_sp(p: &[u8], len: usize, sp: u64, out: &mut StartLine) -> bool {
    let rest = sp & sp.wrapping_sub(1);
    let (sp1, sp2) = (sp.trailing_zeros() as usize, rest.trailing_zeros() as usize);
    if rest == 0 || sp2 >= len || p.starts_with(b"SIP/2.0 ") {
        return parse_start_general(p, len, sp, out);
    }
    // As the general form goes on for a request: sp1 < sp2 < len.
    let Some(line) = p.get(..len) else {
        return false;
    };
    let Some(method) = method_of(
        line.get(..sp1).unwrap_or_default(),
        crate::simd::alpha_dash_run16(p),
    ) else {
        return false;
    };
    if line.get(sp2 + 1..) != Some(b"SIP/2.0") || sp2 == sp1 + 1 {
        return false;
    }
    *out = StartLine::Request {
        method,
        uri: (sp1 + 1, sp2),
    };
    true
}

/// [`parse_start_sp`] for every start line, through [`parse_start_line`].
#[inline(never)]
fn parse_start_general(p: &[u8], len: usize, sp: u64, out: &mut StartLine) -> bool {
    match parse_start_line(p, len, sp) {
        Some(start) => {
            *out = start;
            true
        }
        None => false,
    }
}

/// The start line `p[..len]` given `sp` as [`parse_start_sp`] has it.
#[inline(always)]
fn parse_start_line(p: &[u8], len: usize, sp: u64) -> Option<StartLine> {
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
    let mut sp = crate::simd::Finder::with_first_mask(p, b' ', sp);
    let sp1 = sp.next().filter(|&i| i < len)?;
    let method = method_of(&line[..sp1], crate::simd::alpha_dash_run16(p))?;
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
        // (In a full register: no narrowing and widening per digit.)
        let d = usize::from(c).wrapping_sub(usize::from(b'0'));
        if d > 9 {
            return None;
        }
        n = n * 10 + d;
    }
    Some(n)
}

/// Whether a To header value carries a `tag` parameter (outside the URI).
#[inline(never)]
fn has_tag(v: &[u8]) -> bool {
    // Parameters of the header follow the closing '>' for name-addr, or the
    // first ';' for addr-spec.
    let params = match memchr::memchr(b'>', v) {
        Some(i) => &v[i + 1..],
        None => v,
    };
    params.split(|&c| c == b';').skip(1).any(is_tag_param)
}

/// [`has_tag`] for the To value `p[vs..ve]`: by two masks (from the
/// kernels `k`, inlined into the caller's build) of the 32 or 64 bytes at
/// `vs` when the value is shorter than that and the payload has them
/// (nearly always), so that only the `;` after the URI are looked at, and
/// only when there is one.
#[inline(always)]
fn to_has_tag<K: LineKernels>(k: K, p: &[u8], vs: usize, ve: usize) -> bool {
    let value = || p.get(vs..ve).unwrap_or_default();
    // The value's length (when `ve < vs`, huge: then the value is empty,
    // and taken so below).
    let n = ve.wrapping_sub(vs);
    // (Each window by one compare of its end.)
    let w32 = || p.get(vs..vs.wrapping_add(32)).and_then(|r| r.first_chunk::<32>());
    let w64 = || p.get(vs..vs.wrapping_add(64)).and_then(|r| r.first_chunk::<64>());
    let (gt, semi) = if let Some(w) = w32().filter(|_| n < 32) {
        let (gt, semi) = k.eq_mask32x2(w, b'>', b';');
        (u64::from(gt), u64::from(semi))
    } else if let Some(w) = w64().filter(|_| n < 64) {
        k.eq_mask64x2(w, b'>', b';')
    } else {
        return has_tag(value());
    };
    // No `;` in the value (a To without parameters): no tag.
    let keep = (1u64 << n) - 1;
    semi & keep != 0 && tag_in_masks(value(), gt, semi)
}

/// [`to_has_tag`] from the masks of `>` and `;` over the 64 bytes at the
/// start of the value `v` (shorter than 64 bytes).
#[inline(never)]
fn tag_in_masks(v: &[u8], gt: u64, semi: u64) -> bool {
    let keep = (1u64 << v.len()) - 1;
    let (gt, mut semi) = (gt & keep, semi & keep);
    if gt != 0 {
        // Parameters of a name-addr follow its first '>'.
        semi &= !((2u64 << gt.trailing_zeros()) - 1);
    }
    while semi != 0 {
        let i = semi.trailing_zeros() as usize;
        semi &= semi - 1;
        let end = if semi != 0 {
            semi.trailing_zeros() as usize
        } else {
            v.len()
        };
        if is_tag_param(v.get(i + 1..end).unwrap_or_default()) {
            return true;
        }
    }
    false
}

/// Whether a header parameter (the text after its `;`) is `tag=...`.
fn is_tag_param(p: &[u8]) -> bool {
    let p = p.trim_ascii();
    p.len() >= 3 && eq_ic(&p[..3], b"tag") && p[3..].trim_ascii_start().starts_with(b"=")
}

/// The headers [`scan`] acts on, as indexes (`NONE` for every other header).
mod hdr {
    pub const NONE: u8 = 0;
    pub const VIA: u8 = 1;
    pub const TO: u8 = 2;
    pub const CONTENT_LENGTH: u8 = 3;
    pub const CSEQ: u8 = 4;
    pub const MAX_FORWARDS: u8 = 5;
    pub const PAI: u8 = 6;
    pub const PPI: u8 = 7;
    pub const ROUTE: u8 = 8;
}

/// The names the fast path acts on.
static NAMES: crate::simd::NameTable = crate::simd::NameTable::new(&[
    (b"v", hdr::VIA),
    (b"t", hdr::TO),
    (b"l", hdr::CONTENT_LENGTH),
    (b"to", hdr::TO),
    (b"via", hdr::VIA),
    (b"cseq", hdr::CSEQ),
    (b"route", hdr::ROUTE),
    (b"max-forwards", hdr::MAX_FORWARDS),
    (b"content-length", hdr::CONTENT_LENGTH),
    (b"p-asserted-identity", hdr::PAI),
    (b"p-preferred-identity", hdr::PPI),
]);

/// The header name of the line `p[pos..nl]` when it is not a run of fewer
/// than 32 letters and dashes ending at the colon (other token characters,
/// 32 bytes or more, or whitespace before the colon): the name's length and
/// the offset of its colon, or `None` if the line has no valid name (a CR,
/// a NUL or a space inside a name could make a downstream parser see a
/// header we did not).
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

/// A header line pass 1 of [`scan_into`] found: its start, its colon, its
/// end (past the CRLF of its last continuation line) and its `hdr` kind.
#[derive(Clone, Copy, Default)]
struct Acted {
    start: u16,
    colon: u16,
    end: u16,
    kind: u16,
}

impl Acted {
    /// The line.
    #[inline(always)]
    fn line(self, p: &[u8]) -> Line {
        trimmed(p, self.start, self.colon, self.end)
    }
}

/// The line `[start, end)` with its colon at `colon`, its value trimmed of
/// the whitespace around it. As pass 1 notes a line: `p[colon]` is its
/// colon and `p[end - 2]` its CR (neither is whitespace), `colon < end - 2`.
#[inline(always)]
fn trimmed(p: &[u8], start: u16, colon: u16, end: u16) -> Line {
    let (start, colon, end) = (usize::from(start), usize::from(colon), usize::from(end));
    // Nearly every value is one space after the colon and no whitespace
    // at its end: then the two bytes after the colon and the one before
    // the CR decide, each by one compare (a byte above the space is no
    // whitespace; anything else, the CR of an empty value included, takes
    // the loop).
    // (`colon + 3` does not wrap: `colon` came from a u16; each `get` is
    // one compare.)
    let fast = match (
        p.get(colon + 1..colon + 3).and_then(|r| r.first_chunk::<2>()),
        p.get(end.wrapping_sub(3)),
    ) {
        (Some(ab), Some(&z)) => {
            // The value's first byte: after one space, if there is one.
            let lead = usize::from(ab[0] == b' ');
            (ab[lead] > b' ' && z > b' ').then_some(lead)
        }
        _ => None,
    };
    let (value, value_end) = match fast {
        Some(lead) => (colon + 1 + lead, end - 2),
        None => trim_loop(p, colon, end),
    };
    Line {
        start,
        value,
        value_end,
        end,
    }
}

/// The number a Content-Length line (noted as [`trimmed`] takes it) holds:
/// `parse_uint` of its trimmed value. Nearly always the value is one space
/// (or none) and digits up to the CR: then those digits are the trimmed
/// value, parsed without trimming first; anything else is trimmed first.
#[inline(always)]
fn cl_value(p: &[u8], colon: u16, end: u16) -> Option<usize> {
    let (colon, end) = (usize::from(colon), usize::from(end));
    // (A range out of `p`, as the empty value, is no number either way.)
    let vs = colon + 1 + usize::from(p.get(colon + 1) == Some(&b' '));
    match p.get(vs..end.wrapping_sub(2)).and_then(parse_uint) {
        Some(n) => Some(n),
        None => cl_value_trimmed(p, colon, end),
    }
}

/// [`cl_value`] by [`trim_loop`] first.
#[cold]
#[inline(never)]
fn cl_value_trimmed(p: &[u8], colon: usize, end: usize) -> Option<usize> {
    let (vs, ve) = trim_loop(p, colon, end);
    p.get(vs..ve).and_then(parse_uint)
}

/// The value of the line whose colon is at `colon` and which ends at
/// `end`, trimmed byte by byte: the form [`trimmed`]'s fast test is pinned
/// to, and what it falls back on.
#[inline(never)]
fn trim_loop(p: &[u8], colon: usize, end: usize) -> (usize, usize) {
    let (mut vs, mut ve) = (colon + 1, end - 2);
    while vs < ve && p.get(vs).is_some_and(|&c| is_ws(c)) {
        vs += 1;
    }
    while ve > vs && p.get(ve - 1).is_some_and(|&c| is_ws(c)) {
        ve -= 1;
    }
    (vs, ve)
}

/// Where pass 1 of [`scan_into`] puts the header lines it finds.
trait Notes {
    /// A header line `[start, end)` of kind `kind` (a `hdr` index) with its
    /// colon at `colon`.
    fn note(&mut self, start: usize, colon: usize, end: usize, kind: u8) -> Result<(), DropReason>;
    /// The line noted last, which ends at `from`, goes on to `end` (a
    /// folded continuation line from `from`).
    fn extend(&mut self, from: usize, end: usize);
}

/// Room for every `hdr` kind a name table can hold (a kind is taken modulo
/// this, so that indexing needs no check).
const KINDS: usize = 16;

/// Pass 1's notes in the common case, kept without a branch on the kind:
/// per kind, how many lines, and the first and last line (at `2 * kind`
/// and `2 * kind + 1`, one array per field so that each is one store).
struct ByKind {
    count: [u8; KINDS],
    /// Per kind, 1 once a line of it was noted (so that the next line goes
    /// to its second slot): read and set without the count, whose
    /// increment is then one instruction.
    seen: [u8; KINDS],
    start: [u16; 2 * KINDS],
    /// The colon's offset from the line's start (see `colon_at`).
    colon: [u16; 2 * KINDS],
    end: [u16; 2 * KINDS],
}

impl Notes for ByKind {
    #[inline(always)]
    fn note(&mut self, start: usize, colon: usize, end: usize, kind: u8) -> Result<(), DropReason> {
        let k = usize::from(kind) % KINDS;
        let i = 2 * k + usize::from(self.seen[k] & 1);
        // Offsets fit: a payload is shorter than 64 KiB.
        self.start[i] = start as u16;
        self.colon[i] = (colon - start) as u16;
        self.end[i] = end as u16;
        // At most MAX_HEADER_LINES (128) lines reach pass 2; the count is
        // checked before it.
        self.count[k] = self.count[k].wrapping_add(1);
        self.seen[k] = 1;
        Ok(())
    }

    /// The line noted last is the one slot that ends at `from` (each line
    /// is in one slot at most, lines end at distinct offsets, an empty slot
    /// ends at 0 and `from` is past the start line): found by its end, so
    /// that `note` need not keep where it put each line. Folded lines are
    /// rare.
    #[cold]
    fn extend(&mut self, from: usize, end: usize) {
        for e in self.end.iter_mut().filter(|e| usize::from(**e) == from) {
            *e = end as u16;
        }
    }
}

impl ByKind {
    /// Whether every kind fits: at most two lines of the kinds where all
    /// (or the first two) lines matter.
    fn fits(&self) -> bool {
        [hdr::CONTENT_LENGTH, hdr::PAI, hdr::PPI, hdr::ROUTE]
            .iter()
            .all(|&k| self.count[usize::from(k)] <= 2)
    }

    /// The colon of the line in slot `j` (kept as its offset from the
    /// line's start: in the common case the name's length, which pass 1
    /// has in hand).
    #[inline(always)]
    fn colon_at(&self, j: usize) -> u16 {
        self.start[j].wrapping_add(self.colon[j])
    }

    /// Line `i` (0 or 1) noted of kind `k`.
    #[inline(always)]
    fn line(&self, p: &[u8], k: u8, i: usize) -> Line {
        let j = (2 * usize::from(k) + (i & 1)) % (2 * KINDS);
        trimmed(p, self.start[j], self.colon_at(j), self.end[j])
    }

    /// Pass 2: record what was noted, kind by kind (lines of one kind in
    /// message order), as [`Scan::act`] would have line by line.
    #[inline(always)]
    fn apply<K: LineKernels>(&self, k: K, p: &[u8], s: &mut Scan) -> Result<(), DropReason> {
        let n = |k: u8| usize::from(self.count[usize::from(k)]);
        let at = |k: u8, i: usize| self.line(p, k, i);
        if n(hdr::VIA) > 0 {
            s.top_via = Some(at(hdr::VIA, 0));
            s.via_lines = n(hdr::VIA);
        }
        // (Any count over 1 has a bit above the lowest.)
        if (n(hdr::TO) | n(hdr::CSEQ) | n(hdr::MAX_FORWARDS)) > 1 {
            return Err(DropReason::SipMalformed);
        }
        if n(hdr::TO) == 1 {
            // The value untrimmed (from the colon to the CR): whitespace
            // around it holds no `>` or `;`, and each parameter is trimmed
            // before it is looked at, so the answer is the trimmed value's.
            let j = 2 * usize::from(hdr::TO);
            let (colon, end) = (usize::from(self.colon_at(j)), usize::from(self.end[j]));
            s.to(to_has_tag(k, p, colon + 1, end.wrapping_sub(2)))?;
        }
        for i in 0..n(hdr::CONTENT_LENGTH).min(2) {
            let j = (2 * usize::from(hdr::CONTENT_LENGTH) + i) % (2 * KINDS);
            s.set_cl_to(cl_value(p, self.colon_at(j), self.end[j]))?;
        }
        // (Only for a response: see `Scan::cseq`.)
        s.cseq = (n(hdr::CSEQ) == 1 && !s.is_request()).then(|| at(hdr::CSEQ, 0));
        s.max_forwards = (n(hdr::MAX_FORWARDS) == 1).then(|| at(hdr::MAX_FORWARDS, 0));
        // At most two lines of these kinds (see `fits`): the last is the
        // second.
        // Stored in place (`s`'s lists are empty after `reset`).
        for (k, l) in [
            (hdr::PAI, &mut s.pai),
            (hdr::PPI, &mut s.ppi),
            (hdr::ROUTE, &mut s.routes),
        ] {
            l.n = n(k).min(2);
            for i in 0..l.n {
                l.two[i] = at(k, i);
            }
        }
        Ok(())
    }
}

/// Pass 1's notes for [`rescan`]: every acted line, in message order.
struct InOrder {
    acted: [Acted; MAX_HEADER_LINES],
    n: usize,
    /// Whether the line noted last is in `acted` (is one we act on).
    last_kept: bool,
}

impl Notes for InOrder {
    fn note(&mut self, start: usize, colon: usize, end: usize, kind: u8) -> Result<(), DropReason> {
        self.last_kept = kind != hdr::NONE;
        if self.last_kept {
            // Pass 1 found at most MAX_HEADER_LINES lines before.
            *self.acted.get_mut(self.n).ok_or(DropReason::SipMalformed)? = Acted {
                start: start as u16,
                colon: colon as u16,
                end: end as u16,
                kind: u16::from(kind),
            };
            self.n += 1;
        }
        Ok(())
    }

    fn extend(&mut self, _from: usize, end: usize) {
        if let Some(a) = self.last_kept.then(|| self.n.checked_sub(1)).flatten() {
            self.acted[a].end = end as u16;
        }
    }
}

/// Scan a SIP message in a UDP payload.
///
/// Every line end is found from a 64-byte mask at the line's start, and
/// each header name is read once, 32 bytes at a time
/// ([`crate::simd::header_name32`]), as a run of token characters that must
/// end at the colon (optionally after whitespace). The names the fast path
/// acts on are recognised by one table probe; see [`scan_into`].
pub fn scan(p: &[u8]) -> Result<Scan, DropReason> {
    let mut s = Scan::EMPTY;
    scan_into(p, &mut s)?;
    Ok(s)
}

/// [`scan`] into a [`Scan`] the caller owns (no copy of the result; `s` is
/// overwritten whole, and is unspecified after an error).
///
/// Two passes. Pass 1 (`lines`) checks every line (CRLF, a valid name,
/// folding) from the bytes at its start and notes the lines to act on,
/// without a branch on which header a line is, and without calls outside
/// rare paths, so its state stays in registers. In the common case it
/// notes, per kind, the count and the first and last line (`ByKind`),
/// and pass 2 takes the kinds in a fixed order. A message with more than
/// two Content-Length, P-Asserted-Identity, P-Preferred-Identity or Route
/// lines is scanned again, noting every acted line in order
/// (`Scan::act`).
///
/// Compiled twice: for the build's target and, run when the CPU has it, for
/// x86-64-v3 with AVX2 kernels ([`crate::simd::in_v3`], [`crate::simd::Avx2`]).
pub fn scan_into(p: &[u8], s: &mut Scan) -> Result<(), DropReason> {
    #[cfg(target_arch = "x86_64")]
    if let Some(k) = crate::simd::Avx2::get_checked() {
        return crate::simd::in_v3(
            k,
            #[inline(always)]
            move || scan_body(k, p, s),
        );
    }
    scan_other(p, s)
}

/// [`scan_into`] before the CPU was checked, and with the baseline kernels
/// where it has no AVX2. Out of line: inlined, the baseline build's frame
/// and saved registers (and the check's) were paid by every call.
#[inline(never)]
fn scan_other(p: &[u8], s: &mut Scan) -> Result<(), DropReason> {
    #[cfg(target_arch = "x86_64")]
    if let Some(k) = crate::simd::Avx2::get() {
        return crate::simd::in_v3(
            k,
            #[inline(always)]
            move || scan_body(k, p, s),
        );
    }
    scan_body(crate::simd::Base, p, s)
}

/// The body of [`scan_into`], with the per-line kernels `k`.
#[inline(always)]
fn scan_body<K: LineKernels>(k: K, p: &[u8], s: &mut Scan) -> Result<(), DropReason> {
    // Offsets are stored as u16 in pass 1 (a UDP payload is shorter).
    if p.len() > usize::from(u16::MAX) {
        return Err(DropReason::SipTooLarge);
    }
    let (lf, sp) = match p.first_chunk::<64>() {
        Some(w) => k.eq_mask64x2(w, b'\n', b' '),
        None => (crate::simd::eq_mask64(p, b'\n'), crate::simd::eq_mask64(p, b' ')),
    };
    let first = if lf != 0 {
        lf.trailing_zeros() as usize
    } else {
        next_lf(k, p, 64).ok_or(DropReason::SipMalformed)?
    };
    // (`first == 0` wraps to an offset past the end.)
    if p.get(first.wrapping_sub(1)) != Some(&b'\r') {
        return Err(DropReason::SipMalformed);
    }
    if !parse_start_sp(p, first - 1, sp, &mut s.start) {
        return Err(DropReason::SipMalformed);
    }
    s.reset_for_by_kind(first + 1);
    let mut by_kind = ByKind {
        count: [0; KINDS],
        seen: [0; KINDS],
        start: [0; 2 * KINDS],
        colon: [0; 2 * KINDS],
        end: [0; 2 * KINDS],
    };
    lines(k, p, s, first + 1, &mut by_kind)?;
    if by_kind.fits() {
        by_kind.apply(k, p, s)?;
    } else {
        rescan(k, p, s, first + 1)?;
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

/// [`scan_into`] for messages with many lines of a kind: pass 1 again,
/// noting every acted line in order.
#[cold]
#[inline(never)]
fn rescan<K: LineKernels>(k: K, p: &[u8], s: &mut Scan, headers_start: usize) -> Result<(), DropReason> {
    s.reset(headers_start);
    let mut notes = InOrder {
        acted: [Acted::default(); MAX_HEADER_LINES],
        n: 0,
        last_kept: false,
    };
    lines(k, p, s, headers_start, &mut notes)?;
    s.act(p, &notes.acted[..notes.n])
}

/// Pass 1 of [`scan_into`]: every header line from `pos` to the empty line,
/// checked; `notes` gets every line (of kind [`hdr::NONE`] when we do not
/// act on it, so that it need not branch on the kind) and `s` the end of
/// the headers.
#[inline(always)]
fn lines<K: LineKernels, N: Notes>(
    k: K,
    p: &[u8],
    s: &mut Scan,
    mut pos: usize,
    notes: &mut N,
) -> Result<(), DropReason> {
    // Each line ends at the next LF. The LFs come from one mask per 64-byte
    // block (blocks from `pos` on, each a whole window), taken in order by
    // clearing the lowest bit: where a line ends no longer waits on a load
    // at the line's start, so the lines' name checks overlap. Lines whose
    // LF is not in a whole block are left to [`lines_near_end`].
    if let Some(windows) = crate::simd::Windows64::new(p) {
        'blocks: {
            let mut base = pos;
            let Some(b) = windows.at(base) else { break 'blocks };
            let mut lfs = k.lf_mask(b);
            loop {
                while lfs == 0 {
                    base += 64;
                    match windows.at(base) {
                        Some(b) => lfs = k.lf_mask(b),
                        None => break 'blocks,
                    }
                }
                let nl = base + lfs.trailing_zeros() as usize;
                lfs &= lfs - 1;
                let Some(w) = windows.at(pos) else { break 'blocks };
                match line_to(k, p, w, pos, nl, s.headers_start, notes)? {
                    Some(next) => pos = next,
                    None => return end_of_headers(p, s, pos),
                }
            }
        }
        // The lines past the last whole block: each from its own window.
        while let Some(w) = windows.at(pos) {
            match line(k, p, w, pos, s.headers_start, notes)? {
                Some(next) => pos = next,
                None => return end_of_headers(p, s, pos),
            }
        }
    }
    lines_near_end(k, p, s, pos, notes)
}

/// [`line`] with the line's LF already found (`nl`, the first LF at or
/// after `pos`): the same checks, the same notes, the same drops.
#[inline(always)]
fn line_to<K: LineKernels, N: Notes>(
    k: K,
    p: &[u8],
    w: &[u8; 64],
    pos: usize,
    nl: usize,
    headers_start: usize,
    notes: &mut N,
) -> Result<Option<usize>, DropReason> {
    // Every line ends in CRLF. (`nl == pos`, a bare LF, fails here too:
    // `pos` is just past an LF, so `p[nl - 1]` is that LF.)
    if p.get(nl.wrapping_sub(1)) != Some(&b'\r') {
        return Err(DropReason::SipMalformed);
    }
    let (run, kind) = k.header_name(w.first_chunk().unwrap_or(&[0; 32]), &NAMES);
    if run != 0 && w[run] == b':' {
        notes.note(pos, pos + run, nl + 1, kind)?;
        return Ok(Some(nl + 1));
    }
    // The empty line that ends the headers.
    if nl == pos + 1 {
        return Ok(None);
    }
    other_line_to(p, w, pos, nl, run, headers_start, notes)
}

/// [`lines`] for the lines that start less than 64 bytes before the end of
/// the payload (every line of a short message without a body): on a copy
/// of the payload's last 64 bytes followed by zeros, so the 64-byte loads
/// stay whole. One fixed-size copy serves every such line (a payload
/// shorter than 64 bytes is copied whole). Inlined into the scanner's
/// build: no call and no second run-time choice of build.
#[inline(always)]
fn lines_near_end<K: LineKernels, N: Notes>(
    k: K,
    p: &[u8],
    s: &mut Scan,
    mut pos: usize,
    notes: &mut N,
) -> Result<(), DropReason> {
    let mut tail = [0u8; 128];
    // `tail[i]` is `p[base + i]`, zero past the end of `p`.
    let base = match p.last_chunk::<64>() {
        Some(last) => {
            tail[..64].copy_from_slice(last);
            p.len() - 64
        }
        None => {
            tail[..p.len()].copy_from_slice(p);
            0
        }
    };
    loop {
        // `base <= pos <= p.len()`: the window is whole.
        let w = tail
            .get(pos.wrapping_sub(base)..)
            .and_then(|r| r.first_chunk::<64>());
        match line(
            k,
            p,
            w.ok_or(DropReason::SipMalformed)?,
            pos,
            s.headers_start,
            notes,
        )? {
            Some(next) => pos = next,
            None => return end_of_headers(p, s, pos),
        }
    }
}

/// The empty line at `pos` ends the header lines (from
/// `s.headers_start`), which pass 1 found valid; a drop when they are more
/// than [`MAX_HEADER_LINES`]. Pass 1 does not count them: a header line
/// is at least four bytes (`a:` and its CRLF), so a header section of
/// `4 * MAX_HEADER_LINES` bytes or fewer (nearly every one) has no more,
/// and only a longer one is counted ([`count_header_lines`]).
#[inline(always)]
fn end_of_headers(p: &[u8], s: &mut Scan, pos: usize) -> Result<(), DropReason> {
    if pos - s.headers_start > 4 * MAX_HEADER_LINES
        && count_header_lines(p, s.headers_start, pos) > MAX_HEADER_LINES
    {
        return Err(DropReason::SipMalformed);
    }
    s.headers_end = pos;
    s.body_start = pos + 2;
    Ok(())
}

/// The header lines (not their continuation lines) of the valid header
/// section `p[from..to]`: the lines that start there (at `from` or after
/// an LF) with no whitespace.
#[cold]
#[inline(never)]
fn count_header_lines(p: &[u8], from: usize, to: usize) -> usize {
    let starts = p.get(from..to).unwrap_or_default();
    let first = usize::from(starts.first().is_some_and(|&c| !is_ws(c)));
    first
        + starts
            .windows(2)
            .filter(|w| w[0] == b'\n' && !is_ws(w[1]))
            .count()
}

/// One line of pass 1: the line at `p[pos..]`, whose first 64 bytes are
/// `w` (zeros past the end of `p`), checked and noted. Where the next line
/// starts, or `None` when this is the empty line that ends the headers.
/// `headers_start` is where the first header line starts (a continuation
/// line there is no continuation); the header lines are counted at the
/// end ([`end_of_headers`]).
#[inline(always)]
fn line<K: LineKernels, N: Notes>(
    k: K,
    p: &[u8],
    w: &[u8; 64],
    pos: usize,
    headers_start: usize,
    notes: &mut N,
) -> Result<Option<usize>, DropReason> {
    // The name: a run of letters and dashes that ends at the colon is the
    // common case (and then the line is neither the empty line nor a
    // continuation line). The run stops at the latest at the line's CR.
    let (run, kind) = k.header_name(w.first_chunk().unwrap_or(&[0; 32]), &NAMES);
    // A run is at most 32 bytes (then a name of 32 letters takes this path
    // too, as the slow path would have it: no name of `NAMES` is that long).
    if run != 0 && w[run] == b':' {
        let end = named_line_end(k, p, w, pos)?;
        notes.note(pos, pos + run, end, kind)?;
        return Ok(Some(end));
    }
    // The empty line that ends the headers (as `other_line` finds it).
    if w[..2] == *b"\r\n" {
        return Ok(None);
    }
    other_line(k, p, w, pos, run, headers_start, notes)
}

/// [`line`] for every other line: the empty line, a continuation line, a
/// name with other token characters, of 32 bytes or more, or with
/// whitespace before the colon, and invalid lines.
#[inline(always)]
fn other_line<K: LineKernels, N: Notes>(
    k: K,
    p: &[u8],
    w: &[u8; 64],
    pos: usize,
    run: usize,
    headers_start: usize,
    notes: &mut N,
) -> Result<Option<usize>, DropReason> {
    let nl = line_end(k, p, w, pos)?;
    if nl == pos + 1 {
        return Ok(None);
    }
    other_line_to(p, w, pos, nl, run, headers_start, notes)
}

/// [`other_line`] past its empty-line check, with the line's LF at `nl`
/// (preceded by CR, more than one byte after `pos`).
#[inline(always)]
fn other_line_to<N: Notes>(
    p: &[u8],
    w: &[u8; 64],
    pos: usize,
    nl: usize,
    run: usize,
    headers_start: usize,
    notes: &mut N,
) -> Result<Option<usize>, DropReason> {
    // (After the first header line: a continuation line.)
    if is_ws(w[0]) && pos > headers_start {
        // Folded into the header line before.
        notes.extend(pos, nl + 1);
        return Ok(Some(nl + 1));
    }
    let (n, colon) = header_name_slow(p, pos, nl, run).ok_or(DropReason::SipMalformed)?;
    // Whitespace may come before the colon, so the name kernel's kind does
    // not serve here.
    notes.note(
        pos,
        colon,
        nl + 1,
        NAMES.kind_of(p.get(pos..pos + n).unwrap_or_default()),
    )?;
    Ok(Some(nl + 1))
}

/// The LF that ends the line at `p[pos..]` (whose first 64 bytes are `w`),
/// from a 64-byte mask at the line's start; a drop unless a CR precedes it.
#[inline(always)]
fn line_end<K: LineKernels>(k: K, p: &[u8], w: &[u8; 64], pos: usize) -> Result<usize, DropReason> {
    // Most lines end within 32 bytes: one compare then.
    let lo = k.lf_mask32(w.first_chunk().unwrap_or(&[0; 32]));
    let lf = if lo != 0 {
        u64::from(lo)
    } else {
        u64::from(k.lf_mask32(w.last_chunk().unwrap_or(&[0; 32]))) << 32
    };
    let (nl, crlf) = if lf != 0 {
        let t = lf.trailing_zeros() as usize;
        (pos + t, t != 0 && w[t.wrapping_sub(1) & 63] == b'\r')
    } else {
        let nl = next_lf(k, p, pos + 64).ok_or(DropReason::SipMalformed)?;
        (nl, p.get(nl - 1) == Some(&b'\r'))
    };
    if !crlf {
        return Err(DropReason::SipMalformed);
    }
    Ok(nl)
}

/// Just past the LF that ends the line at `p[pos..]` (whose first 64
/// bytes are `w`), as [`line_end`] has it, for a line whose first byte is
/// no LF (it starts with a name). When the LF is in the first 32 bytes (most lines): one compare,
/// and the mask shifted by one so that its count of trailing zeros is the
/// offset of the byte before the LF, read from `w` without a check.
#[inline(always)]
fn named_line_end<K: LineKernels>(k: K, p: &[u8], w: &[u8; 64], pos: usize) -> Result<usize, DropReason> {
    // `w[0]` is no LF: the shifted mask loses none.
    let cr = (k.lf_mask32(w.first_chunk().unwrap_or(&[0; 32])) >> 1).trailing_zeros() as usize;
    if cr < 32 {
        return if w[cr] == b'\r' {
            Ok(pos + cr + 2)
        } else {
            Err(DropReason::SipMalformed)
        };
    }
    // No LF in the first 32 bytes.
    let hi = k.lf_mask32(w.last_chunk().unwrap_or(&[0; 32]));
    let (nl, crlf) = if hi != 0 {
        let t = 32 + hi.trailing_zeros() as usize;
        (pos + t, w[(t - 1) & 63] == b'\r')
    } else {
        let nl = next_lf(k, p, pos + 64).ok_or(DropReason::SipMalformed)?;
        (nl, p.get(nl - 1) == Some(&b'\r'))
    };
    if !crlf {
        return Err(DropReason::SipMalformed);
    }
    Ok(nl + 1)
}

/// The first LF in `p` from `from` on: in the next 64 bytes by one mask
/// (header lines of 64 to 127 bytes are common: Via, Contact, long URIs),
/// else by `memchr`.
#[inline(always)]
fn next_lf<K: LineKernels>(k: K, p: &[u8], from: usize) -> Option<usize> {
    if let Some(w) = p.get(from..).and_then(|r| r.first_chunk::<64>()) {
        let m = k.lf_mask(w);
        if m != 0 {
            return Some(from + m.trailing_zeros() as usize);
        }
    }
    next_lf_far(p, from)
}

#[inline(never)]
fn next_lf_far(p: &[u8], from: usize) -> Option<usize> {
    memchr::memchr(b'\n', p.get(from..)?).map(|i| from + i)
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
        ppi: Lines::new(),
        pai: Lines::new(),
        routes: Lines::new(),
        max_forwards: None,
        cseq: None,
        to_tag: false,
        to_seen: false,
        content_length: None,
    };

    /// Start over (all but the start line) for a message with headers
    /// from `headers_start` on.
    #[inline]
    fn reset(&mut self, headers_start: usize) {
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

    /// [`Scan::reset`] less what [`ByKind::apply`] and the end of the scan
    /// always write (the ends of the headers and of the message, CSeq,
    /// Max-Forwards, and the lists' lengths: a list's `more` is read only
    /// past two lines, and `rescan` resets it).
    #[inline(always)]
    fn reset_for_by_kind(&mut self, headers_start: usize) {
        self.headers_start = headers_start;
        self.top_via = None;
        self.via_lines = 0;
        self.to_tag = false;
        self.to_seen = false;
        self.content_length = None;
    }

    /// Pass 2 of [`rescan`]: record the acted lines, in message order.
    fn act(&mut self, p: &[u8], acted: &[Acted]) -> Result<(), DropReason> {
        for a in acted {
            if a.kind == u16::from(hdr::ROUTE) && self.routes.len() >= 2 {
                continue;
            }
            let line = a.line(p);
            match a.kind as u8 {
                hdr::VIA => self.via(line),
                hdr::TO => self.to(to_has_tag(crate::simd::Base, p, line.value, line.value_end))?,
                hdr::CONTENT_LENGTH => self.set_cl(line.value(p))?,
                hdr::CSEQ => {
                    if self.cseq.replace(line).is_some() {
                        return Err(DropReason::SipMalformed);
                    }
                }
                hdr::MAX_FORWARDS => {
                    if self.max_forwards.replace(line).is_some() {
                        return Err(DropReason::SipMalformed);
                    }
                }
                hdr::PAI => self.pai.push(line),
                hdr::PPI => self.ppi.push(line),
                _ => self.routes.push(line),
            }
        }
        if self.is_request() {
            // Checked above, kept only for a response (see `Scan::cseq`).
            self.cseq = None;
        }
        Ok(())
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
    fn to(&mut self, tag: bool) -> Result<(), DropReason> {
        if self.to_seen {
            return Err(DropReason::SipMalformed);
        }
        self.to_seen = true;
        self.to_tag = tag;
        Ok(())
    }

    #[inline]
    fn set_cl(&mut self, v: &[u8]) -> Result<(), DropReason> {
        self.set_cl_to(parse_uint(v))
    }

    /// A Content-Length line of value `n` (`None`: not a number).
    #[inline(always)]
    fn set_cl_to(&mut self, n: Option<usize>) -> Result<(), DropReason> {
        let n = n.ok_or(DropReason::SipMalformed)?;
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
/// Returns false when it is already zero or not a number. The common
/// two-digit value is done without a loop.
#[inline(always)]
pub fn decrement_max_forwards(v: &mut [u8]) -> bool {
    if let Ok(w) = <&mut [u8; 2]>::try_from(&mut *v) {
        // Both bytes as one word, tens digit low. XOR with "00" maps a
        // digit to 0..=9 and any other byte to 10..=255; a byte of `y` is
        // at most 9 iff neither it nor it plus 6 has a bit of 0xf0 set
        // (a byte above 15 shows in `y` itself, so no carry matters).
        let x = u32::from(u16::from_le_bytes(*w));
        let y = x ^ 0x3030;
        if ((y + 0x0606) | y) & 0xf0f0 != 0 || y == 0 {
            return false;
        }
        // Units digit 0 (tens then not 0): tens - 1 and units '0' + 9, as
        // one add (0xff into the low byte carries 1 into the high one);
        // else units - 1. Either stays below 0x10000.
        let r = if y < 0x0100 { x + 0x08ff } else { x - 0x0100 };
        *w = (r as u16).to_le_bytes();
        return true;
    }
    decrement_max_forwards_any(v)
}

/// [`decrement_max_forwards`] for any width.
fn decrement_max_forwards_any(v: &mut [u8]) -> bool {
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
        // At the limit and past it, with header sections short enough to
        // need no count (four bytes a line) and longer ones (counted),
        // with continuation lines (not counted), in both passes 2 (three
        // Route lines take the in-order one).
        for (line, fold) in [
            ("a:\r\n", ""),
            ("X-Long: yyyyyyyy\r\n", ""),
            ("a:\r\n", " z\r\n\t\r\n"),
        ] {
            for routes in [0, 3] {
                for n in [MAX_HEADER_LINES - 4, MAX_HEADER_LINES - 3] {
                    let mut m = b"OPTIONS sip:x SIP/2.0\r\n".to_vec();
                    for _ in 0..routes {
                        m.extend_from_slice(b"Route: <sip:r>\r\n");
                    }
                    for _ in 0..n - routes {
                        m.extend_from_slice(line.as_bytes());
                        m.extend_from_slice(fold.as_bytes());
                    }
                    m.extend_from_slice(b"To: <sip:x>\r\nv: x\r\nl: 0\r\n\r\n");
                    let lines = n + 3;
                    let got = scan(&m).map(|_| ());
                    let want = reference::scan(&m).map(|_| ());
                    assert_eq!(got, want, "{lines} lines of {line:?}{fold:?}, {routes} routes");
                    assert_eq!(
                        got.is_ok(),
                        lines <= MAX_HEADER_LINES,
                        "{lines} lines of {line:?}{fold:?}"
                    );
                    let start = m.windows(2).position(|w| w == b"\r\n").unwrap() + 2;
                    let end = m.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 2;
                    assert_eq!(count_header_lines(&m, start, end), lines);
                }
            }
        }
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
    fn to_tag_by_masks_agrees_with_the_plain_split() {
        let values: [&[u8]; 12] = [
            b"<sip:bob@ims.example>",
            b"<sip:bob@ims.example>;tag=1",
            b"<sip:bob@ims.example;tag=uri>",
            b"<sip:bob@ims.example;tag=uri>;x=1; TAG =2",
            b"sip:bob@ims.example;tag=9",
            b"sip:bob@ims.example;tagx=9",
            b"\"a;tag=1\" <sip:b@c>",
            b"<sip:b@c> ; tag",
            b"<sip:b@c>;;tag=",
            b";tag=1",
            b"",
            b"<sip:a-much-longer-user-name-that-goes-on@a.very.long.domain.example>;tag=abc",
        ];
        for v in values {
            // Alone, and with room for the 32- or the 64-byte window after
            // it (or for neither); and untrimmed, with the whitespace around
            // it (as pass 2 passes the To value: from the colon to the CR).
            for (pad, (lead, trail)) in [0, 10, 40, 80]
                .into_iter()
                .flat_map(|pad| [("", ""), (" ", ""), ("\t  ", " \t")].map(|ws| (pad, ws)))
            {
                let mut p = b"To:".to_vec();
                p.extend_from_slice(lead.as_bytes());
                p.extend_from_slice(v);
                p.extend_from_slice(trail.as_bytes());
                let (vs, ve) = (3, p.len());
                p.extend(std::iter::repeat_n(b';', pad));
                let want = has_tag(v);
                let v = String::from_utf8_lossy(v);
                assert_eq!(to_has_tag(crate::simd::Base, &p, vs, ve), want, "{v}");
                #[cfg(target_arch = "x86_64")]
                if let Some(k) = crate::simd::Avx2::get() {
                    // In the build the scanner runs it in.
                    let got = crate::simd::in_v3(
                        k,
                        #[inline(always)]
                        || to_has_tag(k, &p, vs, ve),
                    );
                    assert_eq!(got, want, "{v}");
                }
            }
        }
    }

    /// `Lines` holds what a `Vec` given the same pushes holds, through two
    /// lines in place and on past them, and again after `clear`.
    #[test]
    fn lines_keep_what_a_vec_keeps() {
        let mut l = Lines::new();
        for round in 0..2 {
            let mut v = Vec::new();
            for i in 0..6 {
                let line = Line {
                    start: i + round,
                    value: i + 1,
                    value_end: i + 2,
                    end: i + 3,
                };
                l.push(line);
                v.push(line);
                assert_eq!(l.len(), v.len());
                assert!(!l.is_empty());
                assert_eq!(l.first(), v.first());
                assert_eq!(l.iter().copied().collect::<Vec<_>>(), v);
                assert_eq!((&l).into_iter().count(), v.len());
                assert_eq!(l[i], v[i]);
                assert_eq!(format!("{l:?}"), format!("{v:?}"));
            }
            l.clear();
            assert!(l.is_empty() && l.iter().next().is_none());
        }
    }

    /// The inlined request path of the start line decides as the general
    /// parse does, on start lines of every kind and on every one-byte
    /// change, insertion and removal of them (bytes a start line turns on).
    #[test]
    fn start_line_fast_path_matches_the_general_parse() {
        let lines: [&[u8]; 8] = [
            b"MESSAGE sip:bob@ims.example SIP/2.0\r\n",
            b"INVITE sip:b@x SIP/2.0\r\n",
            b"ACK sip:b SIP/2.0\r\n",
            b"SIP/2.0 200 OK\r\n",
            b"SIP/2.0 200\r\n",
            b"X-Y.z! sip:b SIP/2.0\r\n",
            b"REGISTER sip:a-very-long-request-uri-that-goes-on-and-on@ims.mnc001.mcc001.3gppnetwork.org SIP/2.0\r\n",
            b"SUBSCRIBE  SIP/2.0\r\n",
        ];
        let alphabet: &[u8] = b" \r\nS2.0/aA-!\t\x80";
        let check = |m: &[u8]| {
            // The start line ends at the first LF (its CR before it).
            let Some(len) = m.iter().position(|&c| c == b'\n').and_then(|i| i.checked_sub(1)) else {
                return;
            };
            let sp = crate::simd::eq_mask64(m, b' ');
            let mut got = StartLine::Response { code: 0 };
            let ok = parse_start_sp(m, len, sp, &mut got);
            let want = parse_start_line(m, len, sp);
            assert_eq!(ok.then_some(got), want, "{:?}", String::from_utf8_lossy(m));
        };
        for l in lines {
            check(l);
            for i in 0..=l.len() {
                for &c in alphabet {
                    let mut m = l.to_vec();
                    m.insert(i, c);
                    check(&m);
                    if i < l.len() {
                        m.remove(i);
                        m[i] = c;
                        check(&m);
                        m.remove(i);
                        check(&m);
                    }
                }
            }
        }
    }

    /// The fast value trim finds what the byte-by-byte loop finds, for every
    /// value of up to five bytes from whitespace, a CR, control and high
    /// bytes and letters, on a line as pass 1 notes it (colon, value, CRLF),
    /// at the start of the payload and after other bytes.
    #[test]
    fn value_trim_matches_the_loop() {
        for v in strings_over(b" \t\ra\x01\x80!", 5) {
            for prefix in [&b""[..], b"Via: x\r\n"] {
                let mut p = prefix.to_vec();
                p.extend_from_slice(b"Xy:");
                let colon = p.len() - 1;
                p.extend_from_slice(&v);
                p.extend_from_slice(b"\r\n");
                let (start, end) = (prefix.len(), p.len());
                let (value, value_end) = trim_loop(&p, colon, end);
                let want = Line {
                    start,
                    value,
                    value_end,
                    end,
                };
                let got = trimmed(&p, start as u16, colon as u16, end as u16);
                assert_eq!(got, want, "{:?}", String::from_utf8_lossy(&p));
            }
        }
    }

    /// Every string over `alphabet` of up to `max_len` bytes, shortest
    /// first.
    fn strings_over(alphabet: &[u8], max_len: u32) -> Vec<Vec<u8>> {
        let mut all = Vec::new();
        for len in 0..=max_len {
            for mut code in 0..alphabet.len().pow(len) {
                let mut v = Vec::new();
                for _ in 0..len {
                    v.push(alphabet[code % alphabet.len()]);
                    code /= alphabet.len();
                }
                all.push(v);
            }
        }
        all
    }

    /// The CSeq line is kept for a response only; a request's is checked
    /// (two are a drop) but not kept, in both passes 2.
    #[test]
    fn cseq_kept_for_responses_only() {
        let resp = b"SIP/2.0 200 OK\r\nv: x\r\nCSeq:  7 REGISTER \r\nl: 0\r\n\r\n";
        let s = scan(resp).unwrap();
        assert_eq!(s.cseq.map(|l| l.value(resp)), Some(&b"7 REGISTER"[..]));
        let req = b"OPTIONS sip:x SIP/2.0\r\nv: x\r\nCSeq: 7 OPTIONS\r\nl: 0\r\n\r\n";
        assert_eq!(scan(req).unwrap().cseq, None);
        let two = b"OPTIONS sip:x SIP/2.0\r\nCSeq: 7 OPTIONS\r\nCSeq: 8 OPTIONS\r\nl: 0\r\n\r\n";
        assert!(scan(two).is_err());
        // Three Route lines: the in-order pass 2.
        let routes = "Route: <sip:r>\r\n".repeat(3);
        let req = format!("OPTIONS sip:x SIP/2.0\r\n{routes}CSeq: 7 OPTIONS\r\nl: 0\r\n\r\n");
        assert_eq!(scan(req.as_bytes()).unwrap().cseq, None);
        let two =
            format!("OPTIONS sip:x SIP/2.0\r\n{routes}CSeq: 7 OPTIONS\r\nCSeq: 8 OPTIONS\r\nl: 0\r\n\r\n");
        assert!(scan(two.as_bytes()).is_err());
        let resp = format!("SIP/2.0 200 OK\r\n{routes}CSeq: 7 REGISTER\r\nl: 0\r\n\r\n");
        let s = scan(resp.as_bytes()).unwrap();
        assert_eq!(s.cseq.map(|l| l.value(resp.as_bytes())), Some(&b"7 REGISTER"[..]));
    }

    /// A Content-Length value parsed without a trim first is the number
    /// its trimmed value is, for every short value over digits, whitespace
    /// and other bytes, and for long runs of digits.
    #[test]
    fn content_length_matches_the_trimmed_parse() {
        let mut values = strings_over(b" \t09x", 6);
        for n in 8..=11 {
            for lead in ["", " ", "  "] {
                values.push(format!("{lead}{}", "7".repeat(n)).into_bytes());
            }
        }
        for v in values {
            let mut p = b"l:".to_vec();
            let colon = p.len() - 1;
            p.extend_from_slice(&v);
            p.extend_from_slice(b"\r\n");
            let end = p.len();
            let (vs, ve) = trim_loop(&p, colon, end);
            let want = parse_uint(&p[vs..ve]);
            let got = cl_value(&p, colon as u16, end as u16);
            assert_eq!(got, want, "{:?}", String::from_utf8_lossy(&p));
        }
    }

    /// The two-digit path decides and writes exactly what the loop for any
    /// width does, for every pair of bytes.
    #[test]
    fn max_forwards_two_digits_match_the_general_decrement() {
        for v in 0..=u16::MAX {
            let mut a = v.to_be_bytes();
            let mut b = a;
            assert_eq!(
                decrement_max_forwards(&mut a),
                decrement_max_forwards_any(&mut b),
                "{:?}",
                v.to_be_bytes()
            );
            assert_eq!(a, b);
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
            b"SIP/2.0 200 OK\r\nv: SIP/2.0/UDP a;branch=z9hG4bKx,\r\n SIP/2.0/UDP b\r\nt: <sip:b@x>;tag=9\r\nCSeq: 2 REGISTER\r\nl: 0\r\n\r\n"
                .to_vec(),
            b"INVITE sip:b@x SIP/2.0\r\nRoute: <sip:p;lr>, <sip:q;lr>\r\nroute: <sip:r>\r\nROUTE: <sip:s>\r\n\
Via : SIP/2.0/UDP a\r\nVIA:x\r\nX-Long-Header-Name-Over-16: 1\r\nCall.ID: 2\r\nMax-Forwards:\t 7 \r\n\
P-Preferred-Identity: <tel:+1>\r\nP-Preferred-Identity: <sip:a@b>\r\np-asserted-identity:<sip:c@d>\r\n\
CSeq: 3 INVITE\r\nTo: <sip:b@x>;tag=1\r\nContent-Length: 2\r\n\r\nab"
                .to_vec(),
            // Lines of 64 to 127 bytes and one longer; no body, so the last
            // lines are near the end of the payload.
            b"OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/UDP [2001:db8::1234:5678:9abc]:5060;rport;branch=z9hG4bK-0123456789\r\n\
Contact: <sip:+15551234567@[2001:db8::1]:5060;transport=udp>;+sip.instance=\"<urn:gsma:imei:35209900-176148-0>\";\
expires=600000;reg-id=1\r\nP-Preferred-Identity: <sip:+15551234567@ims.mnc001.mcc001.3gppnetwork.org>\r\n\
To: <sip:x>\r\nl: 0\r\n\r\n"
                .to_vec(),
            // Folded lines: several on one header, on one not acted on,
            // on the first and the second line of a kind.
            b"INVITE sip:b@x SIP/2.0\r\nVia: a,\r\n b,\r\n\tc\r\nX-Other: 1\r\n 2\r\nv: d\r\n e\r\n\
P-Asserted-Identity: <sip:a@b>,\r\n <tel:+1>\r\nTo: <sip:b>\r\n ;tag=2\r\nl: 0\r\n\r\n"
                .to_vec(),
            // Names of 31, 32 and 33 letters (a run of 32 reaches the
            // colon test at offset 32).
            b"OPTIONS sip:x SIP/2.0\r\nX-Header-Name-Of-Exactly-Thirty:1\r\nX-Header-Name-Of-Exactly-Thirtyt: 2\r\n\
X-Header-Name-Of-Exactly-Thirtytw:3\r\nX-Header-Name-Of-Exactly-Thirtyt : 4\r\nTo: <sip:x>\r\nl: 0\r\n\r\n"
                .to_vec(),
            // Shorter than 64 bytes: every line is scanned on the copy of
            // a payload shorter than the window.
            b"ACK sip:b SIP/2.0\r\nt: <sip:x>;tag=1\r\nv: x\r\nl: 0\r\n\r\n".to_vec(),
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
        let kept = std::cell::RefCell::new(Scan::EMPTY);
        let kept_base = std::cell::RefCell::new(Scan::EMPTY);
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
                // The baseline build of the scanner too (`scan` takes the
                // AVX2 one on CPUs that have it).
                let mut b = Scan::EMPTY;
                let base = scan_body(crate::simd::Base, &m, &mut b).map(|_| b);
                // And into a `Scan` reused from case to case, as a worker
                // reuses its own (what an earlier message left must not
                // show), in both builds.
                let reused = {
                    let mut r = kept.borrow_mut();
                    scan_into(&m, &mut r).map(|_| r.clone())
                };
                let reused_base = {
                    let mut r = kept_base.borrow_mut();
                    scan_body(crate::simd::Base, &m, &mut r).map(|_| r.clone())
                };
                prop_assert_eq!(new.is_ok(), old.is_ok(), "{}", String::from_utf8_lossy(&m));
                prop_assert_eq!(base.is_ok(), old.is_ok(), "{}", String::from_utf8_lossy(&m));
                prop_assert_eq!(reused.is_ok(), old.is_ok(), "{}", String::from_utf8_lossy(&m));
                prop_assert_eq!(
                    reused_base.is_ok(),
                    old.is_ok(),
                    "{}",
                    String::from_utf8_lossy(&m)
                );
                if let (Ok(n), Ok(o), Ok(b), Ok(r), Ok(rb)) = (new, old, base, reused, reused_base) {
                    prop_assert_eq!(format!("{n:?}"), format!("{o:?}"));
                    prop_assert_eq!(format!("{b:?}"), format!("{o:?}"));
                    prop_assert_eq!(format!("{r:?}"), format!("{o:?}"));
                    prop_assert_eq!(format!("{rb:?}"), format!("{o:?}"));
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
