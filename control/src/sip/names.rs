//! Header names: the known SIP headers as an enum, with their compact forms
//! (RFC 3261 §7.3.3 and the IANA registry), recognised case-insensitively.
//!
//! Owns only name classification. Must never allocate: classification runs
//! once per header line on the data plane's fast path.

/// A header name the parser recognises. Unknown names are [`HeaderName::Other`]
/// and are matched by their text, case-insensitively.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum HeaderName {
    /// Any name not listed here.
    #[default]
    Other,
    /// `Via` / `v`.
    Via,
    /// `From` / `f`.
    From,
    /// `To` / `t`.
    To,
    /// `Call-ID` / `i`.
    CallId,
    /// `CSeq`.
    CSeq,
    /// `Contact` / `m`.
    Contact,
    /// `Content-Length` / `l`.
    ContentLength,
    /// `Content-Type` / `c`.
    ContentType,
    /// `Content-Encoding` / `e`.
    ContentEncoding,
    /// `Subject` / `s`.
    Subject,
    /// `Supported` / `k`.
    Supported,
    /// `Event` / `o`.
    Event,
    /// `Allow-Events` / `u`.
    AllowEvents,
    /// `Refer-To` / `r`.
    ReferTo,
    /// `Session-Expires` / `x`.
    SessionExpires,
    /// `Identity` / `y`.
    Identity,
    /// `Accept-Contact` / `a`.
    AcceptContact,
    /// `Referred-By` / `b`.
    ReferredBy,
    /// `Reject-Contact` / `j`.
    RejectContact,
    /// `Request-Disposition` / `d`.
    RequestDisposition,
    /// `Identity-Info` / `n`.
    IdentityInfo,
    /// `Expires`.
    Expires,
    /// `Max-Forwards`.
    MaxForwards,
    /// `Route`.
    Route,
    /// `Record-Route`.
    RecordRoute,
    /// `Path`.
    Path,
    /// `Service-Route`.
    ServiceRoute,
    /// `Require`.
    Require,
    /// `Proxy-Require`.
    ProxyRequire,
    /// `Authorization`.
    Authorization,
    /// `Proxy-Authorization`.
    ProxyAuthorization,
    /// `WWW-Authenticate`.
    WwwAuthenticate,
    /// `Proxy-Authenticate`.
    ProxyAuthenticate,
    /// `Authentication-Info`.
    AuthenticationInfo,
    /// `Security-Client`.
    SecurityClient,
    /// `Security-Server`.
    SecurityServer,
    /// `Security-Verify`.
    SecurityVerify,
    /// `P-Associated-URI`.
    PAssociatedUri,
    /// `P-Preferred-Identity`.
    PPreferredIdentity,
    /// `P-Asserted-Identity`.
    PAssertedIdentity,
    /// `P-Access-Network-Info`.
    PAccessNetworkInfo,
    /// `P-Visited-Network-ID`.
    PVisitedNetworkId,
    /// `P-Charging-Vector`.
    PChargingVector,
    /// `Retry-After`.
    RetryAfter,
    /// `User-Agent`.
    UserAgent,
    /// `Allow`.
    Allow,
    /// `Unsupported`.
    Unsupported,
}

impl HeaderName {
    /// The canonical long form (`"Other"` for [`HeaderName::Other`]).
    pub const fn as_str(self) -> &'static str {
        use HeaderName::*;
        match self {
            Other => "Other",
            Via => "Via",
            From => "From",
            To => "To",
            CallId => "Call-ID",
            CSeq => "CSeq",
            Contact => "Contact",
            ContentLength => "Content-Length",
            ContentType => "Content-Type",
            ContentEncoding => "Content-Encoding",
            Subject => "Subject",
            Supported => "Supported",
            Event => "Event",
            AllowEvents => "Allow-Events",
            ReferTo => "Refer-To",
            SessionExpires => "Session-Expires",
            Identity => "Identity",
            AcceptContact => "Accept-Contact",
            ReferredBy => "Referred-By",
            RejectContact => "Reject-Contact",
            RequestDisposition => "Request-Disposition",
            IdentityInfo => "Identity-Info",
            Expires => "Expires",
            MaxForwards => "Max-Forwards",
            Route => "Route",
            RecordRoute => "Record-Route",
            Path => "Path",
            ServiceRoute => "Service-Route",
            Require => "Require",
            ProxyRequire => "Proxy-Require",
            Authorization => "Authorization",
            ProxyAuthorization => "Proxy-Authorization",
            WwwAuthenticate => "WWW-Authenticate",
            ProxyAuthenticate => "Proxy-Authenticate",
            AuthenticationInfo => "Authentication-Info",
            SecurityClient => "Security-Client",
            SecurityServer => "Security-Server",
            SecurityVerify => "Security-Verify",
            PAssociatedUri => "P-Associated-URI",
            PPreferredIdentity => "P-Preferred-Identity",
            PAssertedIdentity => "P-Asserted-Identity",
            PAccessNetworkInfo => "P-Access-Network-Info",
            PVisitedNetworkId => "P-Visited-Network-ID",
            PChargingVector => "P-Charging-Vector",
            RetryAfter => "Retry-After",
            UserAgent => "User-Agent",
            Allow => "Allow",
            Unsupported => "Unsupported",
        }
    }

    /// The compact form, if the header has one.
    pub const fn compact(self) -> Option<u8> {
        use HeaderName::*;
        Some(match self {
            CallId => b'i',
            Contact => b'm',
            ContentEncoding => b'e',
            ContentLength => b'l',
            ContentType => b'c',
            From => b'f',
            Subject => b's',
            Supported => b'k',
            To => b't',
            Via => b'v',
            Event => b'o',
            AllowEvents => b'u',
            ReferTo => b'r',
            SessionExpires => b'x',
            Identity => b'y',
            AcceptContact => b'a',
            ReferredBy => b'b',
            RejectContact => b'j',
            RequestDisposition => b'd',
            IdentityInfo => b'n',
            _ => return None,
        })
    }

    /// Classify a header name as written (long or compact form, any case).
    pub fn classify(name: &[u8]) -> HeaderName {
        use HeaderName::*;
        if name.len() == 1 {
            return match name[0] | 0x20 {
                b'i' => CallId,
                b'm' => Contact,
                b'e' => ContentEncoding,
                b'l' => ContentLength,
                b'c' => ContentType,
                b'f' => From,
                b's' => Subject,
                b'k' => Supported,
                b't' => To,
                b'v' => Via,
                b'o' => Event,
                b'u' => AllowEvents,
                b'r' => ReferTo,
                b'x' => SessionExpires,
                b'y' => Identity,
                b'a' => AcceptContact,
                b'b' => ReferredBy,
                b'j' => RejectContact,
                b'd' => RequestDisposition,
                b'n' => IdentityInfo,
                _ => Other,
            };
        }
        // One candidate per (length, first, last) letter, then one
        // case-insensitive compare: no loop over the table.
        let (Some(&f), Some(&l)) = (name.first(), name.last()) else {
            return Other;
        };
        let cand = match (name.len(), f.to_ascii_lowercase(), l.to_ascii_lowercase()) {
            (2, b't', b'o') => To,
            (3, b'v', b'a') => Via,
            (4, b'c', b'q') => CSeq,
            (4, b'f', b'm') => From,
            (4, b'p', b'h') => Path,
            (5, b'a', b'w') => Allow,
            (5, b'e', b't') => Event,
            (5, b'r', b'e') => Route,
            (7, b'c', b'd') => CallId,
            (7, b'c', b't') => Contact,
            (7, b'e', b's') => Expires,
            (7, b'r', b'e') => Require,
            (7, b's', b't') => Subject,
            (8, b'i', b'y') => Identity,
            (8, b'r', b'o') => ReferTo,
            (9, b's', b'd') => Supported,
            (10, b'u', b't') => UserAgent,
            (11, b'r', b'r') => RetryAfter,
            (11, b'r', b'y') => ReferredBy,
            (11, b'u', b'd') => Unsupported,
            (12, b'a', b's') => AllowEvents,
            (12, b'c', b'e') => ContentType,
            (12, b'm', b's') => MaxForwards,
            (12, b'r', b'e') => RecordRoute,
            (13, b'a', b'n') => Authorization,
            (13, b'i', b'o') => IdentityInfo,
            (13, b'p', b'e') => ProxyRequire,
            (13, b's', b'e') => ServiceRoute,
            (14, b'a', b't') => AcceptContact,
            (14, b'c', b'h') => ContentLength,
            (14, b'r', b't') => RejectContact,
            (15, b's', b'r') => SecurityServer,
            (15, b's', b's') => SessionExpires,
            (15, b's', b't') => SecurityClient,
            (15, b's', b'y') => SecurityVerify,
            (16, b'c', b'g') => ContentEncoding,
            (16, b'p', b'i') => PAssociatedUri,
            (16, b'w', b'e') => WwwAuthenticate,
            (17, b'p', b'r') => PChargingVector,
            (18, b'p', b'e') => ProxyAuthenticate,
            (19, b'a', b'o') => AuthenticationInfo,
            (19, b'p', b'n') => ProxyAuthorization,
            (19, b'p', b'y') => PAssertedIdentity,
            (19, b'r', b'n') => RequestDisposition,
            (20, b'p', b'd') => PVisitedNetworkId,
            (20, b'p', b'y') => PPreferredIdentity,
            (21, b'p', b'o') => PAccessNetworkInfo,
            _ => return Other,
        };
        // Exact bytes first (names are nearly always written in canonical
        // case: one memcmp), then the byte-wise case-insensitive compare.
        let canon = cand.as_str().as_bytes();
        if canon == name || canon.eq_ignore_ascii_case(name) {
            cand
        } else {
            Other
        }
    }
}

/// All known names (tests and docs).
#[cfg(test)]
const ALL: &[HeaderName] = {
    use HeaderName::*;
    &[
        Via,
        From,
        To,
        CallId,
        CSeq,
        Contact,
        ContentLength,
        ContentType,
        ContentEncoding,
        Subject,
        Supported,
        Event,
        AllowEvents,
        ReferTo,
        SessionExpires,
        Identity,
        AcceptContact,
        ReferredBy,
        RejectContact,
        RequestDisposition,
        IdentityInfo,
        Expires,
        MaxForwards,
        Route,
        RecordRoute,
        Path,
        ServiceRoute,
        Require,
        ProxyRequire,
        Authorization,
        ProxyAuthorization,
        WwwAuthenticate,
        ProxyAuthenticate,
        AuthenticationInfo,
        SecurityClient,
        SecurityServer,
        SecurityVerify,
        PAssociatedUri,
        PPreferredIdentity,
        PAssertedIdentity,
        PAccessNetworkInfo,
        PVisitedNetworkId,
        PChargingVector,
        RetryAfter,
        UserAgent,
        Allow,
        Unsupported,
    ]
};

/// Something a header can be looked up by: a [`HeaderName`], or a name as text
/// (long or compact form, any case).
pub trait AsHeaderName<'n> {
    /// The classified name, and the text to compare when it is
    /// [`HeaderName::Other`].
    fn to_lookup(self) -> (HeaderName, &'n [u8]);
}

impl<'n> AsHeaderName<'n> for HeaderName {
    fn to_lookup(self) -> (HeaderName, &'n [u8]) {
        (self, b"")
    }
}

impl<'n> AsHeaderName<'n> for &'n str {
    fn to_lookup(self) -> (HeaderName, &'n [u8]) {
        (HeaderName::classify(self.as_bytes()), self.as_bytes())
    }
}

impl<'n> AsHeaderName<'n> for &'n [u8] {
    fn to_lookup(self) -> (HeaderName, &'n [u8]) {
        (HeaderName::classify(self), self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_every_long_name_case_insensitive() {
        for &c in ALL {
            assert_eq!(HeaderName::classify(c.as_str().as_bytes()), c);
            let up = c.as_str().to_ascii_uppercase();
            assert_eq!(HeaderName::classify(up.as_bytes()), c);
            let low = c.as_str().to_ascii_lowercase();
            assert_eq!(HeaderName::classify(low.as_bytes()), c);
        }
    }

    #[test]
    fn parse_every_compact_name() {
        let mut n = 0;
        for &c in ALL {
            if let Some(k) = c.compact() {
                assert_eq!(HeaderName::classify(&[k]), c);
                assert_eq!(HeaderName::classify(&[k.to_ascii_uppercase()]), c);
                n += 1;
            }
        }
        assert_eq!(n, 20, "i,m,e,l,c,f,s,k,t,v,o,u,r,x,y,a,b,j,d,n");
        assert_eq!(HeaderName::classify(b"z"), HeaderName::Other);
        assert_eq!(HeaderName::classify(b"X-Foo"), HeaderName::Other);
    }
}
