//! Lookup benchmarks for the lock-free table (`dataplane::table::LfMap`).
//!
//! Maps of 1 K, 1 M and 10 M entries, keyed by `u32` (an inbound SPI) and by
//! `IpAddr` (an Annex N source address, half IPv4 and half IPv6). For each:
//! random hits and random misses, one `get` at a time and `get_bulk` over a
//! burst of 32, with a guard per burst and a quiescent report per burst, as a
//! worker's poll loop does. Throughput is in lookups: ns per lookup is
//! 1e3 / (Melem/s).
//!
//! As a reference from the same run, the same probes go through a
//! single-threaded `hashbrown::HashMap` (SwissTable, foldhash) holding the same
//! entries: the cost of a lookup with no concurrency at all.
//!
//! Also prints the memory the 10 M maps take (bytes per entry from the table's
//! own accounting and from the process RSS).
//!
//! Run: `cargo bench -p bench --bench lookup`. On a shared, loaded machine set
//! `LOOKUP_CPU_TIME=1` to measure the bench thread's CPU time
//! (`CLOCK_THREAD_CPUTIME_ID`) instead of wall-clock time, so time spent
//! descheduled by other tenants is not counted.

use core::net::IpAddr;
use std::hint::black_box;
use std::time::Duration;

use criterion::measurement::{Measurement, ValueFormatter};
use criterion::{BenchmarkId, Criterion, Throughput};
use dataplane::table::{
    AddrHashBuilder, AddrKey, AddrMap, AddrMapReader, AddrMapWriter, CompactKey, Guard, LfMap, MapMemory,
    MapReader, MapWriter, QsbrDomain, QsbrReader, BULK,
};

const SIZES: [(usize, &str); 3] = [(1_000, "1K"), (1_000_000, "1M"), (10_000_000, "10M")];
/// Number of probe keys cycled through (random positions in the map).
const PROBES: usize = 1 << 16;

/// A bijection on u32 (odd multiply, xor-shift), so keys are distinct.
fn mix32(i: u32) -> u32 {
    let x = i.wrapping_mul(0x9E37_79B1);
    x ^ (x >> 15)
}

fn spi_key(i: usize) -> u32 {
    mix32(i as u32)
}

fn ip_key(i: usize) -> IpAddr {
    let m = mix32(i as u32 / 2);
    if i.is_multiple_of(2) {
        IpAddr::from(m.to_be_bytes())
    } else {
        IpAddr::from(((0x2001_0db8u128 << 96) | (u128::from(m) << 16) | 1).to_be_bytes())
    }
}

fn ip4_key(i: usize) -> IpAddr {
    IpAddr::from(mix32(i as u32).to_be_bytes())
}

/// xorshift64*: deterministic probe positions.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

fn rss_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

/// Transparent huge pages in use by the process (kB), from smaps_rollup.
fn anon_huge_kb() -> usize {
    let s = std::fs::read_to_string("/proc/self/smaps_rollup").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with("AnonHugePages:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// The map under test: the generic `LfMap` (keys hashed through `Hash`) or
/// an `AddrMap` (keys converted to the compact `AddrKey`).
trait Bench<K>: Sized {
    type W: BenchWriter<K>;
    fn build(domain: &QsbrDomain, n: usize) -> (Self::W, Self);
    fn get<'a>(&'a self, g: &Guard<'a>, k: &K) -> Option<&'a u64>;
    fn get_bulk<'a>(&'a self, g: &Guard<'a>, keys: &[K], out: &mut [Option<&'a u64>]);
}

trait BenchWriter<K> {
    fn insert(&mut self, k: K, v: u64);
    fn publish(&mut self);
    fn memory(&self) -> MapMemory;
    fn rebuilds(&self) -> u64;
}

impl<K, S> Bench<K> for MapReader<K, u64, S>
where
    K: core::hash::Hash + Eq + Copy + Send + Sync,
    S: core::hash::BuildHasher + Default + Send + Sync,
{
    type W = MapWriter<K, u64, S>;
    fn build(domain: &QsbrDomain, n: usize) -> (Self::W, Self) {
        LfMap::with_capacity_and_hasher(domain, n, S::default())
    }
    #[inline(always)]
    fn get<'a>(&'a self, g: &Guard<'a>, k: &K) -> Option<&'a u64> {
        MapReader::get(self, g, k)
    }
    #[inline(always)]
    fn get_bulk<'a>(&'a self, g: &Guard<'a>, keys: &[K], out: &mut [Option<&'a u64>]) {
        MapReader::get_bulk(self, g, keys, out);
    }
}

impl<K, S> BenchWriter<K> for MapWriter<K, u64, S>
where
    K: core::hash::Hash + Eq + Copy + Send + Sync,
    S: core::hash::BuildHasher + Send + Sync,
{
    fn insert(&mut self, k: K, v: u64) {
        MapWriter::insert(self, k, v);
    }
    fn publish(&mut self) {
        MapWriter::publish(self);
    }
    fn memory(&self) -> MapMemory {
        MapWriter::memory(self)
    }
    fn rebuilds(&self) -> u64 {
        MapWriter::rebuilds(self)
    }
}

impl<K: CompactKey> Bench<K> for AddrMapReader<K, u64> {
    type W = AddrMapWriter<K, u64>;
    fn build(domain: &QsbrDomain, n: usize) -> (Self::W, Self) {
        AddrMap::with_capacity(domain, n)
    }
    #[inline(always)]
    fn get<'a>(&'a self, g: &Guard<'a>, k: &K) -> Option<&'a u64> {
        AddrMapReader::get(self, g, k)
    }
    #[inline(always)]
    fn get_bulk<'a>(&'a self, g: &Guard<'a>, keys: &[K], out: &mut [Option<&'a u64>]) {
        AddrMapReader::get_bulk(self, g, keys, out);
    }
}

impl<K: CompactKey> BenchWriter<K> for AddrMapWriter<K, u64> {
    fn insert(&mut self, k: K, v: u64) {
        AddrMapWriter::insert(self, k, v);
    }
    fn publish(&mut self) {
        AddrMapWriter::publish(self);
    }
    fn memory(&self) -> MapMemory {
        AddrMapWriter::memory(self)
    }
    fn rebuilds(&self) -> u64 {
        AddrMapWriter::rebuilds(self)
    }
}

/// Sizes to run: all, or the labels listed in `LOOKUP_SIZES` (e.g. `10M`).
fn sizes() -> Vec<(usize, &'static str)> {
    let only = std::env::var("LOOKUP_SIZES").unwrap_or_default();
    SIZES
        .into_iter()
        .filter(|(_, l)| only.is_empty() || only.split(',').any(|o| o == *l))
        .collect()
}

fn bench_map<M: Measurement, K, R: Bench<K>>(
    c: &mut Criterion<M>,
    kind: &str,
    key: fn(usize) -> K,
    reference: bool,
) where
    K: core::hash::Hash + Eq + Copy + Send + Sync,
{
    let domain = QsbrDomain::new(2);
    for (n, label) in sizes() {
        let rss0 = rss_bytes();
        let (mut w, r) = R::build(&domain, n);
        for i in 0..n {
            w.insert(key(i), i as u64);
        }
        w.publish();
        let rss1 = rss_bytes();
        let m = w.memory();
        eprintln!(
            "lookup/{kind}/{label}: {} entries, {} slots, rebuilds {}; table {:.1} B/entry \
             (slots {:.1} + entries {:.1}); RSS delta {:.1} B/entry; THP {} MiB",
            m.entries,
            m.slots,
            w.rebuilds(),
            (m.slot_bytes + m.entry_bytes) as f64 / n as f64,
            m.slot_bytes as f64 / n as f64,
            m.entry_bytes as f64 / n as f64,
            rss1.saturating_sub(rss0) as f64 / n as f64,
            anon_huge_kb() / 1024,
        );
        let mut rng = Rng(0x5EED_0000 + n as u64);
        let hits: Vec<K> = (0..PROBES).map(|_| key(rng.next() as usize % n)).collect();
        let misses: Vec<K> = (0..PROBES).map(|_| key(n + rng.next() as usize % n)).collect();
        let mut q = domain.register().expect("one reader");

        let mut g = c.benchmark_group(format!("lookup/{kind}/{label}"));
        g.throughput(Throughput::Elements(BULK as u64));
        for (what, probes) in [("hit", &hits), ("miss", &misses)] {
            g.bench_function(BenchmarkId::new("get", what), |b| {
                let mut at = 0;
                b.iter(|| {
                    let found = burst_get(&r, &mut q, &probes[at..at + BULK]);
                    at = (at + BULK) % PROBES;
                    found
                })
            });
            g.bench_function(BenchmarkId::new("bulk", what), |b| {
                let mut at = 0;
                b.iter(|| {
                    let found = burst_bulk(&r, &mut q, &probes[at..at + BULK]);
                    at = (at + BULK) % PROBES;
                    found
                })
            });
        }
        let with_reference = reference;
        let mut reference = hashbrown::HashMap::with_capacity(if with_reference { n } else { 0 });
        for i in 0..if with_reference { n } else { 0 } {
            reference.insert(key(i), i as u64);
        }
        for (what, probes) in [("hit", &hits), ("miss", &misses)] {
            if reference.is_empty() {
                break;
            }
            g.bench_function(BenchmarkId::new("hashbrown", what), |b| {
                let mut at = 0;
                b.iter(|| {
                    let mut sum = 0;
                    for k in &probes[at..at + BULK] {
                        if let Some(v) = reference.get(black_box(k)) {
                            sum += *v;
                        }
                    }
                    at = (at + BULK) % PROBES;
                    sum
                })
            });
        }
        drop(reference);
        g.finish();
        drop(q);
        drop((w, r));
    }
}

/// One poll-loop burst of single lookups.
#[inline(never)]
fn burst_get<K, R: Bench<K>>(r: &R, q: &mut QsbrReader, keys: &[K]) -> u64 {
    let mut sum = 0;
    {
        let g = q.guard();
        for k in keys {
            if let Some(v) = r.get(&g, black_box(k)) {
                sum += *v;
            }
        }
    }
    q.quiescent();
    sum
}

/// One poll-loop burst through `get_bulk`.
#[inline(never)]
fn burst_bulk<K, R: Bench<K>>(r: &R, q: &mut QsbrReader, keys: &[K]) -> u64 {
    let mut sum = 0;
    {
        let g = q.guard();
        let mut out = [None; BULK];
        r.get_bulk(&g, black_box(keys), &mut out);
        for v in out.iter().flatten() {
            sum += **v;
        }
    }
    q.quiescent();
    sum
}

fn lookups<M: Measurement>(c: &mut Criterion<M>) {
    bench_map::<_, _, MapReader<u32, u64>>(c, "u32", spi_key, true);
    bench_map::<_, _, MapReader<IpAddr, u64>>(c, "ip", ip_key, true);
    bench_map::<_, _, AddrMapReader<IpAddr, u64>>(c, "ipkey", ip_key, false);
    bench_map::<_, _, MapReader<AddrKey, u64, AddrHashBuilder>>(
        c,
        "addrkey",
        |i| AddrKey::new(ip_key(i)),
        false,
    );
    if std::env::var_os("LOOKUP_V4_ONLY").is_some() {
        bench_map::<_, _, MapReader<IpAddr, u64>>(c, "ip4", ip4_key, false);
        bench_map::<_, _, AddrMapReader<IpAddr, u64>>(c, "ip4key", ip4_key, false);
    }
}

/// CPU time of the calling thread, in nanoseconds.
struct ThreadCpuTime;

fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec into the valid `ts`.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "CLOCK_THREAD_CPUTIME_ID unavailable");
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

impl Measurement for ThreadCpuTime {
    type Intermediate = u64;
    type Value = u64;
    fn start(&self) -> u64 {
        thread_cpu_ns()
    }
    fn end(&self, start: u64) -> u64 {
        thread_cpu_ns().saturating_sub(start)
    }
    fn add(&self, a: &u64, b: &u64) -> u64 {
        a + b
    }
    fn zero(&self) -> u64 {
        0
    }
    fn to_f64(&self, v: &u64) -> f64 {
        *v as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        &CpuNs
    }
}

/// Formats CPU nanoseconds as "ns (cpu)" and throughput in Melem/s.
struct CpuNs;

impl ValueFormatter for CpuNs {
    fn scale_values(&self, _typical: f64, _values: &mut [f64]) -> &'static str {
        "ns(cpu)"
    }
    fn scale_throughputs(&self, _typical: f64, t: &Throughput, values: &mut [f64]) -> &'static str {
        let per = match t {
            Throughput::Elements(n) | Throughput::Bytes(n) | Throughput::BytesDecimal(n) => *n as f64,
        };
        for v in values.iter_mut() {
            *v = per * 1e3 / *v;
        }
        "Melem/s(cpu)"
    }
    fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
        "ns"
    }
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20)
}

fn main() {
    if std::env::var_os("LOOKUP_CPU_TIME").is_some() {
        let mut c = config().with_measurement(ThreadCpuTime).configure_from_args();
        lookups(&mut c);
        c.final_summary();
    } else {
        let mut c = config().configure_from_args();
        lookups(&mut c);
        c.final_summary();
    }
}
