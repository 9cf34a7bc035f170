//! The plaintext path over `net_memif` between two processes (feature
//! `dpdk`; run by `.ci/dpdk-suite`, needs `dpdk-testpmd`): this test is the
//! memif server; a `dpdk-testpmd --forward-mode=io` process (its own
//! `--file-prefix`, `--no-huge --no-pci`) is the memif client and sends
//! every frame it receives straight back.
//!
//! SIP MESSAGEs from a bound UE go out as mbufs, come back through the other
//! process, run through the very same `pipeline::process` as every other
//! port, go out again and come back once more: what the peer returned must
//! carry the asserted identity, the rewritten headers and valid checksums.
#![cfg(feature = "dpdk")]

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use dataplane::buf::Buf;
use dataplane::port::dpdk::{DpdkQueue, Eal, Mbuf};
use dataplane::port::PortQueue;
use dataplane::profile;

/// The peer process, stopped (SIGINT, then reaped) when dropped.
struct Peer(Child);

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg("-INT")
            .arg(self.0.id().to_string())
            .status();
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(5) {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Receive until `n` frames are in `into`; `None` after 20 s without them
/// (a bound so that a broken peer fails the test instead of hanging it).
fn receive(q: &mut DpdkQueue, into: &mut Vec<Mbuf>, n: usize) -> Option<()> {
    let t = Instant::now();
    while into.len() < n {
        if q.rx_burst(into, 32) == 0 {
            if t.elapsed() > Duration::from_secs(20) {
                return None;
            }
            std::thread::yield_now();
        }
    }
    Some(())
}

#[test]
fn plaintext_path_over_memif_with_testpmd_peer() {
    let sock = std::env::temp_dir().join(format!("pcscf-memif-test-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&sock);
    let devargs = format!("net_memif0,role=server,socket={}", sock.display());
    let mut memif =
        profile::check(Path::new(env!("CARGO_MANIFEST_DIR")).join("../bench/dpdk/vdev-memif.toml"))
            .unwrap_or_else(|e| panic!("{e}"));
    memif.queues.rx_desc = 128;
    memif.queues.tx_desc = 128;
    let args = profile::eal_command_line(
        &[(&memif, Some(devargs.as_str()))],
        &["--log-level=*:warning".into()],
    );
    let eal = Eal::init(&args).unwrap_or_else(|e| panic!("{e}"));
    let (_port, mut opened) = eal
        .open_port(&memif, Some(&devargs), 1)
        .unwrap_or_else(|e| panic!("{e}"));
    // The other process: testpmd as the memif client, io-forwarding on the
    // last online CPU (ours is the EAL main lcore, core 0).
    let online = profile::online_cpus().expect("Linux reports its CPUs");
    let fwd_core = online.last().copied().unwrap_or(0);
    let lcores = if fwd_core == 0 {
        "0".to_owned()
    } else {
        format!("0,{fwd_core}")
    };
    let peer = Command::new("dpdk-testpmd")
        .args([
            "-l",
            &lcores,
            "--no-huge",
            "--no-pci",
            "-m",
            "256",
            "--log-level=*:warning",
        ])
        .arg(format!("--file-prefix=pcscf-memif-peer-{}", std::process::id()))
        .arg(format!("--vdev=net_memif0,role=client,socket={}", sock.display()))
        .args([
            "--",
            "--forward-mode=io",
            "--total-num-mbufs=4096",
            "--stats-period",
            "1",
            "--auto-start",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("dpdk-testpmd (apt-get install dpdk): {e}"));
    let _peer = Peer(peer);
    // The link is up once the client has connected.
    let t = Instant::now();
    while !eal
        .port_report("net_memif0")
        .unwrap_or_else(|e| panic!("{e}"))
        .link
        .0
    {
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "the testpmd memif client never connected"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // testpmd starts forwarding after its own link check; frames sent before
    // that are dropped by it, so send a probe until one comes back.
    let q = &mut opened.worker_queues[0];
    let t = Instant::now();
    loop {
        let mut probe = vec![q.alloc().expect("mbuf")];
        probe[0].append(60).expect("room");
        probe[0].data_mut().fill(0xee);
        q.tx_burst(&mut probe);
        std::thread::sleep(Duration::from_millis(50));
        let mut back = Vec::new();
        if q.rx_burst(&mut back, 32) > 0 {
            // Let the probes still in flight come back and drop them.
            let t = Instant::now();
            while t.elapsed() < Duration::from_millis(300) {
                back.clear();
                q.rx_burst(&mut back, 32);
            }
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "testpmd never returned a frame"
        );
    }

    let fx = common::fixture();
    common::send_messages(q, &fx);
    let mut rx = Vec::new();
    receive(q, &mut rx, common::FRAMES).expect("the peer returned all 8 frames");
    // Through the pipeline, as a worker does, and out again.
    let mut fwd = common::forward_all(&mut rx, &fx);
    assert_eq!(q.tx_burst(&mut fwd), common::FRAMES);
    let mut back = Vec::new();
    receive(q, &mut back, common::FRAMES).expect("the peer returned all 8 forwarded frames");
    common::check_forwarded(&back, &fx);
    let _ = std::fs::remove_file(&sock);
}
