//! The one error type of the SIP layer: framing errors from [`super::parse`]
//! and syntax errors from the typed header parsers.
//!
//! Owns error classification only. Every variant is `Copy` and carries no
//! input bytes, so it can be counted and logged without copying anything the
//! network sent.

use super::names::HeaderName;

/// Why a SIP message or header value was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The start line is neither a request line nor a status line.
    #[error("malformed start line")]
    InvalidStartLine,
    /// The method is not a token.
    #[error("malformed method")]
    InvalidMethod,
    /// The Request-URI is empty or contains forbidden characters.
    #[error("malformed Request-URI")]
    InvalidRequestUri,
    /// The protocol version is not SIP/2.0.
    #[error("unsupported SIP version")]
    InvalidVersion,
    /// The status code is not three digits in 100..=699.
    #[error("malformed status code")]
    InvalidStatusCode,
    /// A line ends with a bare CR or a bare LF instead of CRLF.
    #[error("line not terminated by CRLF")]
    InvalidLineEnding,
    /// A header name is empty or contains a non-token character, or the colon
    /// is missing.
    #[error("malformed header name")]
    InvalidHeaderName,
    /// A header value contains a forbidden control character.
    #[error("malformed header value")]
    InvalidHeaderValue,
    /// A continuation line (leading whitespace) with no header before it.
    #[error("continuation line without a header")]
    FoldWithoutHeader,
    /// A line is longer than [`super::Limits::max_line_len`].
    #[error("line too long")]
    LineTooLong,
    /// The header section is longer than [`super::Limits::max_header_bytes`].
    #[error("header section too large")]
    HeadersTooLarge,
    /// More headers than the caller-supplied array holds.
    #[error("too many headers")]
    TooManyHeaders,
    /// The message is longer than 4 GiB (offsets are 32-bit).
    #[error("message too large")]
    MessageTooLarge,
    /// Content-Length is missing on a stream transport.
    #[error("Content-Length missing on a stream transport")]
    MissingContentLength,
    /// Content-Length is not a decimal number.
    #[error("malformed Content-Length")]
    InvalidContentLength,
    /// Two Content-Length headers disagree.
    #[error("conflicting Content-Length headers")]
    ConflictingContentLength,
    /// Content-Length exceeds [`super::Limits::max_body_len`].
    #[error("Content-Length too large")]
    ContentLengthTooLarge,
    /// The datagram ends before the body announced by Content-Length.
    #[error("body shorter than Content-Length")]
    BodyTooShort,
    /// Bytes follow the body announced by Content-Length in a datagram.
    #[error("trailing data after the body")]
    TrailingData,
    /// A required header is absent.
    #[error("missing {0:?} header")]
    MissingHeader(HeaderName),
    /// A header that must appear once appears with different values.
    #[error("duplicate {0:?} header")]
    DuplicateHeader(HeaderName),
    /// A URI does not parse (scheme, userinfo, host or port).
    #[error("malformed URI")]
    InvalidUri,
    /// A host is neither a hostname, an IPv4 address nor a bracketed IPv6 reference.
    #[error("malformed host")]
    InvalidHost,
    /// A port is not a number in 0..=65535.
    #[error("malformed port")]
    InvalidPort,
    /// A number does not fit its type (e.g. Expires > 2^32-1, CSeq > 2^31-1).
    #[error("number out of range")]
    NumberOutOfRange,
    /// A number has a non-digit character or no digits.
    #[error("malformed number")]
    InvalidNumber,
    /// A quoted string has no closing quote or ends in a backslash.
    #[error("unterminated quoted string")]
    UnterminatedQuote,
    /// An angle-bracketed URI has no closing `>`.
    #[error("unterminated angle bracket")]
    UnterminatedAngle,
    /// A header parameter is malformed (empty name, bad characters).
    #[error("malformed parameter")]
    InvalidParam,
    /// A parameter appears twice.
    #[error("duplicate parameter")]
    DuplicateParam,
    /// A Via value does not parse.
    #[error("malformed Via")]
    InvalidVia,
    /// A name-addr / addr-spec value does not parse.
    #[error("malformed name-addr")]
    InvalidNameAddr,
    /// A CSeq value does not parse.
    #[error("malformed CSeq")]
    InvalidCSeq,
    /// A credentials or challenge value does not parse.
    #[error("malformed Digest credentials or challenge")]
    InvalidDigest,
    /// A header value that must be a single item holds a list or is empty.
    #[error("malformed header value")]
    InvalidValue,
    /// An edit refers to a header or range that overlaps another edit or lies
    /// outside the message.
    #[error("edits overlap or are out of range")]
    InvalidEdit,
}
