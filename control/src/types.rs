//! Plain data shared between the control core and the data plane: who a
//! sender is, how it is bound, and the table updates the control core asks the
//! data plane to apply.
//!
//! Everything here is immutable once published: the data plane shares it with
//! its workers behind pointers that are reclaimed only after a grace period.

use core::net::IpAddr;

/// Transport of a SIP flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Transport {
    /// UDP.
    Udp,
    /// TCP.
    Tcp,
}

impl Transport {
    /// The IP protocol number.
    pub const fn ip_proto(self) -> u8 {
        match self {
            Transport::Udp => 17,
            Transport::Tcp => 6,
        }
    }
}

/// What precedes `<uri>` in an [`Impu`]'s P-Asserted-Identity line.
const PAI_PREFIX: &str = "P-Asserted-Identity: ";

/// Bytes of an [`Impu`]'s P-Asserted-Identity line held in the `Impu`
/// itself: URIs of up to 63 bytes (`tel:` numbers, and most `sip:` IMPUs
/// under an IMS domain); a longer line is on the heap.
pub const PAI_LINE_INLINE: usize = 88;

/// IMPUs of an [`Identity`] held in it (a `sip:` and a `tel:` IMPU, the
/// usual implicit registration set); more are on the heap.
pub const IMPUS_INLINE: usize = 2;

/// One registered public user identity (IMPU), with the header line the data
/// plane inserts when it asserts it, computed once at registration so that
/// workers never format strings.
///
/// The line is stored in the `Impu` when it fits ([`PAI_LINE_INLINE`]), and
/// the IMPUs in their [`Identity`] ([`IMPUS_INLINE`]): a worker asserting an
/// identity then reads one allocation behind the binding, not three
/// (identity, IMPU list, line), each a cache miss in a large table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Impu {
    uri: Box<str>,
    pai_line: smallvec::SmallVec<[u8; PAI_LINE_INLINE]>,
    /// The length of `<uri>` when the URI holds no angle bracket (`<uri>` is
    /// then one name-addr), `usize::MAX` otherwise. When not `usize::MAX`,
    /// `pai_line` is `PAI_PREFIX`, these many bytes, then CRLF.
    bracketed_len: usize,
}

impl Impu {
    /// Build from a SIP, SIPS or tel URI as it appears in P-Associated-URI
    /// (without angle brackets).
    pub fn new(uri: &str) -> Self {
        let uri = uri.trim().trim_start_matches('<').trim_end_matches('>');
        // (Inline when it fits: `from_slice` goes by length.)
        let pai_line = smallvec::SmallVec::from_slice(format!("{PAI_PREFIX}<{uri}>\r\n").as_bytes());
        Impu {
            bracketed_len: if uri.contains(['<', '>']) {
                usize::MAX
            } else {
                pai_line.len() - PAI_PREFIX.len() - 2
            },
            uri: uri.into(),
            pai_line,
        }
    }

    /// `<uri>`, when that is a single name-addr whose URI is this IMPU's
    /// byte for byte (the URI holds no angle bracket), for comparing a
    /// P-Preferred-Identity value without parsing it.
    #[inline]
    pub fn bracketed(&self) -> Option<&[u8]> {
        if self.bracketed_len == usize::MAX {
            return None;
        }
        self.pai_line
            .get(PAI_PREFIX.len()..PAI_PREFIX.len() + self.bracketed_len)
    }

    /// Whether `v` is [`Impu::bracketed`], byte for byte: a length compare
    /// rejects most other identities before any byte is read.
    #[inline(always)]
    pub fn is_bracketed(&self, v: &[u8]) -> bool {
        if v.len() != self.bracketed_len {
            return false;
        }
        // Bounds-checked, but only on a length match (one IMPU per request).
        self.pai_line
            .get(PAI_PREFIX.len()..)
            .and_then(|r| r.get(..v.len()))
            .is_some_and(|r| eq_words(r, v))
    }

    /// The URI.
    pub fn uri(&self) -> &str {
        &self.uri
    }

    /// `P-Asserted-Identity: <uri>\r\n`, ready to copy into a message.
    pub fn pai_line(&self) -> &[u8] {
        &self.pai_line
    }
}

/// `a == b`, for 8 to 32 bytes as two or four overlapping 8-byte words
/// (an IMPU in angle brackets is usually 15 to 32 bytes long), which costs
/// less than a call to the library compare.
#[inline(always)]
fn eq_words(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() || !(8..=32).contains(&n) {
        return a == b;
    }
    let word = |s: &[u8], i: usize| {
        s.get(i..)
            .and_then(|r| r.first_chunk::<8>())
            .map(|w| u64::from_ne_bytes(*w))
    };
    let diff = |i: usize| match (word(a, i), word(b, i)) {
        (Some(x), Some(y)) => x ^ y,
        _ => 1,
    };
    // Words 0 and n - 8 cover up to 16 bytes; 8 and n - 16 the rest.
    let mut d = diff(0) | diff(n - 8);
    if n > 16 {
        d |= diff(8) | diff(n - 16);
    }
    d == 0
}

/// The identities of one registered user: the private identity and the
/// registered public identities, in P-Associated-URI order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// The private user identity (IMPI).
    pub impi: Box<str>,
    /// Registered IMPUs, in the order of P-Associated-URI.
    pub impus: smallvec::SmallVec<[Impu; IMPUS_INLINE]>,
    /// Indices into `impus` of the default public identities. When empty, the
    /// first IMPU is the default (TS 24.229: the first URI of
    /// P-Associated-URI).
    pub defaults: Vec<u16>,
}

impl Identity {
    /// An identity whose default IMPU is the first one.
    pub fn new(impi: &str, impus: &[&str]) -> Self {
        Identity {
            impi: impi.into(),
            impus: impus.iter().map(|u| Impu::new(u)).collect(),
            defaults: Vec::new(),
        }
    }
}

/// Key of an Annex N binding (TS 33.203 Annex N.2.1): the source IP address,
/// plus the source port and transport when RFC 5626 outbound is in use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BindingKey {
    /// IP address only (no outbound).
    Ip(IpAddr),
    /// IP address, port and transport (outbound).
    IpPort(IpAddr, u16, Transport),
}

/// Integrity algorithm of an SA (TS 33.203 Annex H `alg`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IntegAlg {
    /// HMAC-SHA-1-96 (RFC 2404).
    HmacSha196,
    /// HMAC-MD5-96 (RFC 2403); deprecated, allowed only by policy.
    HmacMd596,
    /// AES-GMAC (RFC 4543), with a null cipher.
    AesGmac,
    /// No separate integrity: only with AES-GCM, which authenticates itself.
    Null,
}

impl IntegAlg {
    /// The Annex H token.
    pub const fn name(self) -> &'static str {
        match self {
            IntegAlg::HmacSha196 => "hmac-sha-1-96",
            IntegAlg::HmacMd596 => "hmac-md5-96",
            IntegAlg::AesGmac => "aes-gmac",
            IntegAlg::Null => "null",
        }
    }

    /// Parse an Annex H token (case-insensitive).
    pub fn from_name(s: &str) -> Option<Self> {
        [
            IntegAlg::HmacSha196,
            IntegAlg::HmacMd596,
            IntegAlg::AesGmac,
            IntegAlg::Null,
        ]
        .into_iter()
        .find(|a| a.name().eq_ignore_ascii_case(s))
    }
}

/// Encryption algorithm of an SA (TS 33.203 Annex H `ealg`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EncrAlg {
    /// No encryption (RFC 2410).
    Null,
    /// AES-CBC with a 128-bit key (RFC 3602).
    AesCbc,
    /// AES-GCM with a 128-bit key, 8-byte IV and 16-byte ICV (RFC 4106).
    AesGcm,
}

impl EncrAlg {
    /// The Annex H token.
    pub const fn name(self) -> &'static str {
        match self {
            EncrAlg::Null => "null",
            EncrAlg::AesCbc => "aes-cbc",
            EncrAlg::AesGcm => "aes-gcm",
        }
    }

    /// Parse an Annex H token (case-insensitive).
    pub fn from_name(s: &str) -> Option<Self> {
        [EncrAlg::Null, EncrAlg::AesCbc, EncrAlg::AesGcm]
            .into_iter()
            .find(|a| a.name().eq_ignore_ascii_case(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The usual identity is one allocation: its IMPUs are in the
    /// `Identity` and their P-Asserted-Identity lines in the IMPUs (what the
    /// data plane's identity prefetch counts on). A longer URI or a third
    /// IMPU spills to the heap and reads the same.
    #[test]
    fn usual_identities_are_held_inline() {
        let id = Identity::new(
            "user@ims.mnc001.mcc001.3gppnetwork.org",
            &[
                "sip:+15551234567@ims.mnc001.mcc001.3gppnetwork.org",
                "tel:+15551234567",
            ],
        );
        assert!(!id.impus.spilled());
        for i in &id.impus {
            assert!(!i.pai_line.spilled(), "{}", i.uri());
            assert_eq!(
                i.pai_line(),
                format!("P-Asserted-Identity: <{}>\r\n", i.uri()).as_bytes()
            );
        }
        let long = format!("sip:{}@ims.example", "u".repeat(64));
        let mut big = Identity::new("u@ims.example", &[long.as_str(), "tel:+1", "tel:+2"]);
        assert!(big.impus.spilled() && big.impus[0].pai_line.spilled());
        assert_eq!(
            big.impus[0].pai_line(),
            format!("P-Asserted-Identity: <{long}>\r\n").as_bytes()
        );
        assert_eq!(big.impus[0].bracketed(), Some(format!("<{long}>").as_bytes()));
        assert_eq!(big.impus[2].uri(), "tel:+2");
        big.impus.truncate(1);
        assert_eq!(big.impus.len(), 1);
    }

    #[test]
    fn bracketed_form_only_for_uris_without_angle_brackets() {
        assert_eq!(
            Impu::new("sip:a@b;user=ip").bracketed(),
            Some(&b"<sip:a@b;user=ip>"[..])
        );
        assert_eq!(Impu::new(" <tel:+1> ").bracketed(), Some(&b"<tel:+1>"[..]));
        assert_eq!(Impu::new("sip:a>@b").bracketed(), None);
    }

    /// The word compare decides exactly as `==`, for every length up to
    /// 40 (both sides of its 8..=32 range), with the two slices equal and
    /// differing in each single byte, and for unequal lengths.
    #[test]
    fn eq_words_agrees_with_slice_eq() {
        let base: Vec<u8> = (0..40u8).map(|k| b'a' + k % 26).collect();
        for n in 0..=40 {
            let a = &base[..n];
            let copy = a.to_vec();
            assert!(eq_words(a, copy.as_slice()), "{n}");
            for k in 0..n {
                for flip in [1u8, 0x80] {
                    let mut b = a.to_vec();
                    b[k] ^= flip;
                    assert_eq!(eq_words(a, &b), a == &b[..], "{n} {k} {flip}");
                }
            }
            for m in 0..=40 {
                assert_eq!(eq_words(a, &base[..m]), n == m, "{n} {m}");
            }
        }
    }

    #[test]
    fn is_bracketed_agrees_with_bracketed() {
        let values: [&[u8]; 9] = [
            b"",
            b"<",
            b"<>",
            b"<tel:+1>",
            b"<tel:+2>",
            b"<sip:a@b;user=ip>",
            b"sip:a@b;user=ip",
            b"<sip:a>@b>",
            b"<sip:a@b;user=ip> ",
        ];
        for u in [
            "tel:+1",
            " <tel:+1> ",
            "sip:a@b;user=ip",
            "sip:a>@b",
            "<sip:a>@b>",
            "",
            "<>",
        ] {
            let i = Impu::new(u);
            for v in values {
                assert_eq!(i.is_bracketed(v), i.bracketed() == Some(v), "{u:?} {v:?}");
            }
        }
    }
}
