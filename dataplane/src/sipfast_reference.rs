//! The scanner as it was before the line loop was rewritten, kept as a
//! test oracle: the differential test in `sipfast` feeds both the same
//! mutated messages and demands the same result.

use super::*;

/// `name == lower` ignoring ASCII case, where `name` is known to hold only
/// token characters and `lower` only lowercase letters and `-`: then
/// `c | 0x20` maps a token char onto `lower`'s byte exactly when they match
/// (no token char ORs to `-`; CR would, and is no token char), so eight bytes
/// compare at once.
#[inline(always)]
fn eq_lower(name: &[u8], lower: &[u8]) -> bool {
    if name.len() != lower.len() {
        return false;
    }
    let mut a = name.chunks_exact(8);
    let mut b = lower.chunks_exact(8);
    for (x, y) in (&mut a).zip(&mut b) {
        let x = u64::from_le_bytes([x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7]]);
        let y = u64::from_le_bytes([y[0], y[1], y[2], y[3], y[4], y[5], y[6], y[7]]);
        if x | 0x2020_2020_2020_2020 != y {
            return false;
        }
    }
    a.remainder()
        .iter()
        .zip(b.remainder())
        .all(|(x, y)| x | 0x20 == *y)
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

/// The old scanner.
///
/// One pass: every line end is found 64 bytes at a time
/// ([`crate::simd::Finder`]), and each header name is read once, as a run of
/// token characters that must end at the colon (optionally after
/// whitespace). Only the names the fast path acts on are compared, chosen by
/// their length first.
pub fn scan(p: &[u8]) -> Result<Scan, DropReason> {
    let mut nls = crate::simd::Finder::new(p, b'\n', 0);
    let first = nls.next().ok_or(DropReason::SipMalformed)?;
    if first == 0 || p[first - 1] != b'\r' {
        return Err(DropReason::SipMalformed);
    }
    let start = parse_start(p, first - 1).ok_or(DropReason::SipMalformed)?;
    let headers_start = first + 1;
    let mut s = Scan {
        start,
        headers_start,
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
    let mut pos = headers_start;
    let mut lines = 0usize;
    let mut nl = nls.next().ok_or(DropReason::SipMalformed)?;
    loop {
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
        // The header name: a run of token characters from the line start
        // (a CR, a NUL or a space inside a name could make a downstream parser
        // see a header we did not, such as a P-Asserted-Identity we never
        // removed). The run ends at the latest at the line's CR, no token char.
        let line_bytes = &p[pos..nl];
        // Letters and dashes 16 at a time (bytes past the line end do not
        // matter: the run stops at its CR), then any other token chars.
        let mut name_len = crate::simd::alpha_dash_run16(&p[pos..]).min(line_bytes.len());
        while name_len < line_bytes.len() && is_token_char(line_bytes[name_len]) {
            name_len += 1;
        }
        if name_len == 0 {
            return Err(DropReason::SipMalformed);
        }
        let mut j = name_len;
        while j < line_bytes.len() && is_ws(line_bytes[j]) {
            j += 1;
        }
        if line_bytes.get(j) != Some(&b':') {
            return Err(DropReason::SipMalformed);
        }
        let colon = pos + j;
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
        let name = &line_bytes[..name_len];
        // Only the headers the fast path acts on are looked at further,
        // picked by length and first letter before a full comparison.
        let kind = match (name_len, name[0] | 0x20) {
            (1, b'v') => Hdr::Via,
            (1, b't') => Hdr::To,
            (1, b'l') => Hdr::ContentLength,
            (2, b't') if eq_lower(name, b"to") => Hdr::To,
            (3, b'v') if eq_lower(name, b"via") => Hdr::Via,
            (4, b'c') if eq_lower(name, b"cseq") => Hdr::CSeq,
            (5, b'r') if eq_lower(name, b"route") && s.routes.len() < 2 => Hdr::Route,
            (12, b'm') if eq_lower(name, b"max-forwards") => Hdr::MaxForwards,
            (14, b'c') if eq_lower(name, b"content-length") => Hdr::ContentLength,
            (19, b'p') if eq_lower(name, b"p-asserted-identity") => Hdr::Pai,
            (20, b'p') if eq_lower(name, b"p-preferred-identity") => Hdr::Ppi,
            _ => {
                pos = end;
                continue;
            }
        };
        let value_end = end - 2;
        let mut vs = colon + 1;
        while vs < value_end && is_ws(p[vs]) {
            vs += 1;
        }
        let mut ve = value_end;
        while ve > vs && is_ws(p[ve - 1]) {
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
            Hdr::To => s.to(has_tag(line.value(p)))?,
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
    if s.is_request() {
        // The CSeq line is kept only for a response (see `Scan::cseq`).
        s.cseq = None;
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
