//! `LfMap`: a generic open-addressing hash map with lock-free reads.
//!
//! Owns the slot arrays and the entry arena of one map. There is exactly one
//! [`MapWriter`] (the control thread) and any number of [`MapReader`] clones
//! (the workers). Reclamation goes through the shared [`QsbrDomain`].
//!
//! Layout:
//! - **Slots**: a power-of-two array of 8-byte words, probed linearly from the
//!   first slot of the key's 64-byte group (8 slots, one cache line), so a
//!   lookup usually reads a single line of the array. A word is `0` (empty:
//!   ends a probe chain), `u32::MAX` (tombstone: a removed entry), or
//!   `tag << 32 | (index + 1)`: the top 32 bits of the key's 64-bit hash,
//!   with the lowest of them forced to 1, and the entry's index in the arena.
//!   A tag is odd and the top half of an empty or tombstone word is 0, so the
//!   top halves alone tell a candidate entry, and the low halves alone an
//!   empty slot (`get_bulk` compares them four at a time in SSE2). One word
//!   is one atomic, so a reader can never see a tag and an index from
//!   different entries.
//! - **Arena**: entries `{ key, value }` live in cells of a segmented arena
//!   (segment 0 sized for the requested capacity, later ones doubling;
//!   segments are line-aligned, so a 16- or 32-byte entry sits in one line;
//!   large segments are advised to transparent huge pages), never in
//!   individual boxes. A cell is written once before it is published and
//!   never changed while reachable; a freed cell is reused only after a grace
//!   period.
//!
//! A lookup rejects a slot whose tag differs without touching the arena, so a
//! miss costs one cache line of slots in the normal case, and a hit one line of
//! slots plus the entry (which the caller reads anyway for the value; the key
//! is compared in the same line). [`MapReader::get_bulk`] overlaps those
//! misses across a burst.
//!
//! Contract:
//! - Readers only load (`Acquire` on the table pointer; slot words with
//!   `Acquire`, or `Relaxed` followed by an `Acquire` fence before an entry
//!   they name is read): no lock, no read-modify-write, no waiting. A probe is bounded by the table
//!   size even on a torn view.
//! - The writer never mutates a published entry. Replace and remove swap the
//!   slot word (`Release`) and retire the old cell; a rebuild copies the live
//!   words into a new array, publishes it with one pointer store and retires
//!   the old array. Nothing is freed or reused before a QSBR grace period.
//! - Each update is visible to readers as soon as it is made; batching
//!   ([`MapWriter::publish`]) groups updates into one grace period.
//! - The map never hashes with SipHash: the default hasher is foldhash's fast
//!   hasher, randomly seeded per map.
//! - At most `u32::MAX - 1` cells (live plus retired entries) per map.
#![allow(unsafe_code)]

use core::hash::{BuildHasher, Hash};
use core::marker::PhantomData;
use core::ptr::{self, NonNull};
use core::sync::atomic::{fence, AtomicBool, AtomicPtr, AtomicU64, Ordering};
use std::alloc::{self, Layout};
use std::sync::{Arc, Mutex, MutexGuard};

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

/// An immutable entry. Never modified while a slot word refers to its cell.
struct Entry<K, V> {
    key: K,
    value: V,
}

/// Slot word of an empty slot: ends a probe chain.
const EMPTY: u64 = 0;
/// Slot word of a removed entry: probes continue past it. Its top half is 0,
/// like [`EMPTY`]'s, so no tag (always odd, see [`TAG_BIT`]) matches either.
const TOMB: u64 = u32::MAX as u64;
/// Largest arena index: `index + 1` must stay below `u32::MAX` so that an
/// entry word's low half is never [`TOMB`]'s (and never 0, [`EMPTY`]'s):
/// the low half alone tells an empty slot, and the top half alone a tag.
const MAX_INDEX: u32 = u32::MAX - 2;
/// Set in every map hash (see [`Shared::hash`]): the tag, the hash's top
/// half, is odd, so it never equals the top half of [`EMPTY`] or [`TOMB`]
/// (both 0) and one compare of the top halves tells a candidate entry.
const TAG_BIT: u64 = 1 << 32;

/// The arena segment holding cell `idx` when the first segment has
/// `2^shift` cells: the bit length of `idx >> shift`, computed as the log of
/// twice it plus one. That argument is never zero, so this is one `bsr`
/// with no zero case (`BITS - leading_zeros` cost two more instructions).
#[inline(always)]
fn segment_of(idx: u32, shift: u32) -> usize {
    (((u64::from(idx) >> shift) * 2) | 1).ilog2() as usize
}

/// The slot word for the entry in cell `idx` whose key hashes to `hash`.
#[inline(always)]
fn entry_word(hash: u64, idx: u32) -> u64 {
    debug_assert!(idx <= MAX_INDEX);
    (hash & !0xFFFF_FFFF) | (u64::from(idx) + 1)
}

/// Whether `w` is an entry word whose tag matches `hash`'s (a map hash, so
/// its tag is odd and never matches [`EMPTY`] or [`TOMB`]).
#[inline(always)]
fn tag_matches(w: u64, hash: u64) -> bool {
    debug_assert!(hash & TAG_BIT != 0);
    (w ^ hash) >> 32 == 0
}

/// The arena index of entry word `w`.
#[inline(always)]
fn index_of(w: u64) -> u32 {
    (w as u32).wrapping_sub(1)
}

/// The slots that matter in one group, computed without branches: `cand`
/// has bit `j` set when word `j` is an entry whose tag matches and no empty
/// slot comes before it in the group; `empty` has bit `j` set when word `j`
/// is [`EMPTY`].
struct Scan {
    cand: u32,
    empty: u32,
}

impl Scan {
    /// Scan the group starting at slot `g` (a multiple of [`GROUP`]) of
    /// `slots` for `hash` (a map hash). Loads are `Relaxed`. The words are not
    /// kept (spilling them cost more than loading one again from the line
    /// just read): a caller reloads the candidate's word and checks its tag.
    #[inline(always)]
    fn group(slots: *const AtomicU64, g: usize, hash: u64) -> Scan {
        let mut words = [0u64; GROUP];
        for (j, w) in words.iter_mut().enumerate() {
            // SAFETY: the caller passes a group start inside the table, and a
            // table holds whole groups (len >= MIN_SLOTS, a multiple of GROUP).
            *w = unsafe { &*slots.add(g + j) }.load(Ordering::Relaxed);
        }
        let (tags, empty) = group_masks(&words, hash);
        // Bits below the first empty slot (all bits when there is none).
        let before = !empty & empty.wrapping_sub(1);
        Scan {
            cand: tags & before,
            empty,
        }
    }
}

/// For a group's words: the slots whose top half equals `hash`'s tag (entries
/// only: a tag is odd, EMPTY's and TOMB's top halves are 0), and the empty
/// slots (low half 0: an entry's is `index + 1`, TOMB's `u32::MAX`). With
/// SSE2 (x86_64's baseline) both come from four 4-lane compares of the
/// halves and one byte mask, about a quarter of the scalar instructions.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn group_masks(w: &[u64; GROUP], hash: u64) -> (u32, u32) {
    use core::arch::x86_64::{
        _mm_castps_si128, _mm_castsi128_ps, _mm_cmpeq_epi32, _mm_movemask_epi8, _mm_packs_epi16,
        _mm_packs_epi32, _mm_set1_epi32, _mm_set_epi64x, _mm_setzero_si128, _mm_shuffle_ps,
    };
    // SAFETY: SSE and SSE2 are part of the x86_64 baseline; these intrinsics
    // compute on registers only (the words were loaded atomically before).
    let m = unsafe {
        let pair = |j: usize| _mm_castsi128_ps(_mm_set_epi64x(w[j + 1] as i64, w[j] as i64));
        let (a, b, c, d) = (pair(0), pair(2), pair(4), pair(6));
        // Top halves (odd lanes) and low halves (even lanes) of words 0-3, 4-7.
        let hi0 = _mm_castps_si128(_mm_shuffle_ps::<0xDD>(a, b));
        let hi1 = _mm_castps_si128(_mm_shuffle_ps::<0xDD>(c, d));
        let lo0 = _mm_castps_si128(_mm_shuffle_ps::<0x88>(a, b));
        let lo1 = _mm_castps_si128(_mm_shuffle_ps::<0x88>(c, d));
        let tag = _mm_set1_epi32((hash >> 32) as i32);
        let zero = _mm_setzero_si128();
        // Lanes of all ones or all zeroes: saturating packs keep them so.
        let tags = _mm_packs_epi32(_mm_cmpeq_epi32(hi0, tag), _mm_cmpeq_epi32(hi1, tag));
        let empty = _mm_packs_epi32(_mm_cmpeq_epi32(lo0, zero), _mm_cmpeq_epi32(lo1, zero));
        _mm_movemask_epi8(_mm_packs_epi16(tags, empty)) as u32
    };
    (m & 0xFF, m >> 8)
}

/// Portable form of the x86_64 [`group_masks`].
#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn group_masks(w: &[u64; GROUP], hash: u64) -> (u32, u32) {
    let (mut tags, mut empty) = (0u32, 0u32);
    for (j, &w) in w.iter().enumerate() {
        tags |= u32::from((w ^ hash) >> 32 == 0) << j;
        empty |= u32::from(w as u32 == 0) << j;
    }
    (tags, empty)
}

/// Bytes in a cache line, and slots per line: probing starts at the first
/// slot of a line-aligned group of slots (bucketised linear probing), so a
/// lookup usually touches a single cache line.
const LINE: usize = 64;
const GROUP: usize = LINE / core::mem::size_of::<AtomicU64>();

/// A zero-initialised slot array (all slots empty), cache-line aligned.
struct Table {
    mask: usize,
    slots: NonNull<AtomicU64>,
    /// The allocation (`slots` is `base` rounded up to a cache line).
    base: NonNull<u8>,
}

// SAFETY: a Table is an array of `AtomicU64` (Send + Sync) that it owns, like a
// `Box<[AtomicU64]>`; the raw pointers are only that ownership.
unsafe impl Send for Table {}
// SAFETY: as above; all shared access to the array goes through atomics.
unsafe impl Sync for Table {}

impl Table {
    /// `len` slots plus room to align them to a cache line. The alignment
    /// stays at the word's 8 so the allocator can hand out fresh zero pages
    /// (calloc) instead of writing zeroes.
    fn layout(len: usize) -> Layout {
        // A failure here means the requested capacity does not fit in memory.
        len.checked_mul(core::mem::size_of::<AtomicU64>())
            .and_then(|n| n.checked_add(LINE))
            .and_then(|n| Layout::from_size_align(n, core::mem::align_of::<AtomicU64>()).ok())
            .unwrap_or_else(|| panic!("LfMap: {len} slots overflow"))
    }

    /// A table of `len` empty slots; `len` is a power of two.
    fn new(len: usize) -> Box<Self> {
        debug_assert!(len.is_power_of_two());
        let layout = Self::layout(len);
        // SAFETY: the layout has a non-zero size (len >= MIN_SLOTS). All-zero
        // bytes are a valid `AtomicU64` holding EMPTY.
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
        // `len` words fit after `raw + offset`; 8-byte alignment holds because
        // `raw` is 8-aligned and so is every candidate line start.
        let slots = unsafe { NonNull::new_unchecked(raw.add(offset) as *mut AtomicU64) };
        Box::new(Table {
            mask: len - 1,
            slots,
            base,
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
    fn slot(&self, i: usize) -> &AtomicU64 {
        debug_assert!(i <= self.mask);
        // SAFETY: `i & mask < len`, and the array stays allocated for as long
        // as `&self` lives.
        unsafe { &*self.slots.as_ptr().add(i & self.mask) }
    }

    /// Bytes held by the slot array.
    fn bytes(&self) -> usize {
        self.len() * core::mem::size_of::<AtomicU64>()
    }
}

impl Drop for Table {
    /// Frees the array only; the entries its words name live in the arena.
    fn drop(&mut self) {
        // SAFETY: allocated in `Table::new` with exactly this layout.
        unsafe { alloc::dealloc(self.base.as_ptr(), Self::layout(self.len())) }
    }
}

/// Ask for transparent huge pages on a large allocation (fewer TLB misses at
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

/// Segments an arena may have: enough for `MAX_INDEX + 1` cells whatever the
/// size of segment 0 (index bit length, plus one).
const SEGS: usize = 33;

/// The entry arena: cells of `Entry<K, V>` in segments that never move.
///
/// Segment 0 holds cells `[0, B)`, segment `k >= 1` holds `[B << (k - 1),
/// B << k)`, with `B = 1 << shift`. Readers find a cell with a shift, a
/// leading-zero count and one load; only the writer allocates and frees.
struct Arena<K, V> {
    /// Per segment: its base pointer minus its first index (so that cell
    /// `idx` is at `segs[k] + idx`), or null while not allocated. Each is
    /// stored once, before any cell in it is published.
    segs: [AtomicPtr<Entry<K, V>>; SEGS],
    /// log2 of the size of segment 0.
    shift: u32,
    /// Writer-side allocation state (the lock is only ever taken by the writer,
    /// or by whoever drops the last handle; never by a reader).
    alloc: Mutex<Alloc>,
}

/// The arena's allocation state.
struct Alloc {
    /// Next never-used cell.
    next: usize,
    /// Cells available in the allocated segments (`B << segments - 1`, 0
    /// before the first).
    end: usize,
    /// Segments allocated.
    segments: usize,
    /// Cells freed after a grace period, ready for reuse.
    free: Vec<u32>,
}

// SAFETY: the arena owns `Entry<K, V>` values. Sharing it hands out `&K`/`&V`
// to other threads (`Sync` bounds) and lets any thread that drops garbage drop
// entries (`Send` bounds). Cells are only written by the single writer, and
// only when no reader can reach them.
unsafe impl<K: Send + Sync, V: Send + Sync> Send for Arena<K, V> {}
// SAFETY: as above.
unsafe impl<K: Send + Sync, V: Send + Sync> Sync for Arena<K, V> {}

impl<K, V> Arena<K, V> {
    /// An arena whose first segment holds `capacity` cells (at least 16,
    /// rounded up to a power of two). Nothing is allocated yet.
    fn new(capacity: usize) -> Self {
        let first = capacity.clamp(16, 1 << 32).next_power_of_two();
        Arena {
            segs: core::array::from_fn(|_| AtomicPtr::new(ptr::null_mut())),
            shift: first.trailing_zeros(),
            alloc: Mutex::new(Alloc {
                next: 0,
                end: 0,
                segments: 0,
                free: Vec::new(),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Alloc> {
        match self.alloc.lock() {
            Ok(a) => a,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// First index and number of cells of segment `k`.
    fn segment(&self, k: usize) -> (usize, usize) {
        let b = 1usize << self.shift;
        if k == 0 {
            (0, b)
        } else {
            (b << (k - 1), b << (k - 1))
        }
    }

    /// The cell of `idx`. Only meaningful for an index below the allocated
    /// end; computing it is always safe.
    #[inline(always)]
    fn cell(&self, idx: u32) -> *mut Entry<K, V> {
        let k = segment_of(idx, self.shift);
        let idx = idx as usize;
        // Relaxed: a segment pointer is stored before any cell in it is
        // written, and a cell is reached only through a slot word loaded with
        // Acquire (published with Release after that) or by the writer itself.
        // `k < SEGS` because `idx < 2^32`; the bounds check stays predictable.
        self.segs[k].load(Ordering::Relaxed).wrapping_add(idx)
    }

    /// The entry in cell `idx`.
    ///
    /// # Safety
    /// `idx` must name a cell holding a published entry that cannot be freed
    /// while the returned borrow lasts (a live cell seen by the writer, or one
    /// a reader reached through a slot word under a guard).
    #[inline(always)]
    unsafe fn entry(&self, idx: u32) -> &Entry<K, V> {
        // SAFETY: per the contract, the cell is allocated, initialised and not
        // written or freed while the borrow lasts.
        unsafe { &*self.cell(idx) }
    }

    /// Move `entry` into a free cell and return its index. The cell is not
    /// reachable by readers until the caller publishes a slot word naming it.
    ///
    /// # Panics
    /// If the map would exceed `MAX_INDEX + 1` cells, or memory runs out.
    fn alloc(&self, entry: Entry<K, V>) -> u32 {
        let mut a = self.lock();
        let idx = match a.free.pop() {
            Some(idx) => idx,
            None => {
                if a.next == a.end {
                    self.grow(&mut a);
                }
                let idx = a.next;
                a.next += 1;
                // `grow` never lets `end` pass MAX_INDEX + 1.
                idx as u32
            }
        };
        drop(a);
        // SAFETY: `idx` is a cell of an allocated segment that holds no entry
        // (fresh, or freed after a grace period: no reader can reach it), and
        // only the single writer allocates.
        unsafe { ptr::write(self.cell(idx), entry) };
        idx
    }

    /// The layout of a segment of `len` cells: line-aligned, so that a cell
    /// no larger than a line and dividing it (16 bytes for `u32` keys, 32 for
    /// `AddrKey`) never straddles two lines, and a hit costs one line of
    /// entries.
    fn segment_layout(len: usize) -> Option<Layout> {
        Layout::array::<Entry<K, V>>(len).ok()?.align_to(LINE).ok()
    }

    /// Allocate the next segment.
    #[cold]
    fn grow(&self, a: &mut Alloc) {
        let k = a.segments;
        let (first, len) = self.segment(k);
        if k >= SEGS || first > MAX_INDEX as usize {
            panic!("LfMap: more than {} entries", MAX_INDEX as u64 + 1);
        }
        let layout = Self::segment_layout(len).unwrap_or_else(|| panic!("LfMap: arena overflow"));
        let base = if layout.size() == 0 {
            NonNull::<Entry<K, V>>::dangling().as_ptr()
        } else {
            // SAFETY: non-zero size.
            let raw = unsafe { alloc::alloc(layout) };
            if raw.is_null() {
                alloc::handle_alloc_error(layout)
            }
            advise_huge(raw, layout.size());
            raw as *mut Entry<K, V>
        };
        // Release (belt and braces; see `cell` for why readers need no more).
        self.segs[k].store(base.wrapping_sub(first), Ordering::Release);
        a.segments = k + 1;
        a.end = (first + len).min(MAX_INDEX as usize + 1);
    }

    /// Drop the entry in cell `idx` and make the cell reusable.
    ///
    /// # Safety
    /// `idx` holds an entry that no slot word of a reachable table names and
    /// that no reader can still hold (a grace period has passed, or no reader
    /// is left), and it is freed only once.
    unsafe fn free(&self, idx: u32) {
        // SAFETY: per the contract, nobody else can access the entry.
        unsafe { ptr::drop_in_place(self.cell(idx)) };
        self.lock().free.push(idx);
    }

    /// Bytes of the allocated segments.
    #[cfg(test)]
    fn bytes(&self) -> usize {
        let a = self.lock();
        (0..a.segments)
            .map(|k| self.segment(k).1 * core::mem::size_of::<Entry<K, V>>())
            .sum()
    }
}

impl<K, V> Drop for Arena<K, V> {
    /// Frees the segments only: every entry was dropped by its owner (the
    /// current table in `Shared::drop`, or its retired-cell garbage).
    fn drop(&mut self) {
        let segments = self.lock().segments;
        for k in 0..segments {
            let (first, len) = self.segment(k);
            let Some(layout) = Self::segment_layout(len) else {
                continue;
            };
            if layout.size() == 0 {
                continue;
            }
            let base = self.segs[k].load(Ordering::Relaxed).wrapping_add(first);
            // SAFETY: `base` is the pointer `grow` allocated with this layout.
            unsafe { alloc::dealloc(base as *mut u8, layout) }
        }
    }
}

/// A cell unlinked by the writer: its entry is dropped and the cell recycled
/// when this is dropped, after a grace period.
struct RetiredCell<K, V> {
    arena: Arc<Arena<K, V>>,
    idx: u32,
}

impl<K, V> Drop for RetiredCell<K, V> {
    fn drop(&mut self) {
        // SAFETY: a retired cell was unlinked from the current table before it
        // was retired (older tables naming it are retired in the same or an
        // earlier batch), and it is dropped once, after its grace period or
        // when no reader remains.
        unsafe { self.arena.free(self.idx) }
    }
}

/// Something the writer unlinked: freed after a grace period.
enum Garbage<K, V> {
    /// A replaced or removed entry. Held only for its `Drop`.
    #[allow(dead_code)]
    Entry(RetiredCell<K, V>),
    /// A slot array replaced by a rebuild (its entries live on). Held only for
    /// its `Drop`.
    #[allow(dead_code)]
    Table(Box<Table>),
}

/// A flag alone in its cache line, so that the writer storing it does not
/// evict the line readers load the table pointer from.
#[repr(align(64))]
struct Padded(AtomicBool);

/// State shared by the writer and the readers.
struct Shared<K, V, S> {
    table: AtomicPtr<Table>,
    /// Whether the map holds an entry. Stored by the writer only when that
    /// changes (`Release`, after the slot word), so readers of a map that
    /// stays empty, or stays non-empty, never miss on it.
    occupied: Padded,
    hasher: S,
    domain: QsbrDomain,
    domain_id: usize,
    /// Garbage left by a dropped writer; freed when the last handle goes.
    orphans: Mutex<Vec<Garbage<K, V>>>,
    /// The entries; retired cells keep it alive until they are freed.
    arena: Arc<Arena<K, V>>,
}

impl<K, V, S: BuildHasher> Shared<K, V, S> {
    /// The map hash of `key`: the hasher's, with [`TAG_BIT`] set so that
    /// its tag (top half) is odd. The home group comes from the low bits.
    #[inline(always)]
    fn hash(&self, key: &K) -> u64
    where
        K: Hash,
    {
        self.hasher.hash_one(key) | TAG_BIT
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
            let w = table.slot(i).load(Ordering::Relaxed);
            if w != EMPTY && w != TOMB {
                // SAFETY: a live cell of the current table is owned by it alone
                // (retired cells were unlinked from it first); no reader is left.
                unsafe { self.arena.free(index_of(w)) };
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
        let table = Box::into_raw(Table::new(slots));
        let shared = Arc::new(Shared {
            table: AtomicPtr::new(table),
            occupied: Padded(AtomicBool::new(false)),
            hasher,
            domain: domain.clone(),
            domain_id: domain.id(),
            orphans: Mutex::new(Vec::new()),
            arena: Arc::new(Arena::new(capacity)),
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
fn writer_table<K, V, S>(shared: &Shared<K, V, S>) -> &Table {
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
    /// Bytes of live entries (live entries times the size of an arena cell;
    /// allocated but unused cells are not included).
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
    fn table(&self) -> &Table {
        writer_table(&self.shared)
    }

    /// The entry named by a live word of the current table.
    #[inline(always)]
    fn live(&self, w: u64) -> &Entry<K, V> {
        // SAFETY: `w` was read from the current table by this writer, so its
        // cell holds a live entry that only this writer could free, which it
        // cannot do while the returned reference borrows it.
        unsafe { self.shared.arena.entry(index_of(w)) }
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

    /// Memory held by the current array and live entries (arena cells count
    /// at their size; allocated but unused cells are not included).
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
        // Terminates: the load limit keeps at least a quarter of the slots empty.
        loop {
            let w = t.slot(i).load(Ordering::Relaxed);
            if w == EMPTY {
                return Err(first_tomb.map_or((i, false), |ti| (ti, true)));
            }
            if w == TOMB {
                first_tomb.get_or_insert(i);
            } else if tag_matches(w, hash) && self.live(w).key == *key {
                return Ok(i);
            }
            i = (i + 1) & t.mask;
        }
    }

    /// Writer-side lookup (no guard needed: only this writer frees entries,
    /// and it cannot while the returned reference borrows it).
    pub fn get(&self, key: &K) -> Option<&V> {
        let h = self.shared.hash(key);
        let i = self.find(h, key).ok()?;
        let w = self.table().slot(i).load(Ordering::Relaxed);
        Some(&self.live(w).value)
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
        let found = self.find(h, &key);
        // Written into a cell no reader can reach; published by the word below.
        let entry = entry_word(h, self.shared.arena.alloc(Entry { key, value }));
        match found {
            Ok(i) => {
                // Release: a reader that acquires the new word sees the cell.
                let old = self.table().slot(i).swap(entry, Ordering::Release);
                self.retire_cell(old);
                true
            }
            Err((i, true)) => {
                self.put(i, entry);
                self.tombstones -= 1;
                self.len += 1;
                self.mark_occupied();
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
                    let i = self.free_slot(h);
                    self.put(i, entry);
                } else {
                    self.put(i, entry);
                }
                self.len += 1;
                self.mark_occupied();
                false
            }
        }
    }

    /// Tell readers the map holds an entry (after the first insert).
    #[inline]
    fn mark_occupied(&self) {
        if self.len == 1 {
            // Release: a reader that sees `true` also sees the slot word
            // published before.
            self.shared.occupied.0.store(true, Ordering::Release);
        }
    }

    /// The first empty or tombstone slot on `hash`'s probe chain (for a key
    /// known to be absent).
    fn free_slot(&self, hash: u64) -> usize {
        let t = self.table();
        let mut i = t.home(hash);
        // Terminates: the load limit keeps at least a quarter of the slots empty.
        loop {
            let w = t.slot(i).load(Ordering::Relaxed);
            if w == EMPTY || w == TOMB {
                return i;
            }
            i = (i + 1) & t.mask;
        }
    }

    /// Publish entry word `entry` into empty or tombstone slot `i`.
    fn put(&self, i: usize, entry: u64) {
        // Release: a reader that acquires the word sees the cell's contents
        // (written before) and the arena segment holding it. Tag and index are
        // one word, so they can never be seen apart.
        self.table().slot(i).store(entry, Ordering::Release);
    }

    /// Retire the cell named by `old`, a live word just unlinked from the
    /// current table.
    fn retire_cell(&mut self, old: u64) {
        debug_assert!(old != EMPTY && old != TOMB);
        self.retire.retire(Garbage::Entry(RetiredCell {
            arena: self.shared.arena.clone(),
            idx: index_of(old),
        }));
    }

    /// Remove `key`. Returns whether it was present (its value is retired).
    pub fn remove(&mut self, key: &K) -> bool {
        let h = self.shared.hash(key);
        let Ok(i) = self.find(h, key) else { return false };
        let old = self.table().slot(i).swap(TOMB, Ordering::Release);
        self.retire_cell(old);
        self.tombstones += 1;
        // If the chain ends right after us, no probe needs the run of
        // tombstones ending here: turn it back into empty slots.
        let t = writer_table(&self.shared);
        if t.slot((i + 1) & t.mask).load(Ordering::Relaxed) == EMPTY {
            let mut j = i;
            while t.slot(j).load(Ordering::Relaxed) == TOMB {
                t.slot(j).store(EMPTY, Ordering::Release);
                self.tombstones -= 1;
                j = j.wrapping_sub(1) & t.mask;
                if j == i {
                    break;
                }
            }
        }
        self.len -= 1;
        if self.len == 0 {
            self.shared.occupied.0.store(false, Ordering::Release);
        }
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
        let new = Table::new(slots);
        let old = self.table();
        for i in 0..old.len() {
            let w = old.slot(i).load(Ordering::Relaxed);
            if w == EMPTY || w == TOMB {
                continue;
            }
            // Words keep only the hash's top half: recompute the home.
            let h = self.shared.hash(&self.live(w).key);
            let mut j = new.home(h);
            while new.slot(j).load(Ordering::Relaxed) != EMPTY {
                j = (j + 1) & new.mask;
            }
            new.slot(j).store(w, Ordering::Relaxed);
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
            let w = t.slot(i).load(Ordering::Relaxed);
            if w != EMPTY && w != TOMB {
                let e = self.live(w);
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
    fn table<'a>(&'a self, _guard: &Guard<'a>) -> &'a Table {
        // SAFETY: the guard proves an online reader of this map's domain
        // (checked by the caller). A table unlinked after we load it is
        // retired and freed only after that reader reports quiescence, which
        // needs `&mut` on the reader the guard borrows for 'a.
        unsafe { &*self.shared.table.load(Ordering::Acquire) }
    }

    /// The entry named by `w`, an entry word loaded from a table obtained
    /// through [`MapReader::table`] under a guard borrowing `self`, and followed by an
    /// `Acquire` fence (or loaded with `Acquire`).
    #[inline(always)]
    fn entry(&self, w: u64) -> &Entry<K, V> {
        // SAFETY: the word was published (Release) after its cell was written,
        // and the caller acquired it, so the cell is initialised. The cell is freed or
        // reused only after a grace period that began once the word was
        // unlinked, and that grace period waits for the guard's reader, which
        // stays online while the guard borrows `self` (see `table`).
        unsafe { self.shared.arena.entry(index_of(w)) }
    }

    /// Slot by slot, with early exits: for a single lookup this lets the
    /// CPU run ahead into the next one (the branchless [`Scan`] costs more
    /// instructions and measured slower for `get`).
    #[inline(always)]
    fn probe<'a>(&'a self, t: &'a Table, hash: u64, key: &K) -> Option<&'a V> {
        let (slots, mask) = (t.slots.as_ptr() as *const AtomicU64, t.mask);
        let mut i = hash as usize & mask & !(GROUP - 1);
        let start = i;
        loop {
            // SAFETY: `i <= mask`, inside the table.
            let w = unsafe { &*slots.add(i) }.load(Ordering::Acquire);
            if w == EMPTY {
                return None;
            }
            if tag_matches(w, hash) {
                // `w` was acquired from `t` under the caller's guard.
                let e = self.entry(w);
                if e.key == *key {
                    return Some(&e.value);
                }
            }
            i = (i + 1) & mask;
            // Bounded even if a torn view showed no empty slot: each slot
            // once, until the walk is back where it began (no counter: one
            // compare a probe instead of a counter's three instructions).
            if i == start {
                return None;
            }
        }
    }

    /// Look `key` up. The reference lives as long as the guard's reader
    /// borrow, i.e. until the next quiescent report at the latest.
    ///
    /// # Panics
    /// If `guard` belongs to another QSBR domain than the map (a programming
    /// error, never data dependent).
    #[inline(always)]
    pub fn get<'a>(&'a self, guard: &Guard<'a>, key: &K) -> Option<&'a V> {
        self.check(guard);
        let h = self.shared.hash(key);
        self.probe(self.table(guard), h, key)
    }

    /// Whether `key` is present.
    #[inline]
    pub fn contains_key(&self, guard: &Guard<'_>, key: &K) -> bool {
        self.get(guard, key).is_some()
    }

    /// Whether the map holds no entry, as of the writer's last insert or
    /// remove that changed it (one load of a line the writer stores to only
    /// when the answer changes). A caller can skip a lookup that must miss,
    /// e.g. in a table most deployments leave empty.
    #[inline]
    pub fn is_empty(&self) -> bool {
        // Acquire: pairs with the writer's Release store, so an entry whose
        // insert made this `true` is visible to a lookup that follows.
        !self.shared.occupied.0.load(Ordering::Acquire)
    }

    /// The hash of `key`, for a lookup split over a burst (see
    /// [`MapReader::prefetch_home`]).
    #[inline]
    pub fn hash_key(&self, key: &K) -> u64 {
        self.shared.hash(key)
    }

    /// Slots in the current table (a power of two; the table is at most
    /// 7/8 full). One load: for a caller that sizes its work by the table's,
    /// e.g. whether prefetching can pay at all.
    #[inline]
    pub fn slots(&self, guard: &Guard<'_>) -> usize {
        self.check(guard);
        self.table(guard).mask + 1
    }

    /// First half of a split lookup: start loading the cache line `hash`
    /// lives in. A hint only: nothing is read.
    #[inline]
    pub fn prefetch_home(&self, guard: &Guard<'_>, hash: u64) {
        self.check(guard);
        let t = self.table(guard);
        let slots = t.slots.as_ptr() as *const AtomicU64;
        prefetch(slots.wrapping_add(hash as usize & t.mask & !(GROUP - 1)) as *const u8);
    }

    /// Second half, some packets later when the home line has arrived: start
    /// loading the entry whose tag matches `hash`, so that the `get` that
    /// follows finds it in cache; or, when the home group is full without a
    /// match (the chain goes on), the next group's line. Reads the home line
    /// only; never compares keys or dereferences an entry.
    #[inline]
    pub fn prefetch_entry(&self, guard: &Guard<'_>, hash: u64) {
        self.check(guard);
        let t = self.table(guard);
        let slots = t.slots.as_ptr() as *const AtomicU64;
        let g = hash as usize & t.mask & !(GROUP - 1);
        let s = Scan::group(slots, g, hash);
        if s.cand != 0 {
            // SAFETY: `g` is a group start inside the table and the slot
            // index is below GROUP (a table holds whole groups).
            let w = unsafe { &*slots.add(g + s.cand.trailing_zeros() as usize) }.load(Ordering::Relaxed);
            // The word may have changed since the scan.
            if tag_matches(w, hash) {
                prefetch(self.shared.arena.cell(index_of(w)) as *const u8);
            }
        } else if s.empty == 0 {
            prefetch(slots.wrapping_add((g + GROUP) & t.mask) as *const u8);
        }
    }

    /// Look up a burst of keys, like `rte_hash_lookup_bulk`, in three passes
    /// over each chunk of [`BULK`] keys: hash every key and prefetch its home
    /// group (one cache line); scan each home group for a tag match and
    /// prefetch that entry (or settle a miss on an empty slot); then compare
    /// the keys. A key whose home group is full without a match has the next
    /// group prefetched during the scan and scanned after it. Only a key whose
    /// chain goes beyond that, or whose tag matched another key, is probed
    /// again from the start. `out[i]` receives
    /// the result for `keys[i]`; extra outputs are left alone. Returns the
    /// number of hits.
    ///
    /// # Panics
    /// If `guard` belongs to another domain, or `out` is shorter than `keys`.
    pub fn get_bulk<'a>(&'a self, guard: &Guard<'a>, keys: &[K], out: &mut [Option<&'a V>]) -> usize {
        self.check(guard);
        assert!(out.len() >= keys.len(), "get_bulk: output shorter than keys");
        let t = self.table(guard);
        let mut hits = 0;
        for (keys, out) in keys.chunks(BULK).zip(out.chunks_mut(BULK)) {
            let c = self.candidates(t, keys);
            for (i, ((cell, h), (k, o))) in c
                .cells
                .iter()
                .zip(&c.hashes)
                .zip(keys.iter().zip(out.iter_mut()))
                .enumerate()
            {
                *o = if c.cand >> i & 1 != 0 {
                    // SAFETY: see `Candidates::cells`; the guard's reader
                    // stays online while 'a lasts.
                    let e = unsafe { &**cell };
                    if e.key == *k {
                        Some(&e.value)
                    } else {
                        self.probe(t, *h, k)
                    }
                } else if c.retry >> i & 1 != 0 {
                    self.probe(t, *h, k)
                } else {
                    None
                };
                hits += o.is_some() as usize;
            }
        }
        hits
    }

    /// The first two passes of [`MapReader::get_bulk`], for a caller that
    /// has work to do before it needs the values: `out[i]` receives what
    /// they found for `keys[i]` (the entry whose tag matched, its line
    /// prefetched, or a settled miss); [`MapReader::resolve`] then compares
    /// the key, later, when that line may have arrived. Extra outputs are
    /// left alone.
    ///
    /// # Panics
    /// If `guard` belongs to another domain, or `out` is shorter than `keys`.
    pub fn find_bulk<'a>(&'a self, guard: &Guard<'a>, keys: &[K], out: &mut [Found<'a, K, V>]) {
        self.check(guard);
        assert!(out.len() >= keys.len(), "find_bulk: output shorter than keys");
        let t = self.table(guard);
        for (keys, out) in keys.chunks(BULK).zip(out.chunks_mut(BULK)) {
            let c = self.candidates(t, keys);
            for (i, ((cell, h), o)) in c.cells.iter().zip(&c.hashes).zip(out.iter_mut()).enumerate() {
                *o = if c.cand >> i & 1 != 0 {
                    // SAFETY: see `Candidates::cells`; the guard's reader
                    // stays online while 'a lasts.
                    Found(Probe::Entry(unsafe { &**cell }))
                } else if c.retry >> i & 1 != 0 {
                    Found(Probe::Again(*h))
                } else {
                    Found(Probe::Miss)
                };
            }
        }
    }

    /// The first two passes over at most [`BULK`] keys: hash every key and
    /// prefetch its home group (one cache line); scan each home group for a
    /// tag match and prefetch that entry (or settle a miss on an empty
    /// slot). A key whose home group is full without a match has the next
    /// group prefetched during the scan and scanned after it.
    #[inline(always)]
    fn candidates(&self, t: &Table, keys: &[K]) -> Candidates<K, V> {
        let (slots, mask) = (t.slots.as_ptr() as *const AtomicU64, t.mask);
        let arena: &Arena<K, V> = &self.shared.arena;
        let n = keys.len().min(BULK);
        let mut c = Candidates {
            hashes: [0u64; BULK],
            cells: [ptr::null::<Entry<K, V>>(); BULK],
            cand: 0,
            retry: 0,
        };
        for (h, k) in c.hashes.iter_mut().zip(keys) {
            *h = self.shared.hash(k);
            prefetch(slots.wrapping_add(*h as usize & mask & !(GROUP - 1)) as *const u8);
        }
        let mut spill = 0u32;
        // The candidate in slot `j` of the group at `g`: the word may have
        // changed since the scan, so only a word whose tag still matches
        // names one. Its cell is prefetched (any address is harmless).
        let take = |g: usize, j: u32, h: u64| {
            // SAFETY: `j < GROUP` and `g` is a group start inside the
            // table (a table holds whole groups).
            let w = unsafe { &*slots.add(g + j as usize) }.load(Ordering::Relaxed);
            tag_matches(w, h).then(|| {
                let c = arena.cell(index_of(w));
                prefetch(c as *const u8);
                c
            })
        };
        for (i, (cell, h)) in c.cells.iter_mut().zip(&c.hashes[..n]).enumerate() {
            let g = *h as usize & mask & !(GROUP - 1);
            let s = Scan::group(slots, g, *h);
            if s.cand != 0 {
                match take(g, s.cand.trailing_zeros(), *h) {
                    Some(p) => {
                        *cell = p;
                        c.cand |= 1 << i;
                    }
                    None => c.retry |= 1 << i,
                }
            } else if s.empty == 0 {
                // A full home group without a match: the chain goes on
                // into the next group (about 2 % of keys at the maximum
                // load); load it now, scan it below.
                prefetch(slots.wrapping_add((g + GROUP) & mask) as *const u8);
                spill |= 1 << i;
            }
        }
        // Second groups, once the rest of the burst has been scanned: the
        // first candidate of a chain that filled its home group is the
        // first in the next group before an empty slot.
        while spill != 0 {
            let i = spill.trailing_zeros() as usize;
            spill &= spill - 1;
            let h = c.hashes[i];
            let g = (h as usize & mask & !(GROUP - 1)).wrapping_add(GROUP) & mask;
            let s = Scan::group(slots, g, h);
            if s.cand != 0 {
                match take(g, s.cand.trailing_zeros(), h) {
                    Some(p) => {
                        c.cells[i] = p;
                        c.cand |= 1 << i;
                    }
                    None => c.retry |= 1 << i,
                }
            } else if s.empty == 0 {
                c.retry |= 1 << i;
            }
        }
        // Pairs with the Release that published each candidate word: the
        // cells they name are initialised.
        fence(Ordering::Acquire);
        c
    }

    /// The value for `key`, from what [`MapReader::find_bulk`] found for
    /// it under the same guard: the candidate entry's key compared, or the
    /// chain probed from the start when that is not `key` (another key's
    /// tag matched) or the scan settled nothing. `found` must be the
    /// result for this `key`: for another key, a settled miss would be
    /// taken for this one's (a wrong answer, never unsafe).
    ///
    /// # Panics
    /// If `guard` belongs to another domain.
    #[inline(always)]
    pub fn resolve<'a>(&'a self, guard: &Guard<'a>, found: Found<'a, K, V>, key: &K) -> Option<&'a V> {
        match found.0 {
            Probe::Entry(e) if e.key == *key => Some(&e.value),
            Probe::Entry(_) => self.get(guard, key),
            Probe::Again(h) => {
                self.check(guard);
                self.probe(self.table(guard), h, key)
            }
            Probe::Miss => None,
            Probe::Unknown => self.get(guard, key),
        }
    }
}

/// What the first two passes of a bulk lookup found for up to [`BULK`]
/// keys (`MapReader::candidates`). Per key `i`: bit `i` of `cand` set:
/// `cells[i]` is the cell of the candidate entry; of `retry`: probe again
/// from the start with `hashes[i]`; neither: a settled miss.
struct Candidates<K, V> {
    hashes: [u64; BULK],
    /// Cells of entry words loaded from the table under the caller's guard
    /// and then acquired by a fence: as in `MapReader::entry`, initialised,
    /// and not freed or reused while that guard's reader stays online.
    cells: [*const Entry<K, V>; BULK],
    cand: u32,
    retry: u32,
}

/// What [`MapReader::find_bulk`] found for one key, for
/// [`MapReader::resolve`]; it borrows the guard's reader like a value
/// from [`MapReader::get`].
pub struct Found<'a, K, V>(Probe<'a, K, V>);

enum Probe<'a, K, V> {
    /// The entry whose tag matched; its key is still to be compared.
    Entry(&'a Entry<K, V>),
    /// Probe the chain again from the start (this hash's).
    Again(u64),
    /// Settled: the key is not in the table.
    Miss,
    /// Nothing looked up: `resolve` does the whole lookup.
    Unknown,
}

impl<'a, K, V> Found<'a, K, V> {
    /// Nothing found yet: [`MapReader::resolve`] does the whole lookup.
    pub const NONE: Self = Found(Probe::Unknown);

    /// The value of the candidate entry (the one whose tag matched), before
    /// its key is compared: possibly another key's value, so only a hint
    /// (what to start loading), never an answer. [`MapReader::resolve`]
    /// gives the answer.
    #[inline(always)]
    pub fn candidate(&self) -> Option<&'a V> {
        match self.0 {
            Probe::Entry(e) => Some(&e.value),
            _ => None,
        }
    }
}

// Copy whatever K and V are (a derive would ask K: Copy and V: Copy).
impl<K, V> Clone for Found<'_, K, V> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<K, V> Copy for Found<'_, K, V> {}
impl<K, V> Clone for Probe<'_, K, V> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<K, V> Copy for Probe<'_, K, V> {}

#[cold]
#[inline(never)]
fn wrong_domain() -> ! {
    panic!("LfMap: guard from another QSBR domain")
}

/// Start loading the cache line at `p` (any address: a hint never faults).
#[inline(always)]
pub(crate) fn prefetch(p: *const u8) {
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
