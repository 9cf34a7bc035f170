//! Quiescent-state-based reclamation (QSBR), in the manner of DPDK's `rte_rcu_qsbr`.
//!
//! Owns the grace-period machinery shared by every lock-free table: a
//! [`QsbrDomain`] (one global epoch, written only by the writer side, and one
//! cache-padded slot per registered reader), the per-worker [`QsbrReader`]
//! handle with its read-side [`Guard`], and the writer's [`RetireList`].
//!
//! Contract:
//! - A reader never waits, takes no lock and performs no read-modify-write
//!   atomic. [`QsbrReader::quiescent`] is one load of the global epoch and (only
//!   when it changed) one plain store into the reader's own slot.
//! - A reader that is offline ([`QsbrReader::offline`], or dropped) never holds
//!   up reclamation. Going back online costs one store and one full fence; it
//!   happens off the hot path.
//! - References obtained under a [`Guard`] cannot outlive the next quiescent
//!   report: the guard borrows the reader, and `quiescent` needs `&mut`.
//! - The writer never blocks: it polls [`RetireList::reclaim`]. Only
//!   [`RetireList::synchronize`] spins, and it is meant for tests and shutdown.
//!
//! This module must never free anything itself: it only decides *when* the
//! writer may drop what it retired.

use core::sync::atomic::{fence, AtomicBool, AtomicU64, Ordering};
use std::collections::VecDeque;
use std::sync::Arc;

use crossbeam_utils::CachePadded;

/// Slot value of a reader that is offline or unregistered. Epochs start at 1.
const OFFLINE: u64 = 0;

/// One reader's slot: the last epoch it reported, and whether it is claimed.
struct ReaderSlot {
    seen: AtomicU64,
    claimed: AtomicBool,
}

struct DomainInner {
    /// The global epoch. Only the writer side advances it.
    epoch: CachePadded<AtomicU64>,
    slots: Box<[CachePadded<ReaderSlot>]>,
}

/// A QSBR domain shared by a set of tables, their writer and their readers.
///
/// Cloning the handle is cheap (an `Arc`); every clone names the same domain.
/// Tables that share a domain share one grace-period clock, so one reader handle
/// per worker covers all of them.
#[derive(Clone)]
pub struct QsbrDomain {
    inner: Arc<DomainInner>,
}

/// Error: every reader slot of the domain is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("QSBR domain is full: all {max} reader slots are registered")]
pub struct DomainFull {
    /// The domain's reader capacity.
    pub max: usize,
}

impl QsbrDomain {
    /// A domain with room for `max_readers` concurrently registered readers.
    pub fn new(max_readers: usize) -> Self {
        let slots = (0..max_readers.max(1))
            .map(|_| {
                CachePadded::new(ReaderSlot {
                    seen: AtomicU64::new(OFFLINE),
                    claimed: AtomicBool::new(false),
                })
            })
            .collect();
        QsbrDomain {
            inner: Arc::new(DomainInner {
                epoch: CachePadded::new(AtomicU64::new(1)),
                slots,
            }),
        }
    }

    /// How many readers may be registered at once.
    pub fn max_readers(&self) -> usize {
        self.inner.slots.len()
    }

    /// Register a reader, online from now on. Control-path only (it may
    /// compare-and-swap); the returned handle is then moved to its worker.
    pub fn register(&self) -> Result<QsbrReader, DomainFull> {
        for (idx, slot) in self.inner.slots.iter().enumerate() {
            if slot
                .claimed
                .compare_exchange(false, true, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
            {
                let offline = OfflineReader {
                    reg: Registration {
                        inner: self.inner.clone(),
                        idx,
                    },
                };
                return Ok(offline.online());
            }
        }
        Err(DomainFull {
            max: self.max_readers(),
        })
    }

    /// The current global epoch.
    pub fn epoch(&self) -> u64 {
        self.inner.epoch.load(Ordering::Acquire)
    }

    /// Start a grace period: advance the global epoch and return the new value.
    ///
    /// Everything unlinked before this call may be freed once
    /// [`QsbrDomain::is_quiescent`] holds for the returned epoch. Writer side only.
    pub fn advance(&self) -> u64 {
        // SeqCst: the unlinking stores made before this call are ordered before
        // the new epoch value that readers acquire in `quiescent`.
        self.inner.epoch.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// The oldest epoch reported by any online reader, or `u64::MAX` when no
    /// reader is online.
    pub fn min_seen(&self) -> u64 {
        // Pairs with the fence in `OfflineReader::online`: either we see the
        // reader's new slot value, or the reader sees every unlink made before
        // this point (store-buffering, Dekker style).
        fence(Ordering::SeqCst);
        let mut min = u64::MAX;
        for slot in self.inner.slots.iter() {
            let seen = slot.seen.load(Ordering::Acquire);
            if seen != OFFLINE && seen < min {
                min = seen;
            }
        }
        min
    }

    /// Whether every online reader has reported epoch `epoch` or later, so that
    /// anything retired before `epoch` was started may be freed. Never blocks.
    pub fn is_quiescent(&self, epoch: u64) -> bool {
        self.min_seen() >= epoch
    }

    /// An opaque identity used by tables to check that a guard belongs to
    /// their domain.
    pub(crate) fn id(&self) -> usize {
        Arc::as_ptr(&self.inner) as usize
    }
}

impl core::fmt::Debug for QsbrDomain {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("QsbrDomain")
            .field("epoch", &self.epoch())
            .field("max_readers", &self.max_readers())
            .finish()
    }
}

/// A claimed reader slot. Dropping it takes the slot offline and frees it.
struct Registration {
    inner: Arc<DomainInner>,
    idx: usize,
}

impl Registration {
    #[inline]
    fn slot(&self) -> &ReaderSlot {
        &self.inner.slots[self.idx]
    }

    /// Mark the slot online at the current epoch; returns the epoch stored.
    fn go_online(&self) -> u64 {
        let epoch = self.inner.epoch.load(Ordering::Acquire);
        self.slot().seen.store(epoch, Ordering::Relaxed);
        // Pairs with the fence in `min_seen`: either the writer sees us online,
        // or our coming lookups see everything it unlinked before it looked.
        fence(Ordering::SeqCst);
        epoch
    }

    fn go_offline(&self) {
        // Release: every read made while online happens-before the writer's
        // acquire load that sees OFFLINE, hence before any free.
        self.slot().seen.store(OFFLINE, Ordering::Release);
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.go_offline();
        self.slot().claimed.store(false, Ordering::Release);
    }
}

/// A registered reader that is online: one per worker thread.
///
/// It is `Send` (built on the control thread, moved to its worker). While it
/// is online the writer waits (without blocking) for its quiescent reports
/// before freeing anything it might see. Dropping it takes it offline and
/// releases its slot.
pub struct QsbrReader {
    reg: Registration,
    /// The value last stored in our slot, to skip redundant stores.
    last: u64,
}

/// A registered reader that is offline: it holds up no reclamation and can
/// read nothing. Bring it back with [`OfflineReader::online`]; dropping it
/// releases its slot.
pub struct OfflineReader {
    reg: Registration,
}

/// Proof that the current thread is inside a read-side critical section of
/// one online reader. References obtained from tables under a guard borrow the
/// reader, so they cannot be held across [`QsbrReader::quiescent`]:
///
/// ```compile_fail,E0502
/// use dataplane::table::{LfMap, QsbrDomain};
/// let domain = QsbrDomain::new(1);
/// let (mut w, r) = LfMap::<u32, u64>::with_capacity(&domain, 16);
/// w.insert(1, 10);
/// w.publish();
/// let mut reader = domain.register().unwrap();
/// let g = reader.guard();
/// let v = r.get(&g, &1);
/// reader.quiescent(); // error: `reader` is still borrowed through `v`
/// assert_eq!(v, Some(&10));
/// ```
#[derive(Clone, Copy)]
pub struct Guard<'r> {
    domain: usize,
    _reader: core::marker::PhantomData<&'r QsbrReader>,
}

impl Guard<'_> {
    /// The identity of the domain this guard protects.
    #[inline]
    pub(crate) fn domain_id(&self) -> usize {
        self.domain
    }
}

impl QsbrReader {
    /// Open a read-side critical section. Free: it touches no shared memory.
    #[inline]
    pub fn guard(&self) -> Guard<'_> {
        Guard {
            domain: Arc::as_ptr(&self.reg.inner) as usize,
            _reader: core::marker::PhantomData,
        }
    }

    /// Report a quiescent state: this reader holds no reference obtained
    /// before this call. Call it once per poll-loop iteration. One load, and a
    /// plain store only when the epoch moved; no read-modify-write.
    #[inline]
    pub fn quiescent(&mut self) {
        let epoch = self.reg.inner.epoch.load(Ordering::Acquire);
        if epoch != self.last {
            self.last = epoch;
            // Release: every read made under earlier guards happens-before the
            // writer's acquire load of this value, hence before any free.
            self.reg.slot().seen.store(epoch, Ordering::Release);
        }
    }

    /// The epoch this reader last reported.
    pub fn last_reported(&self) -> u64 {
        self.last
    }

    /// Go offline (before an idle sleep, or before stopping): the writer stops
    /// waiting for this reader.
    pub fn offline(self) -> OfflineReader {
        self.reg.go_offline();
        OfflineReader { reg: self.reg }
    }

    /// Run `f` with this reader offline (e.g. while parked waiting for work),
    /// then bring it back online. `&mut self` guarantees no guard is alive.
    pub fn while_offline<R>(&mut self, f: impl FnOnce() -> R) -> R {
        self.reg.go_offline();
        let r = f();
        self.last = self.reg.go_online();
        r
    }
}

impl OfflineReader {
    /// Come back online. Not for the per-packet path: it issues a full fence.
    pub fn online(self) -> QsbrReader {
        let last = self.reg.go_online();
        QsbrReader { reg: self.reg, last }
    }
}

/// The writer's list of retired objects, freed once a grace period has passed.
///
/// Objects retired between two [`RetireList::end_batch`] calls form one batch
/// and share one grace period (one epoch increment). Dropping a `T` is how it
/// is freed. Not `Clone`: there is one per writer-side structure.
pub struct RetireList<T> {
    domain: QsbrDomain,
    /// Retired since the last `end_batch`: no grace period started yet.
    batch: Vec<T>,
    /// (epoch the grace period must reach, object), oldest first.
    waiting: VecDeque<(u64, T)>,
}

impl<T> RetireList<T> {
    /// An empty list in `domain`.
    pub fn new(domain: &QsbrDomain) -> Self {
        RetireList {
            domain: domain.clone(),
            batch: Vec::new(),
            waiting: VecDeque::new(),
        }
    }

    /// The domain this list waits on.
    pub fn domain(&self) -> &QsbrDomain {
        &self.domain
    }

    /// Retire `obj`: it has been unlinked, but readers may still hold it.
    pub fn retire(&mut self, obj: T) {
        self.batch.push(obj);
    }

    /// Close the current batch: start one grace period for everything retired
    /// in it. Returns the epoch the readers must reach, or `None` when the
    /// batch was empty (no epoch is spent on it).
    pub fn end_batch(&mut self) -> Option<u64> {
        if self.batch.is_empty() {
            return None;
        }
        let epoch = self.domain.advance();
        self.waiting.extend(self.batch.drain(..).map(|obj| (epoch, obj)));
        Some(epoch)
    }

    /// Free every object whose grace period has passed. Never blocks; returns
    /// how many were freed.
    pub fn reclaim(&mut self) -> usize {
        let Some(&(oldest, _)) = self.waiting.front() else {
            return 0;
        };
        let min = self.domain.min_seen();
        if min < oldest {
            return 0;
        }
        let mut freed = 0;
        while self.waiting.front().is_some_and(|(epoch, _)| *epoch <= min) {
            drop(self.waiting.pop_front());
            freed += 1;
        }
        freed
    }

    /// Close the batch and spin (yielding the CPU) until everything retired so
    /// far is freed. For tests and shutdown only: it waits for every online
    /// reader, so it deadlocks if the calling thread itself holds an online
    /// reader of the same domain.
    pub fn synchronize(&mut self) -> usize {
        self.end_batch();
        let mut freed = 0;
        loop {
            freed += self.reclaim();
            if self.waiting.is_empty() {
                return freed;
            }
            core::hint::spin_loop();
            std::thread::yield_now();
        }
    }

    /// Objects retired and not yet freed (both in the open batch and waiting).
    pub fn pending(&self) -> usize {
        self.batch.len() + self.waiting.len()
    }

    /// Take every object not yet freed, whatever its grace period (used to
    /// hand them to whoever outlives all readers).
    pub fn take_all(&mut self) -> Vec<T> {
        let mut all: Vec<T> = self.waiting.drain(..).map(|(_, obj)| obj).collect();
        all.append(&mut self.batch);
        all
    }
}

impl<T> core::fmt::Debug for RetireList<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RetireList")
            .field("batch", &self.batch.len())
            .field("waiting", &self.waiting.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_advances_and_readers_report() {
        let d = QsbrDomain::new(2);
        assert_eq!(d.epoch(), 1);
        assert_eq!(d.min_seen(), u64::MAX, "no reader online");
        let mut a = d.register().unwrap();
        let mut b = d.register().unwrap();
        assert_eq!(d.min_seen(), 1);
        let e = d.advance();
        assert_eq!(e, 2);
        assert!(!d.is_quiescent(e));
        a.quiescent();
        assert_eq!(a.last_reported(), 2);
        assert!(!d.is_quiescent(e), "b has not reported");
        b.quiescent();
        assert!(d.is_quiescent(e));
    }

    #[test]
    fn domain_full_and_slot_reuse() {
        let d = QsbrDomain::new(1);
        let a = d.register().unwrap();
        assert_eq!(d.register().err(), Some(DomainFull { max: 1 }));
        let off = a.offline();
        assert!(d.register().is_err(), "an offline reader keeps its slot");
        drop(off);
        assert!(d.register().is_ok(), "a dropped reader frees its slot");
    }

    #[test]
    fn retire_list_waits_for_grace_period() {
        let d = QsbrDomain::new(1);
        let mut r = d.register().unwrap();
        let mut list = RetireList::new(&d);
        list.retire(1u32);
        list.retire(2u32);
        assert_eq!(list.reclaim(), 0, "batch not closed yet");
        let e = list.end_batch().unwrap();
        assert_eq!(list.end_batch(), None, "empty batch spends no epoch");
        assert_eq!(d.epoch(), e);
        assert_eq!(list.reclaim(), 0);
        list.retire(3u32);
        list.end_batch();
        r.quiescent();
        assert_eq!(list.reclaim(), 3, "one report covers both batches");
        assert_eq!(list.pending(), 0);
        list.retire(4);
        let off = r.offline();
        assert_eq!(
            list.synchronize(),
            1,
            "offline reader: synchronize returns at once"
        );
        drop(off);
    }
}
