//! The inbound anti-replay window (RFC 4303 §3.4.3), shared by every worker
//! that receives packets of one SA.
//!
//! Layout: `slots` 64-bit words, each holding a 32-bit tag (the block number
//! `seq >> 5`) in its high half and a 32-bit bitmap of the block's sequence
//! numbers in its low half, plus the highest accepted sequence number.
//! A sequence number is accepted exactly when a compare-and-swap sets its
//! bit in a word whose tag is its block (a stale word, with a smaller tag,
//! is replaced in the same CAS). Because tag and bitmap change together in
//! one atomic word, no sequence number can be accepted twice, whatever the
//! interleaving of workers; there is no lock and no separate "slide" step.
//! With `slots = W/32 + 1` a word is reused only by a block at least `W`
//! numbers newer, so the window is at least `W` wide.
//!
//! Order per RFC 4303 §3.4.3: [`ReplayWindow::check`] (read-only) before the
//! ICV, [`ReplayWindow::accept`] (the CAS) after the ICV verified.
//!
//! Must never: block, allocate after construction, or accept one sequence
//! number twice.

use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// Default window, in packets.
pub const DEFAULT_WINDOW: u32 = 1024;

/// Why a sequence number was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplayError {
    /// Already received.
    Replay,
    /// Left of the window (or zero, which is never sent).
    TooOld,
}

/// A lock-free anti-replay window of at least `window` sequence numbers.
#[derive(Debug)]
pub struct ReplayWindow {
    slots: Box<[AtomicU64]>,
    top: AtomicU32,
    window: u32,
}

const fn tag_of(w: u64) -> u32 {
    (w >> 32) as u32
}

impl ReplayWindow {
    /// A window of `window` packets, rounded up to a multiple of 32 (at least
    /// 32).
    pub fn new(window: u32) -> Self {
        let window = window.clamp(32, 1 << 20).div_ceil(32) * 32;
        let n = (window / 32 + 1) as usize;
        ReplayWindow {
            slots: (0..n).map(|_| AtomicU64::new(0)).collect(),
            top: AtomicU32::new(0),
            window,
        }
    }

    /// The window size in packets.
    pub fn window(&self) -> u32 {
        self.window
    }

    /// The highest accepted sequence number (0 before the first).
    pub fn highest(&self) -> u32 {
        self.top.load(Ordering::Acquire)
    }

    #[inline]
    fn slot(&self, seq: u32) -> (&AtomicU64, u32, u64) {
        let blk = seq >> 5;
        let idx = blk as usize % self.slots.len();
        (&self.slots[idx], blk, 1u64 << (seq & 31))
    }

    /// Read-only pre-check, before the ICV is verified.
    #[inline]
    pub fn check(&self, seq: u32) -> Result<(), ReplayError> {
        if seq == 0 {
            return Err(ReplayError::TooOld);
        }
        let top = self.top.load(Ordering::Acquire);
        if top >= self.window && seq <= top - self.window {
            return Err(ReplayError::TooOld);
        }
        let (slot, blk, bit) = self.slot(seq);
        let w = slot.load(Ordering::Acquire);
        let tag = tag_of(w);
        if tag == blk {
            if w & bit != 0 {
                return Err(ReplayError::Replay);
            }
        } else if tag > blk {
            return Err(ReplayError::TooOld);
        }
        Ok(())
    }

    /// Mark `seq` received, after its ICV verified. Exactly one of several
    /// concurrent callers with the same `seq` gets `Ok`.
    #[inline]
    pub fn accept(&self, seq: u32) -> Result<(), ReplayError> {
        if seq == 0 {
            return Err(ReplayError::TooOld);
        }
        let top = self.top.load(Ordering::Acquire);
        if top >= self.window && seq <= top - self.window {
            return Err(ReplayError::TooOld);
        }
        let (slot, blk, bit) = self.slot(seq);
        let mut w = slot.load(Ordering::Acquire);
        loop {
            let tag = tag_of(w);
            let new = if tag == blk {
                if w & bit != 0 {
                    return Err(ReplayError::Replay);
                }
                w | bit
            } else if tag < blk {
                ((blk as u64) << 32) | bit
            } else {
                return Err(ReplayError::TooOld);
            };
            match slot.compare_exchange_weak(w, new, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => break,
                Err(cur) => w = cur,
            }
        }
        self.top.fetch_max(seq, Ordering::AcqRel);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn in_order_and_replay() {
        let w = ReplayWindow::new(1024);
        for s in 1..=3000u32 {
            assert_eq!(w.check(s), Ok(()));
            assert_eq!(w.accept(s), Ok(()));
            assert_eq!(w.check(s), Err(ReplayError::Replay));
            assert_eq!(w.accept(s), Err(ReplayError::Replay));
        }
        assert_eq!(w.highest(), 3000);
    }

    #[test]
    fn window_edges() {
        let w = ReplayWindow::new(1024);
        assert_eq!(w.check(0), Err(ReplayError::TooOld));
        w.accept(5000).unwrap();
        // Inside the window, not yet seen.
        assert_eq!(w.check(5000 - 1023), Ok(()));
        assert_eq!(w.accept(5000 - 1023), Ok(()));
        // Exactly W behind the top: left of the window.
        assert_eq!(w.check(5000 - 1024), Err(ReplayError::TooOld));
        assert_eq!(w.accept(3), Err(ReplayError::TooOld));
        // Out of order inside the window.
        for s in (4000..5000).rev() {
            if s != 5000 - 1023 {
                assert_eq!(w.accept(s), Ok(()), "{s}");
            }
        }
        assert_eq!(w.accept(4500), Err(ReplayError::Replay));
        // A big jump forward clears the old state.
        w.accept(1_000_000).unwrap();
        assert_eq!(w.check(4999), Err(ReplayError::TooOld));
        assert_eq!(w.accept(999_999), Ok(()));
        assert_eq!(w.accept(u32::MAX), Ok(()));
        assert_eq!(w.accept(u32::MAX), Err(ReplayError::Replay));
    }

    #[test]
    fn window_is_configurable_and_default_is_1024() {
        assert_eq!(ReplayWindow::new(DEFAULT_WINDOW).window(), 1024);
        assert_eq!(ReplayWindow::new(40).window(), 64);
        let w = ReplayWindow::new(64);
        w.accept(1000).unwrap();
        assert_eq!(w.check(1000 - 63), Ok(()));
        assert_eq!(w.check(1000 - 64), Err(ReplayError::TooOld));
    }

    /// Several threads receive every sequence number of one SA, each several
    /// times and in different orders: every number is accepted exactly once.
    #[test]
    fn concurrent_workers_never_accept_twice() {
        const N: u32 = 40_000;
        const THREADS: usize = 4;
        let w = Arc::new(ReplayWindow::new(1024));
        let accepted: Arc<Vec<AtomicU32>> = Arc::new((0..=N).map(|_| AtomicU32::new(0)).collect());
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                let w = Arc::clone(&w);
                let acc = Arc::clone(&accepted);
                std::thread::spawn(move || {
                    // Each thread walks the sequence in chunks, locally
                    // shuffled differently, so the threads overlap heavily.
                    let mut s = 1u32;
                    while s <= N {
                        let end = (s + 64).min(N + 1);
                        let mut chunk: Vec<u32> = (s..end).collect();
                        let r = (t * 17) % chunk.len().max(1);
                        chunk.rotate_left(r);
                        if t % 2 == 1 {
                            chunk.reverse();
                        }
                        for q in chunk {
                            if w.check(q).is_ok() && w.accept(q).is_ok() {
                                acc[q as usize].fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        s = end;
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        let mut total = 0;
        for (q, a) in accepted.iter().enumerate().skip(1) {
            let c = a.load(Ordering::Relaxed);
            assert!(c <= 1, "sequence {q} accepted {c} times");
            total += c;
        }
        // Packets are at most 64 apart across threads, well inside the
        // window, so every one is accepted once.
        assert_eq!(total, N);
    }

    /// Threads racing on the same small set of numbers with slides in
    /// between: still never twice.
    #[test]
    fn concurrent_duplicates_with_slides() {
        const THREADS: usize = 4;
        let w = Arc::new(ReplayWindow::new(64));
        let accepted: Arc<Vec<AtomicU32>> = Arc::new((0..20_000).map(|_| AtomicU32::new(0)).collect());
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                let w = Arc::clone(&w);
                let acc = Arc::clone(&accepted);
                std::thread::spawn(move || {
                    let mut x = 0x9e37_79b9u32.wrapping_mul(t as u32 + 1);
                    for i in 0..200_000u32 {
                        x ^= x << 13;
                        x ^= x >> 17;
                        x ^= x << 5;
                        let base = i / 10;
                        let q = 1 + (base + x % 200).min(19_998);
                        if w.accept(q).is_ok() {
                            acc[q as usize].fetch_add(1, Ordering::Relaxed);
                        }
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        for (q, a) in accepted.iter().enumerate() {
            assert!(a.load(Ordering::Relaxed) <= 1, "sequence {q} accepted twice");
        }
    }
}
