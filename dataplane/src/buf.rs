//! Packet buffers.
//!
//! [`Buf`] is what the pipeline works on: a contiguous frame with headroom in
//! front and tailroom behind, so that ESP encapsulation, header insertion and
//! decapsulation happen in place. [`PacketBuf`] is the heap-backed buffer used
//! by the `mem`, `pcap` and `af_packet` ports; the DPDK mbuf wrapper
//! implements the same trait, so one pipeline serves every port.
//!
//! Must never: panic on a length request that does not fit (it returns
//! [`BufError`]), or reallocate on the hot path.

/// Bytes kept free in front of a received frame.
pub const HEADROOM: usize = 128;
/// Largest frame (Ethernet header included) a [`PacketBuf`] carries.
pub const MAX_FRAME: usize = 2048;
/// Bytes kept free behind the largest frame.
pub const TAILROOM: usize = 128;
/// Total size of a [`PacketBuf`]'s storage.
pub const BUF_CAPACITY: usize = HEADROOM + MAX_FRAME + TAILROOM;

/// A length change that does not fit in the buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BufError {
    /// Not enough headroom to prepend.
    #[error("not enough headroom")]
    NoHeadroom,
    /// Not enough tailroom to append.
    #[error("not enough tailroom")]
    NoTailroom,
    /// Asked to remove more bytes than the frame holds.
    #[error("frame too short")]
    TooShort,
}

/// A packet buffer the pipeline can work on in place.
pub trait Buf: Send {
    /// The frame.
    fn data(&self) -> &[u8];
    /// The frame, mutable.
    fn data_mut(&mut self) -> &mut [u8];
    /// Bytes free in front of the frame.
    fn headroom(&self) -> usize;
    /// Bytes free behind the frame.
    fn tailroom(&self) -> usize;
    /// Grow the frame at the front by `n` bytes (their content is unspecified).
    fn prepend(&mut self, n: usize) -> Result<(), BufError>;
    /// Remove `n` bytes from the front.
    fn adj(&mut self, n: usize) -> Result<(), BufError>;
    /// Grow the frame at the back by `n` bytes (their content is unspecified).
    fn append(&mut self, n: usize) -> Result<(), BufError>;
    /// Remove `n` bytes from the back.
    fn trim(&mut self, n: usize) -> Result<(), BufError>;

    /// Whether the NIC already verified this frame's L4 checksum as good
    /// (receive checksum offload), so software need not verify it again.
    /// False unless the port says so.
    #[inline]
    fn rx_l4_csum_good(&self) -> bool {
        false
    }

    /// Ask the NIC to fill in this frame's UDP checksum (and the IPv4 header
    /// checksum) on transmit. `l2_len` and `l3_len` are the Ethernet (with
    /// VLAN tags) and IP header lengths. Returns false, the default, when
    /// this buffer cannot carry such a request; the caller then computes the
    /// checksum itself. When it returns true the caller must leave the
    /// pseudo-header sum in the UDP checksum field, as DPDK requires. Only
    /// ask when the port the frame leaves by has the offload enabled.
    #[inline]
    fn request_tx_udp_csum(&mut self, l2_len: usize, l3_len: usize, ipv4: bool) -> bool {
        let _ = (l2_len, l3_len, ipv4);
        false
    }

    /// Frame length.
    #[inline]
    fn len(&self) -> usize {
        self.data().len()
    }
    /// Whether the frame is empty.
    #[inline]
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Set the frame length, growing or shrinking at the back.
    #[inline(always)]
    fn set_len(&mut self, len: usize) -> Result<(), BufError> {
        let cur = self.len();
        // The usual case on the forward path (no bytes past the message):
        // nothing to do, as `append(0)` would do nothing.
        if len == cur {
            return Ok(());
        }
        if len > cur {
            self.append(len - cur)
        } else {
            self.trim(cur - len)
        }
    }
    /// Insert `n` bytes at offset `at` by moving the frame's head forward into
    /// the headroom (the shorter move for headers near the front). The new
    /// bytes are left unspecified.
    fn insert_front(&mut self, at: usize, n: usize) -> Result<(), BufError> {
        if at > self.len() {
            return Err(BufError::TooShort);
        }
        self.prepend(n)?;
        self.data_mut().copy_within(n..n + at, 0);
        Ok(())
    }
    /// Insert `n` bytes at offset `at` by moving the tail back into the
    /// tailroom. The new bytes are left unspecified.
    fn insert_back(&mut self, at: usize, n: usize) -> Result<(), BufError> {
        let len = self.len();
        if at > len {
            return Err(BufError::TooShort);
        }
        self.append(n)?;
        self.data_mut().copy_within(at..len, at + n);
        Ok(())
    }
    /// Move the frame's start so that the byte now at offset `at` is at
    /// offset `front` (into the headroom when `front > at`, forward
    /// otherwise; the bytes in front are unspecified), then set the frame
    /// length to `len`: [`Buf::prepend`] or [`Buf::adj`], then
    /// [`Buf::set_len`], with their errors (`NoHeadroom`, `TooShort`,
    /// `NoTailroom`). On error the frame is left unspecified.
    #[inline]
    fn reframe(&mut self, at: usize, front: usize, len: usize) -> Result<(), BufError> {
        if front > at {
            self.prepend(front - at)?;
        } else {
            self.adj(at - front)?;
        }
        self.set_len(len)
    }
    /// Remove `n` bytes at offset `at`, closing the gap from the back.
    #[inline(always)]
    fn remove(&mut self, at: usize, n: usize) -> Result<(), BufError> {
        let len = self.len();
        if at.checked_add(n).is_none_or(|e| e > len) {
            return Err(BufError::TooShort);
        }
        self.data_mut().copy_within(at + n..len, at);
        self.trim(n)
    }
}

/// A [`PacketBuf`]'s bytes, on a cache-line boundary (as a DPDK mbuf's
/// are): a frame at [`HEADROOM`] starts a cache line, so where its bytes
/// fall across lines, and so the loads that cross a line, are the same in
/// every buffer and every run.
#[derive(Clone)]
#[repr(C, align(64))]
struct Storage([u8; BUF_CAPACITY]);

impl core::ops::Deref for Storage {
    type Target = [u8; BUF_CAPACITY];
    #[inline(always)]
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl core::ops::DerefMut for Storage {
    #[inline(always)]
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

/// A heap-backed packet buffer with [`HEADROOM`] and [`TAILROOM`].
///
/// Allocation happens once; buffers are recycled through [`BufPool`] by the
/// ports that own them.
///
/// Invariant: `head + len <= BUF_CAPACITY`. Every method that changes either
/// field keeps it (they check the request against the room there is), so
/// [`Buf::data`] and [`Buf::data_mut`] take the frame without a bounds check
/// of their own.
pub struct PacketBuf {
    storage: Box<Storage>,
    head: u16,
    len: u16,
}

impl Default for PacketBuf {
    fn default() -> Self {
        Self::new()
    }
}

impl core::fmt::Debug for PacketBuf {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PacketBuf")
            .field("head", &self.head)
            .field("len", &self.len)
            .finish()
    }
}

impl Clone for PacketBuf {
    fn clone(&self) -> Self {
        PacketBuf {
            storage: self.storage.clone(),
            head: self.head,
            len: self.len,
        }
    }
}

impl PacketBuf {
    /// An empty buffer with the default headroom.
    pub fn new() -> Self {
        PacketBuf {
            storage: Box::new(Storage([0u8; BUF_CAPACITY])),
            head: HEADROOM as u16,
            len: 0,
        }
    }

    /// A buffer holding a copy of `frame`, or `None` when the frame is larger
    /// than [`MAX_FRAME`].
    pub fn from_slice(frame: &[u8]) -> Option<Self> {
        let mut b = Self::new();
        b.fill(frame).then_some(b)
    }

    /// Reset to an empty frame with the default headroom.
    #[inline]
    pub fn reset(&mut self) {
        self.head = HEADROOM as u16;
        self.len = 0;
    }

    /// Replace the content with a copy of `frame`; false when it is larger
    /// than [`MAX_FRAME`] (the buffer is then left empty).
    #[inline]
    pub fn fill(&mut self, frame: &[u8]) -> bool {
        self.reset();
        if frame.len() > MAX_FRAME {
            return false;
        }
        self.storage[HEADROOM..HEADROOM + frame.len()].copy_from_slice(frame);
        self.len = frame.len() as u16;
        true
    }

    /// Space after the default headroom, for a receive call to fill; commit
    /// with [`PacketBuf::set_received`].
    /// The frame is empty until then.
    #[inline]
    pub fn rx_space(&mut self) -> &mut [u8] {
        self.head = HEADROOM as u16;
        self.len = 0;
        &mut self.storage[HEADROOM..HEADROOM + MAX_FRAME]
    }

    /// Commit `n` received bytes written through [`PacketBuf::rx_space`]
    /// (at most [`MAX_FRAME`], and never past the end of the storage).
    #[inline]
    pub fn set_received(&mut self, n: usize) {
        let room = BUF_CAPACITY - self.head as usize;
        self.len = n.min(MAX_FRAME).min(room) as u16;
    }
}

impl Buf for PacketBuf {
    // Taken several times a request: the type's invariant stands in for a
    // bounds check each time.
    #[inline(always)]
    #[allow(unsafe_code)]
    fn data(&self) -> &[u8] {
        let h = self.head as usize;
        debug_assert!(h + self.len as usize <= BUF_CAPACITY);
        // SAFETY: `head + len <= BUF_CAPACITY` (the invariant on
        // `PacketBuf`), so the range lies in the storage.
        unsafe { self.storage.get_unchecked(h..h + self.len as usize) }
    }
    // Always inlined: `forward_request` calls it several times a request,
    // and LLVM kept it out of line there (call, return and a reload each).
    #[inline(always)]
    #[allow(unsafe_code)]
    fn data_mut(&mut self) -> &mut [u8] {
        let h = self.head as usize;
        debug_assert!(h + self.len as usize <= BUF_CAPACITY);
        // SAFETY: as in `data`.
        unsafe { self.storage.get_unchecked_mut(h..h + self.len as usize) }
    }
    #[inline]
    fn headroom(&self) -> usize {
        self.head as usize
    }
    #[inline]
    fn tailroom(&self) -> usize {
        BUF_CAPACITY - self.head as usize - self.len as usize
    }
    #[inline]
    fn prepend(&mut self, n: usize) -> Result<(), BufError> {
        if n > self.headroom() {
            return Err(BufError::NoHeadroom);
        }
        self.head -= n as u16;
        self.len += n as u16;
        Ok(())
    }
    #[inline]
    fn adj(&mut self, n: usize) -> Result<(), BufError> {
        if n > self.len as usize {
            return Err(BufError::TooShort);
        }
        self.head += n as u16;
        self.len -= n as u16;
        Ok(())
    }
    #[inline]
    fn append(&mut self, n: usize) -> Result<(), BufError> {
        if n > self.tailroom() {
            return Err(BufError::NoTailroom);
        }
        self.len += n as u16;
        Ok(())
    }
    #[inline]
    fn trim(&mut self, n: usize) -> Result<(), BufError> {
        if n > self.len as usize {
            return Err(BufError::TooShort);
        }
        self.len -= n as u16;
        Ok(())
    }
    /// The provided form, with the tail moved by a plain `memmove` (no
    /// call through `copy_within` and its checks, which the one check here
    /// covers).
    #[inline(always)]
    #[allow(unsafe_code)]
    fn remove(&mut self, at: usize, n: usize) -> Result<(), BufError> {
        let len = self.len as usize;
        if at.checked_add(n).is_none_or(|e| e > len) {
            return Err(BufError::TooShort);
        }
        let h = self.head as usize;
        let p = self.storage.as_mut_ptr();
        // SAFETY: `at + n <= len` and `head + len <= BUF_CAPACITY` (the
        // invariant), so both `len - at - n`-byte ranges, from `head + at + n`
        // and from `head + at`, lie in the storage; `ptr::copy` allows them
        // to overlap.
        unsafe { core::ptr::copy(p.add(h + at + n), p.add(h + at), len - at - n) };
        self.len -= n as u16;
        Ok(())
    }
    /// One bounds check per limit and one store per field, instead of the
    /// two length updates of the provided form (pinned to it by a test).
    #[inline]
    fn reframe(&mut self, at: usize, front: usize, len: usize) -> Result<(), BufError> {
        let (head, cur) = (self.head as usize, self.len as usize);
        if front > at && front - at > head {
            return Err(BufError::NoHeadroom);
        }
        if at > front && at - front > cur {
            return Err(BufError::TooShort);
        }
        // Within 0..=head + cur <= BUF_CAPACITY by the two checks above.
        let head = head + at - front;
        if len > BUF_CAPACITY - head {
            return Err(BufError::NoTailroom);
        }
        self.head = head as u16;
        self.len = len as u16;
        Ok(())
    }
}

/// One thread's cache in front of a shared [`BufPool`] (what a DPDK
/// mempool's per-lcore cache is): buffers freed and taken again by the same
/// owner stay in a plain vector, with no atomic operation, and the shared
/// pool is reached only when the cache runs dry or overflows. On drop the
/// cache gives its buffers back to the pool.
pub struct BufCache {
    pool: std::sync::Arc<BufPool>,
    local: Vec<PacketBuf>,
}

impl BufCache {
    /// Buffers the cache keeps at most; past that, it gives half back.
    pub const MAX: usize = 128;

    /// An empty cache in front of `pool`.
    pub fn new(pool: std::sync::Arc<BufPool>) -> Self {
        BufCache {
            pool,
            local: Vec::with_capacity(Self::MAX),
        }
    }

    /// A buffer (empty, as [`PacketBuf::reset`] leaves it) from the cache,
    /// else from the pool, else freshly allocated.
    #[inline]
    pub fn get_or_alloc(&mut self) -> PacketBuf {
        match self.local.pop() {
            Some(mut b) => {
                b.reset();
                b
            }
            None => self.pool.get_or_alloc().0,
        }
    }

    /// Keep a buffer for the next [`BufCache::get_or_alloc`].
    #[inline]
    pub fn put(&mut self, b: PacketBuf) {
        if self.local.len() >= Self::MAX {
            for x in self.local.drain(Self::MAX / 2..) {
                self.pool.put(x);
            }
        }
        self.local.push(b);
    }

    /// Buffers held in this cache.
    pub fn len(&self) -> usize {
        self.local.len()
    }

    /// Whether the cache holds none.
    pub fn is_empty(&self) -> bool {
        self.local.is_empty()
    }
}

impl Drop for BufCache {
    fn drop(&mut self) {
        for b in self.local.drain(..) {
            self.pool.put(b);
        }
    }
}

/// A bounded lock-free pool of [`PacketBuf`]s shared by threads.
///
/// `get` never blocks: an empty pool allocates (counted by the caller as an
/// allocation miss through [`BufPool::get_or_alloc`]'s return flag).
pub struct BufPool {
    q: crossbeam::queue::ArrayQueue<PacketBuf>,
}

impl BufPool {
    /// A pool able to hold `cap` buffers, pre-filled with `prefill` of them.
    pub fn new(cap: usize, prefill: usize) -> Self {
        let q = crossbeam::queue::ArrayQueue::new(cap.max(1));
        for _ in 0..prefill.min(cap) {
            let _ = q.push(PacketBuf::new());
        }
        BufPool { q }
    }

    /// A buffer from the pool, if one is free.
    #[inline]
    pub fn get(&self) -> Option<PacketBuf> {
        self.q.pop().map(|mut b| {
            b.reset();
            b
        })
    }

    /// A buffer from the pool, or a freshly allocated one; the flag is true
    /// when the pool was empty.
    #[inline]
    pub fn get_or_alloc(&self) -> (PacketBuf, bool) {
        match self.get() {
            Some(b) => (b, false),
            None => (PacketBuf::new(), true),
        }
    }

    /// Return a buffer; a full pool frees it.
    #[inline]
    pub fn put(&self, b: PacketBuf) {
        let _ = self.q.push(b);
    }

    /// Buffers currently free in the pool.
    pub fn available(&self) -> usize {
        self.q.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headroom_and_tailroom_are_at_least_64() {
        let b = PacketBuf::from_slice(&[0u8; MAX_FRAME]).unwrap();
        assert!(b.headroom() >= 64);
        assert!(b.tailroom() >= 64);
    }

    #[test]
    fn prepend_adj_append_trim_round_trip() {
        let mut b = PacketBuf::from_slice(b"abcdef").unwrap();
        b.prepend(2).unwrap();
        b.data_mut()[..2].copy_from_slice(b"XY");
        assert_eq!(b.data(), b"XYabcdef");
        b.adj(3).unwrap();
        assert_eq!(b.data(), b"bcdef");
        b.append(1).unwrap();
        b.data_mut()[5] = b'!';
        assert_eq!(b.data(), b"bcdef!");
        b.trim(4).unwrap();
        assert_eq!(b.data(), b"bc");
        assert_eq!(b.adj(3), Err(BufError::TooShort));
        assert_eq!(b.trim(3), Err(BufError::TooShort));
    }

    /// `set_len` to the current length returns early: the same result and
    /// the same buffer as the general form (`append(0)`), with and without
    /// tailroom left, and for the lengths around it.
    #[test]
    fn set_len_matches_append_and_trim() {
        for frame in [0usize, 1, 60, 400, MAX_FRAME, MAX_FRAME + TAILROOM] {
            let mk = || {
                let mut b = PacketBuf::new();
                b.append(frame).unwrap();
                b
            };
            for d in 0..=2usize {
                for len in [frame.saturating_sub(d), frame + d] {
                    let (mut x, mut y) = (mk(), mk());
                    let want = if len >= frame {
                        y.append(len - frame)
                    } else {
                        y.trim(frame - len)
                    };
                    assert_eq!(x.set_len(len), want, "{frame} {len}");
                    assert_eq!(
                        (x.headroom(), x.len(), x.tailroom()),
                        (y.headroom(), y.len(), y.tailroom())
                    );
                }
            }
        }
    }

    #[test]
    fn limits_are_errors_not_panics() {
        let mut b = PacketBuf::new();
        assert_eq!(b.prepend(HEADROOM + 1), Err(BufError::NoHeadroom));
        assert_eq!(b.append(BUF_CAPACITY), Err(BufError::NoTailroom));
        assert!(PacketBuf::from_slice(&[0u8; MAX_FRAME + 1]).is_none());
        assert_eq!(b.remove(1, 1), Err(BufError::TooShort));
        assert_eq!(b.insert_back(1, 1), Err(BufError::TooShort));
        assert_eq!(b.remove(usize::MAX, 2), Err(BufError::TooShort));
    }

    #[test]
    fn insert_and_remove_in_the_middle() {
        let mut b = PacketBuf::from_slice(b"headbody").unwrap();
        b.insert_front(4, 3).unwrap();
        b.data_mut()[4..7].copy_from_slice(b"+++");
        assert_eq!(b.data(), b"head+++body");
        b.insert_back(7, 2).unwrap();
        b.data_mut()[7..9].copy_from_slice(b"--");
        assert_eq!(b.data(), b"head+++--body");
        b.remove(4, 5).unwrap();
        assert_eq!(b.data(), b"headbody");
    }

    /// A [`PacketBuf`] with the provided [`Buf::reframe`].
    struct Plain(PacketBuf);

    impl Buf for Plain {
        fn data(&self) -> &[u8] {
            self.0.data()
        }
        fn data_mut(&mut self) -> &mut [u8] {
            self.0.data_mut()
        }
        fn headroom(&self) -> usize {
            self.0.headroom()
        }
        fn tailroom(&self) -> usize {
            self.0.tailroom()
        }
        fn prepend(&mut self, n: usize) -> Result<(), BufError> {
            self.0.prepend(n)
        }
        fn adj(&mut self, n: usize) -> Result<(), BufError> {
            self.0.adj(n)
        }
        fn append(&mut self, n: usize) -> Result<(), BufError> {
            self.0.append(n)
        }
        fn trim(&mut self, n: usize) -> Result<(), BufError> {
            self.0.trim(n)
        }
    }

    #[test]
    fn remove_matches_the_provided_form() {
        let offs = [
            0,
            1,
            2,
            7,
            42,
            63,
            64,
            129,
            400,
            1499,
            1500,
            1501,
            2304,
            usize::MAX,
        ];
        for head in [0, 1, HEADROOM, 2000, BUF_CAPACITY - 1, BUF_CAPACITY] {
            for cur in [0, 1, 42, 400, 1500, BUF_CAPACITY] {
                if head + cur > BUF_CAPACITY {
                    continue;
                }
                for at in offs {
                    for n in offs {
                        let mut a = PacketBuf::new();
                        a.head = head as u16;
                        a.len = cur as u16;
                        for (i, b) in a.storage.iter_mut().enumerate() {
                            *b = (i * 7 + 3) as u8;
                        }
                        let mut b = Plain(a.clone());
                        let (ra, rb) = (a.remove(at, n), b.remove(at, n));
                        let case = format!("head {head} len {cur}: remove({at}, {n})");
                        assert_eq!(ra, rb, "{case}");
                        assert_eq!((a.head, a.len), (b.0.head, b.0.len), "{case}");
                        assert_eq!(a.data(), b.data(), "{case}");
                    }
                }
            }
        }
    }

    #[test]
    fn reframe_matches_prepend_adj_then_set_len() {
        let offs = [
            0, 1, 2, 7, 42, 63, 64, 127, 128, 129, 200, 2000, 2175, 2176, 2177, 2304, 2305, 5000,
        ];
        for head in [0, 1, 64, HEADROOM, 300, 2000, BUF_CAPACITY - 1, BUF_CAPACITY] {
            for cur in [0, 1, 42, 400, 1500, MAX_FRAME, BUF_CAPACITY] {
                if head + cur > BUF_CAPACITY {
                    continue;
                }
                for at in offs {
                    for front in offs {
                        for len in offs {
                            let mut a = PacketBuf::new();
                            a.head = head as u16;
                            a.len = cur as u16;
                            let mut b = Plain(a.clone());
                            let (ra, rb) = (a.reframe(at, front, len), b.reframe(at, front, len));
                            let case = format!("head {head} len {cur}: reframe({at}, {front}, {len})");
                            assert_eq!(ra, rb, "{case}");
                            if ra.is_ok() {
                                assert_eq!((a.head, a.len), (b.0.head, b.0.len), "{case}");
                            }
                        }
                    }
                }
            }
        }
    }

    /// Whatever is asked, in whatever order, `head + len` stays within the
    /// storage (the invariant `data` and `data_mut` rely on), errors
    /// included.
    #[test]
    fn random_length_changes_keep_the_frame_in_the_storage() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = |m: usize| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // Mostly small amounts, now and then anything up to 3 000.
            if x.is_multiple_of(5) {
                (x >> 8) as usize % 3000
            } else {
                (x >> 8) as usize % m.max(1)
            }
        };
        let frame = vec![0x5au8; MAX_FRAME + 10];
        let mut b = PacketBuf::new();
        for _ in 0..200_000 {
            let (n, m) = (next(300), next(300));
            let _ = match next(12) {
                0 => b.prepend(n),
                1 => b.adj(n),
                2 => b.append(n),
                3 => b.trim(n),
                4 => b.set_len(n),
                5 => b.insert_front(n, m),
                6 => b.insert_back(n, m),
                7 => b.remove(n, m),
                8 => b.reframe(n, m, next(2400)),
                9 => {
                    let _ = b.rx_space();
                    b.set_received(next(4000));
                    Ok(())
                }
                10 => {
                    b.set_received(next(4000));
                    Ok(())
                }
                _ => {
                    b.fill(&frame[..next(MAX_FRAME + 10).min(frame.len())]);
                    Ok(())
                }
            };
            assert!(b.head as usize + b.len as usize <= BUF_CAPACITY, "{b:?}");
            assert_eq!(b.data().len(), b.len as usize);
            assert_eq!(b.headroom() + b.len() + b.tailroom(), BUF_CAPACITY);
        }
    }

    #[test]
    fn pool_recycles() {
        let p = BufPool::new(2, 1);
        let (a, miss_a) = p.get_or_alloc();
        let (_b, miss_b) = p.get_or_alloc();
        assert!(!miss_a && miss_b);
        p.put(a);
        assert_eq!(p.available(), 1);
    }

    #[test]
    fn cache_keeps_buffers_local_and_gives_back_the_overflow_and_on_drop() {
        let pool = std::sync::Arc::new(BufPool::new(1024, 8));
        let mut c = BufCache::new(pool.clone());
        // Taken from the pool while the cache is empty; handed back
        // buffers come out empty and stay in the cache.
        let mut a = c.get_or_alloc();
        assert_eq!(pool.available(), 7);
        assert!(a.fill(b"frame"));
        c.put(a);
        assert_eq!((c.len(), pool.available()), (1, 7));
        let a = c.get_or_alloc();
        assert_eq!((a.data().len(), a.headroom()), (0, HEADROOM));
        assert_eq!((c.len(), pool.available()), (0, 7));
        c.put(a);
        // Past MAX, half goes back to the pool.
        for _ in 0..BufCache::MAX {
            c.put(PacketBuf::new());
        }
        assert_eq!(c.len(), BufCache::MAX / 2 + 1);
        assert_eq!(pool.available(), 7 + BufCache::MAX / 2);
        drop(c);
        assert_eq!(pool.available(), 8 + BufCache::MAX);
    }
}
