//! Lexing helpers over header values: whitespace, quoted strings, list
//! splitting at top-level commas and `;name=value` parameters.
//!
//! Owns the tokenizer rules every typed parser shares. Must never allocate or
//! panic: every index is checked, every slice is a sub-slice of the input.
//! Folded values keep their CRLF inside; CR and LF count as whitespace here.

use super::Error;

/// Token characters of RFC 3261 §25.1 (`alphanum / "-" / "." / "!" / "%" /
/// "*" / "_" / "+" / "`" / "'" / "~"`).
pub(crate) const TOKEN: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        let c = i as u8;
        t[i] = c.is_ascii_alphanumeric()
            || matches!(
                c,
                b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
            );
        i += 1;
    }
    t
};

/// Whether `c` is a token character.
#[inline]
pub fn is_token(c: u8) -> bool {
    TOKEN[c as usize]
}

/// Whether `s` is a non-empty token.
pub fn is_token_str(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&c| is_token(c))
}

/// Linear whitespace inside a (possibly folded) header value.
#[inline]
pub fn is_ws(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

/// Strip leading and trailing whitespace (including folding CRLFs).
pub fn trim(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s {
        if is_ws(*first) {
            s = rest;
        } else {
            break;
        }
    }
    while let [rest @ .., last] = s {
        if is_ws(*last) {
            s = rest;
        } else {
            break;
        }
    }
    s
}

/// Length of the quoted string starting at `s[0] == b'"'`, quotes included.
pub(crate) fn quoted_len(s: &[u8]) -> Result<usize, Error> {
    let mut i = 1;
    while i < s.len() {
        match s[i] {
            b'\\' => i += 2,
            b'"' => return Ok(i + 1),
            _ => i += 1,
        }
    }
    Err(Error::UnterminatedQuote)
}

/// Find the first `sep` in `s` outside quoted strings and angle brackets.
/// `Ok(None)` when there is none.
pub(crate) fn find_top(s: &[u8], sep: u8) -> Result<Option<usize>, Error> {
    let mut i = 0;
    while i < s.len() {
        let c = s[i];
        if c == sep {
            return Ok(Some(i));
        }
        match c {
            b'"' => i += quoted_len(&s[i..])?,
            b'<' => match memchr::memchr(b'>', &s[i..]) {
                Some(j) => i += j + 1,
                None => return Err(Error::UnterminatedAngle),
            },
            _ => i += 1,
        }
    }
    Ok(None)
}

/// Iterator over the comma-separated values of a list header (Via, Contact,
/// Route, P-Associated-URI, Security-Client, ...). Commas inside quoted
/// strings and angle brackets do not split; values are trimmed; empty
/// elements are skipped (RFC 3261 §7.3.1 allows them). An unterminated quote
/// or bracket yields one `Err` and ends the iteration.
#[derive(Clone, Debug)]
pub struct Values<'a> {
    rest: &'a [u8],
    done: bool,
}

/// Split a header value into its comma-separated elements.
pub fn values(value: &[u8]) -> Values<'_> {
    Values {
        rest: value,
        done: false,
    }
}

impl<'a> Iterator for Values<'a> {
    type Item = Result<&'a [u8], Error>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.done {
                return None;
            }
            let (item, rest) = match find_top(self.rest, b',') {
                Ok(Some(i)) => (&self.rest[..i], &self.rest[i + 1..]),
                Ok(None) => {
                    self.done = true;
                    (self.rest, &self.rest[self.rest.len()..])
                }
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            };
            self.rest = rest;
            let item = trim(item);
            if !item.is_empty() {
                return Some(Ok(item));
            }
        }
    }
}

/// One `name[=value]` parameter. The value is raw: a quoted value keeps its
/// quotes (use [`unquote`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Param<'a> {
    /// The name, trimmed, as written.
    pub name: &'a [u8],
    /// The value, trimmed, as written; `None` for a flag parameter (`;lr`).
    pub value: Option<&'a [u8]>,
}

impl<'a> Param<'a> {
    /// Whether the name equals `n`, ignoring ASCII case.
    pub fn is(&self, n: &str) -> bool {
        self.name.eq_ignore_ascii_case(n.as_bytes())
    }

    /// The value with surrounding quotes removed (escapes kept).
    pub fn unquoted(&self) -> Option<&'a [u8]> {
        self.value.map(unquote)
    }
}

/// Iterator over parameters separated by `sep` (`;` for header and URI
/// parameters, `,` for Digest auth-params). Leading separators and whitespace
/// are skipped. A malformed parameter yields one `Err` and ends iteration.
#[derive(Clone, Debug)]
pub struct Params<'a> {
    rest: &'a [u8],
    sep: u8,
}

/// Parameters separated by `;` (`s` may start with the first `;`).
pub fn params(s: &[u8]) -> Params<'_> {
    Params { rest: s, sep: b';' }
}

/// Parameters separated by `,` (Digest auth-params).
pub fn auth_params(s: &[u8]) -> Params<'_> {
    Params { rest: s, sep: b',' }
}

impl<'a> Iterator for Params<'a> {
    type Item = Result<Param<'a>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let s = trim(self.rest);
            let s = match s.split_first() {
                Some((&c, rest)) if c == self.sep => {
                    self.rest = rest;
                    continue;
                }
                None => return None,
                Some(_) => s,
            };
            // Name: up to '=', sep or end.
            let mut i = 0;
            while i < s.len() && s[i] != b'=' && s[i] != self.sep {
                i += 1;
            }
            let name = trim(&s[..i]);
            if name.is_empty()
                || name
                    .iter()
                    .any(|&c| c == b'"' || c == b'<' || c == b',' && self.sep != b',')
            {
                self.rest = &[];
                return Some(Err(Error::InvalidParam));
            }
            if i < s.len() && s[i] == b'=' {
                let v = &s[i + 1..];
                let vt = trim_start(v);
                let off = v.len() - vt.len();
                let end = if vt.first() == Some(&b'"') {
                    match quoted_len(vt) {
                        Ok(n) => {
                            // After the quoted string only whitespace may
                            // come before the separator.
                            let after = trim_start(&vt[n..]);
                            if !(after.is_empty() || after[0] == self.sep) {
                                self.rest = &[];
                                return Some(Err(Error::InvalidParam));
                            }
                            n
                        }
                        Err(e) => {
                            self.rest = &[];
                            return Some(Err(e));
                        }
                    }
                } else {
                    let mut j = 0;
                    while j < vt.len() && vt[j] != self.sep {
                        if vt[j] == b'"' {
                            self.rest = &[];
                            return Some(Err(Error::InvalidParam));
                        }
                        j += 1;
                    }
                    j
                };
                let value = trim(&vt[..end]);
                self.rest = &v[off + end..];
                return Some(Ok(Param {
                    name,
                    value: Some(value),
                }));
            }
            self.rest = &s[i..];
            return Some(Ok(Param { name, value: None }));
        }
    }
}

fn trim_start(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s {
        if is_ws(*first) {
            s = rest;
        } else {
            break;
        }
    }
    s
}

/// First parameter named `name` (case-insensitive) in `s`. `Ok(None)` if
/// absent; `Some(None)` inside for a flag parameter.
pub fn find_param<'a>(s: &'a [u8], name: &str) -> Result<Option<Option<&'a [u8]>>, Error> {
    for p in params(s) {
        let p = p?;
        if p.is(name) {
            return Ok(Some(p.value));
        }
    }
    Ok(None)
}

/// Remove surrounding double quotes, if both are present. Escapes stay.
pub fn unquote(s: &[u8]) -> &[u8] {
    if s.len() >= 2 && s[0] == b'"' && s[s.len() - 1] == b'"' {
        &s[1..s.len() - 1]
    } else {
        s
    }
}

/// The bytes of a quoted-string body with `\x` escapes resolved.
pub fn unescape(s: &[u8]) -> impl Iterator<Item = u8> + '_ {
    let mut i = 0;
    core::iter::from_fn(move || {
        let c = *s.get(i)?;
        if c == b'\\' {
            if let Some(&n) = s.get(i + 1) {
                i += 2;
                return Some(n);
            }
        }
        i += 1;
        Some(c)
    })
}

/// Parse an unsigned decimal into a u64, rejecting empty input, non-digits
/// and values above `max`.
pub fn parse_dec(s: &[u8], max: u64) -> Result<u64, Error> {
    if s.is_empty() {
        return Err(Error::InvalidNumber);
    }
    let mut v: u64 = 0;
    for &c in s {
        if !c.is_ascii_digit() {
            return Err(Error::InvalidNumber);
        }
        v = v
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(c - b'0')))
            .ok_or(Error::NumberOutOfRange)?;
        if v > max {
            return Err(Error::NumberOutOfRange);
        }
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_values_respect_quotes_and_angles() {
        let v: Vec<_> = values(b" <sip:a@b;x=\"1,2\">, \"Doe, J\" <sip:c,d@e> ,, sip:f@g ")
            .map(|r| r.unwrap())
            .collect();
        assert_eq!(
            v,
            vec![&b"<sip:a@b;x=\"1,2\">"[..], b"\"Doe, J\" <sip:c,d@e>", b"sip:f@g"]
        );
        assert_eq!(values(b"\"abc").next(), Some(Err(Error::UnterminatedQuote)));
        assert_eq!(values(b"<sip:abc").next(), Some(Err(Error::UnterminatedAngle)));
    }

    #[test]
    fn parse_params_flag_value_quoted() {
        let p: Vec<_> = params(b";branch=z9hG4bK1 ; rport;x=\"a;b\\\"c\";lr")
            .map(|r| r.unwrap())
            .collect();
        assert_eq!(p.len(), 4);
        assert_eq!(
            p[0],
            Param {
                name: b"branch",
                value: Some(b"z9hG4bK1")
            }
        );
        assert_eq!(
            p[1],
            Param {
                name: b"rport",
                value: None
            }
        );
        assert_eq!(p[2].unquoted(), Some(&b"a;b\\\"c"[..]));
        assert_eq!(
            unescape(p[2].unquoted().unwrap()).collect::<Vec<_>>(),
            b"a;b\"c".to_vec()
        );
        assert!(p[3].is("LR"));
        assert!(params(b";=x").next().unwrap().is_err());
        assert!(params(b";a=\"x").next().unwrap().is_err());
    }

    #[test]
    fn parse_dec_limits() {
        assert_eq!(parse_dec(b"4294967295", u32::MAX.into()), Ok(4294967295));
        assert_eq!(
            parse_dec(b"4294967296", u32::MAX.into()),
            Err(Error::NumberOutOfRange)
        );
        assert_eq!(
            parse_dec(b"99999999999999999999999", u64::MAX),
            Err(Error::NumberOutOfRange)
        );
        assert_eq!(parse_dec(b"", 10), Err(Error::InvalidNumber));
        assert_eq!(parse_dec(b"1a", 10), Err(Error::InvalidNumber));
    }
}
