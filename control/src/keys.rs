//! ESP key material from IMS AKA keys (TS 33.203 Annex I).
//!
//! Owns: turning the AKA `CK` and `IK` that the S-CSCF sends in the 401 into
//! the keys and salts one ESP SA needs, once, on the control thread, so that
//! workers never derive keys.
//!
//! - HMAC-SHA-1-96: `IK_ESP = IK || 0x00000000` (160 bits).
//! - HMAC-MD5-96: `IK_ESP = IK`.
//! - AES-CBC: `CK_ESP = CK`.
//! - AES-GCM: key `CK`; salt = the 32 least significant bits of
//!   `KDF(CK || IK, S)` with `S = 0x59 || "AES_GCM_SALT" || 0x000C`.
//! - AES-GMAC: key `IK`; salt = the 32 least significant bits of
//!   `KDF(CK || IK, S)` with `S = 0x58 || "AES_GMAC_SALT" || 0x000D`.
//!
//! `KDF` is the generic key derivation function of TS 33.220 Annex B.2:
//! `HMAC-SHA-256(Key, FC || P0 || L0 || ...)`, where `Li` is the two-octet
//! big-endian length of `Pi`.
//!
//! Must never: print, log or format key bytes ([`SaKeys`]'s `Debug` shows
//! only the algorithms), or leave key bytes behind when dropped (zeroized).

use crate::types::{EncrAlg, IntegAlg};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// FC of the AES-GCM salt derivation (TS 33.203 Annex I).
pub const FC_AES_GCM_SALT: u8 = 0x59;
/// FC of the AES-GMAC salt derivation (TS 33.203 Annex I).
pub const FC_AES_GMAC_SALT: u8 = 0x58;
/// P0 of the AES-GCM salt derivation.
pub const P0_AES_GCM_SALT: &[u8] = b"AES_GCM_SALT";
/// P0 of the AES-GMAC salt derivation.
pub const P0_AES_GMAC_SALT: &[u8] = b"AES_GMAC_SALT";

/// The generic KDF of TS 33.220 Annex B.2 with one input parameter P0:
/// `HMAC-SHA-256(key, FC || P0 || L0)`. `p0` must be shorter than 65536
/// octets (longer input is truncated to that length, which never happens
/// with the constants of this module).
pub fn kdf_33220(key: &[u8], fc: u8, p0: &[u8]) -> [u8; 32] {
    let p0 = &p0[..p0.len().min(0xffff)];
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = match <Hmac<Sha256> as Mac>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC takes keys of any length"),
    };
    mac.update(&[fc]);
    mac.update(p0);
    mac.update(&(p0.len() as u16).to_be_bytes());
    mac.finalize().into_bytes().into()
}

/// The 4-byte salt: the 32 least significant bits of the KDF output over
/// `CK || IK`.
fn salt(ck: &[u8; 16], ik: &[u8; 16], fc: u8, p0: &[u8]) -> [u8; 4] {
    let mut key = [0u8; 32];
    key[..16].copy_from_slice(ck);
    key[16..].copy_from_slice(ik);
    let mut out = kdf_33220(&key, fc, p0);
    key.zeroize();
    let mut s = [0u8; 4];
    s.copy_from_slice(&out[28..32]);
    out.zeroize();
    s
}

/// Whether `integ` and `encr` form a combination TS 33.203 allows:
/// `null` integrity only with AES-GCM, AES-GCM only with `null` integrity,
/// and AES-GMAC only with `null` encryption.
pub const fn is_valid_combination(integ: IntegAlg, encr: EncrAlg) -> bool {
    match (integ, encr) {
        (IntegAlg::Null, EncrAlg::AesGcm) => true,
        (IntegAlg::Null, _) | (_, EncrAlg::AesGcm) => false,
        (IntegAlg::AesGmac, EncrAlg::Null) => true,
        (IntegAlg::AesGmac, _) => false,
        (IntegAlg::HmacSha196 | IntegAlg::HmacMd596, EncrAlg::Null | EncrAlg::AesCbc) => true,
    }
}

/// The key material of one ESP SA, ready for the data plane to build its key
/// schedules from.
///
/// `Debug` prints the algorithms only; the bytes are zeroized on drop.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SaKeys {
    #[zeroize(skip)]
    integ: IntegAlg,
    #[zeroize(skip)]
    encr: EncrAlg,
    integ_key: [u8; 20],
    integ_key_len: u8,
    encr_key: [u8; 16],
    encr_key_len: u8,
    salt: [u8; 4],
}

impl core::fmt::Debug for SaKeys {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SaKeys")
            .field("integ", &self.integ.name())
            .field("encr", &self.encr.name())
            .finish_non_exhaustive()
    }
}

impl SaKeys {
    /// Key material given directly (tests, static SAs, peers' key files):
    /// `integ_key` is the HMAC key (20 bytes for SHA-1, 16 for MD5) or the
    /// AES-GMAC key (16 bytes), `encr_key` the AES-CBC or AES-GCM key
    /// (16 bytes), `salt` the GCM/GMAC salt. Returns `None` when a length
    /// does not fit the algorithm.
    pub fn from_raw(
        integ: IntegAlg,
        encr: EncrAlg,
        integ_key: &[u8],
        encr_key: &[u8],
        salt: [u8; 4],
    ) -> Option<Self> {
        let want_i = match integ {
            IntegAlg::HmacSha196 => 20,
            IntegAlg::HmacMd596 | IntegAlg::AesGmac => 16,
            IntegAlg::Null => 0,
        };
        let want_e = match encr {
            EncrAlg::Null => 0,
            EncrAlg::AesCbc | EncrAlg::AesGcm => 16,
        };
        if integ_key.len() != want_i || encr_key.len() != want_e {
            return None;
        }
        let mut k = SaKeys {
            integ,
            encr,
            integ_key: [0; 20],
            integ_key_len: want_i as u8,
            encr_key: [0; 16],
            encr_key_len: want_e as u8,
            salt,
        };
        k.integ_key[..want_i].copy_from_slice(integ_key);
        k.encr_key[..want_e].copy_from_slice(encr_key);
        Some(k)
    }

    /// The integrity algorithm.
    pub fn integ(&self) -> IntegAlg {
        self.integ
    }

    /// The encryption algorithm.
    pub fn encr(&self) -> EncrAlg {
        self.encr
    }

    /// The integrity key: 20 bytes (HMAC-SHA-1-96), 16 (HMAC-MD5-96 or
    /// AES-GMAC) or empty (null).
    pub fn integ_key(&self) -> &[u8] {
        &self.integ_key[..self.integ_key_len as usize]
    }

    /// The encryption key: 16 bytes (AES-CBC, AES-GCM) or empty (null).
    pub fn encr_key(&self) -> &[u8] {
        &self.encr_key[..self.encr_key_len as usize]
    }

    /// The 4-byte nonce salt of AES-GCM or AES-GMAC (zero for the others).
    pub fn salt(&self) -> [u8; 4] {
        self.salt
    }

    /// Whether the algorithms form a combination TS 33.203 allows.
    pub fn is_valid(&self) -> bool {
        is_valid_combination(self.integ, self.encr)
    }
}

/// Derive the key material of one ESP SA from the AKA keys (TS 33.203
/// Annex I). Invalid combinations (see [`is_valid_combination`]) still get
/// their keys; the data plane refuses to build an SA from them.
pub fn derive_sa_keys(ck: &[u8; 16], ik: &[u8; 16], integ: IntegAlg, encr: EncrAlg) -> SaKeys {
    let mut k = SaKeys {
        integ,
        encr,
        integ_key: [0; 20],
        integ_key_len: 0,
        encr_key: [0; 16],
        encr_key_len: 0,
        salt: [0; 4],
    };
    match integ {
        IntegAlg::HmacSha196 => {
            // IK extended with 32 zero bits to 160 bits.
            k.integ_key[..16].copy_from_slice(ik);
            k.integ_key_len = 20;
        }
        IntegAlg::HmacMd596 => {
            k.integ_key[..16].copy_from_slice(ik);
            k.integ_key_len = 16;
        }
        IntegAlg::AesGmac => {
            k.integ_key[..16].copy_from_slice(ik);
            k.integ_key_len = 16;
            k.salt = salt(ck, ik, FC_AES_GMAC_SALT, P0_AES_GMAC_SALT);
        }
        IntegAlg::Null => {}
    }
    match encr {
        EncrAlg::Null => {}
        EncrAlg::AesCbc => {
            k.encr_key.copy_from_slice(ck);
            k.encr_key_len = 16;
        }
        EncrAlg::AesGcm => {
            k.encr_key.copy_from_slice(ck);
            k.encr_key_len = 16;
            k.salt = salt(ck, ik, FC_AES_GCM_SALT, P0_AES_GCM_SALT);
        }
    }
    k
}

#[cfg(test)]
mod tests {
    use super::*;

    const CK: [u8; 16] = [
        0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff,
    ];
    const IK: [u8; 16] = [
        0x0f, 0x1e, 0x2d, 0x3c, 0x4b, 0x5a, 0x69, 0x78, 0x87, 0x96, 0xa5, 0xb4, 0xc3, 0xd2, 0xe1, 0xf0,
    ];

    /// The KDF input string is FC || P0 || L0 with a big-endian two-octet L0.
    #[test]
    fn kdf_input_string_layout() {
        let key = [0x42u8; 32];
        let got = kdf_33220(&key, 0x59, b"AES_GCM_SALT");
        let mut s = vec![0x59u8];
        s.extend_from_slice(b"AES_GCM_SALT");
        s.extend_from_slice(&[0x00, 0x0C]);
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&key).unwrap();
        mac.update(&s);
        let want: [u8; 32] = mac.finalize().into_bytes().into();
        assert_eq!(got, want);
        // L0 of the GMAC string is 0x000D.
        assert_eq!(P0_AES_GMAC_SALT.len(), 0x0D);
        assert_eq!(P0_AES_GCM_SALT.len(), 0x0C);
    }

    /// HMAC-SHA-256 known answer (RFC 4231 test case 2): the KDF rests on a
    /// checked primitive.
    #[test]
    fn hmac_sha256_rfc4231_case2() {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(b"Jefe").unwrap();
        mac.update(b"what do ya want for nothing?");
        let got: [u8; 32] = mac.finalize().into_bytes().into();
        let want = [
            0x5b, 0xdc, 0xc1, 0x46, 0xbf, 0x60, 0x75, 0x4e, 0x6a, 0x04, 0x24, 0x26, 0x08, 0x95, 0x75, 0xc7,
            0x5a, 0x00, 0x3f, 0x08, 0x9d, 0x27, 0x39, 0x83, 0x9d, 0xec, 0x58, 0xb9, 0x64, 0xec, 0x38, 0x43,
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn sha1_key_is_ik_plus_32_zero_bits() {
        let k = derive_sa_keys(&CK, &IK, IntegAlg::HmacSha196, EncrAlg::AesCbc);
        assert_eq!(&k.integ_key()[..16], &IK);
        assert_eq!(&k.integ_key()[16..], &[0, 0, 0, 0]);
        assert_eq!(k.encr_key(), &CK);
        assert!(k.is_valid());
    }

    #[test]
    fn md5_key_is_ik() {
        let k = derive_sa_keys(&CK, &IK, IntegAlg::HmacMd596, EncrAlg::Null);
        assert_eq!(k.integ_key(), &IK);
        assert!(k.encr_key().is_empty());
    }

    #[test]
    fn gcm_salt_is_low_32_bits_of_kdf() {
        let k = derive_sa_keys(&CK, &IK, IntegAlg::Null, EncrAlg::AesGcm);
        let mut key = [0u8; 32];
        key[..16].copy_from_slice(&CK);
        key[16..].copy_from_slice(&IK);
        let full = kdf_33220(&key, 0x59, b"AES_GCM_SALT");
        assert_eq!(k.salt(), [full[28], full[29], full[30], full[31]]);
        assert_eq!(k.encr_key(), &CK);
        assert!(k.integ_key().is_empty());
        // Not a constant: another CK gives another salt.
        let k2 = derive_sa_keys(&IK, &CK, IntegAlg::Null, EncrAlg::AesGcm);
        assert_ne!(k.salt(), k2.salt());
    }

    #[test]
    fn gmac_salt_uses_its_own_fc_and_label() {
        let gmac = derive_sa_keys(&CK, &IK, IntegAlg::AesGmac, EncrAlg::Null);
        let gcm = derive_sa_keys(&CK, &IK, IntegAlg::Null, EncrAlg::AesGcm);
        assert_ne!(gmac.salt(), gcm.salt());
        assert_eq!(gmac.integ_key(), &IK);
        let mut key = [0u8; 32];
        key[..16].copy_from_slice(&CK);
        key[16..].copy_from_slice(&IK);
        let full = kdf_33220(&key, 0x58, b"AES_GMAC_SALT");
        assert_eq!(gmac.salt(), [full[28], full[29], full[30], full[31]]);
    }

    /// Known answers computed independently (Python's hmac/hashlib) for the
    /// CK and IK above.
    #[test]
    fn salt_known_answers() {
        let gcm = derive_sa_keys(&CK, &IK, IntegAlg::Null, EncrAlg::AesGcm);
        assert_eq!(gcm.salt(), [0x7a, 0x63, 0x66, 0x66]);
        let gmac = derive_sa_keys(&CK, &IK, IntegAlg::AesGmac, EncrAlg::Null);
        assert_eq!(gmac.salt(), [0x75, 0xc3, 0xaf, 0x15]);
    }

    #[test]
    fn combinations() {
        assert!(is_valid_combination(IntegAlg::Null, EncrAlg::AesGcm));
        assert!(!is_valid_combination(IntegAlg::Null, EncrAlg::Null));
        assert!(!is_valid_combination(IntegAlg::Null, EncrAlg::AesCbc));
        assert!(!is_valid_combination(IntegAlg::HmacSha196, EncrAlg::AesGcm));
        assert!(is_valid_combination(IntegAlg::AesGmac, EncrAlg::Null));
        assert!(!is_valid_combination(IntegAlg::AesGmac, EncrAlg::AesCbc));
        assert!(is_valid_combination(IntegAlg::HmacMd596, EncrAlg::AesCbc));
    }

    #[test]
    fn debug_never_prints_key_bytes() {
        let k = derive_sa_keys(&[0xAB; 16], &[0xCD; 16], IntegAlg::HmacSha196, EncrAlg::AesCbc);
        let s = format!("{k:?}");
        // 0xAB = 171, 0xCD = 205: neither decimal nor hex bytes appear.
        assert!(!s.contains("171") && !s.contains("205"), "{s}");
        assert!(
            !s.to_lowercase().contains("ab, ") && !s.to_lowercase().contains("cd, "),
            "{s}"
        );
        assert!(s.contains("hmac-sha-1-96") && s.contains("aes-cbc"));
    }

    #[test]
    fn from_raw_checks_lengths() {
        assert!(SaKeys::from_raw(IntegAlg::HmacSha196, EncrAlg::Null, &[1; 16], &[], [0; 4]).is_none());
        let k = SaKeys::from_raw(IntegAlg::HmacSha196, EncrAlg::AesCbc, &[1; 20], &[2; 16], [0; 4]).unwrap();
        assert_eq!(k.integ_key(), &[1; 20]);
        assert_eq!(k.encr_key(), &[2; 16]);
    }
}
