//! `mem` port: lock-free rings between threads.
//!
//! A [`link`] is a virtual cable between the data plane and a peer thread (a
//! traffic generator, a test, a bench). Each queue is a pair of bounded
//! lock-free rings: peer → data plane (the data plane's RX) and data plane →
//! peer (its TX). The control thread's queue has only a TX ring. Buffers are
//! recycled through a shared [`BufPool`], with a [`BufCache`] in front of
//! it on each side of each queue. Nothing here blocks: a full ring
//! refuses the frame and the caller counts it.
//!
//! Each ring has one producer and one consumer (one worker, or the control
//! thread, and the peer thread that owns the [`MemPeerQueue`]), and moves
//! frames in bursts ([`super::ring`]): a burst costs one index store, not
//! an atomic read-modify-write per frame.

use std::sync::Arc;

use super::ring::{self, Consumer, Producer};
use super::{OpenedPort, PortInfo, PortQueue};
use crate::buf::{BufCache, BufPool, PacketBuf};

/// The data plane's side of one mem queue.
pub struct MemQueue {
    rx: Option<Consumer<PacketBuf>>,
    tx: Producer<PacketBuf>,
    pool: BufCache,
}

/// The peer's side of one mem queue.
pub struct MemPeerQueue {
    /// Frames the peer sends to the data plane.
    to_dp: Option<Producer<PacketBuf>>,
    /// Frames the data plane sent.
    from_dp: Consumer<PacketBuf>,
    pool: BufCache,
}

/// The peer's side of a whole link.
pub struct MemPeer {
    /// One queue per worker, in worker order.
    pub queues: Vec<MemPeerQueue>,
    /// What the control thread sent.
    pub control: MemPeerQueue,
    /// The shared buffer pool.
    pub pool: Arc<BufPool>,
}

/// Build a mem link with `workers` queue pairs and a control TX queue, each
/// ring `depth` frames deep, and a pool of `pool_size` buffers.
pub fn link(
    name: &str,
    mac: [u8; 6],
    workers: usize,
    depth: usize,
    pool_size: usize,
) -> (OpenedPort<MemQueue>, MemPeer) {
    let pool = Arc::new(BufPool::new(pool_size, pool_size));
    let ring = || ring::ring(depth.max(1));
    let mut wq = Vec::with_capacity(workers);
    let mut pq = Vec::with_capacity(workers);
    for _ in 0..workers {
        let ((rx_p, rx_c), (tx_p, tx_c)) = (ring(), ring());
        wq.push(MemQueue {
            rx: Some(rx_c),
            tx: tx_p,
            pool: BufCache::new(pool.clone()),
        });
        pq.push(MemPeerQueue {
            to_dp: Some(rx_p),
            from_dp: tx_c,
            pool: BufCache::new(pool.clone()),
        });
    }
    let (ctl_p, ctl_c) = ring();
    let port = OpenedPort {
        info: PortInfo {
            name: name.to_string(),
            mac,
            mtu: 1500,
        },
        worker_queues: wq,
        control_queue: MemQueue {
            rx: None,
            tx: ctl_p,
            pool: BufCache::new(pool.clone()),
        },
    };
    let peer = MemPeer {
        queues: pq,
        control: MemPeerQueue {
            to_dp: None,
            from_dp: ctl_c,
            pool: BufCache::new(pool.clone()),
        },
        pool,
    };
    (port, peer)
}

impl PortQueue for MemQueue {
    type Buf = PacketBuf;

    #[inline]
    fn rx_burst(&mut self, out: &mut Vec<PacketBuf>, max: usize) -> usize {
        match &mut self.rx {
            Some(rx) => rx.pop_burst(out, max),
            None => 0,
        }
    }

    #[inline]
    fn tx_burst(&mut self, pkts: &mut Vec<PacketBuf>) -> usize {
        let sent = self.tx.push_burst(pkts);
        // Ring full: the rest go back to the pool; the caller counts them.
        for b in pkts.drain(..) {
            self.pool.put(b);
        }
        sent
    }

    #[inline]
    fn alloc(&mut self) -> Option<PacketBuf> {
        Some(self.pool.get_or_alloc())
    }

    #[inline]
    fn free(&mut self, buf: PacketBuf) {
        self.pool.put(buf);
    }
}

impl MemPeerQueue {
    /// Offer a frame to the data plane; gives it back when the ring is full.
    #[inline]
    pub fn send(&mut self, b: PacketBuf) -> Result<(), PacketBuf> {
        match &mut self.to_dp {
            Some(r) => r.push(b),
            None => Err(b),
        }
    }

    /// Offer as many frames from the front of `frames` as the ring takes,
    /// in one burst; returns how many. The rest stay in `frames`.
    #[inline]
    pub fn send_burst(&mut self, frames: &mut Vec<PacketBuf>) -> usize {
        match &mut self.to_dp {
            Some(r) => r.push_burst(frames),
            None => 0,
        }
    }

    /// A frame the data plane sent, if any.
    #[inline]
    pub fn recv(&mut self) -> Option<PacketBuf> {
        self.from_dp.pop()
    }

    /// Up to `max` frames the data plane sent, appended to `out`, in one
    /// burst; returns how many.
    #[inline]
    pub fn recv_burst(&mut self, out: &mut Vec<PacketBuf>, max: usize) -> usize {
        self.from_dp.pop_burst(out, max)
    }

    /// A buffer from this queue's cache or the shared pool.
    #[inline]
    pub fn alloc(&mut self) -> PacketBuf {
        self.pool.get_or_alloc()
    }

    /// Buffers held in this side's cache (free, not in the shared pool).
    pub fn cached(&self) -> usize {
        self.pool.len()
    }

    /// Return a consumed buffer (to this queue's cache).
    #[inline]
    pub fn recycle(&mut self, b: PacketBuf) {
        self.pool.put(b);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::buf::Buf;

    #[test]
    fn frames_cross_the_link_both_ways() {
        let (mut port, mut peer) = link("t", [2, 0, 0, 0, 0, 1], 1, 4, 8);
        let mut b = peer.queues[0].alloc();
        assert!(b.fill(b"hello"));
        peer.queues[0].send(b).unwrap();
        let mut v = Vec::new();
        assert_eq!(port.worker_queues[0].rx_burst(&mut v, 32), 1);
        assert_eq!(v[0].data(), b"hello");
        assert_eq!(port.worker_queues[0].tx_burst(&mut v), 1);
        assert!(v.is_empty());
        assert_eq!(peer.queues[0].recv().unwrap().data(), b"hello");
    }

    #[test]
    fn full_ring_refuses_without_blocking() {
        let (mut port, mut peer) = link("t", [0; 6], 1, 2, 8);
        let mut v: Vec<PacketBuf> = (0..3).map(|_| PacketBuf::new()).collect();
        assert_eq!(port.worker_queues[0].tx_burst(&mut v), 2);
        assert!(peer.queues[0].recv().is_some());
        let mut c = vec![PacketBuf::new()];
        assert_eq!(port.control_queue.tx_burst(&mut c), 1);
        assert!(peer.control.recv().is_some());
        assert_eq!(port.control_queue.rx_burst(&mut c, 32), 0);
    }
}
