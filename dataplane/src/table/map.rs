//! `LfMap`: a generic open-addressing hash map with lock-free reads.
//!
//! Owns the slot arrays and the boxed entries of one map. There is exactly one
//! [`MapWriter`] (the control thread) and any number of [`MapReader`] clones
//! (the workers). Reclamation goes through the shared [`QsbrDomain`].
//!
//! Layout: a power-of-two array of 16-byte slots, each an `AtomicU64` holding
//! the key's full hash (the fingerprint) next to an `AtomicPtr` to an immutable
//! `Box<Entry { key, value }>`. Linear probing; a null pointer ends a probe
//! chain, a tombstone sentinel marks a removed entry. A lookup rejects a
//! non-matching slot by its fingerprint without touching the entry, so a miss
//! costs one cache line in the normal case and a hit two.
//!
//! Contract:
//! - Readers only load (`Acquire` on slot pointers and on the table pointer):
//!   no lock, no read-modify-write, no waiting. A probe is bounded by the table
//!   size even on a torn view.
//! - The writer never mutates an entry in place. Replace and remove swap the
//!   slot pointer (`Release`) and retire the old entry; a rebuild copies the
//!   live pointers into a new array, publishes it with one pointer store and
//!   retires the old array. Nothing is freed before a QSBR grace period.
//! - Each update is visible to readers as soon as it is made; batching
//!   ([`MapWriter::publish`]) groups updates into one grace period.
//! - The map never hashes with SipHash: the default hasher is foldhash's fast
//!   hasher, randomly seeded per map.
#![allow(unsafe_code)]

use core::hash::{BuildHasher, Hash};
use core::marker::PhantomData;
use core::ptr::{self, NonNull};
use core::sync::atomic::{AtomicPtr, AtomicU64, Ordering};
use std::alloc::{self, Layout};
use std::sync::{Arc, Mutex};

use super::qsbr::{Guard, QsbrDomain, RetireList};

/// The default hash builder: foldhash's fast hasher with a per-map random seed.
pub type DefaultHashBuilder = foldhash::fast::RandomState;

/// How many keys [`MapReader::get_bulk`] pipelines at once.
pub const BULK: usize = 32;

/// Largest load (entries plus tombstones over slots) before a rebuild: 3/4.
const MAX_LOAD_NUM: usize = 3;
const MAX_LOAD_DEN: usize = 4;
const MIN_SLOTS: usize = 16;
/// Load of live entries above which a forced rebuild grows: 5/8.
const GROW_NUM: usize = 5;
const GROW_DEN: usize = 8;

/// An immutable entry. Never modified once published.
struct Entry<K, V> {
    key: K,
    value: V,
}

/// One slot: fingerprint (full hash) and entry pointer, 16 bytes.
#[repr(C, align(16))]
struct Slot<K, V> {
    hash: AtomicU64,
    ptr: AtomicPtr<Entry<K, V>>,
}

/// The tombstone sentinel: the address of a private static, never a real
/// entry (and never dereferenced). Distinct from any heap address and from the
/// dangling pointer of a zero-sized box.
static TOMBSTONE_BYTE: u8 = 0;

#[inline(always)]
fn tombstone<K, V>() -> *mut Entry<K, V> {
    ptr::addr_of!(TOMBSTONE_BYTE) as *mut Entry<K, V>
}

/// Bytes in a cache line, and slots per line: probing starts at the first
/// slot of a line-aligned group of slots (bucketised linear probing), so a
/// lookup usually touches a single cache line.
const LINE: usize = 64;
const GROUP: usize = LINE / core::mem::size_of::<Slot<(), ()>>();

/// A zero-initialised slot array (all slots empty), cache-line aligned.
struct Table<K, V> {
    mask: usize,
    slots: NonNull<Slot<K, V>>,
    /// The allocation (`slots` is `base` rounded up to a cache line).
    base: NonNull<u8>,
    _owns: PhantomData<Box<[Slot<K, V>]>>,
}

// SAFETY: a Table is an array of atomics pointing at `Entry<K, V>` values that
// readers on other threads borrow (`&V` needs `V: Sync`) and that may be
// dropped on another thread than the one that built them (`V: Send`). The
// raw pointer is only the array's owner, like a `Box<[Slot]>`.
unsafe impl<K: Send + Sync, V: Send + Sync> Send for Table<K, V> {}
// SAFETY: as above; all shared access to the array goes through atomics.
unsafe impl<K: Send + Sync, V: Send + Sync> Sync for Table<K, V> {}

impl<K, V> Table<K, V> {
    /// `len` slots plus room to align them to a cache line. The alignment
    /// stays at the slot's 16 so the allocator can hand out fresh zero pages
    /// (calloc) instead of writing zeroes.
    fn layout(len: usize) -> Layout {
        // A failure here means the requested capacity does not fit in memory.
        len.checked_mul(core::mem::size_of::<Slot<K, V>>())
            .and_then(|n| n.checked_add(LINE))
            .and_then(|n| Layout::from_size_align(n, core::mem::align_of::<Slot<K, V>>()).ok())
            .unwrap_or_else(|| panic!("LfMap: {len} slots overflow"))
    }

    /// A table of `len` empty slots; `len` is a power of two.
    fn new(len: usize) -> Box<Self> {
        debug_assert!(len.is_power_of_two());
        let layout = Self::layout(len);
        // SAFETY: the layout has a non-zero size (len >= MIN_SLOTS, slots are
        // 16 bytes). All-zero bytes are a valid `Slot` (hash 0, null pointer).
        let raw = unsafe { alloc::alloc_zeroed(layout) };
        let Some(base) = NonNull::new(raw) else {
            alloc::handle_alloc_error(layout)
        };
        advise_huge(raw, layout.size());
        let offset = raw.align_offset(LINE);
        // `align_offset` on a byte pointer is exact (< LINE); fall back to no
        // alignment if it ever reports "impossible".
        let offset = if offset < LINE { offset } else { 0 };
        // SAFETY: `offset < LINE` and the allocation has LINE spare bytes, so
        // `len` slots fit after `raw + offset`; 16-byte alignment holds because
        // `raw` is 16-aligned and so is every candidate line start.
        let slots = unsafe { NonNull::new_unchecked(raw.add(offset) as *mut Slot<K, V>) };
        Box::new(Table {
            mask: len - 1,
            slots,
            base,
            _owns: PhantomData,
        })
    }

    #[inline(always)]
    fn len(&self) -> usize {
        self.mask + 1
    }

    /// Where the probe for `hash` starts: the first slot of its group.
    #[inline(always)]
    fn home(&self, hash: u64) -> usize {
        hash as usize & self.mask & !(GROUP - 1)
    }

    #[inline(always)]
    fn slot(&self, i: usize) -> &Slot<K, V> {
        debug_assert!(i <= self.mask);
        // SAFETY: every caller masks `i` with `self.mask`, so `i < len`, and the
        // array stays allocated for as long as `&self` lives.
        unsafe { &*self.slots.as_ptr().add(i & self.mask) }
    }

    /// Bytes held by the slot array.
    fn bytes(&self) -> usize {
        self.len() * core::mem::size_of::<Slot<K, V>>()
    }
}

impl<K, V> Drop for Table<K, V> {
    /// Frees the array only; the entries it points at are owned elsewhere (a
    /// newer table, the retire list, or `Shared::drop`).
    fn drop(&mut self) {
        // SAFETY: allocated in `Table::new` with exactly this layout.
        unsafe { alloc::dealloc(self.base.as_ptr(), Self::layout(self.len())) }
    }
}

/// Ask for transparent huge pages on a large slot array (fewer TLB misses at
/// millions of entries). Best effort: errors are ignored.
#[cfg(target_os = "linux")]
fn advise_huge(ptr: *mut u8, len: usize) {
    const HUGE: usize = 2 << 20;
    if len < 2 * HUGE {
        return;
    }
    let start = (ptr as usize + HUGE - 1) & !(HUGE - 1);
    let end = (ptr as usize + len) & !(HUGE - 1);
    if end > start {
        // SAFETY: [start, end) lies inside the allocation we own; madvise with
        // MADV_HUGEPAGE changes no contents and no protection.
        unsafe {
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn advise_huge(_ptr: *mut u8, _len: usize) {}

/// Something the writer unlinked: freed after a grace period.
enum Garbage<K, V> {
    /// A replaced or removed entry. Held only for its `Drop`.
    #[allow(dead_code)]
    Entry(Box<Entry<K, V>>),
    /// A slot array replaced by a rebuild (its entries live on). Held only for
    /// its `Drop`.
    #[allow(dead_code)]
    Table(Box<Table<K, V>>),
}

/// State shared by the writer and the readers.
struct Shared<K, V, S> {
    table: AtomicPtr<Table<K, V>>,
    hasher: S,
    domain: QsbrDomain,
    domain_id: usize,
    /// Garbage left by a dropped writer; freed when the last handle goes.
    orphans: Mutex<Vec<Garbage<K, V>>>,
    /// Makes `Shared` Send/Sync only when the entries may be.
    _entries: PhantomData<Box<Entry<K, V>>>,
}

impl<K, V, S: BuildHasher> Shared<K, V, S> {
    #[inline(always)]
    fn hash(&self, key: &K) -> u64
    where
        K: Hash,
    {
        self.hasher.hash_one(key)
    }
}

impl<K, V, S> Drop for Shared<K, V, S> {
    fn drop(&mut self) {
        // The last handle is going: no reader can hold a reference any more
        // (references borrow a `MapReader`), so everything may be freed now.
        let table = self.table.load(Ordering::Acquire);
        if table.is_null() {
            return;
        }
        // SAFETY: the current table was made by `Box::into_raw` and is owned
        // by `Shared`; nobody else can reach it now.
        let table = unsafe { Box::from_raw(table) };
        for i in 0..table.len() {
            let p = table.slot(i).ptr.load(Ordering::Relaxed);
            if !p.is_null() && p != tombstone() {
                // SAFETY: a live entry of the current table is owned by it alone
                // (retired entries were unlinked from it first).
                drop(unsafe { Box::from_raw(p) });
            }
        }
    }
}

/// Variance/auto-trait marker for [`LfMap`], which holds no data.
type Marker<K, V, S> = fn() -> (K, V, S);

/// Constructors for a lock-free map: a single [`MapWriter`] and cloneable
/// [`MapReader`]s sharing one [`QsbrDomain`].
///
/// ```
/// use dataplane::table::{LfMap, QsbrDomain};
/// let domain = QsbrDomain::new(4);
/// let (mut writer, reader) = LfMap::<u32, &str>::with_capacity(&domain, 1000);
/// writer.insert(7, "seven");
/// writer.publish();
///
/// let mut worker = domain.register().unwrap();
/// {
///     let g = worker.guard();
///     assert_eq!(reader.get(&g, &7), Some(&"seven"));
/// }
/// worker.quiescent();
/// ```
pub struct LfMap<K, V, S = DefaultHashBuilder> {
    _never: PhantomData<Marker<K, V, S>>,
}

impl<K, V> LfMap<K, V, DefaultHashBuilder>
where
    K: Hash + Eq + Copy + Send + Sync,
    V: Send + Sync,
{
    /// A map pre-sized for `capacity` entries (no rebuild until it holds
    /// more than that), with a randomly seeded fast hasher.
    ///
    /// # Panics
    /// If the slot array for `capacity` cannot be sized (absurd capacity).
    pub fn with_capacity(
        domain: &QsbrDomain,
        capacity: usize,
    ) -> (
        MapWriter<K, V, DefaultHashBuilder>,
        MapReader<K, V, DefaultHashBuilder>,
    ) {
        Self::with_capacity_and_hasher(domain, capacity, DefaultHashBuilder::default())
    }
}

impl<K, V, S> LfMap<K, V, S>
where
    K: Hash + Eq + Copy + Send + Sync,
    V: Send + Sync,
    S: BuildHasher + Send + Sync,
{
    /// As [`LfMap::with_capacity`], with a given hash builder.
    ///
    /// # Panics
    /// If the slot array for `capacity` cannot be sized (absurd capacity).
    pub fn with_capacity_and_hasher(
        domain: &QsbrDomain,
        capacity: usize,
        hasher: S,
    ) -> (MapWriter<K, V, S>, MapReader<K, V, S>) {
        let slots = slots_for(capacity);
        let table = Box::into_raw(Table::<K, V>::new(slots));
        let shared = Arc::new(Shared {
            table: AtomicPtr::new(table),
            hasher,
            domain: domain.clone(),
            domain_id: domain.id(),
            orphans: Mutex::new(Vec::new()),
            _entries: PhantomData,
        });
        let writer = MapWriter {
            shared: shared.clone(),
            retire: RetireList::new(domain),
            len: 0,
            tombstones: 0,
            rebuilds: 0,
        };
        (writer, MapReader { shared })
    }
}

/// The number of slots that holds `entries` under the maximum load.
fn slots_for(entries: usize) -> usize {
    let need = entries
        .checked_mul(MAX_LOAD_DEN)
        .map(|n| n.div_ceil(MAX_LOAD_NUM))
        .and_then(|n| n.checked_add(1))
        .and_then(usize::checked_next_power_of_two)
        .unwrap_or_else(|| panic!("LfMap: capacity {entries} too large"));
    need.max(MIN_SLOTS)
}

/// The current table, as seen by the writer.
#[inline(always)]
fn writer_table<K, V, S>(shared: &Shared<K, V, S>) -> &Table<K, V> {
    // SAFETY: only the writer replaces the current table, and it does so
    // through `&mut MapWriter`, which cannot coexist with this `&Shared` borrow
    // taken through the writer; a replaced table is retired, not freed, so it
    // outlives the borrow either way. (Only `MapWriter` calls this.)
    unsafe { &*shared.table.load(Ordering::Relaxed) }
}

/// The single writer of an [`LfMap`]. `Send`, not `Clone`.
pub struct MapWriter<K, V, S = DefaultHashBuilder> {
    shared: Arc<Shared<K, V, S>>,
    retire: RetireList<Garbage<K, V>>,
    len: usize,
    tombstones: usize,
    rebuilds: u64,
}

/// A reader handle of an [`LfMap`]: `Clone + Send + Sync`, one per worker (or
/// shared). Lookups need a [`Guard`] from an online reader of the map's domain.
pub struct MapReader<K, V, S = DefaultHashBuilder> {
    shared: Arc<Shared<K, V, S>>,
}

impl<K, V, S> Clone for MapReader<K, V, S> {
    fn clone(&self) -> Self {
        MapReader {
            shared: self.shared.clone(),
        }
    }
}

/// Memory held by a map, for capacity planning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MapMemory {
    /// Bytes of the current slot array.
    pub slot_bytes: usize,
    /// Bytes of live entries (size of each boxed entry, before allocator
    /// rounding and headers).
    pub entry_bytes: usize,
    /// Live entries.
    pub entries: usize,
    /// Slots in the current array.
    pub slots: usize,
}

impl<K, V, S> MapWriter<K, V, S>
where
    K: Hash + Eq + Copy + Send + Sync,
    V: Send + Sync,
    S: BuildHasher + Send + Sync,
{
    #[inline(always)]
    fn table(&self) -> &Table<K, V> {
        writer_table(&self.shared)
    }

    /// A new reader handle.
    pub fn reader(&self) -> MapReader<K, V, S> {
        MapReader {
            shared: self.shared.clone(),
        }
    }

    /// The domain this map reclaims through.
    pub fn domain(&self) -> &QsbrDomain {
        &self.shared.domain
    }

    /// Live entries.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the map is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Tombstones in the current array.
    pub fn tombstones(&self) -> usize {
        self.tombstones
    }

    /// Entries the current array holds before the next insert rebuilds it.
    pub fn capacity(&self) -> usize {
        self.table().len() / MAX_LOAD_DEN * MAX_LOAD_NUM
    }

    /// How many rebuilds (growth or tombstone purge) happened so far.
    pub fn rebuilds(&self) -> u64 {
        self.rebuilds
    }

    /// Retired objects (entries and arrays) not yet freed.
    pub fn pending_garbage(&self) -> usize {
        self.retire.pending()
    }

    /// Memory held by the current array and live entries.
    pub fn memory(&self) -> MapMemory {
        let t = self.table();
        MapMemory {
            slot_bytes: t.bytes(),
            entry_bytes: self.len * core::mem::size_of::<Entry<K, V>>(),
            entries: self.len,
            slots: t.len(),
        }
    }

    /// Find `key`: `Ok(slot index)` if present, else `Err((first free slot
    /// index, whether it is a tombstone))`.
    fn find(&self, hash: u64, key: &K) -> Result<usize, (usize, bool)> {
        let t = self.table();
        let mut i = t.home(hash);
        let mut first_tomb = None;
        // Terminates: the load limit keeps at least a quarter of the slots null.
        loop {
            let slot = t.slot(i);
            let p = slot.ptr.load(Ordering::Relaxed);
            if p.is_null() {
                return Err(first_tomb.map_or((i, false), |ti| (ti, true)));
            }
            if p == tombstone() {
                first_tomb.get_or_insert(i);
            } else if slot.hash.load(Ordering::Relaxed) == hash {
                // SAFETY: a non-tombstone, non-null pointer in the current table
                // is a live entry that only this writer could free.
                if unsafe { &(*p).key } == key {
                    return Ok(i);
                }
            }
            i = (i + 1) & t.mask;
        }
    }

    /// Writer-side lookup (no guard needed: only this writer frees entries,
    /// and it cannot while the returned reference borrows it).
    pub fn get(&self, key: &K) -> Option<&V> {
        let h = self.shared.hash(key);
        let i = self.find(h, key).ok()?;
        let p = self.table().slot(i).ptr.load(Ordering::Relaxed);
        // SAFETY: `find` returned a slot holding a live entry; see `table`.
        Some(unsafe { &(*p).value })
    }

    /// Whether `key` is present.
    pub fn contains_key(&self, key: &K) -> bool {
        self.get(key).is_some()
    }

    /// Insert or replace. Returns `true` when an existing value was replaced
    /// (the old value is retired, not returned: readers may still hold it).
    /// May rebuild the array if the load limit is reached.
    pub fn insert(&mut self, key: K, value: V) -> bool {
        let h = self.shared.hash(&key);
        let entry = Box::into_raw(Box::new(Entry { key, value }));
        match self.find(h, &key) {
            Ok(i) => {
                let old = self.table().slot(i).ptr.swap(entry, Ordering::Release);
                // SAFETY: `old` was the live entry for `key`, now unlinked from
                // the current table; it was created by `Box::into_raw`.
                self.retire.retire(Garbage::Entry(unsafe { Box::from_raw(old) }));
                true
            }
            Err((i, true)) => {
                self.put(i, h, entry);
                self.tombstones -= 1;
                self.len += 1;
                false
            }
            Err((i, false)) => {
                if (self.len + self.tombstones + 1) * MAX_LOAD_DEN > self.table().len() * MAX_LOAD_NUM {
                    // Purge tombstones at the same size, unless that would
                    // leave less than 1/8 of the slots as headroom (then grow,
                    // so churn near the limit does not rebuild every time).
                    // Never shrinks below the pre-sized array.
                    let cur = self.table().len();
                    let grow = (self.len + 1) * GROW_DEN > cur * GROW_NUM;
                    self.rebuild_to(if grow {
                        slots_for(self.len + 1).max(cur * 2)
                    } else {
                        cur
                    });
                    let Err((i, _)) = self.find(h, &key) else {
                        unreachable!("key absent before rebuild")
                    };
                    self.put(i, h, entry);
                } else {
                    self.put(i, h, entry);
                }
                self.len += 1;
                false
            }
        }
    }

    /// Publish `entry` into empty or tombstone slot `i`.
    fn put(&self, i: usize, hash: u64, entry: *mut Entry<K, V>) {
        let slot = self.table().slot(i);
        // The fingerprint first, then the pointer with Release: a reader that
        // acquires the pointer sees this fingerprint (or a later one, which
        // only makes it skip a stale entry).
        slot.hash.store(hash, Ordering::Relaxed);
        slot.ptr.store(entry, Ordering::Release);
    }

    /// Remove `key`. Returns whether it was present (its value is retired).
    pub fn remove(&mut self, key: &K) -> bool {
        let h = self.shared.hash(key);
        let Ok(i) = self.find(h, key) else { return false };
        let t = writer_table(&self.shared);
        let old = t.slot(i).ptr.swap(tombstone(), Ordering::Release);
        // SAFETY: `old` was the live entry for `key`, now unlinked; it was
        // created by `Box::into_raw`.
        self.retire.retire(Garbage::Entry(unsafe { Box::from_raw(old) }));
        self.tombstones += 1;
        // If the chain ends right after us, no probe needs the run of
        // tombstones ending here: turn it back into empty slots.
        if t.slot((i + 1) & t.mask).ptr.load(Ordering::Relaxed).is_null() {
            let mut j = i;
            while t.slot(j).ptr.load(Ordering::Relaxed) == tombstone() {
                t.slot(j).ptr.store(ptr::null_mut(), Ordering::Release);
                self.tombstones -= 1;
                j = j.wrapping_sub(1) & t.mask;
                if j == i {
                    break;
                }
            }
        }
        self.len -= 1;
        true
    }

    /// Rebuild the array at its current size (purging tombstones), or bigger
    /// if the live entries need it. The old array is retired.
    pub fn rebuild(&mut self) {
        self.rebuild_to(slots_for(self.len).max(self.table().len()));
    }

    /// Make room for `additional` more entries without a later rebuild.
    pub fn reserve(&mut self, additional: usize) {
        let want = slots_for(self.len.saturating_add(additional));
        if want > self.table().len() {
            self.rebuild_to(want);
        }
    }

    fn rebuild_to(&mut self, slots: usize) {
        let new = Table::<K, V>::new(slots);
        let old = self.table();
        for i in 0..old.len() {
            let s = old.slot(i);
            let p = s.ptr.load(Ordering::Relaxed);
            if p.is_null() || p == tombstone() {
                continue;
            }
            let h = s.hash.load(Ordering::Relaxed);
            let mut j = new.home(h);
            while !new.slot(j).ptr.load(Ordering::Relaxed).is_null() {
                j = (j + 1) & new.mask;
            }
            new.slot(j).hash.store(h, Ordering::Relaxed);
            new.slot(j).ptr.store(p, Ordering::Relaxed);
        }
        // Release: readers that acquire the new array see its contents.
        let old = self.shared.table.swap(Box::into_raw(new), Ordering::Release);
        // SAFETY: `old` was the current table (made by `Box::into_raw`), now
        // unlinked; its entries live on in the new table.
        self.retire.retire(Garbage::Table(unsafe { Box::from_raw(old) }));
        self.tombstones = 0;
        self.rebuilds += 1;
    }

    /// Close the current batch (one grace period for everything retired since
    /// the last call) and free what earlier grace periods allow. Never blocks.
    /// Returns how many retired objects were freed.
    pub fn publish(&mut self) -> usize {
        self.retire.end_batch();
        self.retire.reclaim()
    }

    /// Alias of [`MapWriter::publish`].
    pub fn end_batch(&mut self) -> usize {
        self.publish()
    }

    /// Free what finished grace periods allow, without closing the batch.
    pub fn reclaim(&mut self) -> usize {
        self.retire.reclaim()
    }

    /// Close the batch and spin until everything retired is freed. Tests and
    /// shutdown only; see [`RetireList::synchronize`].
    pub fn synchronize(&mut self) -> usize {
        self.retire.synchronize()
    }

    /// Visit every live entry (writer side; order unspecified).
    pub fn for_each(&self, mut f: impl FnMut(&K, &V)) {
        let t = self.table();
        for i in 0..t.len() {
            let p = t.slot(i).ptr.load(Ordering::Relaxed);
            if !p.is_null() && p != tombstone() {
                // SAFETY: a live entry of the current table; see `table`.
                let e = unsafe { &*p };
                f(&e.key, &e.value);
            }
        }
    }
}

impl<K, V, S> Drop for MapWriter<K, V, S> {
    fn drop(&mut self) {
        self.retire.end_batch();
        self.retire.reclaim();
        let rest = self.retire.take_all();
        if !rest.is_empty() {
            // Readers may still hold these: hand them to the last handle.
            match self.shared.orphans.lock() {
                Ok(mut o) => o.extend(rest),
                Err(poisoned) => poisoned.into_inner().extend(rest),
            }
        }
    }
}

impl<K, V, S> MapReader<K, V, S>
where
    K: Hash + Eq + Copy + Send + Sync,
    V: Send + Sync,
    S: BuildHasher + Send + Sync,
{
    #[inline(always)]
    fn check(&self, guard: &Guard<'_>) {
        if guard.domain_id() != self.shared.domain_id {
            wrong_domain();
        }
    }

    #[inline(always)]
    fn table<'a>(&'a self, _guard: &Guard<'a>) -> &'a Table<K, V> {
        // SAFETY: the guard proves an online reader of this map's domain
        // (checked by the caller). A table unlinked after we load it is
        // retired and freed only after that reader reports quiescence, which
        // needs `&mut` on the reader the guard borrows for 'a.
        unsafe { &*self.shared.table.load(Ordering::Acquire) }
    }

    #[inline(always)]
    fn probe<'a>(t: &'a Table<K, V>, hash: u64, key: &K) -> Option<&'a V> {
        let mut i = t.home(hash);
        // Bounded even if a torn view showed no empty slot.
        for _ in 0..=t.mask {
            let slot = t.slot(i);
            let p = slot.ptr.load(Ordering::Acquire);
            if p.is_null() {
                return None;
            }
            if p != tombstone() && slot.hash.load(Ordering::Relaxed) == hash {
                // SAFETY: `p` was loaded (Acquire) from a slot of a table we
                // may read; it is a published, immutable entry that is freed
                // only after a grace period covering our guard (see `table`).
                let e = unsafe { &*p };
                if e.key == *key {
                    return Some(&e.value);
                }
            }
            i = (i + 1) & t.mask;
        }
        None
    }

    /// Look `key` up. The reference lives as long as the guard's reader
    /// borrow, i.e. until the next quiescent report at the latest.
    ///
    /// # Panics
    /// If `guard` belongs to another QSBR domain than the map (a programming
    /// error, never data dependent).
    #[inline]
    pub fn get<'a>(&'a self, guard: &Guard<'a>, key: &K) -> Option<&'a V> {
        self.check(guard);
        let h = self.shared.hash(key);
        Self::probe(self.table(guard), h, key)
    }

    /// Whether `key` is present.
    #[inline]
    pub fn contains_key(&self, guard: &Guard<'_>, key: &K) -> bool {
        self.get(guard, key).is_some()
    }

    /// Look up a burst of keys, like `rte_hash_lookup_bulk`: hashes all
    /// keys and prefetches their slots, then prefetches the candidate entries,
    /// then resolves each. `out[i]` receives the result for `keys[i]`; extra
    /// outputs are left alone. Returns the number of hits.
    ///
    /// # Panics
    /// If `guard` belongs to another domain, or `out` is shorter than `keys`.
    pub fn get_bulk<'a>(&'a self, guard: &Guard<'a>, keys: &[K], out: &mut [Option<&'a V>]) -> usize {
        self.check(guard);
        assert!(out.len() >= keys.len(), "get_bulk: output shorter than keys");
        let t = self.table(guard);
        let mut hits = 0;
        for (keys, out) in keys.chunks(BULK).zip(out.chunks_mut(BULK)) {
            let mut hashes = [0u64; BULK];
            for (h, k) in hashes.iter_mut().zip(keys) {
                *h = self.shared.hash(k);
                prefetch(t.slot(t.home(*h)) as *const Slot<K, V> as *const u8);
            }
            for h in &hashes[..keys.len()] {
                // Scan the home group (one cache line, now on its way) for a
                // fingerprint match and prefetch that entry.
                let home = t.home(*h);
                for j in home..home + GROUP {
                    let slot = t.slot(j);
                    let p = slot.ptr.load(Ordering::Acquire);
                    if p.is_null() {
                        break;
                    }
                    if p != tombstone() && slot.hash.load(Ordering::Relaxed) == *h {
                        // Prefetching any address is harmless; this one is an entry.
                        prefetch(p as *const u8);
                        break;
                    }
                }
            }
            for ((h, k), o) in hashes.iter().zip(keys).zip(out.iter_mut()) {
                *o = Self::probe(t, *h, k);
                hits += o.is_some() as usize;
            }
        }
        hits
    }
}

#[cold]
#[inline(never)]
fn wrong_domain() -> ! {
    panic!("LfMap: guard from another QSBR domain")
}

#[inline(always)]
fn prefetch(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: prefetch is a hint; it never faults or reads architecturally,
        // whatever the address. SSE is part of the x86_64 baseline.
        unsafe { core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(p as *const i8) }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

#[cfg(test)]
mod tests;
