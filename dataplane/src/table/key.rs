//! Compact, fixed-size keys for the tables keyed by IP address.
//!
//! Owns [`AddrKey`] (an IP address, with an optional port and a small tag,
//! in three 8-byte words), its hasher [`AddrHashBuilder`], the
//! [`CompactKey`] conversion from the API's key types, and [`AddrMap`]: an
//! [`LfMap`] that stores `AddrKey`s but is used with the API's keys
//! (`IpAddr`, `(IpAddr, u16)`, …), converting at the boundary.
//!
//! Why: `std::net::IpAddr` is an enum. Hashing it through `Hash` and comparing
//! it with `==` both branch on the address family, which mispredicts when
//! IPv4 and IPv6 senders are interleaved, and foldhash takes the two families
//! through different code. An `AddrKey` is hashed with two multiply-folds and
//! compared with three XORs, with no branch on the family.
//!
//! Contract:
//! - The conversion is injective: an IPv4 address and its IPv4-mapped IPv6
//!   form (`::ffff:a.b.c.d`) are different keys (the family is part of the
//!   key), and so are keys that differ only in port or tag.
//! - The conversion never panics and reads nothing but the key.
//! - [`AddrMapReader`] keeps [`MapReader`]'s contract (no lock, no
//!   read-modify-write, no waiting).

use core::hash::{BuildHasher, Hash, Hasher};
use core::marker::PhantomData;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::map::{Found, LfMap, MapMemory, MapReader, MapWriter, BULK};
use super::qsbr::{Guard, QsbrDomain};

/// An IP address (IPv4 stored in its IPv4-mapped IPv6 form), a port and a
/// caller-defined tag (e.g. a transport), in three 8-byte words.
///
/// `meta` holds the family (4 or 6) in bits 0..8, the port in bits 8..24 and
/// the tag in bits 24..32, so an IPv4 address and its mapped IPv6 form stay
/// distinct.
#[derive(Clone, Copy, Debug)]
#[repr(C, align(8))]
pub struct AddrKey {
    /// The address's first 8 bytes (big-endian).
    hi: u64,
    /// The address's last 8 bytes (big-endian).
    lo: u64,
    /// Family, port and tag.
    meta: u64,
}

const FAMILY_V4: u64 = 4;
const FAMILY_V6: u64 = 6;

impl AddrKey {
    /// The key of `ip` with port 0 and tag 0.
    #[inline(always)]
    pub fn new(ip: IpAddr) -> AddrKey {
        AddrKey::with_port(ip, 0, 0)
    }

    /// The key of `(ip, port)` with tag `tag`.
    ///
    /// This is the one branch on the family left in a lookup: the compiler
    /// will not load an enum's payload before testing its variant. A caller
    /// that already branches on the family (a header parser) can build the
    /// key there with [`AddrKey::from_v4_bits`] / [`AddrKey::from_v6_bits`].
    #[inline(always)]
    pub fn with_port(ip: IpAddr, port: u16, tag: u8) -> AddrKey {
        match ip {
            IpAddr::V4(a) => AddrKey::from_v4_bits(a.to_bits()).at(port, tag),
            IpAddr::V6(a) => AddrKey::from_v6_bits(a.to_bits()).at(port, tag),
        }
    }

    /// The key of the IPv4 address `bits` (host order), port 0, tag 0.
    #[inline(always)]
    pub fn from_v4_bits(bits: u32) -> AddrKey {
        AddrKey {
            hi: 0,
            lo: 0xffff_0000_0000 | u64::from(bits),
            meta: FAMILY_V4,
        }
    }

    /// The key of the IPv6 address `bits` (host order), port 0, tag 0.
    #[inline(always)]
    pub fn from_v6_bits(bits: u128) -> AddrKey {
        AddrKey {
            hi: (bits >> 64) as u64,
            lo: bits as u64,
            meta: FAMILY_V6,
        }
    }

    /// The same address with port `port` and tag `tag` (no branch: convert
    /// an address once, then derive the keys of several tables from it).
    #[inline(always)]
    pub fn at(self, port: u16, tag: u8) -> AddrKey {
        AddrKey {
            meta: (self.meta & 0xff) | u64::from(port) << 8 | u64::from(tag) << 24,
            ..self
        }
    }

    /// The address.
    pub fn ip(&self) -> IpAddr {
        let bits = u128::from(self.hi) << 64 | u128::from(self.lo);
        if self.meta & 0xff == FAMILY_V4 {
            IpAddr::V4(Ipv4Addr::from_bits(self.lo as u32))
        } else {
            IpAddr::V6(Ipv6Addr::from_bits(bits))
        }
    }

    /// The port.
    pub fn port(&self) -> u16 {
        (self.meta >> 8) as u16
    }

    /// The tag.
    pub fn tag(&self) -> u8 {
        (self.meta >> 24) as u8
    }
}

impl PartialEq for AddrKey {
    /// Three XORs and one test: no branch per word or on the family.
    #[inline(always)]
    fn eq(&self, other: &AddrKey) -> bool {
        ((self.hi ^ other.hi) | (self.lo ^ other.lo) | (self.meta ^ other.meta)) == 0
    }
}

impl Eq for AddrKey {}

impl Hash for AddrKey {
    /// Three `write_u64`s: [`AddrHasher`] turns them into two multiply-folds.
    #[inline(always)]
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hi);
        state.write_u64(self.lo);
        state.write_u64(self.meta);
    }
}

/// The 64×64→128 multiply, high and low halves folded with XOR.
#[inline(always)]
fn fold_mul(x: u64, y: u64) -> u64 {
    let full = u128::from(x).wrapping_mul(u128::from(y));
    (full as u64) ^ ((full >> 64) as u64)
}

/// A hash builder for [`AddrKey`] (and any other key; words are folded two by
/// two), seeded at random per map.
#[derive(Clone, Copy, Debug)]
pub struct AddrHashBuilder {
    seeds: [u64; 3],
}

impl AddrHashBuilder {
    /// A builder with fixed seeds (tests, reproducible layouts).
    pub fn with_seeds(seeds: [u64; 3]) -> AddrHashBuilder {
        // Digits of pi (as foldhash uses): even a small or zero seed becomes
        // a multiplier with bits spread over the whole word.
        const ARBITRARY: [u64; 3] = [
            0x243f_6a88_85a3_08d3,
            0x1319_8a2e_0370_7344,
            0xa409_3822_299f_31d0,
        ];
        AddrHashBuilder {
            seeds: [
                seeds[0] ^ ARBITRARY[0],
                seeds[1] ^ ARBITRARY[1],
                seeds[2] ^ ARBITRARY[2],
            ],
        }
    }
}

impl Default for AddrHashBuilder {
    /// Random seeds (from foldhash's per-process random state).
    fn default() -> AddrHashBuilder {
        let r = foldhash::fast::RandomState::default();
        AddrHashBuilder::with_seeds([r.hash_one(1u64), r.hash_one(2u64), r.hash_one(3u64)])
    }
}

impl BuildHasher for AddrHashBuilder {
    type Hasher = AddrHasher;
    #[inline(always)]
    fn build_hasher(&self) -> AddrHasher {
        AddrHasher {
            acc: self.seeds[0],
            pending: 0,
            have: false,
            seeds: self.seeds,
        }
    }
}

/// The hasher of [`AddrHashBuilder`]: 8-byte words are taken in pairs, each
/// pair folded into the accumulator with one multiply; `finish` folds an odd
/// last word with one more. For an [`AddrKey`] that is
/// `fold(meta ^ fold(hi ^ s0, lo ^ s1), s2)`: two multiplies, no branch.
#[derive(Clone, Copy, Debug)]
pub struct AddrHasher {
    acc: u64,
    pending: u64,
    have: bool,
    seeds: [u64; 3],
}

impl Hasher for AddrHasher {
    #[inline(always)]
    fn write_u64(&mut self, x: u64) {
        if self.have {
            self.acc = fold_mul(self.pending ^ self.acc, x ^ self.seeds[1]);
            self.have = false;
        } else {
            self.pending = x;
            self.have = true;
        }
    }

    #[inline(always)]
    fn write_u8(&mut self, x: u8) {
        self.write_u64(u64::from(x));
    }

    #[inline(always)]
    fn write_u16(&mut self, x: u16) {
        self.write_u64(u64::from(x));
    }

    #[inline(always)]
    fn write_u32(&mut self, x: u32) {
        self.write_u64(u64::from(x));
    }

    #[inline(always)]
    fn write_u128(&mut self, x: u128) {
        self.write_u64((x >> 64) as u64);
        self.write_u64(x as u64);
    }

    #[inline(always)]
    fn write_usize(&mut self, x: usize) {
        self.write_u64(x as u64);
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.write_u64(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        let mut w = [0u8; 8];
        w[..rest.len()].copy_from_slice(rest);
        // The length keeps "ab" and "ab\0" apart.
        self.write_u64(u64::from_le_bytes(w) ^ (bytes.len() as u64) << 56);
    }

    #[inline(always)]
    fn finish(&self) -> u64 {
        if self.have {
            fold_mul(self.pending ^ self.acc, self.seeds[2])
        } else {
            fold_mul(self.acc, self.seeds[2])
        }
    }
}

/// An API key type that a map keyed by address stores as an [`AddrKey`].
/// `compact` must be injective and `expand` its inverse.
pub trait CompactKey: Copy + Send + Sync {
    /// The stored form.
    fn compact(&self) -> AddrKey;
    /// The API form of a stored key.
    fn expand(k: &AddrKey) -> Self;
}

impl CompactKey for IpAddr {
    #[inline(always)]
    fn compact(&self) -> AddrKey {
        AddrKey::new(*self)
    }
    fn expand(k: &AddrKey) -> IpAddr {
        k.ip()
    }
}

impl CompactKey for (IpAddr, u16) {
    #[inline(always)]
    fn compact(&self) -> AddrKey {
        AddrKey::with_port(self.0, self.1, 0)
    }
    fn expand(k: &AddrKey) -> (IpAddr, u16) {
        (k.ip(), k.port())
    }
}

/// Constructors for a map keyed by an address type `K` (see the module docs).
pub struct AddrMap<K, V> {
    _never: PhantomData<fn() -> (K, V)>,
}

impl<K: CompactKey, V: Send + Sync> AddrMap<K, V> {
    /// A map pre-sized for `capacity` entries, randomly seeded.
    ///
    /// # Panics
    /// As [`LfMap::with_capacity`].
    pub fn with_capacity(domain: &QsbrDomain, capacity: usize) -> (AddrMapWriter<K, V>, AddrMapReader<K, V>) {
        let (w, r) = LfMap::with_capacity_and_hasher(domain, capacity, AddrHashBuilder::default());
        (
            AddrMapWriter {
                inner: w,
                _k: PhantomData,
            },
            AddrMapReader {
                inner: r,
                _k: PhantomData,
            },
        )
    }
}

/// The single writer of an [`AddrMap`]: [`MapWriter`]'s API with `K` keys.
pub struct AddrMapWriter<K, V> {
    inner: MapWriter<AddrKey, V, AddrHashBuilder>,
    _k: PhantomData<fn() -> K>,
}

/// A reader of an [`AddrMap`]: [`MapReader`]'s API with `K` keys.
pub struct AddrMapReader<K, V> {
    inner: MapReader<AddrKey, V, AddrHashBuilder>,
    _k: PhantomData<fn() -> K>,
}

impl<K, V> Clone for AddrMapReader<K, V> {
    fn clone(&self) -> Self {
        AddrMapReader {
            inner: self.inner.clone(),
            _k: PhantomData,
        }
    }
}

impl<K: CompactKey, V: Send + Sync> AddrMapWriter<K, V> {
    /// See [`MapWriter::reader`].
    pub fn reader(&self) -> AddrMapReader<K, V> {
        AddrMapReader {
            inner: self.inner.reader(),
            _k: PhantomData,
        }
    }

    /// See [`MapWriter::insert`].
    pub fn insert(&mut self, key: K, value: V) -> bool {
        self.inner.insert(key.compact(), value)
    }

    /// See [`MapWriter::remove`].
    pub fn remove(&mut self, key: &K) -> bool {
        self.inner.remove(&key.compact())
    }

    /// See [`MapWriter::get`].
    pub fn get(&self, key: &K) -> Option<&V> {
        self.inner.get(&key.compact())
    }

    /// See [`MapWriter::contains_key`].
    pub fn contains_key(&self, key: &K) -> bool {
        self.inner.contains_key(&key.compact())
    }

    /// See [`MapWriter::len`].
    pub fn len(&self) -> usize {
        self.inner.len()
    }

    /// See [`MapWriter::is_empty`].
    pub fn is_empty(&self) -> bool {
        self.inner.is_empty()
    }

    /// See [`MapWriter::capacity`].
    pub fn capacity(&self) -> usize {
        self.inner.capacity()
    }

    /// See [`MapWriter::rebuilds`].
    pub fn rebuilds(&self) -> u64 {
        self.inner.rebuilds()
    }

    /// See [`MapWriter::memory`].
    pub fn memory(&self) -> MapMemory {
        self.inner.memory()
    }

    /// See [`MapWriter::pending_garbage`].
    pub fn pending_garbage(&self) -> usize {
        self.inner.pending_garbage()
    }

    /// See [`MapWriter::reserve`].
    pub fn reserve(&mut self, additional: usize) {
        self.inner.reserve(additional)
    }

    /// See [`MapWriter::publish`].
    pub fn publish(&mut self) -> usize {
        self.inner.publish()
    }

    /// See [`MapWriter::reclaim`].
    pub fn reclaim(&mut self) -> usize {
        self.inner.reclaim()
    }

    /// See [`MapWriter::synchronize`].
    pub fn synchronize(&mut self) -> usize {
        self.inner.synchronize()
    }

    /// See [`MapWriter::for_each`] (keys are given back in their API form).
    pub fn for_each(&self, mut f: impl FnMut(&K, &V)) {
        self.inner.for_each(|k, v| f(&K::expand(k), v))
    }
}

impl<K: CompactKey, V: Send + Sync> AddrMapReader<K, V> {
    /// See [`MapReader::get`].
    #[inline]
    pub fn get<'a>(&'a self, guard: &Guard<'a>, key: &K) -> Option<&'a V> {
        self.inner.get(guard, &key.compact())
    }

    /// See [`MapReader::contains_key`].
    #[inline]
    pub fn contains_key(&self, guard: &Guard<'_>, key: &K) -> bool {
        self.inner.contains_key(guard, &key.compact())
    }

    /// See [`MapReader::hash_key`].
    #[inline]
    pub fn hash_key(&self, key: &K) -> u64 {
        self.inner.hash_key(&key.compact())
    }

    /// [`AddrMapReader::get`] with the key already in stored form.
    #[inline]
    pub fn get_compact<'a>(&'a self, guard: &Guard<'a>, key: &AddrKey) -> Option<&'a V> {
        self.inner.get(guard, key)
    }

    /// [`AddrMapReader::hash_key`] with the key already in stored form.
    #[inline]
    pub fn hash_compact(&self, key: &AddrKey) -> u64 {
        self.inner.hash_key(key)
    }

    /// See [`MapReader::is_empty`].
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.inner.is_empty()
    }

    /// See [`MapReader::slots`].
    #[inline]
    pub fn slots(&self, guard: &Guard<'_>) -> usize {
        self.inner.slots(guard)
    }

    /// See [`MapReader::prefetch_home`].
    #[inline]
    pub fn prefetch_home(&self, guard: &Guard<'_>, hash: u64) {
        self.inner.prefetch_home(guard, hash)
    }

    /// See [`MapReader::prefetch_entry`].
    #[inline]
    pub fn prefetch_entry(&self, guard: &Guard<'_>, hash: u64) {
        self.inner.prefetch_entry(guard, hash)
    }

    /// [`MapReader::find_bulk`] with the keys in stored form.
    ///
    /// # Panics
    /// If `guard` belongs to another domain, or `out` is shorter than `keys`.
    #[inline]
    pub fn find_bulk_compact<'a>(
        &'a self,
        guard: &Guard<'a>,
        keys: &[AddrKey],
        out: &mut [Found<'a, AddrKey, V>],
    ) {
        self.inner.find_bulk(guard, keys, out)
    }

    /// [`MapReader::resolve`] with the key in stored form.
    #[inline(always)]
    pub fn resolve_compact<'a>(
        &'a self,
        guard: &Guard<'a>,
        found: Found<'a, AddrKey, V>,
        key: &AddrKey,
    ) -> Option<&'a V> {
        self.inner.resolve(guard, found, key)
    }

    /// See [`MapReader::get_bulk`].
    ///
    /// # Panics
    /// If `guard` belongs to another domain, or `out` is shorter than `keys`.
    pub fn get_bulk<'a>(&'a self, guard: &Guard<'a>, keys: &[K], out: &mut [Option<&'a V>]) -> usize {
        assert!(out.len() >= keys.len(), "get_bulk: output shorter than keys");
        let mut hits = 0;
        for (keys, out) in keys.chunks(BULK).zip(out.chunks_mut(BULK)) {
            let mut stored = [AddrKey::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED)); BULK];
            for (s, k) in stored.iter_mut().zip(keys) {
                *s = k.compact();
            }
            hits += self.inner.get_bulk(guard, &stored[..keys.len()], out);
        }
        hits
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn v4_and_its_mapped_v6_form_are_distinct() {
        let a = AddrKey::new(ip("10.0.0.1"));
        let b = AddrKey::new(ip("::ffff:10.0.0.1"));
        assert_ne!(a, b);
        assert_eq!(a.ip(), ip("10.0.0.1"));
        assert_eq!(b.ip(), ip("::ffff:10.0.0.1"));
        let h = AddrHashBuilder::with_seeds([1, 2, 3]);
        assert_ne!(h.hash_one(a), h.hash_one(b));
    }

    #[test]
    fn equality_follows_address_port_and_tag() {
        let base = AddrKey::with_port(ip("2001:db8::1"), 5060, 1);
        assert_eq!(base, AddrKey::with_port(ip("2001:db8::1"), 5060, 1));
        for other in [
            AddrKey::with_port(ip("2001:db8::2"), 5060, 1),
            AddrKey::with_port(ip("2001:db9::1"), 5060, 1),
            AddrKey::with_port(ip("2001:db8::1"), 5061, 1),
            AddrKey::with_port(ip("2001:db8::1"), 5060, 0),
            AddrKey::with_port(ip("0.0.0.1"), 5060, 1),
        ] {
            assert_ne!(base, other);
        }
        assert_eq!(AddrKey::new(ip("2001:db8::1")).at(5060, 1), base);
        assert_ne!(
            AddrKey::new(ip("::ffff:10.0.0.1")).at(1, 0),
            AddrKey::new(ip("10.0.0.1")).at(1, 0)
        );
        assert_eq!(base.port(), 5060);
        assert_eq!(base.tag(), 1);
        assert_eq!(base.ip(), ip("2001:db8::1"));
    }

    #[test]
    fn keys_from_bits_match_keys_from_addresses() {
        assert_eq!(AddrKey::from_v4_bits(0x0a00_0001), AddrKey::new(ip("10.0.0.1")));
        assert_eq!(
            AddrKey::from_v6_bits(0x2001_0db8_u128 << 96 | 1),
            AddrKey::new(ip("2001:db8::1"))
        );
    }

    #[test]
    fn conversion_round_trips() {
        for a in [
            "0.0.0.0",
            "255.255.255.255",
            "10.1.2.3",
            "::",
            "::1",
            "::ffff:1.2.3.4",
            "fe80::1:2",
        ] {
            let a = ip(a);
            assert_eq!(IpAddr::expand(&a.compact()), a);
            for port in [0, 1, 5060, u16::MAX] {
                assert_eq!(<(IpAddr, u16)>::expand(&(a, port).compact()), (a, port));
            }
        }
    }

    #[test]
    fn hash_is_consistent_and_seeded() {
        let h = AddrHashBuilder::with_seeds([0x1234, 0x5678, 0x9abc]);
        let k = AddrKey::with_port(ip("192.0.2.7"), 5060, 0);
        let same = AddrKey::with_port(ip("192.0.2.7"), 5060, 0);
        assert_eq!(h.hash_one(k), h.hash_one(same), "equal keys hash alike");
        assert_eq!(h.hash_one(k), h.clone().hash_one(k), "a clone hashes alike");
        let other = AddrHashBuilder::with_seeds([0x4321, 0x8765, 0xcba9]);
        assert_ne!(h.hash_one(k), other.hash_one(k), "the seed matters");
        // Nearby keys spread over both the home bits and the tag bits, even
        // with weak (zero, small) seeds.
        for seeds in [[0, 0, 0], [0x1234, 0x5678, 0x9abc]] {
            let h = AddrHashBuilder::with_seeds(seeds);
            let mut low = std::collections::HashSet::new();
            let mut tags = std::collections::HashSet::new();
            for i in 0..4096u32 {
                let x = h.hash_one(AddrKey::from_v4_bits(0x0a00_0000 + i));
                low.insert(x & 0xffff);
                tags.insert(x >> 32);
                let y = h.hash_one(AddrKey::from_v6_bits(
                    0x2001_0db8_u128 << 96 | u128::from(i) << 16,
                ));
                low.insert(y & 0xffff);
                tags.insert(y >> 32);
            }
            assert!(low.len() > 7000, "home bits collide: {}", low.len());
            assert!(tags.len() > 8150, "tags collide: {}", tags.len());
        }
    }

    #[test]
    fn map_keeps_families_apart() {
        let d = QsbrDomain::new(1);
        let (mut w, r) = AddrMap::<IpAddr, u32>::with_capacity(&d, 16);
        w.insert(ip("10.0.0.1"), 4);
        w.insert(ip("::ffff:10.0.0.1"), 6);
        w.publish();
        assert_eq!(w.len(), 2);
        let q = d.register().unwrap();
        let g = q.guard();
        assert_eq!(r.get(&g, &ip("10.0.0.1")), Some(&4));
        assert_eq!(r.get(&g, &ip("::ffff:10.0.0.1")), Some(&6));
        assert_eq!(r.get(&g, &ip("10.0.0.2")), None);
        let keys = [ip("::ffff:10.0.0.1"), ip("10.0.0.3"), ip("10.0.0.1")];
        let mut out = [None; 3];
        assert_eq!(r.get_bulk(&g, &keys, &mut out), 2);
        assert_eq!(out, [Some(&6), None, Some(&4)]);
        assert_eq!(r.get_compact(&g, &AddrKey::new(ip("10.0.0.1"))), Some(&4));
        assert_eq!(
            r.hash_compact(&AddrKey::new(ip("10.0.0.1"))),
            r.hash_key(&ip("10.0.0.1"))
        );
        assert!(!r.is_empty());
        let mut seen = Vec::new();
        w.for_each(|k, v| seen.push((*k, *v)));
        seen.sort();
        assert_eq!(seen, vec![(ip("10.0.0.1"), 4), (ip("::ffff:10.0.0.1"), 6)]);
    }
}
