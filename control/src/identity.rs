//! Identity assertion, TS 24.229 §5.2.6.3 (quoted in seed 002).
//! PLACEHOLDER: being rewritten with RFC 3261 §19.1.4 URI comparison.

use crate::types::{Identity, Impu};

/// Pick the IMPU to assert for a request.
pub fn assert_identity<'a>(ppi: Option<&[u8]>, id: &'a Identity, random: u32) -> Option<&'a Impu> {
    if let Some(p) = ppi {
        let p = core::str::from_utf8(p).unwrap_or("");
        let p = p.trim().trim_start_matches('<').trim_end_matches('>');
        if let Some(i) = id.impus.iter().find(|i| i.uri() == p) {
            return Some(i);
        }
    }
    if id.defaults.is_empty() {
        id.impus.first()
    } else {
        let k = id.defaults[random as usize % id.defaults.len()];
        id.impus.get(k as usize)
    }
}
