//! ESP decap and encap per algorithm pair at 64/256/800/1400-byte inner IP
//! packets, with the crypto-only bound measured in the same run.
//!
//! - `decap`: copy a pre-encapsulated frame into a `PacketBuf`, then
//!   `esp::decap` (lookup, anti-replay, ICV, decrypt, checks, rewrite).
//!   Every packet carries a fresh sequence number; the SA is rebuilt every
//!   `POOL` packets outside the timed region.
//! - `encap`: copy the plain frame in, then `esp::encap`.
//! - `bound_open` / `bound_seal`: the same copy plus the provider's `open` /
//!   `seal` over the same ESP bytes: raw cipher + MAC, nothing else.
//!
//! Run: `cargo bench -p bench --bench esp` (`ESP_QUICK=1` for short runs).
//! After criterion's output a table prints Mpps, Gbps (inner IP bytes),
//! cycles/byte (from the nominal CPU MHz in /proc/cpuinfo) and the ratio to
//! the crypto-only bound.

use control::keys::derive_sa_keys;
use control::types::{EncrAlg, IntegAlg};
use criterion::{black_box, BenchmarkId, Criterion, Throughput};
use dataplane::buf::{Buf, PacketBuf};
use dataplane::esp::{decap, encap, EspCrypto, InboundSa, OutboundSa};
use std::time::{Duration, Instant};

const SIZES: [usize; 4] = [64, 256, 800, 1400];
const POOL: usize = 4096;
const PAIRS: [(IntegAlg, EncrAlg); 6] = [
    (IntegAlg::Null, EncrAlg::AesGcm),
    (IntegAlg::AesGmac, EncrAlg::Null),
    (IntegAlg::HmacSha196, EncrAlg::AesCbc),
    (IntegAlg::HmacSha196, EncrAlg::Null),
    (IntegAlg::HmacMd596, EncrAlg::AesCbc),
    (IntegAlg::HmacMd596, EncrAlg::Null),
];
const CK: [u8; 16] = [0x11; 16];
const IK: [u8; 16] = [0x22; 16];

/// Ethernet + IPv4 + UDP frame whose IP packet is `ip_len` bytes.
fn plain_frame(ip_len: usize) -> Vec<u8> {
    let udp_len = ip_len - 20;
    let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00, 0x45, 0];
    f.extend_from_slice(&(ip_len as u16).to_be_bytes());
    f.extend_from_slice(&[0, 1, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
    f.extend_from_slice(&5070u16.to_be_bytes());
    f.extend_from_slice(&5064u16.to_be_bytes());
    f.extend_from_slice(&(udp_len as u16).to_be_bytes());
    f.extend_from_slice(&[0, 0]);
    f.extend((0..udp_len - 8).map(|i| i as u8));
    f
}

fn name(p: (IntegAlg, EncrAlg)) -> String {
    format!("{}+{}", p.0.name(), p.1.name())
}

struct Setup {
    keys: control::keys::SaKeys,
    plain: Vec<u8>,
    wire: Vec<Vec<u8>>,
}

fn setup(pair: (IntegAlg, EncrAlg), ip_len: usize) -> Setup {
    let keys = derive_sa_keys(&CK, &IK, pair.0, pair.1);
    let o = OutboundSa::new(1, &keys, true).expect("valid pair");
    let plain = plain_frame(ip_len);
    let wire = (0..POOL)
        .map(|_| {
            let mut b = PacketBuf::from_slice(&plain).unwrap();
            encap(&mut b, 14, &o).unwrap();
            b.data().to_vec()
        })
        .collect();
    Setup { keys, plain, wire }
}

fn inbound(s: &Setup) -> InboundSa {
    InboundSa::new(1, &s.keys, 5070, 5064, true).unwrap()
}

/// Time `iters` decaps; the SA is rebuilt every POOL packets, untimed.
fn time_decap(s: &Setup, iters: u64) -> Duration {
    let mut b = PacketBuf::new();
    let mut total = Duration::ZERO;
    let mut done = 0u64;
    while done < iters {
        let sa = inbound(s);
        let n = ((iters - done) as usize).min(POOL);
        let t0 = Instant::now();
        for w in &s.wire[..n] {
            b.fill(w);
            let r = decap(&mut b, 14, |_| Some(&sa));
            black_box(r.is_ok());
        }
        total += t0.elapsed();
        done += n as u64;
    }
    total
}

fn time_bound_open(s: &Setup, iters: u64) -> Duration {
    let sa = inbound(s);
    let c = sa.crypto();
    let w = &s.wire[0];
    let mut buf = w.clone();
    let t0 = Instant::now();
    for _ in 0..iters {
        buf.copy_from_slice(w);
        black_box(c.open(&mut buf[34..]).is_ok());
    }
    t0.elapsed()
}

fn time_encap(s: &Setup, iters: u64) -> Duration {
    let o = OutboundSa::new(1, &s.keys, true).unwrap();
    let mut b = PacketBuf::new();
    let t0 = Instant::now();
    for _ in 0..iters {
        b.fill(&s.plain);
        black_box(encap(&mut b, 14, &o).is_ok());
    }
    t0.elapsed()
}

fn time_bound_seal(s: &Setup, iters: u64) -> Duration {
    let o = OutboundSa::new(1, &s.keys, true).unwrap();
    let c = o.crypto();
    let w = &s.wire[0];
    let mut buf = w.clone();
    let t0 = Instant::now();
    for _ in 0..iters {
        buf.copy_from_slice(w);
        black_box(c.seal(&mut buf[34..]).is_ok());
    }
    t0.elapsed()
}

fn criterion_benches(c: &mut Criterion) {
    type Timer = fn(&Setup, u64) -> Duration;
    let kinds: [(&str, Timer); 4] = [
        ("decap", time_decap),
        ("bound_open", time_bound_open),
        ("encap", time_encap),
        ("bound_seal", time_bound_seal),
    ];
    for (kind, f) in kinds {
        let mut g = c.benchmark_group(format!("esp_{kind}"));
        for pair in PAIRS {
            for &len in &SIZES {
                let s = setup(pair, len);
                g.throughput(Throughput::Bytes(len as u64));
                g.bench_with_input(BenchmarkId::new(name(pair), len), &len, |b, _| {
                    b.iter_custom(|iters| f(&s, iters))
                });
            }
        }
        g.finish();
    }
}

fn cpu_mhz() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    s.lines()
        .find(|l| l.starts_with("cpu MHz"))?
        .split(':')
        .nth(1)?
        .trim()
        .parse()
        .ok()
}

fn table() {
    let quick = std::env::var_os("ESP_QUICK").is_some();
    let iters: u64 = if quick { 20_000 } else { 100_000 };
    let mhz = cpu_mhz().unwrap_or(0.0);
    println!("\n# ESP per core, inner IPv4/UDP packet of N bytes (CPU {mhz:.0} MHz from /proc/cpuinfo)");
    println!(
        "{:<28} {:>5} {:>8} {:>7} {:>7} {:>9} {:>8} {:>7} {:>7} {:>9}",
        "pair", "N", "dec Mpps", "Gbps", "cyc/B", "%bound", "enc Mpps", "Gbps", "cyc/B", "%bound"
    );
    for pair in PAIRS {
        for &len in &SIZES {
            let s = setup(pair, len);
            let best = |f: fn(&Setup, u64) -> Duration| {
                (0..3)
                    .map(|_| f(&s, iters))
                    .min()
                    .unwrap_or(Duration::MAX)
                    .as_secs_f64()
                    / iters as f64
            };
            let (d, bo, e, bs) = (
                best(time_decap),
                best(time_bound_open),
                best(time_encap),
                best(time_bound_seal),
            );
            let gbps = |t: f64| len as f64 * 8.0 / t / 1e9;
            let cpb = |t: f64| t * mhz * 1e6 / len as f64;
            println!(
                "{:<28} {:>5} {:>8.2} {:>7.2} {:>7.2} {:>8.0}% {:>8.2} {:>7.2} {:>7.2} {:>8.0}%",
                name(pair),
                len,
                1e-6 / d,
                gbps(d),
                cpb(d),
                100.0 * bo / d,
                1e-6 / e,
                gbps(e),
                cpb(e),
                100.0 * bs / e
            );
        }
    }
}

fn main() {
    if std::env::var_os("ESP_TABLE_ONLY").is_none() {
        let quick = std::env::var_os("ESP_QUICK").is_some();
        let mut c = Criterion::default()
            .warm_up_time(Duration::from_millis(200))
            .measurement_time(Duration::from_millis(if quick { 300 } else { 1000 }))
            .sample_size(20)
            .configure_from_args();
        criterion_benches(&mut c);
        c.final_summary();
    }
    table();
}
