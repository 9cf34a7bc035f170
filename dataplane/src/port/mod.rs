//! Ports: where frames come from and go to.
//!
//! A port is opened into per-worker queues plus one TX-only queue for the
//! control thread. Workers are generic over [`PortQueue`], so dispatch is
//! static: one monomorphised worker loop per backend.
//!
//! Backends: [`mem`] (lock-free rings between threads, for tests, benches and
//! the demo), [`pcap`] (rx from a pcap file, tx to a pcap file), [`af_packet`]
//! (a Linux interface) and, behind the `dpdk` feature, DPDK poll-mode drivers.

pub mod af_packet;
#[cfg(feature = "dpdk")]
pub mod dpdk;
pub mod mem;
pub mod pcap;
pub mod ring;

use crate::buf::Buf;

/// Burst size: frames received or sent per call.
pub const BURST: usize = 32;

/// Error opening or configuring a port.
#[derive(Debug, thiserror::Error)]
pub enum PortError {
    /// An operating-system call failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The configuration asks for something the port cannot do.
    #[error("{0}")]
    Config(String),
}

/// One queue of a port: burst receive and burst send.
pub trait PortQueue: Send + 'static {
    /// The buffer type this queue produces and consumes.
    type Buf: Buf;

    /// Receive up to `max` frames, appending them to `out`. Returns how many
    /// were received. Never blocks.
    fn rx_burst(&mut self, out: &mut Vec<Self::Buf>, max: usize) -> usize;

    /// Send every frame in `pkts`, leaving the vector empty. Frames the queue
    /// cannot take are freed here; the return value is how many were queued,
    /// so the caller counts the rest as [`crate::counters::DropReason::TxFull`].
    /// Never blocks.
    fn tx_burst(&mut self, pkts: &mut Vec<Self::Buf>) -> usize;

    /// A fresh empty buffer for building a frame, if one can be had.
    fn alloc(&mut self) -> Option<Self::Buf>;

    /// Give a buffer that will not be sent back to its pool.
    fn free(&mut self, buf: Self::Buf) {
        drop(buf);
    }

    /// Whether the NIC fills in IPv4/UDP/TCP checksums on transmit for
    /// frames that ask for it (a DPDK port whose hw-profile enables TX
    /// checksum offload); when false the pipeline computes them.
    fn tx_csum_offload(&self) -> bool {
        false
    }
}

/// Static facts about an opened port.
#[derive(Clone, Debug)]
pub struct PortInfo {
    /// Name from the configuration.
    pub name: String,
    /// The port's MAC address.
    pub mac: [u8; 6],
    /// Largest IP packet the port sends (the MTU).
    pub mtu: usize,
}

/// An opened port: its per-worker queues and the control thread's TX queue.
pub struct OpenedPort<Q: PortQueue> {
    /// Static facts.
    pub info: PortInfo,
    /// One RX/TX queue per worker, in worker order.
    pub worker_queues: Vec<Q>,
    /// The control thread's own TX queue (its RX side is unused).
    pub control_queue: Q,
}
