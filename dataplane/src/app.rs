//! Start-up and shut-down: open ports, build tables, spawn pinned workers
//! and the control thread, run for a while or until told to stop, and
//! collect the final counters into a [`Report`].

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant as StdInstant};

use crossbeam::queue::ArrayQueue;
use serde::Serialize;

use crate::config::Config;
use crate::counters::{LocalCounters, WorkerCounters};
use crate::pipeline::Context;
use crate::port::{OpenedPort, PortQueue};
use crate::runner::{ControlStats, Runner};
use crate::state;
use crate::table::QsbrDomain;
use crate::worker::{self, WorkerSetup};

/// Per-worker figures of a run.
#[derive(Clone, Debug, Serialize)]
pub struct WorkerReport {
    /// Worker index.
    pub worker: usize,
    /// Core it was pinned to.
    pub core: Option<usize>,
    /// Frames received.
    pub rx: u64,
    /// Frames sent.
    pub tx: u64,
    /// Received frames per second, in millions.
    pub rx_mpps: f64,
    /// Frames handed to the control thread.
    pub exceptions: u64,
    /// Requests forwarded with an asserted identity.
    pub asserted: u64,
    /// Drops.
    pub drops: u64,
}

/// The result of a run.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// Wall-clock seconds the workers ran.
    pub seconds: f64,
    /// Per worker.
    pub workers: Vec<WorkerReport>,
    /// Sum over workers: frames received.
    pub rx: u64,
    /// Sum over workers: frames sent.
    pub tx: u64,
    /// Sum over workers: received Mpps.
    pub rx_mpps: f64,
    /// Frames handed to the control thread.
    pub exceptions: u64,
    /// Requests forwarded with an asserted identity.
    pub asserted: u64,
    /// Responses forwarded by the workers.
    pub responses: u64,
    /// Drops by reason (workers and control thread).
    pub drops: std::collections::BTreeMap<&'static str, u64>,
    /// Control thread: 403 answers sent.
    pub control_forbidden: u64,
    /// Control thread: REGISTERs proxied.
    pub control_registers_forwarded: u64,
    /// Control thread: REGISTER responses proxied.
    pub control_register_responses: u64,
    /// Control thread: frames sent.
    pub control_tx: u64,
    /// Control thread (registrar): messages sent toward UEs without protection.
    pub control_ue_unprotected: u64,
    /// Control thread (registrar): messages sent toward UEs over an SA.
    pub control_ue_protected: u64,
    /// Control thread (registrar): SA sets installed.
    pub control_sa_sets_installed: u64,
    /// Control thread (registrar): SA sets removed.
    pub control_sa_sets_removed: u64,
    /// Control thread: SA sets whose outbound sequence space ran out.
    pub control_sa_sets_exhausted: u64,
    /// Control thread: first-use reports of new SA sets.
    pub control_sets_first_used: u64,
    /// Bytes of the code the kernel backs with huge pages
    /// ([`crate::hugetext`]; 0 when it stayed on 4 KiB pages).
    pub code_huge_page_bytes: u64,
    /// What happened to the code's pages, in words.
    pub code_pages: String,
    /// The registrar's counters (empty without `[registrar]`).
    pub registrar: std::collections::BTreeMap<&'static str, u64>,
}

impl Report {
    /// A short human summary.
    pub fn human(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let _ = writeln!(s, "ran {:.2} s; {}", self.seconds, self.code_pages);
        for w in &self.workers {
            let core = w
                .core
                .map(|c| format!("core {c}"))
                .unwrap_or_else(|| "unpinned".into());
            let _ = writeln!(
                s,
                "  worker {} ({core}): rx {} tx {} ({:.3} Mpps) asserted {} exceptions {} drops {}",
                w.worker, w.rx, w.tx, w.rx_mpps, w.asserted, w.exceptions, w.drops
            );
        }
        let _ = writeln!(
            s,
            "total: rx {} tx {} ({:.3} Mpps), asserted {}, responses {}, exceptions {}",
            self.rx, self.tx, self.rx_mpps, self.asserted, self.responses, self.exceptions
        );
        let _ = writeln!(
            s,
            "control: 403 sent {}, REGISTER proxied {}, REGISTER responses {}, tx {}",
            self.control_forbidden,
            self.control_registers_forwarded,
            self.control_register_responses,
            self.control_tx
        );
        if !self.registrar.is_empty() {
            let _ = writeln!(
                s,
                "registrar: to UEs {} plain / {} protected, SA sets installed {} removed {}",
                self.control_ue_unprotected,
                self.control_ue_protected,
                self.control_sa_sets_installed,
                self.control_sa_sets_removed
            );
            let nz: Vec<String> = self
                .registrar
                .iter()
                .filter(|(_, n)| **n > 0)
                .map(|(k, n)| format!("{k} {n}"))
                .collect();
            let _ = writeln!(
                s,
                "  {}",
                if nz.is_empty() {
                    "nothing yet".to_string()
                } else {
                    nz.join(", ")
                }
            );
        }
        if self.drops.is_empty() {
            let _ = writeln!(s, "drops: none");
        } else {
            let _ = writeln!(s, "drops:");
            for (r, n) in &self.drops {
                let _ = writeln!(s, "  {r}: {n}");
            }
        }
        s
    }
}

/// A running data plane.
pub struct Running {
    stop: Arc<AtomicBool>,
    workers: Vec<(usize, Option<usize>, std::thread::JoinHandle<()>)>,
    control: std::thread::JoinHandle<ControlStats>,
    worker_counters: Vec<Arc<crossbeam_utils::CachePadded<WorkerCounters>>>,
    control_counters: Arc<crossbeam_utils::CachePadded<WorkerCounters>>,
    started: StdInstant,
    huge_text: Option<Result<crate::hugetext::HugeText, crate::hugetext::HugeTextError>>,
}

/// Options that are not part of the file configuration.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Yield after this many empty polls (0: pure polling).
    pub idle_yield_after: u32,
    /// Worker thread start hook (DPDK thread registration).
    pub on_worker_start: Option<fn(usize)>,
}

/// Which core each worker goes to: the configured list, or cores 1.. (core
/// 0 is left to the control thread and the OS), wrapping on small machines.
pub fn worker_cores(cfg: &Config) -> Vec<Option<usize>> {
    let n = core_affinity::get_core_ids().map(|v| v.len()).unwrap_or(1).max(1);
    (0..cfg.workers)
        .map(|i| {
            Some(if cfg.cores.is_empty() {
                (i + 1) % n
            } else {
                cfg.cores[i]
            })
        })
        .collect()
}

/// Start workers and the control thread over opened ports.
pub fn start<Q: PortQueue>(
    cfg: &Config,
    access: OpenedPort<Q>,
    core: OpenedPort<Q>,
    opts: &RunOptions,
) -> Result<Running, String> {
    crate::profile::validate_config_cores(cfg).map_err(|e| e.to_string())?;
    // Before any of our threads start: the code the workers loop over moves
    // onto 2 MiB pages (a no-op with a reason when the binary or the
    // kernel does not allow it).
    let huge_text = cfg.huge_text.then(crate::hugetext::remap_once);
    if access.worker_queues.len() < cfg.workers || core.worker_queues.len() < cfg.workers {
        return Err(format!(
            "{} workers but the ports have {} and {} queues",
            cfg.workers,
            access.worker_queues.len(),
            core.worker_queues.len()
        ));
    }
    let domain = QsbrDomain::new(cfg.workers + 1);
    let (mut writers, readers) = state::tables(&domain, cfg.table_capacity);
    for b in &cfg.annex_n {
        writers.bind(b.key, Arc::new(b.identity.clone()));
    }
    for s in &cfg.sa_sets {
        writers
            .install_sa_set(
                &s.desc,
                Some(Arc::new(s.identity.clone())),
                cfg.allow_hmac_md5,
                cfg.replay_window,
            )
            .map_err(|e| e.to_string())?;
    }
    writers.publish();
    let mut ctx = Context::new(
        cfg,
        (access.info.mac, access.info.mtu),
        (core.info.mac, core.info.mtu),
    );
    // Workers send from their own queues on both sides.
    ctx.tx_udp_csum_offload = !access.worker_queues.is_empty()
        && access
            .worker_queues
            .iter()
            .chain(&core.worker_queues)
            .all(|q| q.tx_csum_offload());
    let ctx = Arc::new(ctx);
    let stop = Arc::new(AtomicBool::new(false));
    let epoch = StdInstant::now();
    let exqs: Vec<_> = (0..cfg.workers)
        .map(|_| Arc::new(ArrayQueue::new(cfg.exception_queue_depth)))
        .collect();
    let control_counters = Arc::new(WorkerCounters::new_padded());
    let control_qsbr = domain.register().map_err(|_| "QSBR domain full".to_string())?;
    let runner = Runner::<Q> {
        tables: writers,
        readers: readers.clone(),
        qsbr: control_qsbr,
        exceptions: exqs.clone(),
        access_tx: access.control_queue,
        core_tx: core.control_queue,
        ctx: ctx.clone(),
        counters: control_counters.clone(),
        stop: stop.clone(),
        epoch,
        max_sleep: Duration::from_millis(5),
        registrar: cfg.registrar.clone().map(control::registrar::Pcscf::new),
        allow_md5: cfg.allow_hmac_md5,
        replay_window: cfg.replay_window,
    };
    let control_core = cfg.control_core;
    let control = std::thread::Builder::new()
        .name("pcscf-control".into())
        .spawn(move || {
            if let Some(c) = control_core {
                let _ = core_affinity::set_for_current(core_affinity::CoreId { id: c });
            }
            runner.run()
        })
        .map_err(|e| format!("spawn control thread: {e}"))?;
    let cores = worker_cores(cfg);
    let mut workers = Vec::new();
    let mut worker_counters = Vec::new();
    let mut aq = access.worker_queues.into_iter();
    let mut cq = core.worker_queues.into_iter();
    for (i, exq) in exqs.into_iter().enumerate() {
        let (Some(a), Some(c)) = (aq.next(), cq.next()) else {
            break;
        };
        let counters = Arc::new(WorkerCounters::new_padded());
        worker_counters.push(counters.clone());
        let qsbr = domain.register().map_err(|_| "QSBR domain full".to_string())?;
        let setup = WorkerSetup {
            index: i,
            core: cores[i],
            access: a,
            core_q: c,
            exceptions: exq,
            counters,
            qsbr,
            tables: readers.clone(),
            ctx: ctx.clone(),
            stop: stop.clone(),
            control_thread: Some(control.thread().clone()),
            epoch,
            idle_yield_after: opts.idle_yield_after,
            on_start: opts.on_worker_start,
        };
        let h = std::thread::Builder::new()
            .name(format!("pcscf-w{i}"))
            .spawn(move || worker::run(setup))
            .map_err(|e| format!("spawn worker {i}: {e}"))?;
        workers.push((i, cores[i], h));
    }
    Ok(Running {
        stop,
        workers,
        control,
        worker_counters,
        control_counters,
        started: epoch,
        huge_text,
    })
}

impl Running {
    /// The stop flag (set it to stop).
    pub fn stop_flag(&self) -> Arc<AtomicBool> {
        self.stop.clone()
    }

    /// Snapshot of every worker's counters, summed.
    pub fn totals(&self) -> LocalCounters {
        let mut t = LocalCounters::default();
        for c in &self.worker_counters {
            t.add(&c.snapshot());
        }
        t
    }

    /// What happened to the code's pages at start-up, in words.
    pub fn code_pages(&self) -> String {
        match &self.huge_text {
            Some(r) => crate::hugetext::describe(r),
            None => "code on 4 KiB pages (huge_text = false)".into(),
        }
    }

    /// Stop, join every thread and report.
    pub fn finish(self) -> Report {
        let code_pages = self.code_pages();
        let code_huge_page_bytes = match &self.huge_text {
            Some(Ok(h)) => h.huge_bytes as u64,
            _ => 0,
        };
        self.stop.store(true, Ordering::Relaxed);
        self.control.thread().unpark();
        let seconds = self.started.elapsed().as_secs_f64().max(1e-9);
        let mut workers = Vec::new();
        let mut total = LocalCounters::default();
        for ((i, core, h), c) in self.workers.into_iter().zip(self.worker_counters.iter()) {
            let _ = h.join();
            let s = c.snapshot();
            total.add(&s);
            workers.push(WorkerReport {
                worker: i,
                core,
                rx: s.rx,
                tx: s.tx,
                rx_mpps: s.rx as f64 / seconds / 1e6,
                exceptions: s.exceptions,
                asserted: s.asserted,
                drops: s.total_drops(),
            });
        }
        let cstats = self.control.join().unwrap_or_default();
        let cc = self.control_counters.snapshot();
        let mut drops = std::collections::BTreeMap::new();
        for (r, n) in total.drops_by_reason().into_iter().chain(cc.drops_by_reason()) {
            *drops.entry(r).or_insert(0) += n;
        }
        Report {
            seconds,
            workers,
            rx: total.rx,
            tx: total.tx,
            rx_mpps: total.rx as f64 / seconds / 1e6,
            exceptions: total.exceptions,
            asserted: total.asserted,
            responses: total.responses,
            drops,
            control_forbidden: cstats.forbidden,
            control_registers_forwarded: cstats.registers_forwarded,
            control_register_responses: cstats.register_responses,
            code_huge_page_bytes,
            code_pages,
            control_tx: cc.tx,
            control_ue_unprotected: cstats.ue_unprotected,
            control_ue_protected: cstats.ue_protected,
            control_sa_sets_installed: cstats.sa_sets_installed,
            control_sa_sets_removed: cstats.sa_sets_removed,
            control_sa_sets_exhausted: cstats.sa_sets_exhausted,
            control_sets_first_used: cstats.sets_first_used,
            registrar: cstats
                .registrar
                .as_ref()
                .map(|c| crate::runner::registrar_counters(c).into_iter().collect())
                .unwrap_or_default(),
        }
    }
}
