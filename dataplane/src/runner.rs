//! The control-thread runner.
//!
//! Drains every worker's exception queue, drives the control logic with
//! `now`, applies table updates (one published batch per wake-up), sends its
//! own packets on the ports' control TX queues, and sleeps until the next
//! deadline or the next exception (workers unpark it).
//!
//! The exception policy of this stage: REGISTER from a bound sender and the
//! final responses to REGISTER are proxied; any request from an unbound
//! sender, REGISTER included, is answered 403 (Forbidden).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant as StdInstant};

use control::sip::{self, Header, Status};
use control::types::Transport;
use crossbeam_utils::CachePadded;

use crate::buf::Buf;
use crate::counters::{DropReason, WorkerCounters};
use crate::pipeline::{self, Context, ExceptionKind, PipeState, Side, Verdict};
use crate::port::PortQueue;
use crate::state::{TableReaders, TableWriters};
use crate::table::QsbrReader;
use crate::worker::{Exception, ExceptionQueue};

/// Everything the control thread owns.
pub struct Runner<Q: PortQueue> {
    /// Table writers.
    pub tables: TableWriters,
    /// The control thread's own read side (for proxying toward UEs over SAs).
    pub readers: TableReaders,
    /// The control thread's QSBR registration.
    pub qsbr: QsbrReader,
    /// One exception queue per worker.
    pub exceptions: Vec<ExceptionQueue<Q::Buf>>,
    /// Control TX queue on the access port.
    pub access_tx: Q,
    /// Control TX queue on the core port.
    pub core_tx: Q,
    /// Shared context.
    pub ctx: Arc<Context>,
    /// The control thread's published counters (rx = exceptions handled).
    pub counters: Arc<CachePadded<WorkerCounters>>,
    /// Set to stop.
    pub stop: Arc<AtomicBool>,
    /// Origin of `control::time::Instant`.
    pub epoch: StdInstant,
    /// Longest sleep between checks of `stop`.
    pub max_sleep: Duration,
}

/// Counts of what the control thread sent, by kind (for reports).
#[derive(Clone, Copy, Debug, Default)]
pub struct ControlStats {
    /// 403 responses sent to unbound senders.
    pub forbidden: u64,
    /// REGISTER requests proxied to the core.
    pub registers_forwarded: u64,
    /// REGISTER responses proxied to UEs.
    pub register_responses: u64,
    /// First-use reports of new SA sets.
    pub sets_first_used: u64,
}

impl<Q: PortQueue> Runner<Q> {
    /// Run until `stop` is set; returns what was sent.
    pub fn run(mut self) -> ControlStats {
        let mut st = PipeState::new(0xc0ffee);
        let mut stats = ControlStats::default();
        let mut tx_access: Vec<Q::Buf> = Vec::new();
        let mut tx_core: Vec<Q::Buf> = Vec::new();
        let mut reply = Vec::with_capacity(1024);
        while !self.stop.load(Ordering::Relaxed) {
            let _now = control::time::Instant::from_nanos(self.epoch.elapsed().as_nanos() as u64);
            let mut handled = 0;
            for i in 0..self.exceptions.len() {
                while let Some(ex) = self.exceptions[i].pop() {
                    handled += 1;
                    st.counters.rx += 1;
                    match self.handle(ex, &mut st, &mut stats, &mut reply) {
                        Ok(Some((b, Side::Access))) => tx_access.push(b),
                        Ok(Some((b, Side::Core))) => tx_core.push(b),
                        Ok(None) => {}
                        Err(r) => st.counters.drop(r),
                    }
                }
            }
            for (q, v) in [(&mut self.access_tx, &mut tx_access), (&mut self.core_tx, &mut tx_core)] {
                if !v.is_empty() {
                    let n = v.len();
                    let sent = q.tx_burst(v);
                    st.counters.tx += sent as u64;
                    for _ in sent..n {
                        st.counters.drop(DropReason::TxFull);
                    }
                }
            }
            self.tables.publish();
            self.qsbr.quiescent();
            self.counters.publish(&st.counters);
            if handled == 0 {
                std::thread::park_timeout(self.max_sleep);
            }
        }
        self.counters.publish(&st.counters);
        stats
    }

    fn handle(
        &mut self,
        ex: Exception<Q::Buf>,
        st: &mut PipeState,
        stats: &mut ControlStats,
        reply: &mut Vec<u8>,
    ) -> Result<Option<(Q::Buf, Side)>, DropReason> {
        let Exception { buf, from, kind, at, spi } = ex;
        let Some(mut buf) = buf else {
            if let ExceptionKind::SaFirstUse(_) = kind {
                stats.sets_first_used += 1;
            }
            return Ok(None);
        };
        let p = crate::wire::parse_frame(buf.data(), false)?;
        let src = p.src_socket();
        // A sender is known by its SA (the SPI it arrived on authenticated it)
        // or by its Annex N binding; never by anything in the message.
        let bound = from == Side::Access && (spi.is_some() || self.tables.sender(src, Transport::Udp));
        match kind {
            ExceptionKind::Register if bound => {
                stats.registers_forwarded += 1;
                self.proxy(buf, from, st).map(Some)
            }
            ExceptionKind::RegisterResponse => {
                stats.register_responses += 1;
                self.proxy(buf, from, st).map(Some)
            }
            ExceptionKind::Register | ExceptionKind::UnknownSender | ExceptionKind::SaFirstUse(_) => {
                self.build_reply(buf.data(), &p, at, 403, "Forbidden", reply)?;
                pipeline::reply_in_place(&mut buf, &self.ctx, from, src, reply)?;
                stats.forbidden += 1;
                Ok(Some((buf, from)))
            }
        }
    }

    fn proxy(&mut self, mut buf: Q::Buf, from: Side, st: &mut PipeState) -> Result<(Q::Buf, Side), DropReason> {
        let g = self.qsbr.guard();
        match pipeline::proxy(&mut buf, from, &self.ctx, Some((&self.readers, &g)), st) {
            Verdict::Forward(side) => Ok((buf, side)),
            Verdict::Drop(r) => Err(r),
            Verdict::Exception(_) => Err(DropReason::ControlRejected),
        }
    }

    fn build_reply(
        &self,
        frame: &[u8],
        p: &crate::wire::Parsed,
        at: control::time::Instant,
        code: u16,
        reason: &str,
        out: &mut Vec<u8>,
    ) -> Result<(), DropReason> {
        let payload = p.payload(frame);
        let mut hdrs = [Header::EMPTY; 64];
        let msg = match sip::parse(payload, &mut hdrs) {
            Ok(Status::Complete(m)) => m,
            _ => return Err(DropReason::SipMalformed),
        };
        let tag = format!("pdp{:08x}", at.as_nanos() as u32);
        control::reply::response(&msg, code, reason, &tag, &[], out).map_err(|_| DropReason::ControlRejected)
    }
}

impl TableWriters {
    /// Whether a sender has a binding (writer-side lookup).
    pub fn sender(&self, src: SocketAddr, t: Transport) -> bool {
        self.by_ip_port.contains_key(&(src.ip(), src.port(), t)) || self.by_ip.contains_key(&src.ip())
    }
}
