//! Core scaling of the plaintext path: K pinned threads each run bursts of
//! 32 frames through the worker's path (`pipeline::lookup_burst`, then
//! `pipeline::process_with` per frame) in a closed loop (no generator, no
//! rings), all reading the same tables, with a guard and a quiescent report
//! per burst as a worker does. Optionally a writer thread rebinds UEs at a given
//! rate the whole time, as the control thread does under registration churn.
//!
//! What it shows is whether the shared state (tables, QSBR, counters) lets
//! throughput grow with cores: per-worker Mpps at K workers against the
//! single-worker figure from the same run.
//!
//! `cargo build --release -p bench --example scaling`, then
//! `target/release/examples/scaling [--workers 1,2,4] [--seconds 3]
//! [--ues 100000] [--size 400] [--churn 10000] [--first-core 0]`.
//! Prints one line per K and a JSON array at the end.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dataplane::buf::PacketBuf;
use dataplane::pipeline::{self, PipeState, Side, Verdict};
use dataplane::testgen::PipelineFixture;

struct Opts {
    workers: Vec<usize>,
    seconds: f64,
    ues: usize,
    size: usize,
    churn: u64,
    first_core: usize,
}

fn opts() -> Result<Opts, String> {
    let mut o = Opts {
        workers: vec![1, 2],
        seconds: 3.0,
        ues: 100_000,
        size: 400,
        churn: 0,
        first_core: 0,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let v = args.get(i + 1).ok_or(format!("{} needs a value", args[i]))?;
        let bad = |e: &dyn std::fmt::Display| format!("{}: {e}", args[i]);
        match args[i].as_str() {
            "--workers" => {
                o.workers = v
                    .split(',')
                    .map(|w| w.parse::<usize>().map_err(|e| bad(&e)))
                    .collect::<Result<_, _>>()?
            }
            "--seconds" => o.seconds = v.parse().map_err(|e| bad(&e))?,
            "--ues" => o.ues = v.parse().map_err(|e| bad(&e))?,
            "--size" => o.size = v.parse().map_err(|e| bad(&e))?,
            "--churn" => o.churn = v.parse().map_err(|e| bad(&e))?,
            "--first-core" => o.first_core = v.parse().map_err(|e| bad(&e))?,
            a => return Err(format!("unknown argument {a}")),
        }
        i += 2;
    }
    Ok(o)
}

struct Row {
    workers: usize,
    total_mpps: f64,
    per_worker_mpps: Vec<f64>,
    rebinds: u64,
}

fn run_k(o: &Opts, k: usize) -> Result<Row, String> {
    let f = PipelineFixture::with_readers(o.ues, 1024, o.size, k);
    let PipelineFixture {
        cfg,
        ctx,
        domain,
        mut writers,
        readers,
        frames,
    } = f;
    let frames = Arc::new(frames);
    let ctx = Arc::new(ctx);
    let stop = Arc::new(AtomicBool::new(false));
    let go = Arc::new(std::sync::Barrier::new(k + 1));
    let cores = core_affinity::get_core_ids().unwrap_or_default();
    let mut handles = Vec::new();
    for w in 0..k {
        let mut reader = domain.register().map_err(|_| "QSBR domain full".to_string())?;
        let (frames, ctx, readers, stop, go) = (
            frames.clone(),
            ctx.clone(),
            readers.clone(),
            stop.clone(),
            go.clone(),
        );
        let core = cores.get(o.first_core + w).copied();
        handles.push(std::thread::spawn(move || {
            if let Some(c) = core {
                core_affinity::set_for_current(c);
            }
            let mut st = PipeState::new(w as u64 + 1);
            let mut bufs: Vec<PacketBuf> = (0..32).map(|_| PacketBuf::new()).collect();
            let mut n = 0u64;
            let mut bad = 0u64;
            // Each worker walks the templates from its own offset.
            let mut i = w * 131;
            go.wait();
            let t0 = Instant::now();
            while !stop.load(Ordering::Relaxed) {
                for b in &mut bufs {
                    b.fill(&frames[i % frames.len()]);
                    i += 1;
                }
                {
                    // As `worker::run` does: the burst's lookups begun
                    // together, each frame's completed in `process_with`.
                    let g = reader.guard();
                    let mut found = pipeline::BurstLookups::none();
                    pipeline::lookup_burst(&bufs, Side::Access, &readers, &g, &mut found);
                    for (j, b) in bufs.iter_mut().enumerate() {
                        let v = pipeline::process_with(
                            b,
                            Side::Access,
                            &ctx,
                            &readers,
                            &g,
                            &mut st,
                            found.frame(j),
                        );
                        bad += !matches!(v, Verdict::Forward(Side::Core)) as u64;
                    }
                }
                reader.quiescent();
                n += 32;
            }
            (n, bad, t0.elapsed())
        }));
    }
    // The writer: rebind `churn` UEs a second, publishing every millisecond.
    let rebinds = Arc::new(AtomicU64::new(0));
    let churn = o.churn;
    let writer = {
        let (stop, rebinds) = (stop.clone(), rebinds.clone());
        let bindings: Vec<_> = cfg
            .annex_n
            .iter()
            .map(|b| (b.key, Arc::new(b.identity.clone())))
            .collect();
        std::thread::spawn(move || {
            let t0 = Instant::now();
            let mut done = 0u64;
            let mut j = 0usize;
            while !stop.load(Ordering::Relaxed) {
                if churn > 0 && !bindings.is_empty() {
                    let due = (t0.elapsed().as_secs_f64() * churn as f64) as u64;
                    while done < due {
                        let (key, id) = &bindings[j % bindings.len()];
                        writers.bind(*key, id.clone());
                        j = j
                            .wrapping_mul(6_364_136_223_846_793_005)
                            .wrapping_add(1_442_695_040_888_963_407);
                        done += 1;
                    }
                    writers.publish();
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            rebinds.store(done, Ordering::Relaxed);
            writers
        })
    };
    go.wait();
    std::thread::sleep(Duration::from_secs_f64(o.seconds));
    stop.store(true, Ordering::Relaxed);
    let mut per = Vec::new();
    for h in handles {
        let (n, bad, dt) = h.join().map_err(|_| "worker panicked".to_string())?;
        if bad > 0 {
            return Err(format!("{bad} frames were not forwarded"));
        }
        per.push(n as f64 / dt.as_secs_f64() / 1e6);
    }
    let _writers = writer.join().map_err(|_| "writer panicked".to_string())?;
    Ok(Row {
        workers: k,
        total_mpps: per.iter().sum(),
        per_worker_mpps: per,
        rebinds: rebinds.load(Ordering::Relaxed),
    })
}

fn main() {
    let o = match opts() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("scaling: {e}");
            std::process::exit(2);
        }
    };
    let cores = core_affinity::get_core_ids().map_or(0, |c| c.len());
    // As `pcscf-dp run` does before its workers start.
    let code = bench::code_on_huge_pages();
    println!(
        "{} cores; {} UEs bound; {} B SIP messages; churn {} rebinds/s; {} s per point; {code}",
        cores, o.ues, o.size, o.churn, o.seconds
    );
    let mut rows = Vec::new();
    for &k in &o.workers {
        match run_k(&o, k) {
            Ok(r) => {
                let base = rows
                    .first()
                    .map_or(r.total_mpps / k as f64, |b: &Row| b.total_mpps / b.workers as f64);
                println!(
                    "workers {:2}: total {:7.2} Mpps, per worker {:5.2} Mpps (min {:5.2}), efficiency {:4.0} % of the first point per core, {} rebinds",
                    k,
                    r.total_mpps,
                    r.total_mpps / k as f64,
                    r.per_worker_mpps.iter().cloned().fold(f64::INFINITY, f64::min),
                    100.0 * r.total_mpps / (k as f64 * base),
                    r.rebinds
                );
                rows.push(r);
            }
            Err(e) => {
                eprintln!("scaling: {k} workers: {e}");
                std::process::exit(1);
            }
        }
    }
    let json: Vec<String> = rows
        .iter()
        .map(|r| {
            format!(
                "{{\"workers\":{},\"total_mpps\":{:.3},\"per_worker_mpps\":[{}],\"rebinds\":{}}}",
                r.workers,
                r.total_mpps,
                r.per_worker_mpps
                    .iter()
                    .map(|m| format!("{m:.3}"))
                    .collect::<Vec<_>>()
                    .join(","),
                r.rebinds
            )
        })
        .collect();
    println!("[{}]", json.join(","));
}
