//! ESP crypto behind one small trait ([`EspCrypto`], after quinn's
//! `PacketKey`): in-place `seal` and `open` over a whole ESP packet, plus the
//! lengths the framing needs.
//!
//! Providers (chosen by benchmark, see `README.md` beside this file):
//! - AES-128-GCM (RFC 4106): `ring` (fastest seal; open on par).
//! - AES-GMAC (RFC 4543): `aws-lc-rs` (ring hashes a long AAD slowly).
//! - HMAC-SHA-1-96 (RFC 2404), HMAC-MD5-96 (RFC 2403): RustCrypto `hmac` +
//!   `sha1` (SHA-NI at run time) / `md-5`.
//! - AES-128-CBC (RFC 3602): encrypt with RustCrypto `aes` (AES-NI at run
//!   time) + `cbc`; decrypt with `aws-lc-rs` (its parallel CBC decrypt is
//!   the fastest measured).
//! - [`NullCrypto`]: no protection at all, for fuzzing and for measuring
//!   framing cost apart from crypto cost. Never built from a config.
//!
//! The packet layout every method sees is the ESP packet from the SPI to the
//! end of the ICV: `SPI(4) | Seq(4) | IV(iv_len) | ciphertext | ICV(icv_len)`.
//!
//! Must never: allocate, log or format key bytes, derive keys (key schedules
//! are built once in [`SaCrypto::new`], on the control thread), or compare an
//! ICV in variable time.

use control::keys::SaKeys;
use control::types::{EncrAlg, IntegAlg};
use hmac::Mac;
use subtle::ConstantTimeEq;
use zeroize::Zeroize;

/// Length of the ESP header (SPI and sequence number).
pub const ESP_HDR_LEN: usize = 8;

/// Why `open` failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpenError {
    /// The ICV did not verify.
    BadIcv,
    /// The packet is too short for the IV and ICV.
    Truncated,
    /// The ciphertext is not a whole number of cipher blocks.
    BadLength,
}

/// Why `seal` failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SealError {
    /// The buffer does not have the layout the transform needs (a framing
    /// bug, never network input).
    BadLayout,
}

/// One direction's ESP transform: in-place open and seal of a whole ESP
/// packet.
pub trait EspCrypto: Send + Sync {
    /// Bytes of explicit IV after the ESP header.
    fn iv_len(&self) -> usize;
    /// Bytes of ICV at the end of the packet.
    fn icv_len(&self) -> usize;
    /// The plaintext (payload, padding, pad length, next header) must be a
    /// multiple of this (RFC 4303 §2.4: at least 4).
    fn block_size(&self) -> usize;
    /// Write the explicit IV of the packet with sequence number `seq` into
    /// `iv` (`iv_len` bytes). GCM and GMAC use the 64-bit counter (unique per
    /// key because the sequence number never wraps); CBC uses an
    /// unpredictable IV (see [`CbcEnc`]).
    fn write_iv(&self, seq: u64, iv: &mut [u8]);
    /// Encrypt and authenticate `pkt` in place: the header and IV are
    /// already written, the plaintext follows, and the last `icv_len` bytes
    /// receive the ICV.
    fn seal(&self, pkt: &mut [u8]) -> Result<(), SealError>;
    /// Verify the ICV of `pkt` in constant time and, only if it is good,
    /// decrypt the ciphertext in place.
    fn open(&self, pkt: &mut [u8]) -> Result<(), OpenError>;
}

/// No integrity and no encryption: for fuzzing and cost measurement only.
#[derive(Clone, Copy, Debug, Default)]
pub struct NullCrypto;

impl EspCrypto for NullCrypto {
    fn iv_len(&self) -> usize {
        0
    }
    fn icv_len(&self) -> usize {
        0
    }
    fn block_size(&self) -> usize {
        4
    }
    fn write_iv(&self, _seq: u64, _iv: &mut [u8]) {}
    fn seal(&self, pkt: &mut [u8]) -> Result<(), SealError> {
        if pkt.len() < ESP_HDR_LEN {
            return Err(SealError::BadLayout);
        }
        Ok(())
    }
    fn open(&self, pkt: &mut [u8]) -> Result<(), OpenError> {
        if pkt.len() < ESP_HDR_LEN {
            return Err(OpenError::Truncated);
        }
        Ok(())
    }
}

/// Key material held by value in a type that does not clear itself (ring's
/// AES key schedule, the keyed HMAC states): its bytes are overwritten with
/// zeros when it is dropped.
///
/// Only for types without drop glue (checked at compile time): such a value
/// owns no heap memory or other resource, so skipping its (empty) destructor
/// and clearing its bytes in place loses nothing.
pub struct Wiped<T>(core::mem::ManuallyDrop<T>);

impl<T> Wiped<T> {
    const NO_DROP_GLUE: () = assert!(!core::mem::needs_drop::<T>(), "Wiped<T> needs a plain-data T");

    /// Wrap a value.
    pub fn new(v: T) -> Self {
        #[allow(clippy::let_unit_value)]
        let () = Self::NO_DROP_GLUE;
        Wiped(core::mem::ManuallyDrop::new(v))
    }
}

impl<T> core::ops::Deref for Wiped<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: Clone> Clone for Wiped<T> {
    fn clone(&self) -> Self {
        Wiped::new((*self.0).clone())
    }
}

impl<T> Drop for Wiped<T> {
    #[allow(unsafe_code)]
    fn drop(&mut self) {
        let p: *mut T = &mut *self.0;
        // SAFETY: `p` points to a live, exclusively borrowed `T` of
        // `size_of::<T>()` bytes. `T` has no drop glue (asserted in `new`), so
        // it owns nothing that its destructor would release, and nothing reads
        // the value after this (the `ManuallyDrop` is never dropped or taken).
        // Volatile byte writes so that the compiler cannot elide them as dead
        // stores.
        unsafe {
            let bytes = p.cast::<u8>();
            for i in 0..core::mem::size_of::<T>() {
                core::ptr::write_volatile(bytes.add(i), 0);
            }
        }
        core::sync::atomic::compiler_fence(core::sync::atomic::Ordering::SeqCst);
    }
}

/// AES-128-GCM with a 16-byte ICV and an 8-byte explicit IV (RFC 4106).
pub struct Gcm {
    key: Wiped<ring::aead::LessSafeKey>,
    salt: [u8; 4],
}

impl Gcm {
    fn nonce(&self, iv: &[u8]) -> ring::aead::Nonce {
        let mut n = [0u8; 12];
        n[..4].copy_from_slice(&self.salt);
        n[4..].copy_from_slice(&iv[..8]);
        ring::aead::Nonce::assume_unique_for_key(n)
    }
}

impl Drop for Gcm {
    fn drop(&mut self) {
        // ring zeroizes nothing itself; `Wiped` clears its key schedule.
        self.salt.zeroize();
    }
}

impl EspCrypto for Gcm {
    fn iv_len(&self) -> usize {
        8
    }
    fn icv_len(&self) -> usize {
        16
    }
    fn block_size(&self) -> usize {
        4
    }
    fn write_iv(&self, seq: u64, iv: &mut [u8]) {
        iv[..8].copy_from_slice(&seq.to_be_bytes());
    }
    fn seal(&self, pkt: &mut [u8]) -> Result<(), SealError> {
        let n = pkt.len();
        if n < ESP_HDR_LEN + 8 + 16 {
            return Err(SealError::BadLayout);
        }
        let (head, rest) = pkt.split_at_mut(ESP_HDR_LEN + 8);
        let (pt, icv) = rest.split_at_mut(n - ESP_HDR_LEN - 8 - 16);
        let nonce = self.nonce(&head[ESP_HDR_LEN..]);
        let aad = ring::aead::Aad::from(&head[..ESP_HDR_LEN]);
        let tag = self
            .key
            .seal_in_place_separate_tag(nonce, aad, pt)
            .map_err(|_| SealError::BadLayout)?;
        icv.copy_from_slice(tag.as_ref());
        Ok(())
    }
    fn open(&self, pkt: &mut [u8]) -> Result<(), OpenError> {
        if pkt.len() < ESP_HDR_LEN + 8 + 16 {
            return Err(OpenError::Truncated);
        }
        let (head, ct) = pkt.split_at_mut(ESP_HDR_LEN + 8);
        let nonce = self.nonce(&head[ESP_HDR_LEN..]);
        let aad = ring::aead::Aad::from(&head[..ESP_HDR_LEN]);
        // ring verifies the tag in constant time and only then reports
        // success; on failure the buffer content is unspecified and the
        // packet is dropped.
        self.key
            .open_in_place(nonce, aad, ct)
            .map(|_| ())
            .map_err(|_| OpenError::BadIcv)
    }
}

/// AES-GMAC with a 16-byte ICV and an 8-byte explicit IV, null cipher
/// (RFC 4543): the AAD is SPI, sequence number, IV and the whole plaintext.
pub struct Gmac {
    key: aws_lc_rs::aead::LessSafeKey,
    salt: [u8; 4],
}

impl Drop for Gmac {
    fn drop(&mut self) {
        self.salt.zeroize();
    }
}

impl Gmac {
    fn tag(&self, authed: &[u8]) -> Result<aws_lc_rs::aead::Tag, aws_lc_rs::error::Unspecified> {
        let mut n = [0u8; 12];
        n[..4].copy_from_slice(&self.salt);
        n[4..].copy_from_slice(&authed[ESP_HDR_LEN..ESP_HDR_LEN + 8]);
        let nonce = aws_lc_rs::aead::Nonce::assume_unique_for_key(n);
        self.key
            .seal_in_place_separate_tag(nonce, aws_lc_rs::aead::Aad::from(authed), &mut [])
    }
}

impl EspCrypto for Gmac {
    fn iv_len(&self) -> usize {
        8
    }
    fn icv_len(&self) -> usize {
        16
    }
    fn block_size(&self) -> usize {
        4
    }
    fn write_iv(&self, seq: u64, iv: &mut [u8]) {
        iv[..8].copy_from_slice(&seq.to_be_bytes());
    }
    fn seal(&self, pkt: &mut [u8]) -> Result<(), SealError> {
        let n = pkt.len();
        if n < ESP_HDR_LEN + 8 + 16 {
            return Err(SealError::BadLayout);
        }
        let (authed, icv) = pkt.split_at_mut(n - 16);
        let tag = self.tag(authed).map_err(|_| SealError::BadLayout)?;
        icv.copy_from_slice(tag.as_ref());
        Ok(())
    }
    fn open(&self, pkt: &mut [u8]) -> Result<(), OpenError> {
        let n = pkt.len();
        if n < ESP_HDR_LEN + 8 + 16 {
            return Err(OpenError::Truncated);
        }
        let (authed, icv) = pkt.split_at(n - 16);
        let tag = self.tag(authed).map_err(|_| OpenError::BadIcv)?;
        if bool::from(tag.as_ref().ct_eq(icv)) {
            Ok(())
        } else {
            Err(OpenError::BadIcv)
        }
    }
}

/// A keyed HMAC, 96-bit truncated (RFC 2403/2404). The keyed inner and outer
/// states are precomputed; each packet clones them.
#[derive(Clone)]
pub enum Hmac96 {
    /// HMAC-SHA-1-96 (keyed states cleared on drop).
    Sha1(Wiped<hmac::Hmac<sha1::Sha1>>),
    /// HMAC-MD5-96 (keyed states cleared on drop).
    Md5(Wiped<hmac::Hmac<md5::Md5>>),
}

impl Hmac96 {
    /// Compute the 12-byte ICV of `data`.
    #[inline]
    pub fn icv(&self, data: &[u8]) -> [u8; 12] {
        let mut out = [0u8; 12];
        match self {
            Hmac96::Sha1(k) => {
                let mut m = (**k).clone();
                m.update(data);
                out.copy_from_slice(&m.finalize().into_bytes()[..12]);
            }
            Hmac96::Md5(k) => {
                let mut m = (**k).clone();
                m.update(data);
                out.copy_from_slice(&m.finalize().into_bytes()[..12]);
            }
        }
        out
    }
}

/// AES-128-CBC (RFC 3602) with its precomputed key schedules and a private
/// key for IV generation.
///
/// IVs: RFC 3602 §3 requires an unpredictable IV. Each packet's IV is
/// `AES(K_iv, SPI-independent counter block)`, where `K_iv` is a random key
/// drawn from the OS when the SA is built and never leaves this struct, and
/// the block holds the 64-bit sequence number: a pseudo-random permutation
/// of a never-repeating input, so IVs are unpredictable to anyone without
/// `K_iv` and never repeat under one SA (the NIST SP 800-38A Appendix C
/// construction, with a separate key). It costs one AES block per packet
/// and no per-worker RNG state.
pub struct CbcEnc {
    enc: aes::Aes128Enc,
    dec: aws_lc_rs::cipher::DecryptingKey,
    iv_key: aes::Aes128Enc,
}

impl CbcEnc {
    fn new(key: &[u8]) -> Option<Self> {
        use aes::cipher::KeyInit;
        let enc = aes::Aes128Enc::new_from_slice(key).ok()?;
        let dec = aws_lc_rs::cipher::DecryptingKey::cbc(
            aws_lc_rs::cipher::UnboundCipherKey::new(&aws_lc_rs::cipher::AES_128, key).ok()?,
        )
        .ok()?;
        let mut ivk = [0u8; 16];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut ivk).ok()?;
        let iv_key = aes::Aes128Enc::new_from_slice(&ivk).ok()?;
        ivk.zeroize();
        Some(CbcEnc { enc, dec, iv_key })
    }

    fn encrypt(&self, iv: &[u8], data: &mut [u8]) {
        use aes::cipher::{BlockEncryptMut, InnerIvInit};
        let mut e = cbc::Encryptor::<aes::Aes128Enc>::inner_iv_init(self.enc.clone(), iv.into());
        let (blocks, _) = aes::cipher::inout::InOutBuf::from(data).into_chunks();
        e.encrypt_blocks_inout_mut(blocks);
    }

    fn decrypt(&self, iv: &[u8], data: &mut [u8]) -> Result<(), OpenError> {
        let iv: [u8; 16] = iv.try_into().map_err(|_| OpenError::Truncated)?;
        let ctx = aws_lc_rs::cipher::DecryptionContext::Iv128(iv.into());
        self.dec
            .decrypt(data, ctx)
            .map(|_| ())
            .map_err(|_| OpenError::BadLength)
    }
}

#[cfg(test)]
impl CbcEnc {
    pub(crate) fn new_for_test(key: &[u8]) -> Option<Self> {
        Self::new(key)
    }
    pub(crate) fn encrypt_for_test(&self, iv: &[u8], data: &mut [u8]) {
        self.encrypt(iv, data)
    }
    pub(crate) fn decrypt_for_test(&self, iv: &[u8], data: &mut [u8]) -> Result<(), OpenError> {
        self.decrypt(iv, data)
    }
}

/// HMAC-*-96 integrity with AES-CBC or null encryption (encrypt-then-MAC,
/// RFC 4303 §3.3.2).
pub struct HmacCbc {
    mac: Hmac96,
    cbc: Option<CbcEnc>,
}

impl EspCrypto for HmacCbc {
    fn iv_len(&self) -> usize {
        if self.cbc.is_some() {
            16
        } else {
            0
        }
    }
    fn icv_len(&self) -> usize {
        12
    }
    fn block_size(&self) -> usize {
        if self.cbc.is_some() {
            16
        } else {
            4
        }
    }
    fn write_iv(&self, seq: u64, iv: &mut [u8]) {
        if let Some(c) = &self.cbc {
            use aes::cipher::BlockEncrypt;
            let mut b = [0u8; 16];
            b[8..].copy_from_slice(&seq.to_be_bytes());
            let mut blk = aes::Block::from(b);
            c.iv_key.encrypt_block(&mut blk);
            iv[..16].copy_from_slice(&blk);
        }
    }
    fn seal(&self, pkt: &mut [u8]) -> Result<(), SealError> {
        let n = pkt.len();
        let ivl = self.iv_len();
        if n < ESP_HDR_LEN + ivl + 12 {
            return Err(SealError::BadLayout);
        }
        if let Some(c) = &self.cbc {
            let (head, rest) = pkt.split_at_mut(ESP_HDR_LEN + 16);
            let ct_len = rest.len() - 12;
            if !ct_len.is_multiple_of(16) {
                return Err(SealError::BadLayout);
            }
            c.encrypt(&head[ESP_HDR_LEN..], &mut rest[..ct_len]);
        }
        let icv = self.mac.icv(&pkt[..n - 12]);
        pkt[n - 12..].copy_from_slice(&icv);
        Ok(())
    }
    fn open(&self, pkt: &mut [u8]) -> Result<(), OpenError> {
        let n = pkt.len();
        let ivl = self.iv_len();
        if n < ESP_HDR_LEN + ivl + 12 {
            return Err(OpenError::Truncated);
        }
        let ct_len = n - ESP_HDR_LEN - ivl - 12;
        if self.cbc.is_some() && !ct_len.is_multiple_of(16) {
            return Err(OpenError::BadLength);
        }
        let icv = self.mac.icv(&pkt[..n - 12]);
        if !bool::from(icv[..].ct_eq(&pkt[n - 12..])) {
            return Err(OpenError::BadIcv);
        }
        if let Some(c) = &self.cbc {
            let (head, rest) = pkt.split_at_mut(ESP_HDR_LEN + 16);
            c.decrypt(&head[ESP_HDR_LEN..], &mut rest[..ct_len])?;
        }
        Ok(())
    }
}

/// The transform of one SA: every algorithm pair TS 33.203 allows, behind
/// one enum so that workers dispatch without a virtual call.
#[allow(clippy::large_enum_variant)] // one per SA, never moved per packet
pub enum SaCrypto {
    /// `null` integrity + AES-GCM.
    Gcm(Gcm),
    /// AES-GMAC + `null` encryption.
    Gmac(Gmac),
    /// HMAC-SHA-1-96 or HMAC-MD5-96 + AES-CBC or `null`.
    HmacCbc(HmacCbc),
    /// No protection (fuzzing and cost measurement; never from a config).
    Null(NullCrypto),
}

/// Why an SA's transform could not be built.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CryptoBuildError {
    /// The integrity/encryption pair is not allowed by TS 33.203.
    #[error("algorithm combination not allowed")]
    BadCombination,
    /// HMAC-MD5-96 is disabled by policy.
    #[error("hmac-md5-96 is disabled by policy")]
    Md5Disabled,
    /// A key has the wrong length, or the OS random source failed.
    #[error("bad key material")]
    BadKey,
}

fn aead_key(k: &[u8]) -> Result<ring::aead::LessSafeKey, CryptoBuildError> {
    let u = ring::aead::UnboundKey::new(&ring::aead::AES_128_GCM, k).map_err(|_| CryptoBuildError::BadKey)?;
    Ok(ring::aead::LessSafeKey::new(u))
}

impl SaCrypto {
    /// Build the key schedules of one SA from its key material. `allow_md5`
    /// is the policy switch for the deprecated HMAC-MD5-96.
    pub fn new(keys: &SaKeys, allow_md5: bool) -> Result<Self, CryptoBuildError> {
        if !keys.is_valid() {
            return Err(CryptoBuildError::BadCombination);
        }
        match (keys.integ(), keys.encr()) {
            (IntegAlg::Null, EncrAlg::AesGcm) => Ok(SaCrypto::Gcm(Gcm {
                key: Wiped::new(aead_key(keys.encr_key())?),
                salt: keys.salt(),
            })),
            (IntegAlg::AesGmac, EncrAlg::Null) => {
                let u = aws_lc_rs::aead::UnboundKey::new(&aws_lc_rs::aead::AES_128_GCM, keys.integ_key())
                    .map_err(|_| CryptoBuildError::BadKey)?;
                Ok(SaCrypto::Gmac(Gmac {
                    key: aws_lc_rs::aead::LessSafeKey::new(u),
                    salt: keys.salt(),
                }))
            }
            (integ @ (IntegAlg::HmacSha196 | IntegAlg::HmacMd596), encr) => {
                let mac = match integ {
                    IntegAlg::HmacSha196 => Hmac96::Sha1(Wiped::new(
                        hmac::Hmac::<sha1::Sha1>::new_from_slice(keys.integ_key())
                            .map_err(|_| CryptoBuildError::BadKey)?,
                    )),
                    _ => {
                        if !allow_md5 {
                            return Err(CryptoBuildError::Md5Disabled);
                        }
                        Hmac96::Md5(Wiped::new(
                            hmac::Hmac::<md5::Md5>::new_from_slice(keys.integ_key())
                                .map_err(|_| CryptoBuildError::BadKey)?,
                        ))
                    }
                };
                let cbc = match encr {
                    EncrAlg::AesCbc => Some(CbcEnc::new(keys.encr_key()).ok_or(CryptoBuildError::BadKey)?),
                    _ => None,
                };
                Ok(SaCrypto::HmacCbc(HmacCbc { mac, cbc }))
            }
            _ => Err(CryptoBuildError::BadCombination),
        }
    }

    /// The null transform.
    pub fn null() -> Self {
        SaCrypto::Null(NullCrypto)
    }
}

macro_rules! dispatch {
    ($s:expr, $c:ident => $e:expr) => {
        match $s {
            SaCrypto::Gcm($c) => $e,
            SaCrypto::Gmac($c) => $e,
            SaCrypto::HmacCbc($c) => $e,
            SaCrypto::Null($c) => $e,
        }
    };
}

impl EspCrypto for SaCrypto {
    #[inline]
    fn iv_len(&self) -> usize {
        dispatch!(self, c => c.iv_len())
    }
    #[inline]
    fn icv_len(&self) -> usize {
        dispatch!(self, c => c.icv_len())
    }
    #[inline]
    fn block_size(&self) -> usize {
        dispatch!(self, c => c.block_size())
    }
    #[inline]
    fn write_iv(&self, seq: u64, iv: &mut [u8]) {
        dispatch!(self, c => c.write_iv(seq, iv))
    }
    #[inline]
    fn seal(&self, pkt: &mut [u8]) -> Result<(), SealError> {
        dispatch!(self, c => c.seal(pkt))
    }
    #[inline]
    fn open(&self, pkt: &mut [u8]) -> Result<(), OpenError> {
        dispatch!(self, c => c.open(pkt))
    }
}

impl core::fmt::Debug for SaCrypto {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let name = match self {
            SaCrypto::Gcm(_) => "aes-gcm",
            SaCrypto::Gmac(_) => "aes-gmac",
            SaCrypto::HmacCbc(h) => match (&h.mac, h.cbc.is_some()) {
                (Hmac96::Sha1(_), true) => "hmac-sha-1-96+aes-cbc",
                (Hmac96::Sha1(_), false) => "hmac-sha-1-96+null",
                (Hmac96::Md5(_), true) => "hmac-md5-96+aes-cbc",
                (Hmac96::Md5(_), false) => "hmac-md5-96+null",
            },
            SaCrypto::Null(_) => "null",
        };
        f.write_str(name)
    }
}
