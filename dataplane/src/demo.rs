//! `pcscf-dp demo`: the embedded default.
//!
//! `mem` ports, one generator thread playing N bound UEs (and the core's
//! sink), K pinned workers and the control thread. It shows the plaintext
//! path end to end: every MESSAGE leaves toward the core with a
//! P-Asserted-Identity, and the sink checks a sample of them.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::app::{self, Report, RunOptions};
use crate::buf::{Buf, PacketBuf};
use crate::config::{Config, PortBackend, SideConfig, StaticBinding};
use crate::port::mem;

/// Demo parameters.
#[derive(Clone, Debug)]
pub struct DemoOptions {
    /// Bound UEs.
    pub ues: usize,
    /// Seconds to run.
    pub seconds: f64,
    /// Workers.
    pub workers: usize,
    /// SIP message size in bytes.
    pub size: usize,
}

/// What the generator and sink saw.
#[derive(Clone, Debug, Default, Serialize)]
pub struct TrafficReport {
    /// Frames offered to the data plane.
    pub offered: u64,
    /// Bursts of 32 that a full ring did not take whole (the frames left
    /// over are offered again in the next burst).
    pub ring_full: u64,
    /// Frames that reached the core side.
    pub at_core: u64,
    /// Frames that came back to the UE side (403s, responses).
    pub at_access: u64,
    /// Sampled core-side frames checked to carry the right P-Asserted-Identity.
    pub sampled_ok: u64,
    /// Sampled core-side frames that did not.
    pub sampled_bad: u64,
}

/// The demo's full result.
#[derive(Clone, Debug, Serialize)]
pub struct DemoReport {
    /// UEs.
    pub ues: usize,
    /// SIP message size.
    pub message_bytes: usize,
    /// The data plane's report.
    pub dataplane: Report,
    /// The generator's report.
    pub traffic: TrafficReport,
}

const ACCESS_MAC: [u8; 6] = [0x02, 0, 0, 0, 0xa, 1];
const CORE_MAC: [u8; 6] = [0x02, 0, 0, 0, 0xc, 1];
const UE_GW_MAC: [u8; 6] = [0x02, 0, 0, 0, 0xa, 2];
const CORE_GW_MAC: [u8; 6] = [0x02, 0, 0, 0, 0xc, 2];

/// The address of demo UE `i` (10.64.0.2 onwards).
pub fn ue_addr(i: usize) -> Ipv4Addr {
    let i = i as u32;
    Ipv4Addr::from(0x0a40_0000 | (i + 2))
}

/// The configuration the demo runs with.
pub fn config(o: &DemoOptions) -> Config {
    let side = |ip: Ipv4Addr, mac, gw| SideConfig {
        backend: PortBackend::Mem,
        mac,
        ipv4: Some(ip),
        ipv6: None,
        sip_port: 5060,
        gateway_mac: gw,
    };
    let annex_n = (0..o.ues)
        .map(|i| {
            let impus = [format!("sip:ue{i}@ims.example"), format!("tel:+1555{i:07}")];
            let refs: Vec<&str> = impus.iter().map(|s| s.as_str()).collect();
            StaticBinding {
                key: control::types::BindingKey::Ip(IpAddr::V4(ue_addr(i))),
                identity: control::types::Identity::new(&format!("ue{i}@ims.example"), &refs),
            }
        })
        .collect();
    Config {
        sa_sets: Vec::new(),
        replay_window: 1024,
        allow_hmac_md5: false,
        workers: o.workers,
        cores: Vec::new(),
        control_core: None,
        exception_queue_depth: 1024,
        table_capacity: o.ues.max(16) * 2,
        verify_udp_checksum: true,
        stats_interval_s: 0,
        huge_text: std::env::var("PCSCF_HUGE_TEXT").map_or(true, |v| v != "0"),
        access: side(Ipv4Addr::new(10, 64, 0, 1), ACCESS_MAC, UE_GW_MAC),
        core: side(Ipv4Addr::new(10, 65, 0, 1), CORE_MAC, CORE_GW_MAC),
        next_hop: SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 65, 0, 2)), 5060),
        t1_ms: 500,
        reg_await_auth_s: 240,
        registrar: None,
        annex_n,
    }
}

/// Run the demo.
pub fn run(o: &DemoOptions) -> Result<DemoReport, String> {
    let cfg = config(o);
    let depth = 1024;
    // The core side's rings are deeper: the generator thread that empties
    // them shares its core with the rest of the machine, and a ring of 1 024
    // frames covered only about 200 µs of a worker's output (a few bursts a
    // run were refused, counted as tx_full). The pool stays as it was: a
    // larger one spreads the frames over more memory (8 × and a pool to
    // match: no drops, but 4.4-4.6 Mpps against 4.7-4.8).
    let core_depth = 4 * depth;
    let pool = (o.workers * depth * 4).max(4096);
    let (acc_port, acc_peer) = mem::link("access", ACCESS_MAC, o.workers, depth, pool);
    let (core_port, core_peer) = mem::link("core", CORE_MAC, o.workers, core_depth, pool);
    let pcscf = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 64, 0, 1)), 5060);
    // One template frame per UE (up to 4096 distinct ones): half of them
    // prefer their tel URI, the others rely on the default IMPU.
    let templates: Vec<(Vec<u8>, Vec<u8>)> = (0..o.ues.clamp(1, 4096))
        .map(|i| {
            let ue = SocketAddr::new(IpAddr::V4(ue_addr(i)), 5060);
            let tel = format!("tel:+1555{i:07}");
            let (ppi, expect) = if i % 2 == 0 {
                (Some(tel.as_str()), tel.clone())
            } else {
                (None, format!("sip:ue{i}@ims.example"))
            };
            let msg = crate::testgen::message(ue, pcscf, ppi, i as u64, o.size);
            let frame = crate::testgen::udp_frame(UE_GW_MAC, ACCESS_MAC, ue, pcscf, &msg);
            (frame, format!("P-Asserted-Identity: <{expect}>\r\n").into_bytes())
        })
        .collect();
    let opts = RunOptions {
        idle_yield_after: 256,
        on_worker_start: None,
    };
    let running = app::start(&cfg, acc_port, core_port, &opts)?;
    let gen_stop = Arc::new(AtomicBool::new(false));
    let gs = gen_stop.clone();
    let generator = std::thread::Builder::new()
        .name("demo-gen".into())
        .spawn(move || {
            let _ = core_affinity::set_for_current(core_affinity::CoreId { id: 0 });
            let mut t = TrafficReport::default();
            let mut k = 0usize;
            // Per queue, the burst being offered (what a full ring refused
            // is offered again first), and one vector for what comes back.
            let mut bursts: Vec<Vec<PacketBuf>> =
                acc_peer.queues.iter().map(|_| Vec::with_capacity(32)).collect();
            let mut back: Vec<PacketBuf> = Vec::with_capacity(64);
            let (mut acc_peer, mut core_peer) = (acc_peer, core_peer);
            // Take back what the data plane sent (sampling the core side's
            // P-Asserted-Identity); true when anything came.
            let mut take_back =
                |acc_peer: &mut mem::MemPeer, core_peer: &mut mem::MemPeer, t: &mut TrafficReport| {
                    let before = t.at_core + t.at_access;
                    for (q, cq) in acc_peer.queues.iter_mut().zip(core_peer.queues.iter_mut()) {
                        while cq.recv_burst(&mut back, 64) > 0 {
                            for b in back.drain(..) {
                                t.at_core += 1;
                                if t.at_core % 1024 == 1 {
                                    check_sample(&b, &templates, t);
                                }
                                // Back to the pool the generator allocates from
                                // (each link has its own: recycled into the core
                                // link's, every frame would be a fresh allocation).
                                q.recycle(b);
                            }
                        }
                        while let Some(b) = q.recv() {
                            t.at_access += 1;
                            q.recycle(b);
                        }
                    }
                    while let Some(b) = acc_peer.control.recv() {
                        t.at_access += 1;
                        acc_peer.control.recycle(b);
                    }
                    t.at_core + t.at_access > before
                };
            while !gs.load(Ordering::Relaxed) {
                for (q, burst) in acc_peer.queues.iter_mut().zip(&mut bursts) {
                    while burst.len() < 32 {
                        let (frame, _) = &templates[k % templates.len()];
                        k = k.wrapping_add(1);
                        let mut b = q.alloc();
                        b.fill(frame);
                        burst.push(b);
                    }
                    t.offered += q.send_burst(burst) as u64;
                    if !burst.is_empty() {
                        t.ring_full += 1;
                    }
                }
                take_back(&mut acc_peer, &mut core_peer, &mut t);
            }
            // Stopped offering: keep taking back what the workers still send
            // (the access rings may hold a thousand frames each) until the
            // links are quiet, so that none is refused by a full ring.
            let (end, mut quiet) = (Instant::now() + Duration::from_millis(500), Instant::now());
            while Instant::now() < end && quiet.elapsed() < Duration::from_millis(20) {
                if take_back(&mut acc_peer, &mut core_peer, &mut t) {
                    quiet = Instant::now();
                } else {
                    std::thread::yield_now();
                }
            }
            t
        })
        .map_err(|e| format!("spawn generator: {e}"))?;
    std::thread::sleep(Duration::from_secs_f64(o.seconds.max(0.1)));
    gen_stop.store(true, Ordering::Relaxed);
    let traffic = generator
        .join()
        .map_err(|_| "generator thread panicked".to_string())?;
    let start = Instant::now();
    // Let the workers drain what is still queued, briefly.
    while running.totals().rx < traffic.offered && start.elapsed() < Duration::from_millis(200) {
        std::thread::sleep(Duration::from_millis(5));
    }
    let report = running.finish();
    Ok(DemoReport {
        ues: o.ues,
        message_bytes: o.size,
        dataplane: report,
        traffic,
    })
}

fn check_sample(b: &PacketBuf, templates: &[(Vec<u8>, Vec<u8>)], t: &mut TrafficReport) {
    let d = b.data();
    // The Call-ID carries the UE index in hex.
    let ok = (|| {
        let i = memchr::memmem::find(d, b"Call-ID: ")?;
        let rest = &d[i + 9..];
        let e = memchr::memchr(b'@', rest)?;
        let idx = usize::from_str_radix(core::str::from_utf8(&rest[..e]).ok()?, 16).ok()?;
        let want = &templates.get(idx)?.1;
        let one = memchr::memmem::find_iter(d, b"P-Asserted-Identity:").count() == 1;
        let no_ppi = memchr::memmem::find(d, b"P-Preferred-Identity").is_none();
        Some(one && no_ppi && memchr::memmem::find(d, want).is_some())
    })()
    .unwrap_or(false);
    if ok {
        t.sampled_ok += 1;
    } else {
        t.sampled_bad += 1;
    }
}
