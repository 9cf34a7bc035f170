//! Running the data plane on DPDK ports (`--features dpdk`).
//!
//! Brings the EAL up from the two sides' hw-profiles, opens both ports with
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
    /// `dataplane.control_core` filled from the access port's hw-profile
    /// layout when the file leaves them out (the EAL restricts the main
    /// thread to its own lcore, so the machine's core list cannot be used).
    pub cfg: Config,
}

fn side(cfg_name: &str, b: &PortBackend) -> Result<(Profile, String), String> {
    match b {
        PortBackend::Dpdk { profile, devargs } => {
            let p = profile::check(profile).map_err(|e| e.to_string())?;
            Ok((p, devargs.clone()))
        }
        other => Err(format!("{cfg_name}.port.backend is `{}`, not dpdk", other.kind())),
    }
}

/// Initialise the EAL and open both ports.
pub fn open(cfg: &Config) -> Result<DpdkPorts, String> {
    let (pa, da) = side("access", &cfg.access.backend)?;
    let (pc, dc) = side("core", &cfg.core.backend)?;
    let args = profile::eal_command_line(&[(&pa, Some(da.as_str())), (&pc, Some(dc.as_str()))], &[]);
    let eal = Eal::init(&args).map_err(|e| format!("EAL init ({}): {e}", args.join(" ")))?;
    let (port_a, access) = eal
        .open_port(&pa, Some(&da), cfg.workers)
        .map_err(|e| format!("access port {da}: {e}"))?;
    let (port_c, core) = eal
        .open_port(&pc, Some(&dc), cfg.workers)
        .map_err(|e| format!("core port {dc}: {e}"))?;
    let mut run_cfg = cfg.clone();
    if run_cfg.cores.is_empty() && pa.layout.worker_cores.len() >= cfg.workers {
        run_cfg.cores = pa
            .layout
            .worker_cores
            .iter()
            .take(cfg.workers)
            .map(|&c| c as usize)
            .collect();
    }
    if run_cfg.control_core.is_none() {
        run_cfg.control_core = Some(pa.layout.control_core as usize);
    }
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
