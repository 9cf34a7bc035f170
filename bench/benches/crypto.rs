//! Crypto library selection by benchmark: ring, aws-lc-rs and RustCrypto,
//! per ESP primitive, at 64/256/800/1400 bytes, one core.
//!
//! Primitives: AES-128-GCM seal and open (16-byte tag, 8-byte AAD as in
//! ESP), AES-GMAC (GCM with empty plaintext and AAD = data), HMAC-SHA1-96,
//! HMAC-MD5-96, AES-128-CBC encrypt and decrypt (no padding, whole blocks).
//! ring has no MD5 and no CBC; aws-lc-rs has no HMAC-MD5. Keys and key
//! schedules are built once outside the timed loop, as the data plane does.
//!
//! Run: `cargo bench -p bench --bench crypto` (set `CRYPTO_QUICK=1` for a
//! shorter run). After criterion's output a table in Mpps is printed from a
//! simple timed loop (`--quick` figures, for the README).

use criterion::{black_box, criterion_group, BenchmarkId, Criterion, Throughput};
use std::time::{Duration, Instant};

const SIZES: [usize; 4] = [64, 256, 800, 1400];
const KEY: [u8; 16] = [0x42; 16];
const HKEY: [u8; 20] = [0x24; 20];
const NONCE: [u8; 12] = [7; 12];
const AAD: [u8; 8] = [1, 2, 3, 4, 0, 0, 0, 9];

/// One library's implementation of one primitive, over a buffer.
type Op = Box<dyn FnMut(&mut [u8])>;

fn gcm_seal(lib: &str) -> Option<Op> {
    match lib {
        "ring" => {
            use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_128_GCM};
            let k = LessSafeKey::new(UnboundKey::new(&AES_128_GCM, &KEY).ok()?);
            Some(Box::new(move |b: &mut [u8]| {
                let t = k
                    .seal_in_place_separate_tag(Nonce::assume_unique_for_key(NONCE), Aad::from(AAD), b)
                    .unwrap();
                let _ = black_box(t);
            }))
        }
        "aws-lc-rs" => {
            use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_128_GCM};
            let k = LessSafeKey::new(UnboundKey::new(&AES_128_GCM, &KEY).ok()?);
            Some(Box::new(move |b: &mut [u8]| {
                let t = k
                    .seal_in_place_separate_tag(Nonce::assume_unique_for_key(NONCE), Aad::from(AAD), b)
                    .unwrap();
                let _ = black_box(t);
            }))
        }
        "rustcrypto" => {
            use aes_gcm::aead::{AeadInPlace, KeyInit};
            let k = aes_gcm::Aes128Gcm::new_from_slice(&KEY).ok()?;
            Some(Box::new(move |b: &mut [u8]| {
                let t = k.encrypt_in_place_detached((&NONCE).into(), &AAD, b).unwrap();
                let _ = black_box(t);
            }))
        }
        _ => None,
    }
}

/// Open: a ciphertext and tag are sealed once; each iteration copies them
/// from the template into the work buffer (≤ 1.4 kB memcpy, ~1–2 % of the
/// cost) and opens in place, so every open verifies a valid tag.
fn gcm_open(lib: &str, len: usize) -> Option<Op> {
    let mut tmpl = vec![0x5au8; len + 16];
    match lib {
        "ring" => {
            use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_128_GCM};
            let k = LessSafeKey::new(UnboundKey::new(&AES_128_GCM, &KEY).ok()?);
            let t = k
                .seal_in_place_separate_tag(
                    Nonce::assume_unique_for_key(NONCE),
                    Aad::from(AAD),
                    &mut tmpl[..len],
                )
                .ok()?;
            tmpl[len..].copy_from_slice(t.as_ref());
            let mut work = tmpl.clone();
            Some(Box::new(move |_b: &mut [u8]| {
                work.copy_from_slice(&tmpl);
                let p = k
                    .open_in_place(Nonce::assume_unique_for_key(NONCE), Aad::from(AAD), &mut work)
                    .unwrap();
                let _ = black_box(p);
            }))
        }
        "aws-lc-rs" => {
            use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_128_GCM};
            let k = LessSafeKey::new(UnboundKey::new(&AES_128_GCM, &KEY).ok()?);
            let t = k
                .seal_in_place_separate_tag(
                    Nonce::assume_unique_for_key(NONCE),
                    Aad::from(AAD),
                    &mut tmpl[..len],
                )
                .ok()?;
            tmpl[len..].copy_from_slice(t.as_ref());
            let mut work = tmpl.clone();
            Some(Box::new(move |_b: &mut [u8]| {
                work.copy_from_slice(&tmpl);
                let p = k
                    .open_in_place(Nonce::assume_unique_for_key(NONCE), Aad::from(AAD), &mut work)
                    .unwrap();
                let _ = black_box(p);
            }))
        }
        "rustcrypto" => {
            use aes_gcm::aead::{AeadInPlace, KeyInit};
            let k = aes_gcm::Aes128Gcm::new_from_slice(&KEY).ok()?;
            let t = k
                .encrypt_in_place_detached((&NONCE).into(), &AAD, &mut tmpl[..len])
                .ok()?;
            let mut work = tmpl[..len].to_vec();
            let src = tmpl[..len].to_vec();
            Some(Box::new(move |_b: &mut [u8]| {
                work.copy_from_slice(&src);
                k.decrypt_in_place_detached((&NONCE).into(), &AAD, &mut work, &t)
                    .unwrap();
                let _ = black_box(&work);
            }))
        }
        _ => None,
    }
}

fn gmac(lib: &str) -> Option<Op> {
    match lib {
        "ring" => {
            use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_128_GCM};
            let k = LessSafeKey::new(UnboundKey::new(&AES_128_GCM, &KEY).ok()?);
            Some(Box::new(move |b: &mut [u8]| {
                let t = k
                    .seal_in_place_separate_tag(Nonce::assume_unique_for_key(NONCE), Aad::from(&*b), &mut [])
                    .unwrap();
                let _ = black_box(t);
            }))
        }
        "aws-lc-rs" => {
            use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_128_GCM};
            let k = LessSafeKey::new(UnboundKey::new(&AES_128_GCM, &KEY).ok()?);
            Some(Box::new(move |b: &mut [u8]| {
                let t = k
                    .seal_in_place_separate_tag(Nonce::assume_unique_for_key(NONCE), Aad::from(&*b), &mut [])
                    .unwrap();
                let _ = black_box(t);
            }))
        }
        "rustcrypto" => {
            use aes_gcm::aead::{AeadInPlace, KeyInit};
            let k = aes_gcm::Aes128Gcm::new_from_slice(&KEY).ok()?;
            Some(Box::new(move |b: &mut [u8]| {
                let t = k.encrypt_in_place_detached((&NONCE).into(), b, &mut []).unwrap();
                let _ = black_box(t);
            }))
        }
        _ => None,
    }
}

fn hmac_sha1(lib: &str) -> Option<Op> {
    match lib {
        "ring" => {
            let k = ring::hmac::Key::new(ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &HKEY);
            Some(Box::new(move |b: &mut [u8]| {
                let t = ring::hmac::sign(&k, b);
                let _ = black_box(&t.as_ref()[..12]);
            }))
        }
        "aws-lc-rs" => {
            let k = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &HKEY);
            Some(Box::new(move |b: &mut [u8]| {
                let t = aws_lc_rs::hmac::sign(&k, b);
                let _ = black_box(&t.as_ref()[..12]);
            }))
        }
        "rustcrypto" => {
            use hmac::{Hmac, Mac};
            let k = <Hmac<sha1::Sha1> as Mac>::new_from_slice(&HKEY).ok()?;
            Some(Box::new(move |b: &mut [u8]| {
                let mut m = k.clone();
                m.update(b);
                let t = m.finalize().into_bytes();
                let _ = black_box(&t[..12]);
            }))
        }
        _ => None,
    }
}

fn hmac_md5(lib: &str) -> Option<Op> {
    match lib {
        "rustcrypto" => {
            use hmac::{Hmac, Mac};
            let k = <Hmac<md5::Md5> as Mac>::new_from_slice(&KEY).ok()?;
            Some(Box::new(move |b: &mut [u8]| {
                let mut m = k.clone();
                m.update(b);
                let t = m.finalize().into_bytes();
                let _ = black_box(&t[..12]);
            }))
        }
        _ => None,
    }
}

fn cbc_enc(lib: &str) -> Option<Op> {
    match lib {
        "aws-lc-rs" => {
            use aws_lc_rs::cipher::{EncryptingKey, EncryptionContext, UnboundCipherKey, AES_128};
            let k = EncryptingKey::cbc(UnboundCipherKey::new(&AES_128, &KEY).ok()?).ok()?;
            Some(Box::new(move |b: &mut [u8]| {
                let ctx = EncryptionContext::Iv128(aws_lc_rs::iv::FixedLength::from([3u8; 16]));
                let r = k.less_safe_encrypt(b, ctx).unwrap();
                let _ = black_box(r);
            }))
        }
        "rustcrypto" => {
            use aes::cipher::{BlockEncryptMut, InnerIvInit, KeyInit};
            let k = aes::Aes128::new_from_slice(&KEY).ok()?;
            Some(Box::new(move |b: &mut [u8]| {
                let mut e = cbc::Encryptor::<aes::Aes128>::inner_iv_init(k.clone(), &[3u8; 16].into());
                let (blocks, _) = aes::cipher::inout::InOutBuf::from(&mut *b).into_chunks();
                e.encrypt_blocks_inout_mut(blocks);
                let _ = black_box(b);
            }))
        }
        _ => None,
    }
}

fn cbc_dec(lib: &str) -> Option<Op> {
    match lib {
        "aws-lc-rs" => {
            use aws_lc_rs::cipher::{DecryptingKey, DecryptionContext, UnboundCipherKey, AES_128};
            let k = DecryptingKey::cbc(UnboundCipherKey::new(&AES_128, &KEY).ok()?).ok()?;
            Some(Box::new(move |b: &mut [u8]| {
                let ctx = DecryptionContext::Iv128(aws_lc_rs::iv::FixedLength::from([3u8; 16]));
                let r = k.decrypt(b, ctx).unwrap();
                let _ = black_box(r);
            }))
        }
        "rustcrypto" => {
            use aes::cipher::{BlockDecryptMut, InnerIvInit, KeyInit};
            let k = aes::Aes128::new_from_slice(&KEY).ok()?;
            Some(Box::new(move |b: &mut [u8]| {
                let mut d = cbc::Decryptor::<aes::Aes128>::inner_iv_init(k.clone(), &[3u8; 16].into());
                let (blocks, _) = aes::cipher::inout::InOutBuf::from(&mut *b).into_chunks();
                d.decrypt_blocks_inout_mut(blocks);
                let _ = black_box(b);
            }))
        }
        _ => None,
    }
}

const LIBS: [&str; 3] = ["ring", "aws-lc-rs", "rustcrypto"];

type Maker = fn(&str, usize) -> Option<Op>;

fn primitives() -> Vec<(&'static str, Maker)> {
    vec![
        ("aes128gcm_seal", |l, _| gcm_seal(l)),
        ("aes128gcm_open", gcm_open),
        ("aes_gmac", |l, _| gmac(l)),
        ("hmac_sha1_96", |l, _| hmac_sha1(l)),
        ("hmac_md5_96", |l, _| hmac_md5(l)),
        ("aes128cbc_encrypt", |l, _| cbc_enc(l)),
        ("aes128cbc_decrypt", |l, _| cbc_dec(l)),
    ]
}

fn bench_all(c: &mut Criterion) {
    for (name, make) in primitives() {
        let mut g = c.benchmark_group(name);
        for &len in &SIZES {
            g.throughput(Throughput::Bytes(len as u64));
            for lib in LIBS {
                let Some(mut op) = make(lib, len) else { continue };
                let mut buf = vec![0x5au8; len];
                g.bench_with_input(BenchmarkId::new(lib, len), &len, |b, _| b.iter(|| op(&mut buf)));
            }
        }
        g.finish();
    }
}

/// A plain timed loop at 800 B, printed as a table in Mpps (the figures the
/// README records).
fn mpps_table() {
    let quick = std::env::var_os("CRYPTO_QUICK").is_some();
    let dur = Duration::from_millis(if quick { 200 } else { 600 });
    println!("\n# crypto-only Mpps on one core (800 B unless noted)");
    println!(
        "{:<20} {:>10} {:>10} {:>11}",
        "primitive", "ring", "aws-lc-rs", "rustcrypto"
    );
    for (name, make) in primitives() {
        let mut row = format!("{name:<20}");
        for lib in LIBS {
            let cell = match make(lib, 800) {
                Some(mut op) => {
                    let mut buf = vec![0x5au8; 800];
                    for _ in 0..2000 {
                        op(&mut buf);
                    }
                    let t0 = Instant::now();
                    let mut n = 0u64;
                    while t0.elapsed() < dur {
                        for _ in 0..256 {
                            op(&mut buf);
                        }
                        n += 256;
                    }
                    format!("{:.2}", n as f64 / t0.elapsed().as_secs_f64() / 1e6)
                }
                None => "-".to_string(),
            };
            row.push_str(&format!(" {cell:>10}"));
        }
        println!("{row}");
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_millis(if std::env::var_os("CRYPTO_QUICK").is_some() { 300 } else { 1000 }))
        .sample_size(20);
    targets = bench_all
}

fn main() {
    if std::env::var_os("CRYPTO_TABLE_ONLY").is_none() {
        benches();
        Criterion::default().configure_from_args().final_summary();
    }
    mpps_table();
}
