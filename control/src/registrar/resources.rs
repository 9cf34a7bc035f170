//! Resources the registrar hands out: inbound SPIs and protected port pairs.
//!
//! Owns: uniqueness of inbound SPIs among live SAs and their quarantine
//! after removal; uniqueness of the P-CSCF's protected port pair among the
//! live sets towards one UE address. Must never: reuse an SPI before its
//! quarantine ends, or loop without bound (allocation probes at most the
//! size of its range, and only when the range is nearly full).

use crate::time::Instant;
use core::net::IpAddr;
use hashbrown::{HashMap, HashSet};
use smallvec::SmallVec;
use std::collections::VecDeque;

/// Allocates inbound SPIs over a configurable range (millions are fine: the
/// cost is per live SPI, not per range size).
///
/// SPIs 0..=255 are reserved by RFC 4303 and are never handed out.
#[derive(Debug)]
pub struct SpiAllocator {
    lo: u32,
    hi: u32,
    next: u32,
    /// Live and quarantined SPIs.
    taken: HashSet<u32>,
    /// Freed SPIs with the instant their quarantine ends, in order.
    quarantine: VecDeque<(Instant, u32)>,
}

impl SpiAllocator {
    /// Range `lo..=hi`; `lo` is raised to 256 if lower.
    pub fn new(lo: u32, hi: u32) -> Self {
        let lo = lo.max(256);
        let hi = hi.max(lo);
        SpiAllocator {
            lo,
            hi,
            next: lo,
            taken: HashSet::new(),
            quarantine: VecDeque::new(),
        }
    }

    /// Size of the range.
    pub fn capacity(&self) -> u64 {
        u64::from(self.hi - self.lo) + 1
    }

    /// SPIs live or quarantined.
    pub fn in_use(&self) -> usize {
        self.taken.len()
    }

    /// SPIs in quarantine.
    pub fn quarantined(&self) -> usize {
        self.quarantine.len()
    }

    /// Whether `spi` is live or quarantined.
    pub fn is_taken(&self, spi: u32) -> bool {
        self.taken.contains(&spi)
    }

    /// Whether `n` more SPIs can be allocated right now.
    pub fn can_allocate(&self, n: usize) -> bool {
        (self.taken.len() as u64).saturating_add(n as u64) <= self.capacity()
    }

    /// A fresh SPI, or `None` when every SPI of the range is live or
    /// quarantined.
    pub fn allocate(&mut self) -> Option<u32> {
        if !self.can_allocate(1) {
            return None;
        }
        // At least one SPI is free, so this finds one within `capacity` steps.
        for _ in 0..self.capacity() {
            let spi = self.next;
            self.next = if self.next >= self.hi {
                self.lo
            } else {
                self.next + 1
            };
            if self.taken.insert(spi) {
                return Some(spi);
            }
        }
        None
    }

    /// Put `spi` in quarantine until `until`; it stays taken until then.
    pub fn release(&mut self, spi: u32, until: Instant) {
        if self.taken.contains(&spi) {
            // Quarantine ends are pushed with a constant delay, so the deque
            // stays ordered; a caller that mixes delays only delays reuse.
            self.quarantine.push_back((until, spi));
        }
    }

    /// End the quarantines that are over at `now`.
    pub fn expire(&mut self, now: Instant) {
        while let Some(&(t, spi)) = self.quarantine.front() {
            if t > now {
                break;
            }
            self.quarantine.pop_front();
            self.taken.remove(&spi);
        }
    }

    /// When the next quarantine ends.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.quarantine.front().map(|&(t, _)| t)
    }
}

/// Allocates the P-CSCF's protected port pair (port-pc, port-ps) for a set.
///
/// The pool is the range `base..base + 2*pairs`; pair `i` is
/// `(base + 2i, base + 2i + 1)`. A pair is never shared by two live sets
/// towards the same UE IP address (the UE and the data plane tell old, new
/// and temporary sets apart by port), while different UEs may use the same
/// pair: inbound traffic is demultiplexed by SPI, so the pool does not bound
/// the number of UEs.
#[derive(Debug)]
pub struct PortAllocator {
    base: u16,
    pairs: u16,
    cursor: u16,
    per_ue: HashMap<IpAddr, SmallVec<[u16; 4]>>,
}

impl PortAllocator {
    /// A pool of `pairs` pairs from `base` (clamped to fit below 65536).
    pub fn new(base: u16, pairs: u16) -> Self {
        let max_pairs = (u32::from(u16::MAX) - u32::from(base)).div_ceil(2) as u16;
        PortAllocator {
            base,
            pairs: pairs.clamp(1, max_pairs.max(1)),
            cursor: 0,
            per_ue: HashMap::new(),
        }
    }

    /// Whether `port` is one of the pool's ports.
    pub fn contains(&self, port: u16) -> bool {
        port >= self.base && u32::from(port) < u32::from(self.base) + 2 * u32::from(self.pairs)
    }

    /// A pair (port-pc, port-ps) not used by another live set towards `ue`.
    pub fn allocate(&mut self, ue: IpAddr) -> Option<(u16, u16)> {
        let used = self.per_ue.entry(ue).or_default();
        if used.len() >= usize::from(self.pairs) {
            return None;
        }
        for _ in 0..self.pairs {
            let i = self.cursor;
            self.cursor = if self.cursor + 1 >= self.pairs {
                0
            } else {
                self.cursor + 1
            };
            if !used.contains(&i) {
                used.push(i);
                let pc = self.base + 2 * i;
                return Some((pc, pc + 1));
            }
        }
        None
    }

    /// Return the pair whose client port is `port_pc`.
    pub fn release(&mut self, ue: IpAddr, port_pc: u16) {
        let i = port_pc.wrapping_sub(self.base) / 2;
        if let Some(used) = self.per_ue.get_mut(&ue) {
            used.retain(|&mut x| x != i);
            if used.is_empty() {
                self.per_ue.remove(&ue);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::time::Duration;

    #[test]
    fn spi_range_of_millions_allocates_distinct_spis() {
        let mut a = SpiAllocator::new(0x1000, 0x1000 + 4_000_000);
        let mut seen = HashSet::new();
        for _ in 0..10_000 {
            let s = a.allocate().unwrap();
            assert!((0x1000..=0x1000 + 4_000_000).contains(&s));
            assert!(seen.insert(s));
        }
    }

    #[test]
    fn spi_not_reused_during_quarantine() {
        let mut a = SpiAllocator::new(300, 301);
        let s1 = a.allocate().unwrap();
        let s2 = a.allocate().unwrap();
        assert_ne!(s1, s2);
        assert_eq!(a.allocate(), None);
        let t = Instant::ZERO + Duration::from_secs(32);
        a.release(s1, t);
        a.expire(Instant::ZERO + Duration::from_secs(31));
        assert_eq!(a.allocate(), None, "quarantined SPI must not be reused");
        a.expire(t);
        assert_eq!(a.allocate(), Some(s1));
    }

    #[test]
    fn spi_reserved_range_skipped() {
        let mut a = SpiAllocator::new(0, 300);
        assert!(a.allocate().unwrap() >= 256);
    }

    #[test]
    fn ports_unique_per_ue_and_exhaust() {
        let mut p = PortAllocator::new(6100, 2);
        let ue: IpAddr = "10.0.0.1".parse().unwrap();
        let other: IpAddr = "10.0.0.2".parse().unwrap();
        let a = p.allocate(ue).unwrap();
        let b = p.allocate(ue).unwrap();
        assert_ne!(a, b);
        assert_eq!(p.allocate(ue), None);
        assert!(p.allocate(other).is_some());
        p.release(ue, a.0);
        assert_eq!(p.allocate(ue), Some(a));
        assert!(p.contains(6103) && !p.contains(6104));
    }
}
