//! Vector kernels for the per-packet hot path: the byte-match bitmask of a
//! 64-byte chunk (how the SIP scanner finds every line end in one pass) and
//! the ones-complement accumulation behind the Internet checksum.
//!
//! Owns: SSE2 code paths (part of the x86_64 baseline, so no run-time
//! detection) and their portable fallbacks, which give identical results.
//!
//! Must never: read outside the slice it is given, allocate, or panic on any
//! length. Every `unsafe` block is a set of unaligned loads whose bounds are
//! checked right before it.
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
#[inline]
pub fn sum16_ne(bytes: &[u8]) -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        let (mut acc, mut done) = (0, 0);
        if bytes.len() >= 64 && std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2 (checked just above, cached by std).
            (acc, done) = unsafe { sum16_ne_avx2(bytes) };
        }
        let (a, d) = sum16_ne_sse2(&bytes[done..]);
        acc + a + sum16_ne_portable(&bytes[done + d..])
    }
    #[cfg(not(target_arch = "x86_64"))]
    sum16_ne_portable(bytes)
}

/// Sums whole 32-byte blocks; returns the sum and the bytes consumed (a
/// multiple of 32, so the rest starts at an even offset).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn sum16_ne_sse2(bytes: &[u8]) -> (u64, usize) {
    use core::arch::x86_64::{
        __m128i, _mm_add_epi32, _mm_and_si128, _mm_loadu_si128, _mm_set1_epi32, _mm_setzero_si128,
        _mm_srli_epi32, _mm_storeu_si128,
    };
    let blocks = bytes.len() / 32;
    let mut total = 0u64;
    let mut b = 0;
    while b < blocks {
        // Each 32-bit lane gains at most 2 * 0xffff per block: 16 384 blocks
        // (512 KiB) stay far below overflow.
        let run = (blocks - b).min(16_384);
        // SAFETY: block `k` covers bytes `32k .. 32k + 32`, and
        // `k < blocks = len / 32`, so every 16-byte load is in bounds. The
        // store writes a local array of exactly 16 bytes. SSE2 is baseline.
        unsafe {
            let low = _mm_set1_epi32(0xffff);
            let mut a0 = _mm_setzero_si128();
            let mut a1 = _mm_setzero_si128();
            let p = bytes.as_ptr() as *const __m128i;
            for k in b..b + run {
                let v0 = _mm_loadu_si128(p.add(2 * k));
                let v1 = _mm_loadu_si128(p.add(2 * k + 1));
                a0 = _mm_add_epi32(a0, _mm_and_si128(v0, low));
                a1 = _mm_add_epi32(a1, _mm_srli_epi32(v0, 16));
                a0 = _mm_add_epi32(a0, _mm_and_si128(v1, low));
                a1 = _mm_add_epi32(a1, _mm_srli_epi32(v1, 16));
            }
            let mut lanes = [0u32; 8];
            _mm_storeu_si128(lanes.as_mut_ptr() as *mut __m128i, a0);
            _mm_storeu_si128(lanes.as_mut_ptr().add(4) as *mut __m128i, a1);
            total += lanes.iter().map(|&l| u64::from(l)).sum::<u64>();
        }
        b += run;
    }
    (total, blocks * 32)
}

/// Sums whole 64-byte blocks with AVX2; returns the sum and the bytes
/// consumed (a multiple of 64).
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn sum16_ne_avx2(bytes: &[u8]) -> (u64, usize) {
    use core::arch::x86_64::{
        __m256i, _mm256_add_epi32, _mm256_and_si256, _mm256_loadu_si256, _mm256_set1_epi32,
        _mm256_setzero_si256, _mm256_srli_epi32, _mm256_storeu_si256,
    };
    let blocks = bytes.len() / 64;
    let mut total = 0u64;
    let mut b = 0;
    while b < blocks {
        // Each 32-bit lane gains at most 4 * 0xffff per block.
        let run = (blocks - b).min(8_192);
        let low = _mm256_set1_epi32(0xffff);
        let mut a0 = _mm256_setzero_si256();
        let mut a1 = _mm256_setzero_si256();
        let p = bytes.as_ptr() as *const __m256i;
        for k in b..b + run {
            // SAFETY: block k covers bytes 64k .. 64k + 64 and k < len / 64,
            // so both 32-byte loads are in bounds.
            let (v0, v1) = unsafe {
                (
                    _mm256_loadu_si256(p.add(2 * k)),
                    _mm256_loadu_si256(p.add(2 * k + 1)),
                )
            };
            a0 = _mm256_add_epi32(a0, _mm256_and_si256(v0, low));
            a1 = _mm256_add_epi32(a1, _mm256_srli_epi32(v0, 16));
            a0 = _mm256_add_epi32(a0, _mm256_and_si256(v1, low));
            a1 = _mm256_add_epi32(a1, _mm256_srli_epi32(v1, 16));
        }
        let mut lanes = [0u32; 16];
        // SAFETY: two 32-byte stores into a local array of exactly 64 bytes.
        unsafe {
            _mm256_storeu_si256(lanes.as_mut_ptr() as *mut __m256i, a0);
            _mm256_storeu_si256(lanes.as_mut_ptr().add(8) as *mut __m256i, a1);
        }
        total += lanes.iter().map(|&l| u64::from(l)).sum::<u64>();
        b += run;
    }
    (total, blocks * 64)
}

/// The portable form of [`sum16_ne`].
#[inline]
pub fn sum16_ne_portable(bytes: &[u8]) -> u64 {
    let mut acc0: u64 = 0;
    let mut acc1: u64 = 0;
    let mut big = bytes.chunks_exact(8);
    for c in &mut big {
        let w = u64::from_ne_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        acc0 += w & 0xffff_ffff;
        acc1 += w >> 32;
    }
    let mut rest = big.remainder();
    if let [a, b, c, d, tail @ ..] = rest {
        acc0 += u64::from(u32::from_ne_bytes([*a, *b, *c, *d]));
        rest = tail;
    }
    if let [a, b, tail @ ..] = rest {
        acc1 += u64::from(u16::from_ne_bytes([*a, *b]));
        rest = tail;
    }
    if let [a] = rest {
        acc1 += u64::from(u16::from_ne_bytes([*a, 0]));
    }
    acc0 + acc1
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn sums_agree_with_a_plain_word_sum() {
        for len in (0..200).chain([1500, 9000, 70_000]) {
            let v = bytes(len, len as u8);
            let mut want = 0u64;
            for c in v.chunks(2) {
                want += u64::from(u16::from_ne_bytes([c[0], *c.get(1).unwrap_or(&0)]));
            }
            assert_eq!(fold(sum16_ne(&v)), fold(want), "len {len}");
            assert_eq!(fold(sum16_ne_portable(&v)), fold(want), "len {len}");
        }
    }

    #[test]
    fn sum_of_all_ones_does_not_overflow_a_lane() {
        let v = vec![0xffu8; 600_000];
        let want = fold(300_000 * 0xffff);
        assert_eq!(fold(sum16_ne(&v)), want);
    }
}
