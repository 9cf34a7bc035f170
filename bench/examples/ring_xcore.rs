//! Frames per second through a `mem` port's rings between two pinned
//! threads, against crossbeam's `ArrayQueue` (what the rings were before)
//! in the same run.
//!
//! Two rings make a loop, as a peer and a worker do: a peer thread takes
//! frames coming back and offers them again, a worker thread takes frames
//! offered and sends them back, both in bursts of up to 32. 1 024 buffers
//! circulate; their contents are not touched, so this is the rings' own
//! cost (index traffic between the cores), not the frames'.
//!
//! `cargo run --release -p bench --example ring_xcore [-- SECONDS [ROUNDS]]`
//! (cores 0 and 1). Reported, never asserted.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam::queue::ArrayQueue;
use dataplane::buf::PacketBuf;
use dataplane::port::ring;

const DEPTH: usize = 1024;
const IN_FLIGHT: usize = 1024;
const BURST: usize = 32;

fn pin(core: usize) {
    let _ = core_affinity::set_for_current(core_affinity::CoreId { id: core });
}

/// One side of the loop for the burst ring: take up to a burst from `rx`,
/// put it on `tx` (what does not fit waits for the next turn).
fn spsc_side(
    mut rx: ring::Consumer<PacketBuf>,
    mut tx: ring::Producer<PacketBuf>,
    stop: &AtomicBool,
    count: &AtomicU64,
) {
    let mut v = Vec::with_capacity(2 * BURST);
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        if v.len() < BURST {
            n += rx.pop_burst(&mut v, BURST) as u64;
        }
        tx.push_burst(&mut v);
    }
    count.store(n, Ordering::Relaxed);
}

/// The same for `ArrayQueue`, one frame at a time as the old port did.
fn mpmc_side(rx: &ArrayQueue<PacketBuf>, tx: &ArrayQueue<PacketBuf>, stop: &AtomicBool, count: &AtomicU64) {
    let mut v = Vec::with_capacity(2 * BURST);
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        while v.len() < BURST {
            match rx.pop() {
                Some(b) => {
                    v.push(b);
                    n += 1;
                }
                None => break,
            }
        }
        while let Some(b) = v.pop() {
            if let Err(b) = tx.push(b) {
                v.push(b);
                break;
            }
        }
    }
    count.store(n, Ordering::Relaxed);
}

/// Run `peer` on core 0 and `worker` on core 1 for `secs`, each given the
/// stop flag and its counter; the worker's frames per second, in millions.
fn run_pair<P, W>(secs: f64, peer: P, worker: W) -> f64
where
    P: FnOnce(&AtomicBool, &AtomicU64) + Send + 'static,
    W: FnOnce(&AtomicBool, &AtomicU64) + Send + 'static,
{
    let stop = Arc::new(AtomicBool::new(false));
    let (peer_n, worker_n) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let (s1, c1) = (stop.clone(), peer_n.clone());
    let peer = std::thread::spawn(move || {
        pin(0);
        peer(&s1, &c1)
    });
    let (s2, c2) = (stop.clone(), worker_n.clone());
    let worker = std::thread::spawn(move || {
        pin(1);
        worker(&s2, &c2)
    });
    let t = Instant::now();
    std::thread::sleep(Duration::from_secs_f64(secs));
    stop.store(true, Ordering::Relaxed);
    peer.join().unwrap();
    worker.join().unwrap();
    worker_n.load(Ordering::Relaxed) as f64 / t.elapsed().as_secs_f64() / 1e6
}

fn run_spsc(secs: f64) -> f64 {
    let (mut fwd_p, fwd_c) = ring::ring::<PacketBuf>(DEPTH);
    let (back_p, back_c) = ring::ring::<PacketBuf>(DEPTH);
    let mut v: Vec<PacketBuf> = (0..IN_FLIGHT).map(|_| PacketBuf::new()).collect();
    assert_eq!(fwd_p.push_burst(&mut v), IN_FLIGHT);
    run_pair(
        secs,
        move |s, c| spsc_side(back_c, fwd_p, s, c),
        move |s, c| spsc_side(fwd_c, back_p, s, c),
    )
}

fn run_mpmc(secs: f64) -> f64 {
    let fwd = Arc::new(ArrayQueue::<PacketBuf>::new(DEPTH));
    let back = Arc::new(ArrayQueue::<PacketBuf>::new(DEPTH));
    for _ in 0..IN_FLIGHT {
        assert!(fwd.push(PacketBuf::new()).is_ok());
    }
    let (f1, b1) = (fwd.clone(), back.clone());
    run_pair(
        secs,
        move |s, c| mpmc_side(&b1, &f1, s, c),
        move |s, c| mpmc_side(&fwd, &back, s, c),
    )
}

fn main() {
    let mut args = std::env::args().skip(1);
    let secs: f64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(2.0);
    let rounds: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(3);
    println!("frames through a two-ring loop between cores 0 and 1, Mpps ({secs} s a run)");
    for r in 1..=rounds {
        let old = run_mpmc(secs);
        let new = run_spsc(secs);
        println!(
            "round {r}: ArrayQueue, per frame {old:.1}; burst ring {new:.1}; ratio {:.1}",
            new / old
        );
    }
}
