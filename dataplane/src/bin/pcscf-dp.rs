//! `pcscf-dp`: the P-CSCF security data plane.
//!
//! - `run --config FILE [--duration S]`: run on the configured ports until
//!   Ctrl-C (or for S seconds), then print the final counters.
//! - `demo [--ues N] [--seconds S] [--workers K] [--json]`: the embedded
//!   default, on in-memory ports with a traffic generator.
//! - `profile check FILE` / `profile show ...`: hw-profiles.
//! - `esp encap|decap --sa FILE --in PCAP --out PCAP`: the ESP transform on
//!   pcap files, for interop tests.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use dataplane::app::{self, RunOptions};
use dataplane::config::{Config, PortBackend};
use dataplane::port::{af_packet, pcap};

#[derive(Parser)]
#[command(name = "pcscf-dp", version, about = "P-CSCF security data plane")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the data plane on the configured ports.
    Run {
        /// TOML configuration (see docs/config.md).
        #[arg(long)]
        config: PathBuf,
        /// Stop after this many seconds (default: until Ctrl-C).
        #[arg(long)]
        duration: Option<f64>,
        /// Print the final report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// The embedded default: mem ports, a generator and N bound UEs.
    Demo {
        /// Number of bound UEs.
        #[arg(long, default_value_t = 1000)]
        ues: usize,
        /// Seconds to run.
        #[arg(long, default_value_t = 3.0)]
        seconds: f64,
        /// Worker threads.
        #[arg(long, default_value_t = 1)]
        workers: usize,
        /// SIP message size in bytes.
        #[arg(long, default_value_t = 400)]
        size: usize,
        /// Print one JSON object instead of the summary.
        #[arg(long)]
        json: bool,
    },
    /// hw-profile tools.
    Profile {
        #[command(subcommand)]
        cmd: ProfileCmd,
    },
    /// ESP transform over pcap files (interop tests).
    Esp {
        /// encap or decap.
        #[arg(value_parser = ["encap", "decap"])]
        dir: String,
        /// SA description (JSON, see dataplane::esp::tool).
        #[arg(long)]
        sa: PathBuf,
        /// Input pcap.
        #[arg(long = "in")]
        input: PathBuf,
        /// Output pcap.
        #[arg(long = "out")]
        output: PathBuf,
    },
}

#[derive(Subcommand)]
enum ProfileCmd {
    /// Validate a hw-profile; unknown keys are refused.
    Check {
        /// The profile.
        file: PathBuf,
    },
    /// Print what DPDK reports about each port next to its profile (needs
    /// the `dpdk` feature).
    Show {
        /// Profiles, each optionally `FILE=DEVARGS` to override the device.
        files: Vec<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let r = match cli.cmd {
        Cmd::Run {
            config,
            duration,
            json,
        } => run(&config, duration, json),
        Cmd::Demo {
            ues,
            seconds,
            workers,
            size,
            json,
        } => demo(ues, seconds, workers, size, json),
        Cmd::Profile {
            cmd: ProfileCmd::Check { file },
        } => profile_check(&file),
        Cmd::Profile {
            cmd: ProfileCmd::Show { files },
        } => profile_show(&files),
        Cmd::Esp {
            dir,
            sa,
            input,
            output,
        } => esp(&dir, &sa, &input, &output),
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pcscf-dp: {e}");
            ExitCode::FAILURE
        }
    }
}

fn demo(ues: usize, seconds: f64, workers: usize, size: usize, json: bool) -> Result<(), String> {
    if ues == 0 || workers == 0 || workers > 64 {
        return Err("--ues must be ≥ 1 and --workers within 1..=64".into());
    }
    if !(200..=1400).contains(&size) {
        return Err("--size must be within 200..=1400".into());
    }
    let o = dataplane::demo::DemoOptions {
        ues,
        seconds,
        workers,
        size,
    };
    let r = dataplane::demo::run(&o)?;
    if json {
        println!("{}", serde_json::to_string(&r).map_err(|e| e.to_string())?);
    } else {
        println!(
            "pcscf-dp demo: {} bound UEs, {}-byte MESSAGEs, {} worker(s)",
            r.ues, r.message_bytes, workers
        );
        print!("{}", r.dataplane.human());
        let t = &r.traffic;
        println!(
            "generator: offered {} (bursts cut short by a full ring {}), at core {}, back at UE side {}, PAI sample ok {} bad {}",
            t.offered, t.ring_full, t.at_core, t.at_access, t.sampled_ok, t.sampled_bad
        );
    }
    Ok(())
}

fn run(path: &std::path::Path, duration: Option<f64>, json: bool) -> Result<(), String> {
    let cfg = Config::load(path).map_err(|e| e.to_string())?;
    match (&cfg.access.backend, &cfg.core.backend) {
        (PortBackend::AfPacket { iface: a }, PortBackend::AfPacket { iface: c }) => {
            let ap = af_packet::open("access", a, cfg.workers).map_err(|e| e.to_string())?;
            let cp = af_packet::open("core", c, cfg.workers).map_err(|e| e.to_string())?;
            serve(&cfg, ap, cp, duration, json)
        }
        (
            PortBackend::Pcap {
                input: ai,
                output: ao,
            },
            PortBackend::Pcap {
                input: ci,
                output: co,
            },
        ) => {
            let ap = pcap::open(
                "access",
                cfg.access.mac,
                ai.as_deref(),
                ao.as_deref(),
                cfg.workers,
            )
            .map_err(|e| e.to_string())?;
            let cp = pcap::open("core", cfg.core.mac, ci.as_deref(), co.as_deref(), cfg.workers)
                .map_err(|e| e.to_string())?;
            serve(&cfg, ap, cp, duration.or(Some(1.0)), json)
        }
        (PortBackend::Dpdk { .. }, _) => run_dpdk(&cfg, duration, json),
        (PortBackend::Mem, _) => Err(format!(
            "{}: backend `mem` has no outside peer; use `pcscf-dp demo` (or af_packet, pcap, dpdk)",
            path.display()
        )),
        _ => Err(format!(
            "{}: access and core must use the same backend",
            path.display()
        )),
    }
}

#[cfg(feature = "dpdk")]
fn run_dpdk(cfg: &Config, duration: Option<f64>, json: bool) -> Result<(), String> {
    let d = dataplane::dpdk_run::open(cfg)?;
    let opts = RunOptions {
        idle_yield_after: 0,
        on_worker_start: Some(dataplane::dpdk_run::register_worker),
    };
    let r = serve_with(&d.cfg, d.access, d.core, duration, json, opts);
    dataplane::dpdk_run::close(d.eal, d.ports, json)?;
    r
}

#[cfg(not(feature = "dpdk"))]
fn run_dpdk(_: &Config, _: Option<f64>, _: bool) -> Result<(), String> {
    Err("backend `dpdk` needs a build with `--features dpdk` (see docs/dpdk.md)".into())
}

fn serve<Q: dataplane::port::PortQueue>(
    cfg: &Config,
    a: dataplane::port::OpenedPort<Q>,
    c: dataplane::port::OpenedPort<Q>,
    duration: Option<f64>,
    json: bool,
) -> Result<(), String> {
    // Kernel-socket ports: yield when idle so that a small machine stays usable.
    serve_with(
        cfg,
        a,
        c,
        duration,
        json,
        RunOptions {
            idle_yield_after: 1024,
            on_worker_start: None,
        },
    )
}

fn serve_with<Q: dataplane::port::PortQueue>(
    cfg: &Config,
    a: dataplane::port::OpenedPort<Q>,
    c: dataplane::port::OpenedPort<Q>,
    duration: Option<f64>,
    json: bool,
    opts: RunOptions,
) -> Result<(), String> {
    let running = app::start(cfg, a, c, &opts)?;
    let stop = running.stop_flag();
    let s2 = stop.clone();
    ctrlc::set_handler(move || s2.store(true, Ordering::Relaxed))
        .map_err(|e| format!("signal handler: {e}"))?;
    eprintln!(
        "pcscf-dp: running with {} worker(s); {}; Ctrl-C stops",
        cfg.workers,
        running.code_pages()
    );
    let start = Instant::now();
    let mut last_stats = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        if let Some(d) = duration {
            if start.elapsed().as_secs_f64() >= d {
                break;
            }
        }
        if cfg.stats_interval_s > 0 && last_stats.elapsed().as_secs() >= cfg.stats_interval_s {
            let t = running.totals();
            eprintln!(
                "pcscf-dp: rx {} tx {} asserted {} exceptions {} drops {}",
                t.rx,
                t.tx,
                t.asserted,
                t.exceptions,
                t.total_drops()
            );
            last_stats = Instant::now();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let report = running.finish();
    if json {
        println!("{}", serde_json::to_string(&report).map_err(|e| e.to_string())?);
    } else {
        print!("{}", report.human());
    }
    Ok(())
}

fn profile_check(file: &std::path::Path) -> Result<(), String> {
    let p = dataplane::profile::check(file).map_err(|e| e.to_string())?;
    println!("{}: ok ({} workers)", file.display(), p.workers());
    Ok(())
}

#[cfg(feature = "dpdk")]
fn profile_show(files: &[String]) -> Result<(), String> {
    let mut profiles = Vec::new();
    for f in files {
        let (path, dev) = match f.split_once('=') {
            Some((p, d)) => (p, Some(d.to_string())),
            None => (f.as_str(), None),
        };
        profiles.push((dataplane::profile::check(path).map_err(|e| e.to_string())?, dev));
    }
    let refs: Vec<_> = profiles.iter().map(|(p, d)| (p, d.as_deref())).collect();
    dataplane::profile::show(&refs, &[], &mut std::io::stdout()).map_err(|e| e.to_string())
}

#[cfg(not(feature = "dpdk"))]
fn profile_show(_: &[String]) -> Result<(), String> {
    Err("`profile show` asks DPDK about the ports: build with `--features dpdk` (see docs/dpdk.md)".into())
}

fn esp(
    dir: &str,
    sa: &std::path::Path,
    input: &std::path::Path,
    output: &std::path::Path,
) -> Result<(), String> {
    use dataplane::esp::tool::{pcap_transform, Direction, SaFile};
    let d = if dir == "encap" {
        Direction::Encap
    } else {
        Direction::Decap
    };
    let sa_text = std::fs::read_to_string(sa).map_err(|e| format!("{}: {e}", sa.display()))?;
    let sa = SaFile::from_json(&sa_text).map_err(|e| e.to_string())?;
    let inp = std::fs::read(input).map_err(|e| format!("{}: {e}", input.display()))?;
    let out = pcap_transform(d, &sa, &inp).map_err(|e| e.to_string())?;
    std::fs::write(output, out).map_err(|e| format!("{}: {e}", output.display()))
}
