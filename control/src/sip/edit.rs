//! Byte-exact message editing: record edits against a parsed [`Message`],
//! then write the original bytes with only those ranges replaced.
//!
//! Owns rewriting. Must never touch a byte outside an edit: everything else is
//! copied verbatim, so signatures, folding and header order survive. Inserted
//! names and values are checked so that an edit can never inject a line
//! break (header injection). The editor keeps its buffers between messages:
//! after warm-up, [`Editor::clear`] plus a message's edits allocate nothing.

use core::ops::Range;

use super::names::HeaderName;
use super::parse::{Header, Message};
use super::text::{self, is_token_str, trim};
use super::Error;

#[derive(Clone, Debug)]
struct Op {
    start: usize,
    end: usize,
    data: Range<usize>,
    seq: usize,
}

/// A reusable set of edits. Methods record an edit (checking the header index
/// and the inserted text) and return `Err(Error::InvalidEdit)` on a bad
/// index or text; overlapping edits are reported by [`Editor::apply`].
#[derive(Clone, Debug, Default)]
pub struct Editor {
    arena: Vec<u8>,
    ops: Vec<Op>,
}

fn offset_in(base: &[u8], sub: &[u8]) -> Option<usize> {
    // Both slices come from the same message buffer; compare addresses
    // only (no pointer is dereferenced).
    let b = base.as_ptr() as usize;
    let s = sub.as_ptr() as usize;
    (s >= b && s + sub.len() <= b + base.len()).then(|| s - b)
}

fn check_text(v: &[u8]) -> Result<(), Error> {
    if v.iter().any(|&c| c == b'\r' || c == b'\n' || c == 0) {
        return Err(Error::InvalidEdit);
    }
    Ok(())
}

impl Editor {
    /// An empty editor.
    pub fn new() -> Self {
        Editor::default()
    }

    /// Forget all edits (keeps capacity).
    pub fn clear(&mut self) {
        self.arena.clear();
        self.ops.clear();
    }

    /// Number of recorded edits.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Whether no edit is recorded.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    fn push(&mut self, range: Range<usize>, parts: &[&[u8]]) {
        let a = self.arena.len();
        for p in parts {
            self.arena.extend_from_slice(p);
        }
        let seq = self.ops.len();
        self.ops.push(Op {
            start: range.start,
            end: range.end,
            data: a..self.arena.len(),
            seq,
        });
    }

    fn header<'b>(msg: &Message<'b, '_>, idx: usize) -> Result<Header<'b>, Error> {
        msg.headers.get(idx).copied().ok_or(Error::InvalidEdit)
    }

    fn line(&mut self, at: usize, name: &[u8], value: &[u8]) -> Result<(), Error> {
        if !is_token_str(name) {
            return Err(Error::InvalidEdit);
        }
        check_text(value)?;
        self.push(at..at, &[name, b": ", value, b"\r\n"]);
        Ok(())
    }

    /// Remove header line `idx` (with its continuation lines).
    pub fn remove_header(&mut self, msg: &Message<'_, '_>, idx: usize) -> Result<&mut Self, Error> {
        let h = Self::header(msg, idx)?;
        self.push(h.line_range(), &[]);
        Ok(self)
    }

    /// Remove every header with this kind.
    pub fn remove_all(&mut self, msg: &Message<'_, '_>, kind: HeaderName) -> &mut Self {
        for h in msg.headers.iter().filter(|h| h.kind == kind) {
            self.push(h.line_range(), &[]);
        }
        self
    }

    /// Insert `name: value` before header `idx`.
    pub fn insert_before(
        &mut self,
        msg: &Message<'_, '_>,
        idx: usize,
        name: &[u8],
        value: &[u8],
    ) -> Result<&mut Self, Error> {
        let h = Self::header(msg, idx)?;
        self.line(h.line_range().start, name, value)?;
        Ok(self)
    }

    /// Insert `name: value` after header `idx`.
    pub fn insert_after(
        &mut self,
        msg: &Message<'_, '_>,
        idx: usize,
        name: &[u8],
        value: &[u8],
    ) -> Result<&mut Self, Error> {
        let h = Self::header(msg, idx)?;
        self.line(h.line_range().end, name, value)?;
        Ok(self)
    }

    /// Insert `name: value` as the first header (right after the start line).
    pub fn insert_top(
        &mut self,
        msg: &Message<'_, '_>,
        name: &[u8],
        value: &[u8],
    ) -> Result<&mut Self, Error> {
        let at = msg
            .headers
            .first()
            .map_or(msg.headers_end(), |h| h.line_range().start);
        self.line(at, name, value)?;
        Ok(self)
    }

    /// Insert `name: value` as the last header.
    pub fn append_header(
        &mut self,
        msg: &Message<'_, '_>,
        name: &[u8],
        value: &[u8],
    ) -> Result<&mut Self, Error> {
        self.line(msg.headers_end(), name, value)?;
        Ok(self)
    }

    /// Insert a complete, pre-formatted header line (`Name: value\r\n`, such
    /// as [`crate::types::Impu::pai_line`]) before header `idx`, or at the
    /// end of the header block when `idx` is `None`.
    pub fn insert_line(
        &mut self,
        msg: &Message<'_, '_>,
        idx: Option<usize>,
        line: &[u8],
    ) -> Result<&mut Self, Error> {
        let body = line.strip_suffix(b"\r\n").ok_or(Error::InvalidEdit)?;
        check_text(body)?;
        let at = match idx {
            Some(i) => Self::header(msg, i)?.line_range().start,
            None => msg.headers_end(),
        };
        self.push(at..at, &[line]);
        Ok(self)
    }

    /// Replace the whole value of header `idx`.
    pub fn replace_value(
        &mut self,
        msg: &Message<'_, '_>,
        idx: usize,
        value: &[u8],
    ) -> Result<&mut Self, Error> {
        let h = Self::header(msg, idx)?;
        check_text(value)?;
        self.push(h.value_range(), &[value]);
        Ok(self)
    }

    /// The first list element of header `idx` and its offset in the buffer.
    fn first_elem<'b>(msg: &Message<'b, '_>, idx: usize) -> Result<(Header<'b>, &'b [u8], usize), Error> {
        let h = Self::header(msg, idx)?;
        let end = text::find_top(h.value, b',')?.unwrap_or(h.value.len());
        let elem = trim(&h.value[..end]);
        let off = offset_in(msg.buf(), elem).ok_or(Error::InvalidEdit)?;
        Ok((h, elem, off))
    }

    /// Set `;name=value` (or the flag `;name` when `value` is `None`) on the
    /// first list element of header `idx` (for Via: the topmost via-parm),
    /// replacing an existing parameter of that name in place or appending it.
    pub fn set_param(
        &mut self,
        msg: &Message<'_, '_>,
        idx: usize,
        name: &[u8],
        value: Option<&[u8]>,
    ) -> Result<&mut Self, Error> {
        self.param(msg, idx, name, value, true)
    }

    /// Append `;name=value` (or the flag `;name` when `value` is `None`)
    /// after the last parameter of the first list element of header `idx`,
    /// whether or not a parameter of that name is already there. To move a
    /// parameter to the end (RFC 3581 writes `received` then `rport`), remove
    /// it with [`Editor::remove_param`] first; several appends to one element
    /// are written in the order they were recorded. The existing parameters
    /// are not read (parse the value first to reject malformed ones); an
    /// unterminated quote or angle bracket before them is an error.
    pub fn append_param(
        &mut self,
        msg: &Message<'_, '_>,
        idx: usize,
        name: &[u8],
        value: Option<&[u8]>,
    ) -> Result<&mut Self, Error> {
        self.param(msg, idx, name, value, false)
    }

    /// [`Editor::set_param`] (`replace`: in place if present) or
    /// [`Editor::append_param`].
    fn param(
        &mut self,
        msg: &Message<'_, '_>,
        idx: usize,
        name: &[u8],
        value: Option<&[u8]>,
        replace: bool,
    ) -> Result<&mut Self, Error> {
        let (eq, v) = param_text(name, value)?;
        let (_, elem, off) = Self::first_elem(msg, idx)?;
        let pstart = param_section(elem)?;
        let params = if replace { &elem[pstart..] } else { &[][..] };
        for p in text::params(params) {
            let p = p?;
            if p.name.eq_ignore_ascii_case(name) {
                let s = offset_in(elem, p.name).ok_or(Error::InvalidEdit)?;
                let e = match p.value {
                    Some(pv) => offset_in(elem, pv).ok_or(Error::InvalidEdit)? + pv.len(),
                    None => s + p.name.len(),
                };
                self.push(off + s..off + e, &[name, eq, v]);
                return Ok(self);
            }
        }
        let at = off + elem.len();
        self.push(at..at, &[b";", name, eq, v]);
        Ok(self)
    }

    /// Remove every `;name[=value]` parameter of the first list element of
    /// header `idx`. Not an error when absent.
    pub fn remove_param(
        &mut self,
        msg: &Message<'_, '_>,
        idx: usize,
        name: &[u8],
    ) -> Result<&mut Self, Error> {
        let (_, elem, off) = Self::first_elem(msg, idx)?;
        let pstart = param_section(elem)?;
        for p in text::params(&elem[pstart..]) {
            let p = p?;
            if p.name.eq_ignore_ascii_case(name) {
                let s = offset_in(elem, p.name).ok_or(Error::InvalidEdit)?;
                let e = match p.value {
                    Some(pv) => offset_in(elem, pv).ok_or(Error::InvalidEdit)? + pv.len(),
                    None => s + p.name.len(),
                };
                // Back up over whitespace to the ';' that introduces it.
                let semi = elem[..s]
                    .iter()
                    .rposition(|&c| c == b';')
                    .ok_or(Error::InvalidEdit)?;
                self.push(off + semi..off + e, &[]);
            }
        }
        Ok(self)
    }

    /// Set the Digest auth-param `name` to `value` (written as given: quote
    /// it yourself when the syntax needs quotes) in header `idx`, in place if
    /// present, else appended as `, name=value`.
    pub fn set_auth_param(
        &mut self,
        msg: &Message<'_, '_>,
        idx: usize,
        name: &[u8],
        value: &[u8],
    ) -> Result<&mut Self, Error> {
        if !is_token_str(name) {
            return Err(Error::InvalidEdit);
        }
        check_text(value)?;
        let h = Self::header(msg, idx)?;
        let d = super::hdr::Digest::parse(h.value)?;
        let voff = h.value_range().start;
        for p in d.auth_params() {
            let p = p?;
            if p.name.eq_ignore_ascii_case(name) {
                let s = offset_in(h.value, p.name).ok_or(Error::InvalidEdit)?;
                let e = match p.value {
                    Some(pv) => offset_in(h.value, pv).ok_or(Error::InvalidEdit)? + pv.len(),
                    None => s + p.name.len(),
                };
                self.push(voff + s..voff + e, &[name, b"=", value]);
                return Ok(self);
            }
        }
        let at = voff + h.value.len();
        let sep: &[u8] = if trim(d.params).is_empty() { b" " } else { b", " };
        self.push(at..at, &[sep, name, b"=", value]);
        Ok(self)
    }

    /// Remove the Digest auth-param `name` (e.g. `ck`, `ik`) from header
    /// `idx`, with one adjoining comma. Not an error when absent.
    pub fn remove_auth_param(
        &mut self,
        msg: &Message<'_, '_>,
        idx: usize,
        name: &[u8],
    ) -> Result<&mut Self, Error> {
        let h = Self::header(msg, idx)?;
        let d = super::hdr::Digest::parse(h.value)?;
        let voff = h.value_range().start;
        let v = h.value;
        for p in d.auth_params() {
            let p = p?;
            if !p.name.eq_ignore_ascii_case(name) {
                continue;
            }
            let s = offset_in(v, p.name).ok_or(Error::InvalidEdit)?;
            let e = match p.value {
                Some(pv) => offset_in(v, pv).ok_or(Error::InvalidEdit)? + pv.len(),
                None => s + p.name.len(),
            };
            let params_start = offset_in(v, d.params).unwrap_or(0).min(s);
            // Prefer removing the preceding comma: "a=1, ck=x" -> "a=1".
            let range = match v[params_start..s].iter().rposition(|&c| c == b',') {
                Some(c) => params_start + c..e,
                None => {
                    // First parameter: remove it, the following comma and the
                    // whitespace after that comma.
                    let after = &v[e..];
                    let skip_ws = after.iter().take_while(|&&c| text::is_ws(c)).count();
                    if after.get(skip_ws) == Some(&b',') {
                        let tail = &after[skip_ws + 1..];
                        let ws2 = tail.iter().take_while(|&&c| text::is_ws(c)).count();
                        s..e + skip_ws + 1 + ws2
                    } else {
                        s..e
                    }
                }
            };
            self.push(voff + range.start..voff + range.end, &[]);
        }
        Ok(self)
    }

    /// Remove every Digest auth-param of header `idx` whose name is one of
    /// `names` (case-insensitive; e.g. `ck` and `ik` of a 401), with their
    /// separators, in one set of non-overlapping edits: a removed parameter
    /// takes the separator before it when a kept parameter precedes it, else
    /// the separator after it, so any combination (adjacent ones, the first
    /// ones, all of them) leaves a well-formed list. Not an error when none
    /// is present. Only the scheme and auth-param syntax is read (one pass;
    /// values are not checked as [`super::Digest::parse`] checks them): a
    /// malformed value is [`Error::InvalidDigest`] and records nothing.
    pub fn remove_auth_params(
        &mut self,
        msg: &Message<'_, '_>,
        idx: usize,
        names: &[&[u8]],
    ) -> Result<&mut Self, Error> {
        let h = Self::header(msg, idx)?;
        let (voff, v) = (h.value_range().start, h.value);
        // The scheme token, then the auth-params (as Digest::parse reads
        // them; one pass, no check of the known parameters' values).
        let scheme_end = v.iter().take_while(|&&c| text::is_token(c)).count();
        if scheme_end == 0 || v.get(scheme_end).is_some_and(|&c| !text::is_ws(c)) {
            return Err(Error::InvalidDigest);
        }
        let hit = |p: &text::Param<'_>| names.iter().any(|n| p.name.eq_ignore_ascii_case(n));
        let mark = (self.ops.len(), self.arena.len());
        // `lead`: start of the removed parameters before the first kept one.
        let (mut lead, mut prev_end, mut kept_before) = (None, 0, false);
        for p in text::auth_params(&v[scheme_end..]) {
            let Ok((p, (s, e))) = p.and_then(|p| Ok((p, auth_param_span(v, &p)?))) else {
                // Malformed: record nothing.
                self.ops.truncate(mark.0);
                self.arena.truncate(mark.1);
                return Err(Error::InvalidDigest);
            };
            if !hit(&p) {
                if let Some(l) = lead.take() {
                    // "ck=x, ik=y, a=1" -> "a=1": up to this one's start.
                    self.push(voff + l..voff + s, &[]);
                }
                kept_before = true;
            } else if kept_before {
                // "a=1, ck=x" -> "a=1": from the end of the one before.
                self.push(voff + prev_end..voff + e, &[]);
            } else if lead.is_none() {
                lead = Some(s);
            }
            prev_end = e;
        }
        if lead.is_some() {
            // Nothing stays: drop everything after the scheme.
            self.push(voff + scheme_end..voff + prev_end, &[]);
        }
        Ok(self)
    }

    /// Replace the body and rewrite every Content-Length value to the new
    /// length (adding `Content-Length` at the end of the header block when
    /// there is none).
    pub fn replace_body(&mut self, msg: &Message<'_, '_>, body: &[u8]) -> Result<&mut Self, Error> {
        if body.len() > u32::MAX as usize {
            return Err(Error::InvalidEdit);
        }
        let mut num = [0u8; 10];
        let n = fmt_u32(body.len() as u32, &mut num);
        let mut seen = false;
        for h in msg.headers.iter().filter(|h| h.kind == HeaderName::ContentLength) {
            self.push(h.value_range(), &[&num[n..]]);
            seen = true;
        }
        if !seen {
            let at = msg.headers_end();
            self.push(at..at, &[b"Content-Length: ", &num[n..], b"\r\n"]);
        }
        self.push(msg.body_offset()..msg.len(), &[body]);
        Ok(self)
    }

    /// Write the edited message (from its start line to the end of its body)
    /// to the end of `out`. [`Error::InvalidEdit`] if two edits overlap or
    /// one lies outside the message; `out` is then left unchanged.
    pub fn apply(&mut self, msg: &Message<'_, '_>, out: &mut Vec<u8>) -> Result<(), Error> {
        let buf = msg.buf();
        let (lo, hi) = (msg.start_offset(), msg.len());
        self.ops.sort_by_key(|o| (o.start, o.end, o.seq));
        let mut cur = lo;
        let mut growth = 0isize;
        for o in &self.ops {
            if o.start < cur || o.end > hi || o.start > o.end {
                return Err(Error::InvalidEdit);
            }
            cur = o.end;
            growth += o.data.len() as isize - (o.end - o.start) as isize;
        }
        out.reserve(((hi - lo) as isize + growth).max(0) as usize);
        let mut cur = lo;
        for o in &self.ops {
            out.extend_from_slice(&buf[cur..o.start]);
            out.extend_from_slice(&self.arena[o.data.clone()]);
            cur = o.end;
        }
        out.extend_from_slice(&buf[cur..hi]);
        Ok(())
    }
}

/// `(b"=", value)` or `(b"", b"")` for a parameter written by
/// [`Editor::set_param`] / [`Editor::append_param`], after checking that
/// neither the name nor the value can break out of the parameter.
fn param_text<'v>(name: &[u8], value: Option<&'v [u8]>) -> Result<(&'static [u8], &'v [u8]), Error> {
    if !is_token_str(name) {
        return Err(Error::InvalidEdit);
    }
    match value {
        Some(v) => {
            check_text(v)?;
            if v.contains(&b';') || v.contains(&b',') {
                return Err(Error::InvalidEdit);
            }
            Ok((b"=", v))
        }
        None => Ok((b"", b"")),
    }
}

/// Where auth-param `p` (a sub-slice of `v`) starts and ends in `v`.
fn auth_param_span(v: &[u8], p: &text::Param<'_>) -> Result<(usize, usize), Error> {
    let s = offset_in(v, p.name).ok_or(Error::InvalidEdit)?;
    let e = match p.value {
        Some(pv) => offset_in(v, pv).ok_or(Error::InvalidEdit)? + pv.len(),
        None => s + p.name.len(),
    };
    Ok((s, e))
}

/// Where the `;` parameters of a list element start (after a `>` for a
/// name-addr, else at the first `;`).
fn param_section(elem: &[u8]) -> Result<usize, Error> {
    let mut i = 0;
    if elem.first() == Some(&b'"') {
        i = text::quoted_len(elem)?;
    }
    let rest = &elem[i..];
    match memchr::memchr2(b'<', b';', rest) {
        Some(j) if rest[j] == b'<' => {
            let gt = memchr::memchr(b'>', &rest[j..]).ok_or(Error::UnterminatedAngle)?;
            let k = i + j + gt + 1;
            Ok(k + memchr::memchr(b';', &elem[k..]).unwrap_or(elem.len() - k))
        }
        Some(j) => Ok(i + j),
        None => Ok(elem.len()),
    }
}

fn fmt_u32(mut v: u32, out: &mut [u8; 10]) -> usize {
    let mut i = out.len();
    loop {
        i -= 1;
        out[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            return i;
        }
    }
}
