use super::*;
use crate::table::qsbr::QsbrDomain;
use core::net::IpAddr;
use std::sync::atomic::AtomicUsize;

/// A value that counts its drops.
struct Counted {
    v: u64,
    drops: Arc<AtomicUsize>,
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::Relaxed);
    }
}

fn counted(v: u64, drops: &Arc<AtomicUsize>) -> Counted {
    Counted {
        v,
        drops: drops.clone(),
    }
}

#[test]
fn insert_get_replace_remove() {
    let d = QsbrDomain::new(2);
    let (mut w, r) = LfMap::<u32, u64>::with_capacity(&d, 100);
    assert!(w.is_empty());
    assert!(!w.insert(1, 10));
    assert!(!w.insert(2, 20));
    assert!(w.insert(1, 11), "second insert of a key replaces");
    assert_eq!(w.len(), 2);
    assert_eq!(w.get(&1), Some(&11));
    w.publish();
    let reader = d.register().unwrap();
    let g = reader.guard();
    assert_eq!(r.get(&g, &1), Some(&11));
    assert_eq!(r.get(&g, &2), Some(&20));
    assert_eq!(r.get(&g, &3), None);
    assert!(w.remove(&1));
    assert!(!w.remove(&1), "removing twice finds nothing");
    assert_eq!(r.get(&g, &1), None);
    assert_eq!(r.get(&g, &2), Some(&20));
    assert_eq!(w.len(), 1);
    assert!(!w.contains_key(&1));
    assert!(r.contains_key(&g, &2));
}

#[test]
fn presized_map_does_not_rebuild() {
    let d = QsbrDomain::new(1);
    let (mut w, _r) = LfMap::<u32, u32>::with_capacity(&d, 5000);
    assert!(w.capacity() >= 5000);
    for k in 0..5000 {
        w.insert(k, k);
    }
    assert_eq!(w.rebuilds(), 0);
    assert_eq!(w.len(), 5000);
}

#[test]
fn growth_rebuilds_and_keeps_every_entry() {
    let d = QsbrDomain::new(1);
    let (mut w, r) = LfMap::<u32, u32>::with_capacity(&d, 0);
    let reader = d.register().unwrap();
    for k in 0..20_000u32 {
        w.insert(k.wrapping_mul(2_654_435_761), k);
    }
    assert!(w.rebuilds() >= 5, "grew from 16 slots: {} rebuilds", w.rebuilds());
    assert!(w.pending_garbage() > 0, "old arrays wait for the online reader");
    let g = reader.guard();
    for k in 0..20_000u32 {
        assert_eq!(r.get(&g, &k.wrapping_mul(2_654_435_761)), Some(&k));
    }
    assert_eq!(r.get(&g, &1), None);
    drop(reader);
    w.publish();
    assert_eq!(w.pending_garbage(), 0, "no reader online: everything freed");
}

#[test]
fn tombstones_are_purged_without_growth() {
    let d = QsbrDomain::new(1);
    let (mut w, r) = LfMap::<u64, u64>::with_capacity(&d, 64);
    let slots = w.memory().slots;
    // Keep 40 live keys while churning through many more: tombstones pile up
    // and force same-size rebuilds.
    for k in 0..40u64 {
        w.insert(k, k);
    }
    for k in 40..5000u64 {
        w.insert(k, k);
        w.remove(&(k - 40));
        w.publish();
    }
    assert_eq!(w.len(), 40);
    assert_eq!(w.memory().slots, slots, "churn must not grow the array");
    let reader = d.register().unwrap();
    let g = reader.guard();
    for k in 4960..5000u64 {
        assert_eq!(r.get(&g, &k), Some(&k));
    }
    for k in 0..4960u64 {
        assert_eq!(r.get(&g, &k), None);
    }
    let mut n = 0;
    w.for_each(|k, v| {
        assert_eq!(k, v);
        n += 1;
    });
    assert_eq!(n, 40);
}

#[test]
fn explicit_rebuild_keeps_entries_and_clears_tombstones() {
    let d = QsbrDomain::new(1);
    let (mut w, r) = LfMap::<u32, u32>::with_capacity(&d, 1000);
    for k in 0..1000 {
        w.insert(k, k + 1);
    }
    for k in (0..1000).step_by(2) {
        w.remove(&k);
    }
    w.rebuild();
    assert_eq!(w.tombstones(), 0);
    assert_eq!(w.rebuilds(), 1);
    let reader = d.register().unwrap();
    let g = reader.guard();
    for k in 0..1000 {
        assert_eq!(r.get(&g, &k).copied(), (k % 2 == 1).then_some(k + 1));
    }
}

#[test]
fn entry_is_not_freed_before_the_reader_reports() {
    let d = QsbrDomain::new(2);
    let drops = Arc::new(AtomicUsize::new(0));
    let (mut w, r) = LfMap::<u32, Counted>::with_capacity(&d, 16);
    w.insert(1, counted(100, &drops));
    w.publish();
    let mut reader = d.register().unwrap();
    {
        let g = reader.guard();
        let held = r.get(&g, &1).map(|c| c.v);
        assert_eq!(held, Some(100));
    }
    w.insert(1, counted(101, &drops)); // retires 100
    assert_eq!(w.publish(), 0, "reader has not reported since the batch");
    assert_eq!(drops.load(Ordering::Relaxed), 0);
    assert_eq!(w.reclaim(), 0, "polling again does not help");
    reader.quiescent();
    assert_eq!(w.reclaim(), 1);
    assert_eq!(drops.load(Ordering::Relaxed), 1);
    {
        let g = reader.guard();
        assert_eq!(r.get(&g, &1).map(|c| c.v), Some(101));
    }
    // Removal too; and a report made *before* the batch closed does not count.
    w.remove(&1);
    reader.quiescent();
    w.publish();
    assert_eq!(
        drops.load(Ordering::Relaxed),
        1,
        "report predates the grace period"
    );
    reader.quiescent();
    assert_eq!(w.reclaim(), 1);
    assert_eq!(drops.load(Ordering::Relaxed), 2);
}

#[test]
fn slowest_reader_holds_reclamation() {
    let d = QsbrDomain::new(4);
    let drops = Arc::new(AtomicUsize::new(0));
    let (mut w, _r) = LfMap::<u32, Counted>::with_capacity(&d, 16);
    let mut fast = d.register().unwrap();
    let mut slow = d.register().unwrap();
    w.insert(1, counted(1, &drops));
    w.insert(1, counted(2, &drops));
    w.publish();
    fast.quiescent();
    assert_eq!(w.reclaim(), 0, "slow reader has not reported");
    slow.quiescent();
    assert_eq!(w.reclaim(), 1);
    assert_eq!(drops.load(Ordering::Relaxed), 1);
}

#[test]
fn offline_reader_does_not_block() {
    let d = QsbrDomain::new(2);
    let drops = Arc::new(AtomicUsize::new(0));
    let (mut w, r) = LfMap::<u32, Counted>::with_capacity(&d, 16);
    w.insert(1, counted(1, &drops));
    let reader = d.register().unwrap();
    let idle = reader.offline();
    w.insert(1, counted(2, &drops));
    assert_eq!(w.publish(), 1, "offline reader is not waited for");
    // Back online: it now blocks new grace periods until it reports.
    let mut reader = idle.online();
    w.insert(1, counted(3, &drops));
    assert_eq!(w.publish(), 0);
    // while_offline releases it for the duration of the closure.
    let freed = reader.while_offline(|| w.reclaim());
    assert_eq!(freed, 1);
    assert_eq!(r.get(&reader.guard(), &1).map(|c| c.v), Some(3));
    // A dropped reader never blocks.
    w.insert(1, counted(4, &drops));
    w.publish();
    drop(reader);
    assert_eq!(w.reclaim(), 1);
    assert_eq!(drops.load(Ordering::Relaxed), 3);
}

#[test]
fn dropping_everything_frees_every_value_once() {
    let d = QsbrDomain::new(2);
    let drops = Arc::new(AtomicUsize::new(0));
    let (mut w, r) = LfMap::<u32, Counted>::with_capacity(&d, 4);
    let reader = d.register().unwrap(); // keeps garbage pending until the end
    let mut made = 0;
    for k in 0..500u32 {
        w.insert(k % 97, counted(k.into(), &drops));
        made += 1;
        if k % 7 == 0 {
            w.remove(&(k % 89));
        }
        if k % 50 == 0 {
            w.publish();
        }
    }
    assert!(w.pending_garbage() > 0);
    drop(w); // pending garbage goes to the shared orphans
    {
        let g = reader.guard();
        let _ = r.get(&g, &3);
    }
    drop(reader);
    drop(r);
    assert_eq!(drops.load(Ordering::Relaxed), made);
}

#[test]
fn bulk_matches_single_get() {
    let d = QsbrDomain::new(1);
    let (mut w, r) = LfMap::<IpAddr, u32>::with_capacity(&d, 2000);
    for i in 0..2000u32 {
        let ip = if i % 2 == 0 {
            IpAddr::from((0x0a00_0000u32 + i).to_be_bytes())
        } else {
            IpAddr::from((0x2001_0db8u128 << 96 | u128::from(i)).to_be_bytes())
        };
        w.insert(ip, i);
    }
    let reader = d.register().unwrap();
    let g = reader.guard();
    let keys: Vec<IpAddr> = (0..100u32)
        .map(|i| {
            let j = i * 37;
            if j % 2 == 0 {
                IpAddr::from((0x0a00_0000u32 + j).to_be_bytes())
            } else {
                IpAddr::from((0x2001_0db8u128 << 96 | u128::from(j)).to_be_bytes())
            }
        })
        .collect();
    let mut out = vec![None; keys.len()];
    let hits = r.get_bulk(&g, &keys, &mut out);
    assert_eq!(hits, keys.iter().filter(|k| r.get(&g, k).is_some()).count());
    assert!(hits > 0 && hits < keys.len(), "mix of hits and misses: {hits}");
    for (k, o) in keys.iter().zip(&out) {
        assert_eq!(*o, r.get(&g, k));
    }
}

#[test]
#[should_panic(expected = "another QSBR domain")]
fn guard_from_another_domain_is_refused() {
    let d1 = QsbrDomain::new(1);
    let d2 = QsbrDomain::new(1);
    let (_w, r) = LfMap::<u32, u32>::with_capacity(&d1, 16);
    let foreign = d2.register().unwrap();
    let _ = r.get(&foreign.guard(), &1);
}

#[test]
fn memory_accounting_and_presizing() {
    let d = QsbrDomain::new(1);
    let (w, _r) = LfMap::<u32, u64>::with_capacity(&d, 10_000_000);
    let m = w.memory();
    assert_eq!(m.slots, 1 << 24, "10 M entries fit in 2^24 slots at load <= 3/4");
    assert_eq!(m.slot_bytes, 8 << 24, "8-byte slot words");
    assert_eq!(m.entry_bytes, 0);
    assert!(w.capacity() >= 10_000_000);
}

/// A hasher that sends every key to the same hash: every entry shares one
/// tag and one probe chain, so only the key comparison tells them apart.
#[derive(Clone, Default)]
struct Constant(u64);

impl core::hash::Hasher for Constant {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, _bytes: &[u8]) {}
}

impl BuildHasher for Constant {
    type Hasher = Constant;
    fn build_hasher(&self) -> Constant {
        self.clone()
    }
}

fn v4(i: u32) -> IpAddr {
    IpAddr::from((0x0a00_0000u32 + i).to_be_bytes())
}

/// The IPv4-mapped IPv6 form of `v4(i)`: a different key that must never be
/// confused with it.
fn mapped(i: u32) -> IpAddr {
    IpAddr::from((0xffffu128 << 32 | u128::from(0x0a00_0000u32 + i)).to_be_bytes())
}

#[test]
fn colliding_tags_are_told_apart_by_key() {
    // All ones: the tag equals a tombstone's high half.
    for hash in [0, u64::MAX, 0xFFFF_FFFF_0000_0000, 7] {
        let d = QsbrDomain::new(1);
        let (mut w, r) = LfMap::<IpAddr, u32, _>::with_capacity_and_hasher(&d, 64, Constant(hash));
        for i in 0..20 {
            w.insert(v4(i), i);
            w.insert(mapped(i), 100 + i);
        }
        for i in (0..20).step_by(3) {
            assert!(w.remove(&v4(i)));
        }
        let reader = d.register().unwrap();
        let g = reader.guard();
        let mut keys = Vec::new();
        for i in 0..25 {
            let want_v4 = (i < 20 && i % 3 != 0).then_some(i);
            let want_mapped = (i < 20).then_some(100 + i);
            assert_eq!(r.get(&g, &v4(i)).copied(), want_v4, "hash {hash:#x}, v4 {i}");
            assert_eq!(
                r.get(&g, &mapped(i)).copied(),
                want_mapped,
                "hash {hash:#x}, mapped {i}"
            );
            assert_eq!(w.get(&v4(i)).copied(), want_v4);
            keys.push(v4(i));
            keys.push(mapped(i));
        }
        // Chains longer than a group: get_bulk's fallback path.
        let mut out = vec![None; keys.len()];
        let hits = r.get_bulk(&g, &keys, &mut out);
        assert_eq!(hits, 20 + 13);
        for (k, o) in keys.iter().zip(&out) {
            assert_eq!(*o, r.get(&g, k), "bulk and get agree on {k}");
        }
    }
}

#[test]
fn tombstones_with_colliding_tags_keep_later_entries_reachable() {
    let d = QsbrDomain::new(1);
    let (mut w, r) = LfMap::<u32, u32, _>::with_capacity_and_hasher(&d, 64, Constant(3));
    for k in 0..30 {
        w.insert(k, k);
    }
    // Remove from the middle of the chain: later keys sit behind tombstones.
    for k in 5..15 {
        assert!(w.remove(&k));
    }
    assert!(w.tombstones() > 0);
    // A re-insert reuses a tombstone; the others stay.
    assert!(!w.insert(7, 70));
    let reader = d.register().unwrap();
    let g = reader.guard();
    for k in 0..30 {
        let want = if k == 7 {
            Some(70)
        } else {
            (!(5..15).contains(&k)).then_some(k)
        };
        assert_eq!(r.get(&g, &k).copied(), want, "key {k}");
    }
    let keys: Vec<u32> = (0..32).collect();
    let mut out = vec![None; keys.len()];
    r.get_bulk(&g, &keys, &mut out);
    for (k, o) in keys.iter().zip(&out) {
        assert_eq!(*o, r.get(&g, k));
    }
}

/// `find_bulk` then `resolve`, later and in any order, give what `get`
/// gives: hits, misses and tombstones, in a map with a real hash and in one
/// where every key hashes alike (every tag collides, so each key's
/// candidate may be another key's entry, and chains run past a group); and
/// `resolve` of `Found::NONE` is a whole lookup.
#[test]
fn find_bulk_then_resolve_agrees_with_get() {
    fn check<S: core::hash::BuildHasher + Send + Sync>(
        d: &QsbrDomain,
        w: &mut MapWriter<u32, u32, S>,
        r: &MapReader<u32, u32, S>,
    ) {
        for k in 0..40 {
            w.insert(k, k + 1);
        }
        for k in 10..15 {
            w.remove(&k);
        }
        w.publish();
        let reader = d.register().unwrap();
        let g = reader.guard();
        let keys: Vec<u32> = (0..BULK as u32 + 20).map(|i| i * 7 % 60).collect();
        let mut found = vec![Found::NONE; keys.len()];
        r.find_bulk(&g, &keys, &mut found);
        let mut hits = 0;
        for (k, f) in keys.iter().zip(&found).rev() {
            let want = r.get(&g, k);
            hits += want.is_some() as usize;
            // A candidate is some live entry's value: this key's, or (tags
            // colliding) another's, never a removed one's.
            if let Some(c) = f.candidate() {
                assert!((1..=40).contains(c) && !(11..=15).contains(c), "key {k}: {c}");
            }
            assert_eq!(r.resolve(&g, *f, k), want, "key {k}");
            assert_eq!(r.resolve(&g, Found::NONE, k), want, "key {k}");
        }
        assert!(hits > 0 && hits < keys.len(), "mix of hits and misses: {hits}");
    }
    let d = QsbrDomain::new(2);
    let (mut w, r) = LfMap::<u32, u32, _>::with_capacity_and_hasher(&d, 64, Constant(3));
    check(&d, &mut w, &r);
    let (mut w, r) = LfMap::<u32, u32>::with_capacity(&d, 64);
    check(&d, &mut w, &r);
}

/// `Found::candidate` is the entry `get` returns when tags do not collide
/// (a real hash, a sparse map): the same value, not a copy; nothing for a
/// settled miss or for `Found::NONE`.
#[test]
fn candidate_is_the_entry_get_finds() {
    let d = QsbrDomain::new(1);
    let (mut w, r) = LfMap::<u32, u64>::with_capacity(&d, 4096);
    for k in 0..64u32 {
        w.insert(k * 3, u64::from(k) * 10);
    }
    w.publish();
    let reader = d.register().unwrap();
    let g = reader.guard();
    let keys: Vec<u32> = (0..BULK as u32).collect();
    let mut found = vec![Found::NONE; keys.len()];
    r.find_bulk(&g, &keys, &mut found);
    let mut hits = 0;
    for (k, f) in keys.iter().zip(&found) {
        match r.get(&g, k) {
            Some(v) => {
                hits += 1;
                assert!(core::ptr::eq(f.candidate().expect("a candidate"), v), "key {k}");
            }
            // 64 keys in 4 096 slots: an absent key's tag almost never
            // matches; when it does, the candidate is another live value.
            None => assert!(f.candidate().is_none_or(|c| c % 10 == 0), "key {k}"),
        }
    }
    assert!(hits > 0);
    assert!(Found::<u32, u64>::NONE.candidate().is_none());
}

#[test]
fn freed_cells_are_reused_after_the_grace_period() {
    let d = QsbrDomain::new(1);
    let (mut w, r) = LfMap::<u64, u64>::with_capacity(&d, 16);
    let mut reader = d.register().unwrap();
    for round in 0..1000u64 {
        w.insert(round % 8, round); // after the first 8: replaces, retiring a cell
        w.publish();
        reader.quiescent();
        w.reclaim();
    }
    // 8 live keys and at most a couple of batches in flight: the arena never
    // needed more than its first segment of 16 cells.
    assert_eq!(w.len(), 8);
    assert_eq!(
        w.shared.arena.bytes(),
        16 * core::mem::size_of::<Entry<u64, u64>>()
    );
    let g = reader.guard();
    for k in 0..8 {
        assert_eq!(r.get(&g, &k), Some(&(992 + k)));
    }
}

#[test]
fn held_value_survives_cell_recycling_until_quiescence() {
    let d = QsbrDomain::new(1);
    let (mut w, r) = LfMap::<u32, u64>::with_capacity(&d, 16);
    w.insert(1, 10);
    let mut reader = d.register().unwrap();
    {
        let g = reader.guard();
        let held = r.get(&g, &1).expect("present");
        // Replace and churn: the old cell is retired, not reused, while held.
        w.insert(1, 11);
        for k in 2..40 {
            w.insert(k, u64::from(k));
            w.remove(&k);
            w.publish();
        }
        assert_eq!(*held, 10, "the cell under a live reference was not rewritten");
    }
    reader.quiescent();
    w.publish();
    let g = reader.guard();
    assert_eq!(r.get(&g, &1), Some(&11));
}

#[test]
fn zero_sized_keys_and_values() {
    let d = QsbrDomain::new(1);
    let (mut w, r) = LfMap::<(), ()>::with_capacity(&d, 0);
    assert!(!w.insert((), ()));
    assert!(w.insert((), ()));
    let reader = d.register().unwrap();
    assert_eq!(r.get(&reader.guard(), &()), Some(&()));
    assert!(w.remove(&()));
    assert_eq!(r.get(&reader.guard(), &()), None);
}

#[test]
fn reader_sees_emptiness_change_with_inserts_and_removes() {
    let d = QsbrDomain::new(1);
    let (mut w, r) = LfMap::<u32, u32>::with_capacity(&d, 16);
    assert!(r.is_empty());
    w.insert(1, 1);
    assert!(!r.is_empty());
    w.insert(2, 2);
    assert!(w.remove(&1));
    assert!(!r.is_empty(), "one entry left");
    assert!(w.remove(&2));
    assert!(r.is_empty());
    assert!(!w.remove(&2));
    assert!(r.is_empty(), "a failed remove changes nothing");
    w.insert(3, 3);
    w.insert(3, 4);
    assert!(!r.is_empty());
    w.publish();
}

#[test]
fn segment_of_is_the_bit_length_of_the_shifted_index() {
    let plain = |idx: u32, shift: u32| (u32::BITS - (idx >> shift).leading_zeros()) as usize;
    for shift in [0, 1, 4, 6, 10, 31] {
        let mut idx = 0u32;
        loop {
            for i in [idx, idx.wrapping_sub(1), idx | 1] {
                assert_eq!(segment_of(i, shift), plain(i, shift), "{i:#x} >> {shift}");
            }
            if idx == 1 << 31 {
                break;
            }
            idx = if idx == 0 { 1 } else { idx << 1 };
        }
        for i in (0..5000).chain([u32::MAX, u32::MAX - 1, MAX_INDEX]) {
            assert_eq!(segment_of(i, shift), plain(i, shift), "{i:#x} >> {shift}");
        }
    }
}
