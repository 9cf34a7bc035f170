//! Vector kernels for the per-packet hot path: the byte-match bitmask of a
//! 64-byte chunk (how the SIP scanner finds every line end in one pass) and
//! the ones-complement accumulation behind the Internet checksum.
//!
//! Owns: SSE2 code paths (part of the x86_64 baseline, so no run-time
//! detection), the AVX2 checksum kernel (picked at run time), and their
//! portable fallbacks, which give identical results (for the checksum sum:
//! values that fold to the same ones-complement sum).
//!
//! Must never: read outside the slice it is given, allocate, or panic on any
//! length. Every `unsafe` block is a set of unaligned loads whose bounds are
//! checked right before it, or a call into a kernel compiled for a CPU
//! feature the CPU was found to have.
#![allow(unsafe_code)]

/// Bit `i` is set when `chunk[i] == needle`, for `i < min(64, chunk.len())`.
#[inline(always)]
pub fn eq_mask64(chunk: &[u8], needle: u8) -> u64 {
    #[cfg(target_arch = "x86_64")]
    if chunk.len() >= 64 {
        use core::arch::x86_64::{
            __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_set1_epi8,
        };
        // SAFETY: four unaligned 16-byte loads at offsets 0, 16, 32 and 48 of
        // a slice at least 64 bytes long, all in bounds. SSE2 is part of the
        // x86_64 baseline.
        unsafe {
            let n = _mm_set1_epi8(needle as i8);
            let p = chunk.as_ptr() as *const __m128i;
            let m = |k: usize| _mm_movemask_epi8(_mm_cmpeq_epi8(_mm_loadu_si128(p.add(k)), n)) as u16 as u64;
            return m(0) | m(1) << 16 | m(2) << 32 | m(3) << 48;
        }
    }
    #[cfg(target_arch = "x86_64")]
    {
        use core::arch::x86_64::{
            __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_set1_epi8,
        };
        // A short chunk: whole 16-byte blocks, then byte by byte.
        let mut m = 0u64;
        let mut k = 0;
        while k + 16 <= chunk.len() {
            // SAFETY: an unaligned 16-byte load at offset k of a slice at
            // least k + 16 bytes long. SSE2 is baseline.
            let b = unsafe {
                let v = _mm_loadu_si128(chunk.as_ptr().add(k) as *const __m128i);
                _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(needle as i8))) as u16 as u64
            };
            m |= b << k;
            k += 16;
        }
        for (i, &c) in chunk.iter().enumerate().skip(k) {
            m |= u64::from(c == needle) << i;
        }
        m
    }
    #[cfg(not(target_arch = "x86_64"))]
    eq_mask64_portable(chunk, needle)
}

/// [`eq_mask64`] for two needles at once, over a chunk of at least 64
/// bytes (one set of loads); shorter chunks take [`eq_mask64`] twice.
#[inline(always)]
pub fn eq_mask64x2(chunk: &[u8], a: u8, b: u8) -> (u64, u64) {
    #[cfg(target_arch = "x86_64")]
    if chunk.len() >= 64 {
        use core::arch::x86_64::{
            __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_set1_epi8,
        };
        // SAFETY: four unaligned 16-byte loads at offsets 0, 16, 32 and 48 of
        // a slice at least 64 bytes long, all in bounds. SSE2 is part of the
        // x86_64 baseline.
        unsafe {
            let (na, nb) = (_mm_set1_epi8(a as i8), _mm_set1_epi8(b as i8));
            let p = chunk.as_ptr() as *const __m128i;
            let v = [
                _mm_loadu_si128(p),
                _mm_loadu_si128(p.add(1)),
                _mm_loadu_si128(p.add(2)),
                _mm_loadu_si128(p.add(3)),
            ];
            let m = |n: __m128i| {
                let k = |i: usize| _mm_movemask_epi8(_mm_cmpeq_epi8(v[i], n)) as u16 as u64;
                k(0) | k(1) << 16 | k(2) << 32 | k(3) << 48
            };
            return (m(na), m(nb));
        }
    }
    (eq_mask64(chunk, a), eq_mask64(chunk, b))
}

/// Run `f` compiled for the x86-64-v3 feature set (AVX2, BMI1, BMI2,
/// LZCNT, POPCNT) when the CPU has it (checked once), else as the build
/// targets. Code that `f` inlines (the `#[inline(always)]` kernels here)
/// then gets the three-operand VEX forms of the same 128-bit instructions:
/// fewer register copies on the per-line paths. Pass a closure marked
/// `#[inline(always)]`, or its body stays compiled for the baseline.
#[inline(always)]
pub fn v3<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    if let Some(k) = Avx2::get() {
        return in_v3(k, f);
    }
    f()
}

/// [`v3`] where the CPU is known to have the feature set (the token says
/// so).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub fn in_v3<R>(_: Avx2, f: impl FnOnce() -> R) -> R {
    // SAFETY: an `Avx2` exists only where the CPU has every feature
    // `run_v3` is compiled for.
    unsafe { run_v3(f) }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx,avx2,bmi1,bmi2,lzcnt,popcnt")]
unsafe fn run_v3<R>(f: impl FnOnce() -> R) -> R {
    f()
}

/// The per-line kernels of the SIP scanner: [`Base`] (SSE2, any x86-64) or
/// [`Avx2`] (256-bit forms, only where the CPU has them). Code generic over
/// this trait is built once per implementation.
pub trait LineKernels: Copy {
    /// [`eq_mask64`] of a whole 64-byte window for LF.
    fn lf_mask(self, w: &[u8; 64]) -> u64;
    /// [`eq_mask64`] of a 32-byte window for LF (most header lines are
    /// shorter).
    fn lf_mask32(self, w: &[u8; 32]) -> u32;
    /// [`eq_mask64x2`] of a 64-byte window.
    fn eq_mask64x2(self, w: &[u8; 64], a: u8, b: u8) -> (u64, u64);
    /// [`eq_mask64x2`] of a 32-byte window (one load; bits 32 to 63 are
    /// clear).
    fn eq_mask32x2(self, w: &[u8; 32], a: u8, b: u8) -> (u32, u32);
    /// [`header_name32`].
    fn header_name(self, w: &[u8; 32], t: &NameTable) -> (usize, u8);
}

/// The baseline [`LineKernels`].
#[derive(Clone, Copy, Debug)]
pub struct Base;

impl LineKernels for Base {
    #[inline(always)]
    fn lf_mask(self, w: &[u8; 64]) -> u64 {
        eq_mask64(w, b'\n')
    }

    #[inline(always)]
    fn lf_mask32(self, w: &[u8; 32]) -> u32 {
        eq_mask64(w, b'\n') as u32
    }

    #[inline(always)]
    fn eq_mask64x2(self, w: &[u8; 64], a: u8, b: u8) -> (u64, u64) {
        eq_mask64x2(w, a, b)
    }

    #[inline(always)]
    fn eq_mask32x2(self, w: &[u8; 32], a: u8, b: u8) -> (u32, u32) {
        (eq_mask64(w, a) as u32, eq_mask64(w, b) as u32)
    }

    #[inline(always)]
    fn header_name(self, w: &[u8; 32], t: &NameTable) -> (usize, u8) {
        header_name32(w, t)
    }
}

/// The AVX2 [`LineKernels`], and the proof that the CPU has the x86-64-v3
/// feature set: only [`Avx2::get`] makes one. Its kernels are inlined, and
/// so 256-bit, only where the caller is compiled for that set ([`in_v3`]).
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy, Debug)]
pub struct Avx2(());

#[cfg(target_arch = "x86_64")]
impl Avx2 {
    /// The token, when the CPU has AVX2, BMI1, BMI2, LZCNT and POPCNT
    /// (checked once).
    #[inline(always)]
    pub fn get() -> Option<Avx2> {
        has_v3().then_some(Avx2(()))
    }

    /// [`Avx2::get`] once the CPU has been checked; `None` before (so no
    /// call to the check in the caller: a hot caller falls back on `get`
    /// out of line).
    #[inline(always)]
    pub fn get_checked() -> Option<Avx2> {
        (HAS_V3.load(core::sync::atomic::Ordering::Relaxed) == 2).then_some(Avx2(()))
    }
}

#[cfg(target_arch = "x86_64")]
impl LineKernels for Avx2 {
    #[inline(always)]
    fn lf_mask(self, w: &[u8; 64]) -> u64 {
        // SAFETY: `self` exists only where the CPU has AVX2.
        unsafe { eq_mask64_avx2(w, b'\n') }
    }

    #[inline(always)]
    fn lf_mask32(self, w: &[u8; 32]) -> u32 {
        // SAFETY: as above.
        unsafe { eq_mask32_avx2(w, b'\n') }
    }

    #[inline(always)]
    fn eq_mask64x2(self, w: &[u8; 64], a: u8, b: u8) -> (u64, u64) {
        // SAFETY: as above.
        unsafe { eq_mask64x2_avx2(w, a, b) }
    }

    #[inline(always)]
    fn eq_mask32x2(self, w: &[u8; 32], a: u8, b: u8) -> (u32, u32) {
        // SAFETY: as above.
        unsafe { eq_mask32x2_avx2(w, a, b) }
    }

    #[inline(always)]
    fn header_name(self, w: &[u8; 32], t: &NameTable) -> (usize, u8) {
        // SAFETY: as above.
        unsafe { header_name32_avx2(w, t) }
    }
}

/// [`eq_mask64`] of a 64-byte window in two 256-bit compares.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn eq_mask64_avx2(w: &[u8; 64], needle: u8) -> u64 {
    use core::arch::x86_64::{
        __m256i, _mm256_cmpeq_epi8, _mm256_loadu_si256, _mm256_movemask_epi8, _mm256_set1_epi8,
    };
    let n = _mm256_set1_epi8(needle as i8);
    let p = w.as_ptr() as *const __m256i;
    // SAFETY (of the loads): two unaligned 32-byte loads from a 64-byte
    // array.
    let m = |k: usize| _mm256_movemask_epi8(_mm256_cmpeq_epi8(_mm256_loadu_si256(p.add(k)), n)) as u32;
    u64::from(m(0)) | u64::from(m(1)) << 32
}

/// [`eq_mask64x2`] of a 64-byte window in two 256-bit loads.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn eq_mask64x2_avx2(w: &[u8; 64], a: u8, b: u8) -> (u64, u64) {
    use core::arch::x86_64::{
        __m256i, _mm256_cmpeq_epi8, _mm256_loadu_si256, _mm256_movemask_epi8, _mm256_set1_epi8,
    };
    let p = w.as_ptr() as *const __m256i;
    // SAFETY (of the loads): two unaligned 32-byte loads from a 64-byte
    // array.
    let (lo, hi) = (_mm256_loadu_si256(p), _mm256_loadu_si256(p.add(1)));
    let m = |n: u8| {
        let n = _mm256_set1_epi8(n as i8);
        let k = |v: __m256i| _mm256_movemask_epi8(_mm256_cmpeq_epi8(v, n)) as u32;
        u64::from(k(lo)) | u64::from(k(hi)) << 32
    };
    (m(a), m(b))
}

/// [`eq_mask64x2`] of a 32-byte window in one 256-bit load.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn eq_mask32x2_avx2(w: &[u8; 32], a: u8, b: u8) -> (u32, u32) {
    use core::arch::x86_64::{
        __m256i, _mm256_cmpeq_epi8, _mm256_loadu_si256, _mm256_movemask_epi8, _mm256_set1_epi8,
    };
    // SAFETY (of the load): one unaligned 32-byte load from a 32-byte
    // array.
    let v = _mm256_loadu_si256(w.as_ptr() as *const __m256i);
    let m = |n: u8| _mm256_movemask_epi8(_mm256_cmpeq_epi8(v, _mm256_set1_epi8(n as i8))) as u32;
    (m(a), m(b))
}

/// [`eq_mask64`] of a 32-byte window in one 256-bit compare.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn eq_mask32_avx2(w: &[u8; 32], needle: u8) -> u32 {
    use core::arch::x86_64::{
        __m256i, _mm256_cmpeq_epi8, _mm256_loadu_si256, _mm256_movemask_epi8, _mm256_set1_epi8,
    };
    // SAFETY (of the load): one unaligned 32-byte load from a 32-byte
    // array.
    let v = _mm256_loadu_si256(w.as_ptr() as *const __m256i);
    _mm256_movemask_epi8(_mm256_cmpeq_epi8(v, _mm256_set1_epi8(needle as i8))) as u32
}

/// [`header_name32`] in 256-bit registers: one load, one compare against
/// the table row.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn header_name32_avx2(w: &[u8; 32], t: &NameTable) -> (usize, u8) {
    use core::arch::x86_64::{
        __m256i, _mm256_castsi256_si128, _mm256_cmpeq_epi8, _mm256_loadu_si256, _mm256_min_epu8,
        _mm256_movemask_epi8, _mm256_or_si256, _mm256_set1_epi8, _mm256_sub_epi8, _mm_cvtsi128_si32,
    };
    // SAFETY (of the loads): a 32-byte load from a 32-byte array and one
    // from a table row of 32 bytes (its slot is masked to 0..16).
    let v = _mm256_loadu_si256(w.as_ptr() as *const __m256i);
    let lower = _mm256_or_si256(v, _mm256_set1_epi8(0x20));
    // ASCII letters: (c | 0x20) - 'a' is at most 25, unsigned (bytes >=
    // 0x80 land above); or '-'.
    let d = _mm256_sub_epi8(lower, _mm256_set1_epi8(b'a' as i8));
    let alpha = _mm256_cmpeq_epi8(_mm256_min_epu8(d, _mm256_set1_epi8(25)), d);
    let dash = _mm256_cmpeq_epi8(v, _mm256_set1_epi8(b'-' as i8));
    let run = (!(_mm256_movemask_epi8(_mm256_or_si256(alpha, dash)) as u32)).trailing_zeros();
    let slot = NameTable::slot_of_word(run as usize, _mm_cvtsi128_si32(_mm256_castsi256_si128(v)) as u32);
    let pat = _mm256_loadu_si256(t.pat[slot].as_ptr() as *const __m256i);
    let same = _mm256_movemask_epi8(_mm256_cmpeq_epi8(lower, pat)) as u32;
    (run as usize, t.kind_at(slot, run, same))
}

/// Whether the CPU has what [`v3`] compiles for: 0 not checked yet, 1 no,
/// 2 yes.
#[cfg(target_arch = "x86_64")]
static HAS_V3: core::sync::atomic::AtomicU8 = core::sync::atomic::AtomicU8::new(0);

#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn has_v3() -> bool {
    match HAS_V3.load(core::sync::atomic::Ordering::Relaxed) {
        0 => has_v3_detect(),
        v => v == 2,
    }
}

#[cfg(target_arch = "x86_64")]
#[cold]
fn has_v3_detect() -> bool {
    let has = std::is_x86_feature_detected!("avx2")
        && std::is_x86_feature_detected!("bmi1")
        && std::is_x86_feature_detected!("bmi2")
        && std::is_x86_feature_detected!("lzcnt")
        && std::is_x86_feature_detected!("popcnt");
    HAS_V3.store(1 + u8::from(has), core::sync::atomic::Ordering::Relaxed);
    has
}

/// The portable form of [`eq_mask64`].
#[inline]
pub fn eq_mask64_portable(chunk: &[u8], needle: u8) -> u64 {
    let mut m = 0u64;
    for (i, &c) in chunk.iter().take(64).enumerate() {
        m |= u64::from(c == needle) << i;
    }
    m
}

/// Length of the run at the start of `p` of bytes that are ASCII letters or
/// `-`, looked at 16 bytes at once (at most 16 are counted). Header names
/// are mostly such runs; the caller goes on byte by byte from where this
/// stops.
#[inline(always)]
pub fn alpha_dash_run16(p: &[u8]) -> usize {
    #[cfg(target_arch = "x86_64")]
    if p.len() >= 16 {
        use core::arch::x86_64::{
            __m128i, _mm_and_si128, _mm_cmpeq_epi8, _mm_cmpgt_epi8, _mm_cmplt_epi8, _mm_loadu_si128,
            _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
        };
        // SAFETY: one unaligned 16-byte load from a slice at least 16 bytes
        // long. SSE2 is part of the x86_64 baseline.
        unsafe {
            let v = _mm_loadu_si128(p.as_ptr() as *const __m128i);
            // ASCII letters: (c | 0x20) in 'a'..='z'. Bytes >= 0x80 compare
            // as negative and fail the lower bound.
            let lower = _mm_or_si128(v, _mm_set1_epi8(0x20));
            let alpha = _mm_and_si128(
                _mm_cmpgt_epi8(lower, _mm_set1_epi8(b'a' as i8 - 1)),
                _mm_cmplt_epi8(lower, _mm_set1_epi8(b'z' as i8 + 1)),
            );
            let dash = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'-' as i8));
            let m = _mm_movemask_epi8(_mm_or_si128(alpha, dash)) as u32;
            return (!m).trailing_zeros().min(16) as usize;
        }
    }
    p.iter()
        .take(16)
        .position(|c| !(c.is_ascii_alphabetic() || *c == b'-'))
        .unwrap_or(p.len().min(16))
}

/// Up to 16 header names (letters and `-`, 1 to 31 bytes) that
/// [`header_name32`] recognises, each with a nonzero kind, at the slot
/// [`NameTable::slot`] gives it.
pub struct NameTable {
    /// Each name in lowercase, then its colon (so that one compare checks
    /// the length too), then zeros.
    pat: [[u8; 32]; 16],
    kind: [u8; 16],
}

impl NameTable {
    /// Where a name of `n` bytes whose first byte lowercases to `c` sits.
    #[inline(always)]
    pub const fn slot(n: usize, c: u8) -> usize {
        ((c >> 1) as usize + 4 * n) & 15
    }

    /// [`NameTable::slot`] of a name of `n` bytes whose first four bytes
    /// are `x` (little-endian), in any case: only bits 1 to 4 of the first
    /// byte count, and case is bit 5.
    #[inline(always)]
    pub const fn slot_of_word(n: usize, x: u32) -> usize {
        ((x >> 1) as usize + 4 * n) & 15
    }

    /// The kind at `slot` when the `run`-byte name and the byte after it
    /// match its row (the name and its colon), given `same` (bit `i` set
    /// when byte `i` of the lowercased line equals byte `i` of the row);
    /// else 0. Without a branch.
    #[inline(always)]
    fn kind_at(&self, slot: usize, run: u32, same: u32) -> u8 {
        // A run of 32 wants a 33rd byte that `same` never has.
        let want = (2u64 << run) - 1;
        let hit = !u64::from(same) & want;
        self.kind[slot] & 0u8.wrapping_sub(u8::from(hit == 0))
    }

    /// The kind of the header name `name` (any bytes, any case), or 0 when
    /// it is none of the table's.
    pub fn kind_of(&self, name: &[u8]) -> u8 {
        let Some(&c) = name.first() else {
            return 0;
        };
        let slot = Self::slot(name.len(), c | 0x20);
        let row = &self.pat[slot];
        let hit = name.len() < 32
            && row[name.len()] == b':'
            && name.iter().zip(row).all(|(a, b)| a.to_ascii_lowercase() == *b);
        if hit {
            self.kind[slot]
        } else {
            0
        }
    }

    /// A table of `names` (any case; stored lowercase). Fails to build
    /// (a panic in const evaluation) when two names share a slot, a name is
    /// empty or longer than 31 bytes, holds other bytes than letters and `-`,
    /// or a kind is zero.
    pub const fn new(names: &[(&[u8], u8)]) -> Self {
        let mut t = NameTable {
            pat: [[0; 32]; 16],
            kind: [0; 16],
        };
        let mut k = 0;
        while k < names.len() {
            let (name, kind) = names[k];
            assert!(!name.is_empty() && name.len() < 32 && kind != 0);
            let slot = Self::slot(name.len(), name[0] | 0x20);
            assert!(t.kind[slot] == 0, "two names share a slot");
            let mut i = 0;
            while i < name.len() {
                let c = name[i] | 0x20;
                assert!(c == b'-' || (c >= b'a' && c <= b'z'));
                t.pat[slot][i] = c;
                i += 1;
            }
            t.pat[slot][name.len()] = b':';
            t.kind[slot] = kind;
            k += 1;
        }
        t
    }
}

/// The header name at the start of `w`, looked at 32 bytes at once: the
/// length of the leading run of ASCII letters and `-` (at most 32), and the
/// kind `t` gives that run when the run is one of its names, ignoring ASCII
/// case, and the byte after it is a colon (or the one other byte that ORs
/// with 0x20 to a colon, 0x1a; else 0: see [`NameTable::kind_of`] for a
/// name with whitespace before its colon). Branch-free: which lines are
/// names of `t` changes from line to line, and so would a branch.
#[inline(always)]
pub fn header_name32(w: &[u8; 32], t: &NameTable) -> (usize, u8) {
    #[cfg(target_arch = "x86_64")]
    {
        use core::arch::x86_64::{
            __m128i, _mm_and_si128, _mm_cmpeq_epi8, _mm_cmpgt_epi8, _mm_cmplt_epi8, _mm_cvtsi128_si32,
            _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
        };
        // SAFETY: unaligned 16-byte loads from a 32-byte array and from a
        // table row of 32 bytes (its slot is masked to 0..16), all in
        // bounds. SSE2 is part of the x86_64 baseline.
        unsafe {
            let ptr = w.as_ptr() as *const __m128i;
            let (v0, v1) = (_mm_loadu_si128(ptr), _mm_loadu_si128(ptr.add(1)));
            let mask = |x: __m128i| _mm_movemask_epi8(x) as u32 & 0xffff;
            let class = |v: __m128i| {
                // ASCII letters: (c | 0x20) in 'a'..='z' (bytes >= 0x80 are
                // negative and fail the lower bound); or '-'.
                let lower = _mm_or_si128(v, _mm_set1_epi8(0x20));
                let alpha = _mm_and_si128(
                    _mm_cmpgt_epi8(lower, _mm_set1_epi8(b'a' as i8 - 1)),
                    _mm_cmplt_epi8(lower, _mm_set1_epi8(b'z' as i8 + 1)),
                );
                (
                    lower,
                    _mm_or_si128(alpha, _mm_cmpeq_epi8(v, _mm_set1_epi8(b'-' as i8))),
                )
            };
            let ((l0, c0), (l1, c1)) = (class(v0), class(v1));
            let run = (!(mask(c0) | mask(c1) << 16)).trailing_zeros();
            let slot = NameTable::slot_of_word(run as usize, _mm_cvtsi128_si32(v0) as u32);
            let pat = t.pat[slot].as_ptr() as *const __m128i;
            let same = mask(_mm_cmpeq_epi8(l0, _mm_loadu_si128(pat)))
                | mask(_mm_cmpeq_epi8(l1, _mm_loadu_si128(pat.add(1)))) << 16;
            (run as usize, t.kind_at(slot, run, same))
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    header_name32_portable(w, t)
}

/// The portable form of [`header_name32`] (on `p` from its start).
pub fn header_name32_portable(p: &[u8], t: &NameTable) -> (usize, u8) {
    let run = p
        .iter()
        .take(32)
        .position(|c| !(c.is_ascii_alphabetic() || *c == b'-'))
        .unwrap_or(p.len().min(32));
    let colon = p.get(run).is_some_and(|c| c | 0x20 == b':');
    (run, if colon { t.kind_of(&p[..run]) } else { 0 })
}

/// The first `n` bytes of `raw` (at most 32) as lowercase hex into
/// `out[..2 * n]`, two digits per byte, high nibble first, 16 bytes per SSE2
/// step (the Via branch token is written this way for every forwarded
/// request). Digits past `2 * n` may be written too.
#[inline]
pub fn hex_lower32(raw: &[u8; 32], out: &mut [u8; 64], n: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        use core::arch::x86_64::{
            __m128i, _mm_add_epi8, _mm_and_si128, _mm_cmpgt_epi8, _mm_loadu_si128, _mm_set1_epi8,
            _mm_srli_epi16, _mm_storeu_si128, _mm_unpackhi_epi8, _mm_unpacklo_epi8,
        };
        // SAFETY: two unaligned 16-byte loads from a 32-byte array and four
        // unaligned 16-byte stores into a 64-byte array, all in bounds. SSE2
        // is part of the x86_64 baseline.
        unsafe {
            let nib = _mm_set1_epi8(0x0f);
            // A nibble n becomes '0' + n, plus 'a' - '0' - 10 when n > 9.
            let digit = |n: __m128i| {
                let letter = _mm_and_si128(_mm_cmpgt_epi8(n, _mm_set1_epi8(9)), _mm_set1_epi8(39));
                _mm_add_epi8(_mm_add_epi8(n, _mm_set1_epi8(b'0' as i8)), letter)
            };
            for k in 0..n.div_ceil(16).min(2) {
                let v = _mm_loadu_si128(raw.as_ptr().add(16 * k) as *const __m128i);
                let hi = digit(_mm_and_si128(_mm_srli_epi16(v, 4), nib));
                let lo = digit(_mm_and_si128(v, nib));
                let o = out.as_mut_ptr().add(32 * k) as *mut __m128i;
                _mm_storeu_si128(o, _mm_unpacklo_epi8(hi, lo));
                _mm_storeu_si128(o.add(1), _mm_unpackhi_epi8(hi, lo));
            }
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    hex_lower32_portable(raw, out, n);
}

/// The portable form of [`hex_lower32`].
pub fn hex_lower32_portable(raw: &[u8; 32], out: &mut [u8; 64], n: usize) {
    const D: &[u8; 16] = b"0123456789abcdef";
    for (o, b) in out.chunks_exact_mut(2).zip(&raw[..n.min(32)]) {
        o[0] = D[usize::from(b >> 4)];
        o[1] = D[usize::from(b & 15)];
    }
}

/// The 64-byte windows of a slice of at least 64 bytes, by offset: the
/// slice's length is checked once, when it is made, and each window then
/// takes one compare of its offset (a loop over windows, such as the SIP
/// scanner's over lines, pays no more).
#[derive(Clone, Copy)]
pub struct Windows64<'a> {
    p: &'a [u8],
    /// `p.len() - 64`: the last offset that has a whole window.
    last: usize,
}

impl<'a> Windows64<'a> {
    /// The windows of `p`, or `None` when it is shorter than 64 bytes.
    #[inline(always)]
    pub fn new(p: &'a [u8]) -> Option<Self> {
        Some(Windows64 {
            p,
            last: p.len().checked_sub(64)?,
        })
    }

    /// The 64 bytes at `p[pos..]`, or `None` when fewer are left.
    #[inline(always)]
    pub fn at(self, pos: usize) -> Option<&'a [u8; 64]> {
        if pos <= self.last {
            // SAFETY: `pos <= p.len() - 64` (`last`, fixed when `self` was
            // made from `p`), so bytes `pos..pos + 64` lie in `p`; an array
            // of bytes has alignment 1.
            Some(unsafe { &*self.p.as_ptr().add(pos).cast::<[u8; 64]>() })
        } else {
            None
        }
    }
}

/// Positions of one byte value in a slice, in increasing order, found 64
/// bytes at a time.
pub struct Finder<'a> {
    p: &'a [u8],
    needle: u8,
    base: usize,
    mask: u64,
}

impl<'a> Finder<'a> {
    /// Find `needle` in `p` from offset `from` on.
    #[inline]
    pub fn new(p: &'a [u8], needle: u8, from: usize) -> Self {
        let mask = p.get(from..).map_or(0, |c| eq_mask64(c, needle));
        Finder {
            p,
            needle,
            base: from,
            mask,
        }
    }
}

impl<'a> Finder<'a> {
    /// [`Finder::new`] from `p`'s start, with the mask of its first 64
    /// bytes already taken: `first` must be `eq_mask64(p, needle)`.
    #[inline]
    pub fn with_first_mask(p: &'a [u8], needle: u8, first: u64) -> Self {
        Finder {
            p,
            needle,
            base: 0,
            mask: first,
        }
    }
}

impl Iterator for Finder<'_> {
    type Item = usize;

    #[inline(always)]
    fn next(&mut self) -> Option<usize> {
        while self.mask == 0 {
            self.base += 64;
            let rest = self.p.get(self.base..).filter(|r| !r.is_empty())?;
            self.mask = eq_mask64(rest, self.needle);
        }
        let i = self.mask.trailing_zeros() as usize;
        self.mask &= self.mask - 1;
        Some(self.base + i)
    }
}

/// Accumulate `bytes` as native-endian 16-bit words into a `u64` (an odd
/// trailing byte is the first byte of a zero-padded word). The result folds
/// to the ones-complement sum; see `wire::checksum`.
///
/// On x86_64, inputs of `SUM_AVX2_MIN` (64) bytes or more take the AVX2 kernel
/// when the CPU has AVX2; without AVX2, inputs of `SUM_SSE2_MIN` (256) bytes or
/// more take the SSE2 kernel (baseline). Shorter inputs take the portable
/// loop. The kernels return the exact sum of the words, the portable loop a
/// value that folds to the same ones-complement sum.
#[inline]
pub fn sum16_ne(bytes: &[u8]) -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: `SUM16_NE` only ever holds a `Sum16` (see its stores), and
        // each one it holds is sound to call on this CPU: the first-call
        // detector, the baseline dispatch, or the AVX2 kernel once AVX2 was
        // detected.
        unsafe {
            let f =
                core::mem::transmute::<*mut (), Sum16>(SUM16_NE.load(core::sync::atomic::Ordering::Relaxed));
            f(bytes)
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    sum16_ne_portable(bytes)
}

/// A [`sum16_ne`] implementation: unsafe because the AVX2 kernel is.
#[cfg(target_arch = "x86_64")]
type Sum16 = unsafe fn(&[u8]) -> u64;

/// What [`sum16_ne`] calls: `sum16_ne_detect` until the first call has
/// looked at the CPU, then `sum16_ne_avx2` (which takes every length and
/// hands the ones outside its range on) or `sum16_ne_baseline`. One load and
/// an indirect call on the hot path, where a feature flag took a call, two
/// compares and a jump on to the kernel.
#[cfg(target_arch = "x86_64")]
static SUM16_NE: core::sync::atomic::AtomicPtr<()> =
    core::sync::atomic::AtomicPtr::new(sum16_ne_detect as Sum16 as *mut ());

/// The first [`sum16_ne`]: detect AVX2, remember the implementation, and
/// sum. Racing first calls store the same value.
#[cfg(target_arch = "x86_64")]
#[cold]
#[inline(never)]
fn sum16_ne_detect(bytes: &[u8]) -> u64 {
    let f: Sum16 = if std::is_x86_feature_detected!("avx2") {
        sum16_ne_avx2
    } else {
        sum16_ne_baseline
    };
    SUM16_NE.store(f as *mut (), core::sync::atomic::Ordering::Relaxed);
    sum16_ne(bytes)
}

/// [`sum16_ne`] on CPUs without AVX2: the SSE2 kernel from
/// `SUM_SSE2_MIN` bytes on, the portable loop below.
#[cfg(target_arch = "x86_64")]
fn sum16_ne_baseline(bytes: &[u8]) -> u64 {
    if bytes.len() >= SUM_SSE2_MIN {
        // SAFETY: SSE2 is part of the x86_64 baseline.
        unsafe { sum16_ne_sse2(bytes) }
    } else {
        sum16_ne_portable(bytes)
    }
}

/// Shortest input [`sum16_ne`] gives the AVX2 kernel. Below it the portable
/// loop is as fast: the kernel has a fixed cost of about 50 instructions
/// (tail, reduction), the loop about 2.7 per 8 bytes (callgrind and a timing
/// loop, from 20 to 9000 bytes).
#[cfg(target_arch = "x86_64")]
const SUM_AVX2_MIN: usize = 64;

/// Shortest input [`sum16_ne`] gives the SSE2 kernel on CPUs without AVX2;
/// below about 200 bytes the portable loop is as fast (same measurements).
#[cfg(target_arch = "x86_64")]
const SUM_SSE2_MIN: usize = 256;

// How the vector kernels sum. Each 16-bit word `w` is XORed with 0x8000,
// which makes it the signed value `w - 0x8000`; `pmaddwd` against ones then
// adds adjacent pairs into signed 32-bit lanes without loss, so a vector
// costs three instructions (xor with the load folded in, madd, add). Adding
// back 0x8000 per word summed gives the exact sum. The bytes after the last
// whole vector are summed by loading the last full vector of the (even)
// length again, overlapping what was already summed, and clearing the
// overlap with a mask: that load starts at an even offset, so the words stay
// aligned. An odd trailing byte is added on its own.

/// Vectors summed into 32-bit lanes before the lanes are reduced: a lane
/// moves by at most 0x10000 per vector, and the reduced sum of up to 8 lanes
/// over `SUM_RUN + 1` vectors (the run plus the tail) stays within `i32`.
#[cfg(target_arch = "x86_64")]
const SUM_RUN: usize = 2048;

/// 32 zero bytes, then 32 `0xff` bytes. For a `W`-byte vector whose last `r`
/// bytes are new, the mask is the `W` bytes at offset `32 - W + r`.
#[cfg(target_arch = "x86_64")]
static TAIL_MASK: [u8; 64] = {
    let mut m = [0u8; 64];
    let mut i = 32;
    while i < 64 {
        m[i] = 0xff;
        i += 1;
    }
    m
};

/// The even length of `bytes` without its odd trailing byte, and that byte
/// (if any) as a zero-padded native-endian word. Branch-free: the last byte
/// is always read and then multiplied by the length's low bit (one `imul`
/// where masking with the negated bit took two instructions).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn split_odd(bytes: &[u8]) -> (usize, u64) {
    let odd = bytes.len() & 1;
    let last = bytes.last().map_or(0, |&b| u64::from(u16::from_ne_bytes([b, 0])));
    (bytes.len() - odd, last * odd as u64)
}

/// The body of a vector checksum kernel, following the scheme described
/// above, for one vector width: the SSE2 and AVX2 kernels differ only in
/// the vector type and width, the intrinsics, the final reduction and what
/// takes inputs shorter than one vector.
#[cfg(target_arch = "x86_64")]
macro_rules! sum16_kernel {
    (
        $bytes:ident, $V:ty, $W:expr, short: $short:expr,
        load: $load:path, and: $and:path, xor: $xor:path, madd: $madd:path, add: $add:path,
        set1: $set1:path, zero: $zero:path, reduce: $reduce:expr $(,)?
    ) => {{
        const W: usize = $W;
        if $bytes.len() < W {
            return $short;
        }
        let (len, last) = split_odd($bytes);
        let flip = $set1(i16::MIN);
        let ones = $set1(1);
        let word_pairs = |v: $V| $madd($xor(v, flip), ones);
        // `a0` plus the vectors of `run`, a whole number of them.
        let sum_vectors = |mut a0: $V, run: &[u8]| {
            let mut a1 = $zero();
            let mut quads = run.chunks_exact(4 * W);
            for q in &mut quads {
                let p = q.as_ptr() as *const $V;
                // SAFETY: `q` holds exactly four vectors.
                let v = unsafe { [$load(p), $load(p.add(1)), $load(p.add(2)), $load(p.add(3))] };
                a0 = $add(a0, word_pairs(v[0]));
                a1 = $add(a1, word_pairs(v[1]));
                a0 = $add(a0, word_pairs(v[2]));
                a1 = $add(a1, word_pairs(v[3]));
            }
            // Up to three vectors are left: a pair, then maybe the last one.
            let r = quads.remainder();
            let p = r.as_ptr() as *const $V;
            if r.len() >= 2 * W {
                // SAFETY: `r` holds at least two vectors.
                let v = unsafe { [$load(p), $load(p.add(1))] };
                a0 = $add(a0, word_pairs(v[0]));
                a1 = $add(a1, word_pairs(v[1]));
            }
            if r.len() & W != 0 {
                // SAFETY: `r` holds one or three vectors; this loads the last.
                let v = unsafe { $load(p.add(r.len() / W - 1)) };
                a0 = $add(a0, word_pairs(v));
            }
            $add(a0, a1)
        };
        let reduce = $reduce;
        // SAFETY: `W <= len <= bytes.len()`, so bytes `len - W .. len` lie in
        // the slice; `W <= 32` and `len % W < W`, so the mask,
        // `TAIL_MASK[32 - W + len % W ..][..W]`, lies in the 64-byte table.
        let tail = unsafe {
            let v = $load($bytes.as_ptr().add(len - W) as *const $V);
            let m = $load(TAIL_MASK.as_ptr().add(32 - W + len % W) as *const $V);
            $and(v, m)
        };
        let mut body = $bytes.get(..len - len % W).unwrap_or_default();
        let mut acc = word_pairs(tail);
        let mut total = 0i64;
        while body.len() > SUM_RUN * W {
            let (run, rest) = body.split_at(SUM_RUN * W);
            total += reduce(sum_vectors(acc, run));
            acc = $zero();
            body = rest;
        }
        total += reduce(sum_vectors(acc, body));
        // Every vector summed, the tail included, added 0x8000 less per word.
        let vectors = (len / W + 1) as i64;
        (total + vectors * (W as i64 / 2) * 0x8000) as u64 + last
    }};
}

/// The SSE2 kernel: 16-byte vectors, with the scheme described above.
/// Inputs shorter than 16 bytes go to the portable loop. SSE2 is part of
/// the x86_64 baseline, so calling this is always sound.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse2")]
#[inline(never)]
fn sum16_ne_sse2(bytes: &[u8]) -> u64 {
    use core::arch::x86_64::{
        __m128i, _mm_add_epi32, _mm_and_si128, _mm_cvtsi128_si32, _mm_loadu_si128, _mm_madd_epi16,
        _mm_set1_epi16, _mm_setzero_si128, _mm_shuffle_epi32, _mm_xor_si128,
    };
    sum16_kernel!(
        bytes, __m128i, 16, short: sum16_ne_portable(bytes),
        load: _mm_loadu_si128, and: _mm_and_si128, xor: _mm_xor_si128, madd: _mm_madd_epi16,
        add: _mm_add_epi32, set1: _mm_set1_epi16, zero: _mm_setzero_si128,
        reduce: |s: __m128i| {
            let s = _mm_add_epi32(s, _mm_shuffle_epi32::<0b01_00_11_10>(s));
            let s = _mm_add_epi32(s, _mm_shuffle_epi32::<0b10_11_00_01>(s));
            i64::from(_mm_cvtsi128_si32(s))
        },
    )
}

/// Longest input [`sum16_ne_avx2`] sums in one run of 32-bit lanes: up to
/// `65_536 / 32 + 1` vectors (the tail included), each moving a lane by at
/// most 0x10000, and the 8 lanes reduced, stay within `i32` (about 2^30).
/// Longer inputs take [`sum16_ne_avx2_long`], which reduces every
/// `SUM_RUN` vectors.
#[cfg(target_arch = "x86_64")]
const SUM_AVX2_ONE_RUN: usize = 65_536;

/// The AVX2 kernel: 32-byte vectors, with the scheme described above,
/// written out for inputs of at most `SUM_AVX2_ONE_RUN` bytes (every packet):
/// one run of lanes, four vectors a loop step into two accumulators, the
/// zero to three whole vectors left over, then the masked tail, which is
/// summed first. It takes every length: shorter than `SUM_AVX2_MIN` bytes
/// goes to the portable loop, longer than `SUM_AVX2_ONE_RUN` to
/// [`sum16_ne_avx2_long`] (both through `sum16_ne_avx2_outside`).
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn sum16_ne_avx2(bytes: &[u8]) -> u64 {
    use core::arch::x86_64::{
        __m256i, _mm256_add_epi32, _mm256_and_si256, _mm256_castsi256_si128, _mm256_extracti128_si256,
        _mm256_loadu_si256, _mm256_madd_epi16, _mm256_set1_epi16, _mm256_set1_epi32, _mm256_xor_si256,
        _mm_add_epi32, _mm_cvtsi128_si32, _mm_hadd_epi32,
    };
    const W: usize = 32;
    if !(SUM_AVX2_MIN..=SUM_AVX2_ONE_RUN).contains(&bytes.len()) {
        return sum16_ne_avx2_outside(bytes);
    }
    // `split_odd`, with the last byte read unchecked: the compiler does not
    // carry the range test above over to `bytes.last()`.
    let odd = bytes.len() & 1;
    // SAFETY: `bytes.len() >= SUM_AVX2_MIN > 0`.
    let last = u64::from(u16::from_ne_bytes([
        unsafe { *bytes.get_unchecked(bytes.len() - 1) },
        0,
    ]));
    let (len, last) = (bytes.len() - odd, last * odd as u64);
    let flip = _mm256_set1_epi16(i16::MIN);
    let ones = _mm256_set1_epi16(1);
    let word_pairs = |v: __m256i| _mm256_madd_epi16(_mm256_xor_si256(v, flip), ones);
    let p = bytes.as_ptr();
    // SAFETY: `W <= len <= bytes.len()`, so bytes `len - W .. len` lie in
    // the slice; `len % W < W`, so the mask, `TAIL_MASK[len % W..][..W]`,
    // lies in the 64-byte table.
    let tail = unsafe {
        let v = _mm256_loadu_si256(p.add(len - W) as *const __m256i);
        let m = _mm256_loadu_si256(TAIL_MASK.as_ptr().add(len % W) as *const __m256i);
        _mm256_and_si256(v, m)
    };
    let mut a0 = word_pairs(tail);
    // The second accumulator starts at the tail vector's correction (16
    // words of 0x8000, as 0x10000 in each of 8 lanes): one constant load in
    // place of a zeroing and a scalar add.
    let mut a1 = _mm256_set1_epi32(0x10000);
    // The whole vectors, at least one: first by fours, then the rest.
    let n = len / W;
    let mut v = p as *const __m256i;
    // SAFETY: `n` whole vectors lie in the slice from `p` on; `v` steps
    // through the first `n & !3` of them four at a time, then loads the
    // next `n & 3`.
    unsafe {
        let quads_end = v.add(n & !3);
        while v != quads_end {
            a0 = _mm256_add_epi32(a0, word_pairs(_mm256_loadu_si256(v)));
            a1 = _mm256_add_epi32(a1, word_pairs(_mm256_loadu_si256(v.add(1))));
            a0 = _mm256_add_epi32(a0, word_pairs(_mm256_loadu_si256(v.add(2))));
            a1 = _mm256_add_epi32(a1, word_pairs(_mm256_loadu_si256(v.add(3))));
            v = v.add(4);
        }
        if n & 2 != 0 {
            a0 = _mm256_add_epi32(a0, word_pairs(_mm256_loadu_si256(v)));
            a1 = _mm256_add_epi32(a1, word_pairs(_mm256_loadu_si256(v.add(1))));
            v = v.add(2);
        }
        if n & 1 != 0 {
            a0 = _mm256_add_epi32(a0, word_pairs(_mm256_loadu_si256(v)));
        }
    }
    // `phaddd` (AVX2 implies SSSE3) adds neighbouring lanes in one
    // instruction where a shuffle and an add took two.
    let s = _mm256_add_epi32(a0, a1);
    let s = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256::<1>(s));
    let s = _mm_hadd_epi32(s, s);
    let s = _mm_hadd_epi32(s, s);
    // Every vector summed added 0x8000 less per word, 16 words a vector; the
    // tail's is in `a1` already. The exact sum of at most `SUM_AVX2_ONE_RUN`
    // bytes is below 2^31, so 32-bit wrapping arithmetic gives it exactly
    // (no sign extension of the lane sum).
    let total = _mm_cvtsi128_si32(s) as u32;
    u64::from(total.wrapping_add((n as u32) << 19)) + last
}

/// [`sum16_ne_avx2`] for inputs outside its range: shorter than
/// `SUM_AVX2_MIN` to the portable loop, longer than `SUM_AVX2_ONE_RUN` to
/// [`sum16_ne_avx2_long`].
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[cold]
#[inline(never)]
unsafe fn sum16_ne_avx2_outside(bytes: &[u8]) -> u64 {
    if bytes.len() < SUM_AVX2_MIN {
        sum16_ne_portable(bytes)
    } else {
        sum16_ne_avx2_long(bytes)
    }
}

/// [`sum16_ne_avx2`] for inputs longer than `SUM_AVX2_ONE_RUN`: the
/// vectors in runs of `SUM_RUN`, each run's lanes reduced before they could
/// overflow.
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[cold]
#[inline(never)]
unsafe fn sum16_ne_avx2_long(bytes: &[u8]) -> u64 {
    use core::arch::x86_64::{
        __m256i, _mm256_add_epi32, _mm256_and_si256, _mm256_castsi256_si128, _mm256_extracti128_si256,
        _mm256_loadu_si256, _mm256_madd_epi16, _mm256_set1_epi16, _mm256_setzero_si256, _mm256_xor_si256,
        _mm_add_epi32, _mm_cvtsi128_si32, _mm_hadd_epi32,
    };
    sum16_kernel!(
        bytes, __m256i, 32, short: sum16_ne_sse2(bytes),
        load: _mm256_loadu_si256, and: _mm256_and_si256, xor: _mm256_xor_si256, madd: _mm256_madd_epi16,
        add: _mm256_add_epi32, set1: _mm256_set1_epi16, zero: _mm256_setzero_si256,
        reduce: |s: __m256i| {
            let s = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256::<1>(s));
            let s = _mm_hadd_epi32(s, s);
            let s = _mm_hadd_epi32(s, s);
            i64::from(_mm_cvtsi128_si32(s))
        },
    )
}

/// `a + b` with end-around carry: a wrapped sum is at most 2^64 - 2, so
/// adding the carry back cannot wrap again. Congruent to `a + b` modulo
/// 0xffff (which divides 2^64 - 1), and zero only when both are.
#[inline(always)]
fn add_carry(a: u64, b: u64) -> u64 {
    let (s, carry) = a.overflowing_add(b);
    s + u64::from(carry)
}

/// The portable form of [`sum16_ne`]: 8-byte words added with end-around
/// carry, 16 bytes a step, then the last 0 to 15 bytes. The result is not
/// the plain sum of the words but folds to the same ones-complement sum, and
/// is zero only when every byte is.
#[inline]
pub fn sum16_ne_portable(bytes: &[u8]) -> u64 {
    let word = |c: &[u8]| u64::from_ne_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
    let mut acc: u64 = 0;
    let mut pairs = bytes.chunks_exact(16);
    for c in &mut pairs {
        acc = add_carry(acc, word(&c[..8]));
        acc = add_carry(acc, word(&c[8..]));
    }
    let mut rest = pairs.remainder();
    if let Some((c, more)) = rest.split_first_chunk::<8>() {
        acc = add_carry(acc, u64::from_ne_bytes(*c));
        rest = more;
    }
    let mut tail: u64 = 0;
    if let Some((c, more)) = rest.split_first_chunk::<4>() {
        tail += u64::from(u32::from_ne_bytes(*c));
        rest = more;
    }
    if let Some((c, more)) = rest.split_first_chunk::<2>() {
        tail += u64::from(u16::from_ne_bytes(*c));
        rest = more;
    }
    if let [a] = rest {
        tail += u64::from(u16::from_ne_bytes([*a, 0]));
    }
    add_carry(acc, tail)
}

/// The 16 bytes of `raw` as 32 lowercase hex digits, high nibble first,
/// except that the last byte (which must be zero, so "00") becomes CRLF:
/// the end of the Via line the pipeline inserts, in two SSE2 steps.
#[inline(always)]
pub fn hex16_crlf(raw: &[u8; 16]) -> [u8; 32] {
    #[cfg(target_arch = "x86_64")]
    {
        use core::arch::x86_64::{
            __m128i, _mm_add_epi8, _mm_and_si128, _mm_cmpgt_epi8, _mm_loadu_si128, _mm_set1_epi8,
            _mm_set_epi8, _mm_srli_epi16, _mm_storeu_si128, _mm_sub_epi8, _mm_unpackhi_epi8,
            _mm_unpacklo_epi8,
        };
        let mut out = [0u8; 32];
        // SAFETY: one unaligned 16-byte load from a 16-byte array and two
        // unaligned 16-byte stores into a 32-byte array, all in bounds.
        // SSE2 is part of the x86_64 baseline.
        unsafe {
            let nib = _mm_set1_epi8(0x0f);
            // A nibble n becomes '0' + n, plus 'a' - '0' - 10 when n > 9.
            let digit = |n: __m128i| {
                let letter = _mm_and_si128(_mm_cmpgt_epi8(n, _mm_set1_epi8(9)), _mm_set1_epi8(39));
                _mm_add_epi8(_mm_add_epi8(n, _mm_set1_epi8(b'0' as i8)), letter)
            };
            let v = _mm_loadu_si128(raw.as_ptr() as *const __m128i);
            let hi = digit(_mm_and_si128(_mm_srli_epi16(v, 4), nib));
            let lo = digit(_mm_and_si128(v, nib));
            // The last two digits are "00": '0' - '\r' and '0' - '\n' off.
            let crlf = _mm_set_epi8(
                (b'0' - b'\n') as i8,
                (b'0' - b'\r') as i8,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
            );
            let o = out.as_mut_ptr() as *mut __m128i;
            _mm_storeu_si128(o, _mm_unpacklo_epi8(hi, lo));
            _mm_storeu_si128(o.add(1), _mm_sub_epi8(_mm_unpackhi_epi8(hi, lo), crlf));
        }
        out
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        const D: &[u8; 16] = b"0123456789abcdef";
        let mut out = [0u8; 32];
        for (o, b) in out.chunks_exact_mut(2).zip(raw) {
            o[0] = D[usize::from(b >> 4)];
            o[1] = D[usize::from(b & 15)];
        }
        out[30..].copy_from_slice(b"\r\n");
        out
    }
}

/// AES-128 encryption of single blocks with AES-NI, for short MACs on the
/// packet path: the block goes in and comes out as a `u128` (its bytes in
/// memory order, little-endian, as `u128::from_le_bytes` reads them), so a
/// caller that builds it in registers hands it over in registers. Through
/// the `aes` crate's block API it went through memory, and the 16-byte load
/// of a block just written in two 8-byte halves waited for those stores to
/// retire (no store-to-load forwarding across two stores) before the ten
/// dependent rounds could start.
///
/// The round keys are cleared when it is dropped.
#[cfg(target_arch = "x86_64")]
pub struct Aes128Ni {
    keys: [core::arch::x86_64::__m128i; 11],
}

#[cfg(target_arch = "x86_64")]
impl Aes128Ni {
    /// The key schedule of `key`, or `None` where the CPU has no AES-NI.
    pub fn new(key: &[u8; 16]) -> Option<Aes128Ni> {
        if !std::is_x86_feature_detected!("aes") {
            return None;
        }
        // SAFETY: the CPU has AES-NI (checked above); SSE2 is baseline.
        Some(Aes128Ni {
            keys: unsafe { aes128_expand(key) },
        })
    }

    /// The encryption of `block`.
    #[inline]
    pub fn encrypt(&self, block: u128) -> u128 {
        // SAFETY: an `Aes128Ni` exists only where the CPU has AES-NI.
        unsafe { aes128_encrypt(&self.keys, block) }
    }
}

#[cfg(target_arch = "x86_64")]
impl Drop for Aes128Ni {
    fn drop(&mut self) {
        for k in self.keys.iter_mut() {
            // SAFETY: a valid, aligned `__m128i` of this struct; volatile so
            // that the clearing is not removed as a dead store.
            unsafe { core::ptr::write_volatile(k, core::arch::x86_64::_mm_setzero_si128()) };
        }
    }
}

/// FIPS-197 key expansion for AES-128.
///
/// # Safety
/// The CPU must support AES-NI.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "aes")]
unsafe fn aes128_expand(key: &[u8; 16]) -> [core::arch::x86_64::__m128i; 11] {
    use core::arch::x86_64::{
        __m128i, _mm_aeskeygenassist_si128, _mm_loadu_si128, _mm_shuffle_epi32, _mm_slli_si128, _mm_xor_si128,
    };
    #[inline(always)]
    unsafe fn next(k: __m128i, assist: __m128i) -> __m128i {
        let t = _mm_shuffle_epi32::<0xff>(assist);
        let k = _mm_xor_si128(k, _mm_slli_si128::<4>(k));
        let k = _mm_xor_si128(k, _mm_slli_si128::<4>(k));
        let k = _mm_xor_si128(k, _mm_slli_si128::<4>(k));
        _mm_xor_si128(k, t)
    }
    let mut r = [_mm_loadu_si128(key.as_ptr() as *const __m128i); 11];
    macro_rules! round {
        ($i:expr, $rcon:expr) => {
            r[$i] = next(r[$i - 1], _mm_aeskeygenassist_si128::<$rcon>(r[$i - 1]));
        };
    }
    round!(1, 0x01);
    round!(2, 0x02);
    round!(3, 0x04);
    round!(4, 0x08);
    round!(5, 0x10);
    round!(6, 0x20);
    round!(7, 0x40);
    round!(8, 0x80);
    round!(9, 0x1b);
    round!(10, 0x36);
    r
}

/// One AES-128 block encryption under the expanded `keys`.
///
/// # Safety
/// The CPU must support AES-NI.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "aes")]
#[inline]
unsafe fn aes128_encrypt(keys: &[core::arch::x86_64::__m128i; 11], block: u128) -> u128 {
    use core::arch::x86_64::{
        _mm_aesenc_si128, _mm_aesenclast_si128, _mm_cvtsi128_si64, _mm_set_epi64x, _mm_unpackhi_epi64,
        _mm_xor_si128,
    };
    let mut v = _mm_xor_si128(_mm_set_epi64x((block >> 64) as i64, block as i64), keys[0]);
    for k in &keys[1..10] {
        v = _mm_aesenc_si128(v, *k);
    }
    v = _mm_aesenclast_si128(v, keys[10]);
    let lo = _mm_cvtsi128_si64(v) as u64;
    let hi = _mm_cvtsi128_si64(_mm_unpackhi_epi64(v, v)) as u64;
    u128::from(hi) << 64 | u128::from(lo)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_matches_format_and_the_portable_form() {
        for base in (0..256).step_by(32) {
            let mut raw = [0u8; 32];
            for (i, r) in raw.iter_mut().enumerate() {
                *r = (base + i) as u8;
            }
            raw[31] = !raw[0];
            for n in [1, 15, 16, 17, 27, 32] {
                let (mut a, mut b) = ([0u8; 64], [0u8; 64]);
                hex_lower32(&raw, &mut a, n);
                hex_lower32_portable(&raw, &mut b, n);
                let want: String = raw[..n].iter().map(|x| format!("{x:02x}")).collect();
                assert_eq!(&a[..2 * n], want.as_bytes());
                assert_eq!(a[..2 * n], b[..2 * n]);
            }
        }
    }

    #[test]
    fn header_name_and_lf_mask_match_the_portable_form_and_plain_loops() {
        const T: NameTable = NameTable::new(&[
            (b"via", 1),
            (b"v", 2),
            (b"P-Preferred-Identity", 3),
            (b"max-forwards", 4),
            (b"Content-Length", 5),
        ]);
        let lines: [&[u8]; 16] = [
            b"Via: x\r\nTo: y\r\n",
            b"VIA:\r\n",
            b"Vian: x\n\n",
            b"Vi : x",
            b"v:",
            b"P-Preferred-Identity: <sip:a@b>\r\nP-Preferred-Identity: <sip:a@b>\r\n\r\n",
            b"p-preferred-identitx: <sip:a@b>",
            b"MAX-forwards:70",
            b"X-An-Extremely-Long-Header-Name-Over-32: 1",
            b"X-An-Extremely-Long-Header-Name-:",
            b"Call-ID: 1",
            b"",
            b"a\x80b",
            b"Zz[`@{-:",
            b"Via\x1a x",
            b"content-length\x1a",
        ];
        let kinds = [
            (&b"via"[..], 1u8),
            (b"v", 2),
            (b"p-preferred-identity", 3),
            (b"max-forwards", 4),
            (b"content-length", 5),
        ];
        for l in lines {
            for cut in 0..=l.len() {
                let p = &l[..cut];
                // Zero-padded to 64 bytes, as the scanner hands lines in.
                let mut w = [0u8; 64];
                w[..p.len().min(64)].copy_from_slice(&p[..p.len().min(64)]);
                let got = header_name32(w.first_chunk().unwrap(), &T);
                assert_eq!(got, header_name32_portable(p, &T), "{p:?}");
                assert_eq!(Base.header_name(w.first_chunk().unwrap(), &T), got);
                assert_eq!(Base.lf_mask(&w), eq_mask64_portable(&w, b'\n'));
                let two = (eq_mask64_portable(&w, b'>'), eq_mask64_portable(&w, b':'));
                assert_eq!(Base.eq_mask64x2(&w, b'>', b':'), two, "{p:?}");
                let w32 = w.first_chunk::<32>().unwrap();
                assert_eq!(u64::from(Base.lf_mask32(w32)), eq_mask64_portable(w32, b'\n'));
                let two32 = (
                    eq_mask64_portable(w32, b'>') as u32,
                    eq_mask64_portable(w32, b':') as u32,
                );
                assert_eq!(Base.eq_mask32x2(w32, b'>', b':'), two32, "{p:?}");
                // The AVX2 forms wherever the CPU has them (every machine
                // this project builds and tests on does).
                #[cfg(target_arch = "x86_64")]
                if let Some(k) = Avx2::get() {
                    assert_eq!(k.header_name(w.first_chunk().unwrap(), &T), got, "{p:?}");
                    assert_eq!(k.lf_mask(&w), eq_mask64_portable(&w, b'\n'), "{p:?}");
                    assert_eq!(k.eq_mask64x2(&w, b'>', b':'), two, "{p:?}");
                    assert_eq!(k.eq_mask32x2(w32, b'>', b':'), two32, "{p:?}");
                    assert_eq!(
                        u64::from(k.lf_mask32(w32)),
                        eq_mask64_portable(w32, b'\n'),
                        "{p:?}"
                    );
                }
                let run = p
                    .iter()
                    .take_while(|c| c.is_ascii_alphabetic() || **c == b'-')
                    .take(32)
                    .count();
                let lower = p[..run].to_ascii_lowercase();
                let kind = kinds.iter().find(|k| k.0 == &lower[..]).map_or(0, |k| k.1);
                let colon = p.get(run).is_some_and(|c| c | 0x20 == b':');
                assert_eq!(got, (run, if colon { kind } else { 0 }), "{p:?}");
                assert_eq!(T.kind_of(&p[..run]), kind, "{p:?}");
                let lf = p
                    .iter()
                    .take(64)
                    .enumerate()
                    .fold(0u64, |m, (i, c)| m | u64::from(*c == b'\n') << i);
                assert_eq!(eq_mask64(&w, b'\n'), lf, "{p:?}");
            }
        }
    }

    /// The slot of a name from its first four bytes is the slot of its
    /// lowercased first byte, whatever the other three bytes.
    #[test]
    fn slot_of_word_matches_slot() {
        for n in 0..64 {
            for c in 0..=255u8 {
                for rest in [0u32, 0xffff_ff00, 0x1234_5600, 0x8080_8000] {
                    let x = u32::from(c) | rest;
                    assert_eq!(
                        NameTable::slot_of_word(n, x),
                        NameTable::slot(n, c | 0x20),
                        "{n} {x:#x}"
                    );
                }
            }
        }
    }

    /// A window is there exactly when `p.get(pos..)` has 64 bytes, and is
    /// those bytes.
    #[test]
    fn windows_are_the_first_chunks() {
        let v: Vec<u8> = (0..200u8).collect();
        for len in [0usize, 1, 63, 64, 65, 127, 128, 200] {
            let p = &v[..len];
            let w = Windows64::new(p);
            assert_eq!(w.is_some(), len >= 64);
            for pos in 0..len + 70 {
                let want = p.get(pos..).and_then(|r| r.first_chunk::<64>());
                assert_eq!(w.and_then(|w| w.at(pos)), want, "{len} {pos}");
            }
            assert_eq!(w.and_then(|w| w.at(usize::MAX)), None);
        }
    }

    fn fold(mut acc: u64) -> u16 {
        while acc > 0xffff {
            acc = (acc & 0xffff) + (acc >> 16);
        }
        acc as u16
    }

    fn bytes(n: usize, seed: u8) -> Vec<u8> {
        (0..n)
            .map(|i| (i as u8).wrapping_mul(37).wrapping_add(seed) ^ 0xa5)
            .collect()
    }

    #[test]
    fn masks_agree_with_portable_form_at_every_length_and_offset() {
        let mut v = bytes(300, 3);
        for i in (0..300).step_by(7) {
            v[i] = b'\n';
        }
        for start in 0..70 {
            for end in start..v.len() {
                let c = &v[start..end];
                assert_eq!(
                    eq_mask64(c, b'\n'),
                    eq_mask64_portable(c, b'\n'),
                    "{start}..{end}"
                );
            }
        }
    }

    #[test]
    fn alpha_dash_runs_match_a_plain_scan() {
        let text: Vec<u8> = (0u8..=255).collect();
        for start in 0..text.len() {
            for len in [0usize, 1, 5, 15, 16, 17, 40] {
                let end = (start + len).min(text.len());
                let c = &text[start..end];
                let want = c
                    .iter()
                    .take(16)
                    .position(|c| !(c.is_ascii_alphabetic() || *c == b'-'))
                    .unwrap_or(c.len().min(16));
                assert_eq!(alpha_dash_run16(c), want, "{start}+{len}");
            }
        }
        let name = b"P-Preferred-Identity: x";
        assert_eq!(alpha_dash_run16(name), 16);
        assert_eq!(alpha_dash_run16(b"Call-ID: 1234567890"), 7);
    }

    #[test]
    fn finder_yields_every_position_in_order() {
        for len in [0usize, 1, 63, 64, 65, 127, 128, 129, 500] {
            let mut v = vec![b'a'; len];
            for i in (0..len).filter(|i| i % 5 == 0 || i % 64 == 63) {
                v[i] = b'\n';
            }
            for from in [0usize, 1, 10, 64, 70] {
                let want: Vec<usize> = (from..len).filter(|&i| v[i] == b'\n').collect();
                let got: Vec<usize> = Finder::new(&v, b'\n', from).collect();
                assert_eq!(got, want, "len {len} from {from}");
            }
        }
    }

    /// The exact sum of the native-endian words of `v`, odd byte zero-padded.
    fn word_sum(v: &[u8]) -> u64 {
        v.chunks(2)
            .map(|c| u64::from(u16::from_ne_bytes([c[0], *c.get(1).unwrap_or(&0)])))
            .sum()
    }

    /// Every implementation of the sum over `v`, named: the dispatcher, the
    /// portable loop, the SSE2 kernel, the dispatch without AVX2 and (where
    /// the CPU has it) AVX2.
    fn all_sums(v: &[u8]) -> Vec<(&'static str, u64)> {
        #[cfg_attr(not(target_arch = "x86_64"), allow(unused_mut))]
        let mut out = vec![("sum16_ne", sum16_ne(v)), ("portable", sum16_ne_portable(v))];
        #[cfg(target_arch = "x86_64")]
        {
            // SAFETY: SSE2 is part of the x86_64 baseline.
            out.push(("sse2", unsafe { sum16_ne_sse2(v) }));
            out.push(("baseline", sum16_ne_baseline(v)));
            if std::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU has AVX2 (checked just above).
                out.push(("avx2", unsafe { sum16_ne_avx2(v) }));
                if v.len() >= 32 {
                    // SAFETY: as above.
                    out.push(("avx2 long", unsafe { sum16_ne_avx2_long(v) }));
                }
            }
        }
        out
    }

    /// Every implementation folds to the plain word sum of `v`, and the
    /// vector kernels (which sum exactly from 16 bytes on) equal it before
    /// folding.
    fn check_sums(v: &[u8], what: &str) {
        let want = word_sum(v);
        for (name, got) in all_sums(v) {
            assert_eq!(fold(got), fold(want), "{name}: {what}");
            let exact = match name {
                "sse2" | "avx2 long" => v.len() >= 16,
                // Below `SUM_AVX2_MIN` the AVX2 entry hands on to the portable loop.
                "avx2" => v.len() >= 64,
                _ => false,
            };
            if exact {
                assert_eq!(got, want, "{name} (exact): {what}");
            }
        }
    }

    #[test]
    fn sums_agree_with_a_plain_word_sum_at_every_length_and_offset() {
        let v = bytes(320, 11);
        for start in 0..9 {
            for len in 0..300 {
                check_sums(&v[start..start + len], &format!("{start}+{len}"));
            }
        }
    }

    #[test]
    fn sums_agree_with_a_plain_word_sum_on_big_inputs() {
        // Around the 32-bit lane runs of both kernels (2048 vectors of 16 and
        // of 32 bytes) and their multiples.
        let v = bytes(300_000, 5);
        for len in [
            1500, 9000, 32_767, 32_768, 32_801, 65_535, 65_536, 65_537, 65_569, 70_000, 131_105,
        ] {
            for start in [0, 1] {
                check_sums(&v[start..start + len], &format!("{start}+{len}"));
            }
        }
        check_sums(&v[3..], "3+rest");
    }

    #[test]
    fn sum_of_all_ones_does_not_overflow_a_lane() {
        let v = vec![0xffu8; 600_001];
        for len in (0..300).chain([65_536, 65_537, 131_072, 600_000, 600_001]) {
            check_sums(&v[..len], &format!("0xff * {len}"));
        }
        assert_eq!(fold(sum16_ne(&v[..600_000])), fold(300_000 * 0xffff));
    }

    #[test]
    fn sum_of_zeros_is_zero_not_negative_zero() {
        let v = vec![0u8; 200_001];
        for len in (0..300).chain([65_536, 65_537, 200_001]) {
            for (name, got) in all_sums(&v[..len]) {
                assert_eq!(fold(got), 0, "{name}: zeros * {len}");
            }
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn aes_ni_block_matches_fips_197_and_the_aes_crate() {
        use aes::cipher::{BlockEncrypt, KeyInit};
        let Some(ni) = Aes128Ni::new(&[0u8; 16]) else {
            eprintln!("no AES-NI on this CPU: nothing to check");
            return;
        };
        drop(ni);
        // FIPS-197 appendix C.1.
        let key: [u8; 16] = core::array::from_fn(|i| i as u8);
        let pt: [u8; 16] = core::array::from_fn(|i| (i as u8) * 0x11);
        let ni = Aes128Ni::new(&key).unwrap();
        let ct = ni.encrypt(u128::from_le_bytes(pt)).to_le_bytes();
        assert_eq!(
            ct,
            [
                0x69, 0xc4, 0xe0, 0xd8, 0x6a, 0x7b, 0x04, 0x30, 0xd8, 0xcd, 0xb7, 0x80, 0x70, 0xb4, 0xc5,
                0x5a
            ]
        );
        // Random keys and blocks against the crate.
        let mut x = 0x9e37_79b9_7f4a_7c15_u64;
        let mut rnd = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..200 {
            let key = (u128::from(rnd()) << 64 | u128::from(rnd())).to_le_bytes();
            let block = u128::from(rnd()) << 64 | u128::from(rnd());
            let ni = Aes128Ni::new(&key).unwrap();
            let soft = aes::Aes128Enc::new(&key.into());
            let mut b = aes::Block::from(block.to_le_bytes());
            soft.encrypt_block(&mut b);
            assert_eq!(ni.encrypt(block).to_le_bytes(), <[u8; 16]>::from(b));
        }
    }
}
