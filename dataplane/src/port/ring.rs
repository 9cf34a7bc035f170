//! Single-producer, single-consumer ring moved in bursts: the `mem` port's
//! rings (what `rte_ring` is in its SP/SC mode).
//!
//! Each side owns its own index and keeps a copy of the other side's, read
//! again only when the copy says the ring is full (producer) or has fewer
//! frames than asked for (consumer). A burst costs one store of the
//! producer's or consumer's index, whatever its size, and the two sides'
//! index lines are touched by the other side only on those re-reads. The
//! general MPMC queue this replaces did a compare-and-swap on a shared
//! index, plus a stamp per slot, for every frame.
//!
//! One producer and one consumer are a property of the types: [`ring()`]
//! returns one [`Producer`] and one [`Consumer`], neither `Clone`, and every
//! operation takes `&mut self`.
#![allow(unsafe_code)]

use core::cell::UnsafeCell;
use core::mem::MaybeUninit;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crossbeam_utils::CachePadded;

struct Shared<T> {
    slots: Box<[UnsafeCell<MaybeUninit<T>>]>,
    /// `slots.len() - 1` (the length is a power of two).
    mask: usize,
    /// At most this many items are in the ring at once.
    cap: usize,
    /// Items taken so far (written by the consumer only).
    head: CachePadded<AtomicUsize>,
    /// Items put so far (written by the producer only).
    tail: CachePadded<AtomicUsize>,
}

// SAFETY: the slots are only reached through the one `Producer` (slots in
// `[tail, head + cap)`, which the consumer does not touch until `tail` is
// published with Release) and the one `Consumer` (slots in `[head, tail)`,
// which the producer does not touch until `head` is published with
// Release); each side reads the other's index with Acquire. Items move
// between threads, so `T: Send` is required, and enough.
unsafe impl<T: Send> Sync for Shared<T> {}
// SAFETY: as above; the ring owns its items.
unsafe impl<T: Send> Send for Shared<T> {}

impl<T> Drop for Shared<T> {
    fn drop(&mut self) {
        // Both handles are gone: nothing else reaches the slots.
        let (head, tail) = (*self.head.get_mut(), *self.tail.get_mut());
        let mut i = head;
        while i != tail {
            // SAFETY: slots in `[head, tail)` hold items put and not taken.
            unsafe { (*self.slots[i & self.mask].get()).assume_init_drop() };
            i = i.wrapping_add(1);
        }
    }
}

/// The producing end of a [`ring()`].
pub struct Producer<T> {
    shared: Arc<Shared<T>>,
    /// Items put (this side's copy of `shared.tail`, which it alone writes).
    tail: usize,
    /// `shared.head` as last read.
    head_seen: usize,
}

/// The consuming end of a [`ring()`].
pub struct Consumer<T> {
    shared: Arc<Shared<T>>,
    /// Items taken (this side's copy of `shared.head`, which it alone writes).
    head: usize,
    /// `shared.tail` as last read.
    tail_seen: usize,
}

/// A ring holding at most `cap` items (at least one).
pub fn ring<T>(cap: usize) -> (Producer<T>, Consumer<T>) {
    let cap = cap.max(1);
    let len = cap.next_power_of_two();
    let shared = Arc::new(Shared {
        slots: (0..len).map(|_| UnsafeCell::new(MaybeUninit::uninit())).collect(),
        mask: len - 1,
        cap,
        head: CachePadded::new(AtomicUsize::new(0)),
        tail: CachePadded::new(AtomicUsize::new(0)),
    });
    (
        Producer {
            shared: shared.clone(),
            tail: 0,
            head_seen: 0,
        },
        Consumer {
            shared,
            head: 0,
            tail_seen: 0,
        },
    )
}

impl<T> Producer<T> {
    /// Room for at least `want` items, reading the consumer's index again
    /// only when the last copy does not show enough; returns the room.
    #[inline]
    fn room(&mut self, want: usize) -> usize {
        let s = &*self.shared;
        let mut free = s.cap - self.tail.wrapping_sub(self.head_seen);
        if free < want {
            self.head_seen = s.head.load(Ordering::Acquire);
            free = s.cap - self.tail.wrapping_sub(self.head_seen);
        }
        free
    }

    #[inline]
    fn write(&mut self, item: T) {
        let slot = &self.shared.slots[self.tail & self.shared.mask];
        // SAFETY: `room` showed this slot free (`tail - head < cap`): the
        // consumer has taken any item it held and does not read it again
        // before `tail` is published past it.
        unsafe { (*slot.get()).write(item) };
        self.tail = self.tail.wrapping_add(1);
    }

    #[inline]
    fn publish(&self) {
        self.shared.tail.store(self.tail, Ordering::Release);
    }

    /// Put one item, or give it back when the ring is full.
    #[inline]
    pub fn push(&mut self, item: T) -> Result<(), T> {
        if self.room(1) == 0 {
            return Err(item);
        }
        self.write(item);
        self.publish();
        Ok(())
    }

    /// Move as many items as fit from the front of `items`, in order, with
    /// one publication; returns how many. The rest stay in `items`.
    #[inline]
    pub fn push_burst(&mut self, items: &mut Vec<T>) -> usize {
        let n = self.room(items.len()).min(items.len());
        if n == 0 {
            return 0;
        }
        let s = &*self.shared;
        let idx = self.tail & s.mask;
        let first = n.min(s.slots.len() - idx);
        let rest = items.len() - n;
        // SAFETY: `room` showed `n` slots free from `tail` on (taken by the
        // consumer, which does not read them again before `tail` is
        // published past them): `first` from `idx` to the end of the slot
        // array and `n - first` from its start, in bounds. A slot is an
        // `UnsafeCell<MaybeUninit<T>>`, laid out as a `T`, and writing
        // through a pointer from `raw_get` is allowed. The `n` items are
        // moved bit for bit, then the `rest` behind them to the front of
        // `items`, whose length then counts only those: each item is owned
        // exactly once, by the ring or by `items`.
        unsafe {
            let base = UnsafeCell::raw_get(s.slots.as_ptr()) as *mut T;
            let src = items.as_mut_ptr();
            core::ptr::copy_nonoverlapping(src, base.add(idx), first);
            core::ptr::copy_nonoverlapping(src.add(first), base, n - first);
            core::ptr::copy(src.add(n), src, rest);
            items.set_len(rest);
        }
        self.tail = self.tail.wrapping_add(n);
        self.publish();
        n
    }
}

impl<T> Consumer<T> {
    /// Items ready, reading the producer's index again only when the last
    /// copy shows fewer than `want`.
    #[inline]
    fn ready(&mut self, want: usize) -> usize {
        let mut n = self.tail_seen.wrapping_sub(self.head);
        if n < want {
            self.tail_seen = self.shared.tail.load(Ordering::Acquire);
            n = self.tail_seen.wrapping_sub(self.head);
        }
        n
    }

    #[inline]
    fn read(&mut self) -> T {
        let slot = &self.shared.slots[self.head & self.shared.mask];
        // SAFETY: `ready` showed this slot filled (`head < tail` as
        // published with Release by the producer, read here with Acquire);
        // the producer does not write it again before `head` is published
        // past it, and it is read once (`head` moves on).
        let item = unsafe { (*slot.get()).assume_init_read() };
        self.head = self.head.wrapping_add(1);
        item
    }

    #[inline]
    fn publish(&self) {
        self.shared.head.store(self.head, Ordering::Release);
    }

    /// Take one item, if any.
    #[inline]
    pub fn pop(&mut self) -> Option<T> {
        if self.ready(1) == 0 {
            return None;
        }
        let item = self.read();
        self.publish();
        Some(item)
    }

    /// Take up to `max` items, in order, appending them to `out`, with one
    /// publication; returns how many.
    #[inline]
    pub fn pop_burst(&mut self, out: &mut Vec<T>, max: usize) -> usize {
        let n = self.ready(max).min(max);
        if n == 0 {
            return 0;
        }
        out.reserve(n);
        let s = &*self.shared;
        let idx = self.head & s.mask;
        let first = n.min(s.slots.len() - idx);
        // SAFETY: `ready` showed `n` slots filled from `head` on (published
        // with Release by the producer, read here with Acquire; it does not
        // write them again before `head` is published past them): `first`
        // from `idx` to the end of the slot array and `n - first` from its
        // start, in bounds, each laid out as a `T`. They are moved bit for
        // bit into `out`'s reserved room and counted in its length; `head`
        // then moves past them, so each is read once.
        unsafe {
            let base = UnsafeCell::raw_get(s.slots.as_ptr()) as *const T;
            let dst = out.as_mut_ptr().add(out.len());
            core::ptr::copy_nonoverlapping(base.add(idx), dst, first);
            core::ptr::copy_nonoverlapping(base, dst.add(first), n - first);
            out.set_len(out.len() + n);
        }
        self.head = self.head.wrapping_add(n);
        self.publish();
        n
    }

    /// Whether the ring looks empty now.
    pub fn is_empty(&mut self) -> bool {
        self.ready(1) == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn holds_exactly_cap_in_order_and_wraps() {
        for cap in [1, 2, 3, 5, 8, 100] {
            let (mut p, mut c) = ring::<usize>(cap);
            let mut next_in = 0;
            let mut next_out = 0;
            for round in 0..50 {
                // Fill up: exactly `cap` go in.
                let mut v: Vec<usize> = (next_in..next_in + cap + 3).collect();
                assert_eq!(p.push_burst(&mut v), cap, "cap {cap} round {round}");
                assert_eq!(v.len(), 3);
                assert_eq!(v[0], next_in + cap, "the rest stay, in order");
                next_in += cap;
                assert_eq!(p.push(usize::MAX), Err(usize::MAX));
                // Take some in a burst, some one by one.
                let mut out = Vec::new();
                let take = (round % cap) + 1;
                assert_eq!(c.pop_burst(&mut out, take), take);
                while let Some(x) = c.pop() {
                    out.push(x);
                }
                assert_eq!(out, (next_out..next_out + cap).collect::<Vec<_>>());
                next_out += cap;
                assert!(c.is_empty());
                assert_eq!(c.pop_burst(&mut out, 32), 0);
            }
        }
    }

    #[test]
    fn items_left_in_the_ring_are_dropped_once() {
        static DROPS: AtomicUsize = AtomicUsize::new(0);
        struct D;
        impl Drop for D {
            fn drop(&mut self) {
                DROPS.fetch_add(1, Ordering::Relaxed);
            }
        }
        let (mut p, mut c) = ring::<D>(4);
        let mut v: Vec<D> = (0..6).map(|_| D).collect();
        assert_eq!(p.push_burst(&mut v), 4);
        drop(v); // the two that did not fit
        assert_eq!(DROPS.load(Ordering::Relaxed), 2);
        drop(c.pop()); // one taken and dropped by the test
        assert_eq!(DROPS.load(Ordering::Relaxed), 3);
        // Wrap once so that the live items straddle the slot array's end.
        let mut v: Vec<D> = (0..1).map(|_| D).collect();
        assert_eq!(p.push_burst(&mut v), 1);
        drop((p, c));
        assert_eq!(
            DROPS.load(Ordering::Relaxed),
            7,
            "every item dropped exactly once"
        );
    }

    #[test]
    fn two_threads_lose_nothing_and_keep_order() {
        // The producer pushes 0..N in bursts of varying size, the consumer
        // takes them in bursts of another size; every value arrives once,
        // in order, through a small ring (so both sides meet full and
        // empty many times).
        const N: u64 = 400_000;
        let (mut p, mut c) = ring::<Box<u64>>(7);
        let prod = std::thread::spawn(move || {
            let mut next = 0u64;
            let mut pending: Vec<Box<u64>> = Vec::new();
            let mut k = 0usize;
            while next < N || !pending.is_empty() {
                while pending.len() < 1 + k % 13 && next < N {
                    pending.push(Box::new(next));
                    next += 1;
                }
                k += 1;
                if k.is_multiple_of(5) {
                    if let Some(x) = pending.first().map(|b| **b) {
                        match p.push(pending.remove(0)) {
                            Ok(()) => {}
                            Err(b) => {
                                assert_eq!(*b, x);
                                pending.insert(0, b);
                            }
                        }
                    }
                } else if p.push_burst(&mut pending) == 0 {
                    std::thread::yield_now();
                }
            }
        });
        let mut want = 0u64;
        let mut out = Vec::new();
        let mut k = 0usize;
        while want < N {
            out.clear();
            k += 1;
            if c.pop_burst(&mut out, 1 + k % 32) == 0 {
                std::thread::yield_now();
            }
            for b in out.drain(..) {
                assert_eq!(*b, want, "lost, duplicated or reordered");
                want += 1;
            }
        }
        prod.join().unwrap();
        assert!(c.pop().is_none());
    }
}
