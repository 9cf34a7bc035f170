//! # SIP: zero-copy parsing, typed headers, URI comparison, byte-exact editing
//!
//! Owns SIP message syntax for the control core and the data plane's fast
//! path. Must never allocate while parsing, copy input bytes, or panic on any
//! input; all errors are [`Error`] variants (`Copy`, no payload bytes).
//!
//! ## Parsing (httparse style)
//! ```
//! use control::sip::{self, Header, Status, HeaderName};
//! let buf = b"MESSAGE sip:bob@example.com SIP/2.0\r\nv: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1\r\nContent-Length: 0\r\n\r\n";
//! let mut hdrs = [Header::EMPTY; 64];
//! let Status::Complete(msg) = sip::parse(buf, &mut hdrs).unwrap() else { panic!() };
//! assert_eq!(msg.method(), Some(sip::Method::Message));
//! let via = msg.header(HeaderName::Via).unwrap();        // or msg.header("via"), msg.header("v")
//! assert_eq!(sip::Via::parse(via.value).unwrap().branch, Some(&b"z9hG4bK1"[..]));
//! ```
//! - [`parse`]`(buf, &mut headers) -> Result<Status<Message>, Error>`: datagram
//!   framing (body must equal Content-Length exactly; trailing bytes are
//!   [`Error::TrailingData`]). [`Parser::STREAM`]`.parse(..)` for TCP
//!   (Content-Length mandatory; short body is [`Status::Partial`];
//!   [`Message::len`] is where the next message starts). Limits in [`Limits`];
//!   the header array's length bounds the header count
//!   ([`Error::TooManyHeaders`]).
//! - Lines must end in CRLF (bare CR or LF is [`Error::InvalidLineEnding`]).
//!   Folded lines are joined: [`Header::value`] then spans the continuation
//!   lines and keeps the inner CRLF+WS, which every typed parser treats as
//!   whitespace.
//! - [`Message`]: `start` ([`StartLine`]), `headers`, `method()`,
//!   `request_uri()`, `status()`, `body()`, `body_offset()`, `len()`,
//!   `content_length()`, `header(name)`, `header_index(name)`,
//!   `headers_named(name)`, `values_named(name)` (comma-split across all
//!   headers of that name), `single(name)` (error on contradicting
//!   duplicates). A name is a [`HeaderName`] (fast) or a `&str`/`&[u8]` in
//!   long or compact form, any case.
//! - [`Header`]: `name`, `value`, `kind`, `line_range()`, `value_range()`
//!   (offsets in the buffer), `values()`.
//! - [`values`]`(v)` splits at top-level commas (not inside quotes or `<>`);
//!   [`params`]`(s)` / [`auth_params`]`(s)` iterate `;`/`,` parameters
//!   ([`Param`] `{ name, value: Option<&[u8]> }`); [`unquote`], [`unescape`],
//!   [`trim`] (SP, HTAB, CR, LF at both ends), [`is_token`].
//!
//! ## Typed values (one list element each; borrowed)
//! - [`Via::parse`] → `transport`, `host`, `port`, `branch`, `received`,
//!   `rport: Rport::{Absent, Requested, Value(u16)}`, `params`.
//! - [`Contact::parse`] → `Star` | `Addr(ContactAddr { addr: NameAddr,
//!   expires, reg_id, instance, q })`.
//! - [`NameAddr::parse`] (`display`, `uri`, `params`, `tag()`,
//!   `parsed_uri()`); [`name_addrs`]`(value)` for Path, Service-Route,
//!   P-Associated-URI, P-Preferred-Identity, P-Asserted-Identity, Route.
//! - [`Digest::parse`] for Authorization / WWW-Authenticate (whole value):
//!   `username`, `realm`, `nonce`, `uri`, `response`, `algorithm`, `qop`,
//!   `nc`, `cnonce`, `opaque`, `integrity_protected`, `ck`, `ik` (unquoted).
//! - [`CSeq::parse`], [`parse_expires`] (u32), [`parse_max_forwards`],
//!   [`parse_call_id`], [`parse_qvalue`] (thousandths), [`parse_hex_key`]
//!   (a Digest `ck`/`ik`: 32 hex digits → 16 bytes).
//! - [`Uri::parse`] → `Sip(SipUri)` | `Tel(TelUri)` | `Other`;
//!   [`Uri::equivalent`] implements RFC 3261 §19.1.4 and RFC 3966 §4.
//!
//! ## Editing (only the bytes that change)
//! [`Editor`] records edits against a parsed [`Message`] and writes the new
//! message into a caller's `Vec<u8>` (appended; `apply` fails with
//! [`Error::InvalidEdit`] on overlapping edits and then writes nothing):
//! `remove_header`, `remove_all(kind)`, `insert_before`, `insert_after`,
//! `insert_top`, `append_header`, `insert_line` (a preformatted line such
//! as `Impu::pai_line()`), `replace_value`,
//! `set_param` / `remove_param` / `append_param` (`;` params of the first
//! value, e.g. Via `received`/`rport`), `set_auth_param` /
//! `remove_auth_param` / `remove_auth_params` (Digest `integrity-protected`,
//! `ck` and `ik` together), `replace_body` (fixes
//! Content-Length). Everything not edited is copied byte for byte.
//!
//! Sec-agree headers are parsed in [`crate::secagree`]; identity assertion is
//! [`crate::identity`].
//!
//! ## Decisions
//! - Strict CRLF: a bare CR or LF anywhere in the header section is an error
//!   (a forwarded message must not be read differently by the next hop).
//! - Datagram bytes after Content-Length are [`Error::TrailingData`], not
//!   silently dropped as RFC 3261 §18.3 allows (same reason).
//! - Identical duplicate Content-Length headers are accepted; differing ones
//!   are [`Error::ConflictingContentLength`].
//! - No separate `scan`: [`parse`] with a small header array is the fast path
//!   (no allocation, one `memchr2` per line, name classification by
//!   length/first/last byte plus one compare). Measured in
//!   `control/benches/sip_parse.rs`.
//! - URI comparison treats `transport` like `user`/`ttl`/`method`/`maddr`
//!   (present in one URI only ⇒ different), as the examples of §19.1.4 do.

mod edit;
mod error;
mod hdr;
mod names;
mod parse;
mod text;
mod uri;

pub use edit::Editor;
pub use error::Error;
pub use hdr::{
    name_addrs, parse_call_id, parse_expires, parse_hex_key, parse_max_forwards, parse_qvalue, CSeq, Contact,
    ContactAddr, Digest, NameAddr, Rport, Via,
};
pub use names::{AsHeaderName, HeaderName};
pub use parse::{
    parse, Framing, Header, HeadersNamed, Limits, Message, Method, Parser, StartLine, Status, ValuesNamed,
};
pub use text::{
    auth_params, find_param, is_token, params, trim, unescape, unquote, values, Param, Params, Values,
};
pub use uri::{SipUri, TelUri, Uri};

#[cfg(test)]
mod tests;
