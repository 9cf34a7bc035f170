//! Stress test of the lock-free tables: concurrent readers against the single
//! writer, which inserts, replaces, removes and rebuilds.
//!
//! Every value checks itself (its key, a checksum of its contents, and a
//! live/dead marker that its `Drop` poisons), so a reader that sees a torn or
//! freed entry fails. A ledger counts frees per value: at the end each value
//! was freed exactly once. Bounded by operation counts, never by sleeps.

use core::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;

use dataplane::table::{LfMap, QsbrDomain, QsbrReader};

const LIVE: u64 = 0x1157_AB1E_600D_F00D;
const DEAD: u64 = 0xDEAD_DEAD_DEAD_DEAD;

/// Per-value free counts, and a count of anomalies seen in `Drop`.
struct Ledger {
    freed: Vec<AtomicU8>,
    next_id: AtomicUsize,
    bad_drops: AtomicUsize,
}

impl Ledger {
    fn new(max: usize) -> Arc<Self> {
        Arc::new(Ledger {
            freed: (0..max).map(|_| AtomicU8::new(0)).collect(),
            next_id: AtomicUsize::new(0),
            bad_drops: AtomicUsize::new(0),
        })
    }

    fn freed_so_far(&self) -> usize {
        self.freed
            .iter()
            .filter(|f| f.load(Ordering::Relaxed) > 0)
            .count()
    }
}

/// A self-checking value.
struct Val {
    state: AtomicU64,
    key: AtomicU64,
    id: usize,
    payload: [u64; 5],
    sum: AtomicU64,
    ledger: Arc<Ledger>,
}

fn checksum(key: u64, id: usize, payload: &[u64; 5]) -> u64 {
    payload.iter().fold(key ^ (id as u64).rotate_left(17), |acc, p| {
        acc.rotate_left(7).wrapping_mul(31) ^ p
    })
}

impl Val {
    fn new(key: u64, ledger: &Arc<Ledger>) -> Self {
        let id = ledger.next_id.fetch_add(1, Ordering::Relaxed);
        let payload =
            core::array::from_fn(|i| (id as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (i as u64 + key));
        Val {
            state: AtomicU64::new(LIVE),
            key: AtomicU64::new(key),
            id,
            sum: AtomicU64::new(checksum(key, id, &payload)),
            payload,
            ledger: ledger.clone(),
        }
    }

    /// Panics if the value is torn, poisoned or not the one for `key`.
    fn check(&self, key: u64) {
        let state = self.state.load(Ordering::Relaxed);
        assert_eq!(state, LIVE, "reader saw a freed value (id {})", self.id);
        assert_eq!(self.key.load(Ordering::Relaxed), key, "value under the wrong key");
        assert_eq!(
            self.sum.load(Ordering::Relaxed),
            checksum(key, self.id, &self.payload),
            "torn value"
        );
    }
}

impl Drop for Val {
    fn drop(&mut self) {
        if self.state.load(Ordering::Relaxed) != LIVE {
            self.ledger.bad_drops.fetch_add(1, Ordering::Relaxed);
        }
        self.state.store(DEAD, Ordering::Relaxed);
        self.key.store(u64::MAX, Ordering::Relaxed);
        self.sum.store(0, Ordering::Relaxed);
        if let Some(f) = self.ledger.freed.get(self.id) {
            f.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

fn ip_of(k: u64) -> IpAddr {
    if k.is_multiple_of(3) {
        IpAddr::from((0xc0a8_0000u32 | k as u32).to_be_bytes())
    } else {
        IpAddr::from(((0x2001_0db8u128 << 96) | u128::from(k)).to_be_bytes())
    }
}

const KEYS: u64 = 600;
const OPS: usize = 120_000;
const READERS: usize = 3;
const BATCH: usize = 16;

/// One reader thread: look up random keys in both maps, check every value
/// found, report quiescence once per "poll loop"; sometimes go offline.
fn reader_loop(
    mut q: QsbrReader,
    by_id: dataplane::table::MapReader<u64, Val>,
    by_ip: dataplane::table::MapReader<IpAddr, Val>,
    stop: &AtomicBool,
    seed: u64,
) -> (u64, u64) {
    let mut rng = Rng(seed | 1);
    let (mut lookups, mut hits) = (0u64, 0u64);
    let mut keys = [0u64; 16];
    let mut iter = 0u64;
    while !stop.load(Ordering::Relaxed) {
        iter += 1;
        {
            let g = q.guard();
            for _ in 0..8 {
                let k = rng.next() % (KEYS + 50);
                if let Some(v) = by_id.get(&g, &k) {
                    v.check(k);
                    hits += 1;
                }
                if let Some(v) = by_ip.get(&g, &ip_of(k)) {
                    v.check(k);
                    hits += 1;
                }
                lookups += 2;
            }
            for k in keys.iter_mut() {
                *k = rng.next() % (KEYS + 50);
            }
            // Results borrow the reader: they must live inside the guard scope.
            let mut out = [None; 16];
            hits += by_id.get_bulk(&g, &keys, &mut out) as u64;
            lookups += keys.len() as u64;
            for (k, o) in keys.iter().zip(&out) {
                if let Some(v) = o {
                    v.check(*k);
                }
            }
        }
        q.quiescent();
        if iter.is_multiple_of(512) {
            q.while_offline(thread::yield_now);
        }
    }
    (lookups, hits)
}

#[test]
fn readers_never_see_torn_or_freed_entries() {
    let ledger = Ledger::new(2 * OPS + 16);
    let domain = QsbrDomain::new(READERS + 1);
    // Deliberately under-sized: the writer grows it, and churn forces
    // tombstone-purging rebuilds.
    let (mut w_id, r_id) = LfMap::<u64, Val>::with_capacity(&domain, 8);
    let (mut w_ip, r_ip) = LfMap::<IpAddr, Val>::with_capacity(&domain, 8);
    let stop = AtomicBool::new(false);
    let start = Barrier::new(READERS + 1);
    let mut freed_during_run = 0;

    let totals: Vec<(u64, u64)> = thread::scope(|s| {
        let handles: Vec<_> = (0..READERS)
            .map(|i| {
                let q = domain.register().expect("room for every reader");
                let (r_id, r_ip, stop, start) = (r_id.clone(), r_ip.clone(), &stop, &start);
                s.spawn(move || {
                    start.wait();
                    reader_loop(q, r_id, r_ip, stop, 0x1234_5678 + i as u64)
                })
            })
            .collect();
        start.wait();

        let mut rng = Rng(0xC0FF_EE00_D15E_A5E5);
        for op in 0..OPS {
            let r = rng.next();
            let k = (r >> 8) % KEYS;
            match r % 10 {
                0..=5 => {
                    w_id.insert(k, Val::new(k, &ledger));
                    w_ip.insert(ip_of(k), Val::new(k, &ledger));
                }
                _ => {
                    w_id.remove(&k);
                    w_ip.remove(&ip_of(k));
                }
            }
            if op % 20_000 == 19_999 {
                w_id.rebuild();
                w_ip.rebuild();
            }
            if op % BATCH == BATCH - 1 {
                freed_during_run += w_id.publish() + w_ip.publish();
            }
            if op % 256 == 0 {
                // Let readers run on a 2-core machine.
                thread::yield_now();
            }
        }
        stop.store(true, Ordering::Relaxed);
        handles
            .into_iter()
            .map(|h| h.join().expect("reader thread panicked"))
            .collect()
    });

    // All readers are gone (their QsbrReader dropped = offline).
    w_id.synchronize();
    w_ip.synchronize();
    assert_eq!(w_id.pending_garbage() + w_ip.pending_garbage(), 0);
    assert!(
        w_id.rebuilds() >= 3 && w_ip.rebuilds() >= 3,
        "rebuilds happened under load"
    );
    assert!(
        freed_during_run > 0,
        "reclamation made progress while readers ran"
    );

    let lookups: u64 = totals.iter().map(|t| t.0).sum();
    let hits: u64 = totals.iter().map(|t| t.1).sum();
    assert!(totals.iter().all(|t| t.0 > 0), "every reader ran: {totals:?}");
    assert!(
        hits > 0 && hits < lookups,
        "mix of hits and misses: {hits}/{lookups}"
    );

    // Every value still in a map is live and correct.
    let live = w_id.len() + w_ip.len();
    w_id.for_each(|k, v| v.check(*k));
    w_ip.for_each(|_, v| assert_eq!(v.state.load(Ordering::Relaxed), LIVE));
    assert_eq!(
        ledger.freed_so_far() + live,
        ledger.next_id.load(Ordering::Relaxed)
    );

    drop((w_id, w_ip, r_id, r_ip));
    let made = ledger.next_id.load(Ordering::Relaxed);
    assert_eq!(
        ledger.bad_drops.load(Ordering::Relaxed),
        0,
        "a value was dropped twice"
    );
    for (id, f) in ledger.freed[..made].iter().enumerate() {
        assert_eq!(
            f.load(Ordering::Relaxed),
            1,
            "value {id} freed {} times",
            f.load(Ordering::Relaxed)
        );
    }
    assert!(ledger.freed[made..]
        .iter()
        .all(|f| f.load(Ordering::Relaxed) == 0));
}
