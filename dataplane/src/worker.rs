//! Pinned polling workers.
//!
//! Each worker owns one RX/TX queue on each side's port, polls them in bursts
//! of [`BURST`], reads the clock once per burst, runs every frame through the
//! [`pipeline`], transmits in bursts, hands exceptions to the
//! control thread through its own bounded lock-free queue (a full queue drops
//! and counts; a worker never blocks), publishes its counters and reports a
//! quiescent state on every loop.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant as StdInstant;

use crossbeam::queue::ArrayQueue;
use crossbeam_utils::CachePadded;

use crate::counters::{DropReason, WorkerCounters};
use crate::pipeline::{self, Context, ExceptionKind, PipeState, Side, Verdict};
use crate::port::{PortQueue, BURST};
use crate::state::TableReaders;
use crate::table::QsbrReader;

/// A packet handed to the control thread.
pub struct Exception<B> {
    /// The frame (decrypted if it arrived over an SA); `None` for pure
    /// events such as [`ExceptionKind::SaFirstUse`].
    pub buf: Option<B>,
    /// The inbound SPI it arrived on, if protected.
    pub spi: Option<u32>,
    /// The side it arrived on.
    pub from: Side,
    /// Why.
    pub kind: ExceptionKind,
    /// When the worker's burst started.
    pub at: control::time::Instant,
}

/// The queue a worker uses to hand exceptions to the control thread.
pub type ExceptionQueue<B> = Arc<ArrayQueue<Exception<B>>>;

/// Everything one worker needs; moved into its thread.
pub struct WorkerSetup<Q: PortQueue> {
    /// Worker index.
    pub index: usize,
    /// Core to pin to, if any.
    pub core: Option<usize>,
    /// This worker's queue on the access port.
    pub access: Q,
    /// This worker's queue on the core port.
    pub core_q: Q,
    /// Exceptions to the control thread.
    pub exceptions: ExceptionQueue<Q::Buf>,
    /// Published counters.
    pub counters: Arc<CachePadded<WorkerCounters>>,
    /// This worker's QSBR registration.
    pub qsbr: QsbrReader,
    /// Table readers.
    pub tables: TableReaders,
    /// Shared read-only context.
    pub ctx: Arc<Context>,
    /// Set to stop.
    pub stop: Arc<AtomicBool>,
    /// The control thread, woken when an exception is queued.
    pub control_thread: Option<std::thread::Thread>,
    /// Origin of the `control::time::Instant` clock.
    pub epoch: StdInstant,
    /// Yield the CPU after this many empty polls in a row (0: never; pure
    /// polling, for dedicated cores).
    pub idle_yield_after: u32,
    /// Called once on the worker thread before polling starts (DPDK uses it
    /// to register the thread with the EAL).
    pub on_start: Option<fn(usize)>,
}

/// Poll until `stop` is set.
pub fn run<Q: PortQueue>(mut w: WorkerSetup<Q>) {
    if let Some(c) = w.core {
        // Pinning failure (core absent) leaves the thread floating; the
        // start-up code validated the core list against the machine.
        let _ = core_affinity::set_for_current(core_affinity::CoreId { id: c });
    }
    if let Some(f) = w.on_start {
        f(w.index);
    }
    let mut st = PipeState::new(0x9e37_79b9_7f4a_7c15 ^ (w.index as u64 + 1));
    let mut rx: Vec<Q::Buf> = Vec::with_capacity(BURST);
    let mut tx_access: Vec<Q::Buf> = Vec::with_capacity(2 * BURST);
    let mut tx_core: Vec<Q::Buf> = Vec::with_capacity(2 * BURST);
    let mut idle = 0u32;
    while !w.stop.load(Ordering::Relaxed) {
        let now = control::time::Instant::from_nanos(w.epoch.elapsed().as_nanos() as u64);
        let mut got = 0;
        {
            let g = w.qsbr.guard();
            let mut found = pipeline::BurstLookups::none();
            for side in [Side::Access, Side::Core] {
                let q = match side {
                    Side::Access => &mut w.access,
                    Side::Core => &mut w.core_q,
                };
                let n = q.rx_burst(&mut rx, BURST);
                got += n;
                st.counters.rx += n as u64;
                pipeline::lookup_burst(&rx, side, &w.tables, &g, &mut found);
                for (i, mut b) in rx.drain(..).enumerate() {
                    match pipeline::process_with(&mut b, side, &w.ctx, &w.tables, &g, &mut st, found.frame(i))
                    {
                        Verdict::Forward(Side::Access) => tx_access.push(b),
                        Verdict::Forward(Side::Core) => tx_core.push(b),
                        Verdict::Exception(kind) => {
                            let ex = Exception {
                                buf: Some(b),
                                spi: st.arrival_spi,
                                from: side,
                                kind,
                                at: now,
                            };
                            match w.exceptions.push(ex) {
                                Ok(()) => st.counters.exceptions += 1,
                                Err(ex) => {
                                    st.counters.drop(DropReason::ExceptionQueueFull);
                                    if let Some(b) = ex.buf {
                                        q.free(b);
                                    }
                                }
                            }
                        }
                        // Back to the queue's pool (a `mem` buffer dropped
                        // here would go back to the allocator, and the
                        // peer would allocate a new one for each).
                        Verdict::Drop(r) => {
                            st.counters.drop(r);
                            q.free(b);
                        }
                    }
                    if let Some(set) = st.first_use.take() {
                        let kind = ExceptionKind::SaFirstUse(set);
                        let ex = Exception {
                            buf: None,
                            spi: st.arrival_spi,
                            from: side,
                            kind,
                            at: now,
                        };
                        match w.exceptions.push(ex) {
                            Ok(()) => st.counters.exceptions += 1,
                            Err(_) => st.counters.drop(DropReason::ExceptionQueueFull),
                        }
                    }
                }
            }
        }
        for (q, v) in [(&mut w.access, &mut tx_access), (&mut w.core_q, &mut tx_core)] {
            if !v.is_empty() {
                let n = v.len();
                let sent = q.tx_burst(v);
                st.counters.tx += sent as u64;
                for _ in sent..n {
                    st.counters.drop(DropReason::TxFull);
                }
            }
        }
        if got > 0 {
            w.counters.publish(&st.counters);
            if let Some(t) = &w.control_thread {
                if !w.exceptions.is_empty() {
                    t.unpark();
                }
            }
            idle = 0;
        } else {
            idle = idle.saturating_add(1);
            if w.idle_yield_after > 0 && idle >= w.idle_yield_after {
                std::thread::yield_now();
            } else {
                core::hint::spin_loop();
            }
        }
        w.qsbr.quiescent();
    }
    w.counters.publish(&st.counters);
}
