//! Running the data plane on DPDK ports (`--features dpdk`).
//!
//! Checks the configured worker and control cores against the machine's
//! online CPUs (before the EAL starts: a bad core list is an error naming the
//! key and the core), brings the EAL up from the two sides' hw-profiles
//! with the control core as its main lcore, opens both ports with
//! one RX/TX queue pair per worker plus the control thread's TX queue, hands
//! them to the common start-up ([`crate::app`]) with a worker hook that
//! registers each worker thread with the EAL (per-lcore mempool caches), and
//! shuts everything down cleanly afterwards: ports stopped, mbufs freed,
//! `rte_eal_cleanup`.

use crate::config::{Config, PortBackend};
use crate::port::dpdk::{self, DpdkPort, DpdkQueue, Eal};
use crate::port::OpenedPort;
use crate::profile::{self, Profile};

/// An EAL with the access and core ports open.
pub struct DpdkPorts {
    /// The EAL.
    pub eal: Eal,
    /// Port handles (for statistics and shutdown).
    pub ports: Vec<DpdkPort>,
    /// The access side's queues.
    pub access: OpenedPort<DpdkQueue>,
    /// The core side's queues.
    pub core: OpenedPort<DpdkQueue>,
    /// The configuration to run with: `dataplane.cores` and
    /// `dataplane.control_core` as [`plan_cores`] chose and checked them
    /// (from the access port's hw-profile layout when the file leaves them
    /// out: the EAL restricts the main thread to its own lcore, so the
    /// machine's core list cannot be used).
    pub cfg: Config,
}

fn side(cfg_name: &str, b: &PortBackend) -> Result<(Profile, String, String), String> {
    match b {
        PortBackend::Dpdk { profile, devargs } => {
            let p = profile::check(profile).map_err(|e| e.to_string())?;
            Ok((p, devargs.clone(), profile.display().to_string()))
        }
        other => Err(format!("{cfg_name}.port.backend is `{}`, not dpdk", other.kind())),
    }
}

/// The cores a DPDK run uses: `dataplane.cores` / `dataplane.control_core`
/// when the configuration names them, else the access port's hw-profile
/// layout (`profile_path` names it in messages). Checked against `online`
/// (sorted CPU ids, [`profile::online_cpus`]) when given: every core online,
/// workers distinct and off the control core. Returns the worker cores and
/// the control core (the EAL main lcore).
///
/// The EAL narrows the main thread to its lcore, so after `rte_eal_init` the
/// machine's core list is no longer visible: every worker must have a core
/// named here, and a configuration with more workers than the profile's
/// `layout.worker_cores` must list `dataplane.cores` itself.
pub fn plan_cores(
    cfg: &Config,
    access: &Profile,
    profile_path: &str,
    online: Option<&[usize]>,
) -> Result<(Vec<usize>, usize), String> {
    let layout_workers = format!("layout.worker_cores of {profile_path}");
    let layout_control = format!("layout.control_core of {profile_path}");
    let (workers, workers_key) = if !cfg.cores.is_empty() {
        (cfg.cores.clone(), "dataplane.cores")
    } else if access.layout.worker_cores.len() >= cfg.workers {
        let w = access
            .layout
            .worker_cores
            .iter()
            .take(cfg.workers)
            .map(|&c| c as usize)
            .collect();
        (w, layout_workers.as_str())
    } else {
        return Err(format!(
            "`dataplane.workers` is {} but `{layout_workers}` lists {} core(s) and `dataplane.cores` is \
             not set: name a core for every worker in one of them",
            cfg.workers,
            access.layout.worker_cores.len()
        ));
    };
    let (control, control_key) = match cfg.control_core {
        Some(c) => (c, "dataplane.control_core"),
        None => (access.layout.control_core as usize, layout_control.as_str()),
    };
    if let Some(online) = online {
        profile::validate_cores(
            &profile::CorePlan {
                workers: &workers,
                workers_key,
                control: Some(control),
                control_key,
            },
            online,
        )
        .map_err(|e| e.to_string())?;
    }
    Ok((workers, control))
}

/// Initialise the EAL and open both ports. The cores are checked against
/// the machine first ([`plan_cores`]), before the EAL starts.
pub fn open(cfg: &Config) -> Result<DpdkPorts, String> {
    let (mut pa, da, path_a) = side("access", &cfg.access.backend)?;
    let (pc, dc, _) = side("core", &cfg.core.backend)?;
    let online = profile::online_cpus();
    let (workers, control) = plan_cores(cfg, &pa, &path_a, online.as_deref())?;
    // The EAL main lcore (`-l`) is the control core actually used.
    pa.layout.control_core =
        u32::try_from(control).map_err(|_| format!("control core {control} is out of range"))?;
    let args = profile::eal_command_line(&[(&pa, Some(da.as_str())), (&pc, Some(dc.as_str()))], &[]);
    let eal = Eal::init(&args).map_err(|e| format!("EAL init ({}): {e}", args.join(" ")))?;
    let (port_a, access) = eal
        .open_port(&pa, Some(&da), cfg.workers)
        .map_err(|e| format!("access port {da}: {e}"))?;
    let (port_c, core) = eal
        .open_port(&pc, Some(&dc), cfg.workers)
        .map_err(|e| format!("core port {dc}: {e}"))?;
    let mut run_cfg = cfg.clone();
    run_cfg.cores = workers;
    run_cfg.control_core = Some(control);
    Ok(DpdkPorts {
        eal,
        ports: vec![port_a, port_c],
        access,
        core,
        cfg: run_cfg,
    })
}

/// Worker start hook: register the thread with the EAL for the rest of its
/// life (the registration is released when the process exits).
pub fn register_worker(index: usize) {
    match dpdk::register_worker_thread() {
        Ok(reg) => std::mem::forget(reg),
        Err(e) => eprintln!("pcscf-dp: worker {index}: EAL thread registration failed ({e}); running without the per-lcore mempool cache"),
    }
}

/// Print per-port statistics, then stop the ports and clean the EAL up.
pub fn close(eal: Eal, ports: Vec<DpdkPort>, json: bool) -> Result<(), String> {
    for p in &ports {
        match p.stats() {
            Ok(s) if json => {
                if let Ok(t) = serde_json::to_string(&s) {
                    eprintln!("{t}");
                }
            }
            Ok(s) => eprintln!("{s:?}"),
            Err(e) => eprintln!("pcscf-dp: port statistics: {e}"),
        }
    }
    let r = eal.shutdown(ports).map_err(|e| format!("DPDK shutdown: {e}"))?;
    eprintln!("pcscf-dp: DPDK shutdown: {r:?}");
    Ok(())
}
