//! DPDK port tests on virtual devices (feature `dpdk`; run by
//! `.ci/dpdk-suite`): `--no-huge --no-pci`, net_ring and net_null, one EAL
//! for the whole test binary (the EAL can be initialised once per process).
#![cfg(feature = "dpdk")]

use dataplane::buf::{Buf, BufError};
use dataplane::port::dpdk::{self, shim_ref, DpdkError, Eal};
use dataplane::port::PortQueue;
use dataplane::profile::{self, Profile};
use std::path::Path;
use std::sync::OnceLock;

fn profile(name: &str) -> Profile {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../hw-profiles")
        .join(format!("{name}.toml"));
    let mut p = profile::check(&p).unwrap_or_else(|e| panic!("{e}"));
    // Several ports share the socket's one pool in this process: keep each
    // port's share small so that all the tests' ports fit.
    if p.device.kind == profile::DeviceKind::Vdev {
        p.queues.rx_desc = 128;
        p.queues.tx_desc = 128;
        p.mbuf.cache = 32;
    }
    p
}

/// Devices: net_ring0..3 (one per test that opens a ring port), net_null0/1.
fn eal() -> &'static Eal {
    static EAL: OnceLock<Eal> = OnceLock::new();
    EAL.get_or_init(|| {
        let ring = profile("vdev-ring");
        let null = profile("vdev-null");
        let devs = ["net_ring1", "net_ring2", "net_ring3"];
        let mut ports: Vec<(&Profile, Option<&str>)> = vec![(&ring, None), (&null, None)];
        for d in devs {
            ports.push((&ring, Some(d)));
        }
        ports.push((&null, Some("net_null1,size=64,copy=0")));
        let args = profile::eal_command_line(&ports, &["--log-level=*:warning".into()]);
        Eal::init(&args).unwrap_or_else(|e| panic!("{e}"))
    })
}

fn err<T>(r: Result<T, DpdkError>) -> DpdkError {
    match r {
        Ok(_) => panic!("expected an error"),
        Err(e) => e,
    }
}

fn frame(i: u8, len: usize) -> Vec<u8> {
    (0..len).map(|k| (k as u8).wrapping_add(i)).collect()
}

#[test]
fn ring_loopback_rx_tx() {
    let eal = eal();
    let p = profile("vdev-ring");
    let (port, mut opened) = eal.open_port(&p, None, 1).unwrap();
    assert_eq!(opened.worker_queues.len(), 1);
    assert_eq!(opened.info.name, "net_ring0");
    let q = &mut opened.worker_queues[0];
    assert!(!q.tx_csum_offload());
    // Build 40 frames (more than a burst), send, receive them back.
    let mut out = Vec::new();
    for i in 0..40u8 {
        let mut m = q.alloc().expect("mbuf");
        assert_eq!(m.len(), 0);
        assert_eq!(m.headroom(), 128);
        m.append(60 + usize::from(i)).unwrap();
        m.data_mut().copy_from_slice(&frame(i, 60 + usize::from(i)));
        out.push(m);
    }
    let sent = q.tx_burst(&mut out);
    assert_eq!(sent, 40);
    assert!(out.is_empty());
    let mut got = Vec::new();
    while got.len() < 40 {
        let n = q.rx_burst(&mut got, 32);
        assert!(n > 0, "ring lost frames: {} of 40", got.len());
    }
    for (i, m) in got.iter().enumerate() {
        assert_eq!(m.data(), &frame(i as u8, 60 + i)[..]);
    }
    drop(got);
    let st = port.stats().unwrap();
    assert_eq!(st.queues.len(), 2, "one worker queue + the control TX queue");
    assert_eq!(st.queues[0].tx, 40);
    assert_eq!(st.queues[0].rx, 40);
    assert_eq!(st.opackets, 40);
    assert_eq!(st.ipackets, 40);
    // The control queue sends but never receives.
    let mut c = vec![opened.control_queue.alloc().unwrap()];
    c[0].append(64).unwrap();
    assert_eq!(opened.control_queue.tx_burst(&mut c), 1);
    let mut none = Vec::new();
    assert_eq!(opened.control_queue.rx_burst(&mut none, 32), 0);
}

#[test]
fn mbuf_ops_match_dpdk() {
    let eal = eal();
    let p = profile("vdev-ring");
    let (_port, mut opened) = eal.open_port(&p, Some("net_ring1"), 1).unwrap();
    let q = &mut opened.worker_queues[0];
    let mut a = q.alloc().unwrap();
    let mut b = q.alloc().unwrap();
    a.append(100).unwrap();
    assert!(shim_ref::append(&mut b, 100));
    for (ours, theirs) in [(40usize, 40u16), (0, 0)] {
        a.prepend(ours).unwrap();
        assert!(shim_ref::prepend(&mut b, theirs));
    }
    a.adj(10).unwrap();
    assert!(shim_ref::adj(&mut b, 10));
    a.trim(7).unwrap();
    assert!(shim_ref::trim(&mut b, 7));
    assert_eq!(a.len(), usize::from(shim_ref::data_len(&b)));
    assert_eq!(a.headroom(), usize::from(shim_ref::headroom(&b)));
    assert_eq!(a.tailroom(), usize::from(shim_ref::tailroom(&b)));
    assert_eq!(a.headroom(), usize::from(shim_ref::headroom(&a)));
    assert_eq!(a.tailroom(), usize::from(shim_ref::tailroom(&a)));
    assert_eq!(a.data().as_ptr() as usize, shim_ref::mtod(&a));
    // Limits are errors, as DPDK's are NULL.
    let room = a.headroom();
    assert_eq!(a.prepend(room + 1), Err(BufError::NoHeadroom));
    assert!(!shim_ref::prepend(&mut b, room as u16 + 1));
    let tail = a.tailroom();
    assert_eq!(a.append(tail + 1), Err(BufError::NoTailroom));
    assert!(!shim_ref::append(&mut b, tail as u16 + 1));
    assert_eq!(a.adj(a.len() + 1), Err(BufError::TooShort));
    assert_eq!(a.trim(a.len() + 1), Err(BufError::TooShort));
    // insert/remove from the Buf trait work on mbufs too.
    let n = a.len();
    a.data_mut().fill(7);
    a.insert_front(14, 8).unwrap();
    assert_eq!(a.len(), n + 8);
    a.remove(14, 8).unwrap();
    assert_eq!(a.len(), n);
}

#[test]
fn null_rx_and_alloc_failure_survives() {
    let eal = eal();
    let p = profile("vdev-null");
    let (port, mut opened) = eal.open_port(&p, None, 1).unwrap();
    let q = &mut opened.worker_queues[0];
    let mut v = Vec::new();
    assert_eq!(q.rx_burst(&mut v, 32), 32);
    assert!(v.iter().all(|m| m.len() == 64));
    assert_eq!(q.tx_burst(&mut v), 32);
    // Exhaust the pool: alloc fails, is counted, and the queue keeps working.
    let mut held = Vec::new();
    let mut failed = 0;
    for _ in 0..20_000 {
        match q.alloc() {
            Some(m) => held.push(m),
            None => {
                failed += 1;
                if failed == 3 {
                    break;
                }
            }
        }
    }
    assert_eq!(failed, 3, "pool of {} never ran dry", p.mbuf.count);
    let st = port.stats().unwrap();
    assert_eq!(st.queues[0].alloc_failures, 3);
    drop(held);
    assert!(q.alloc().is_some(), "alloc works again once mbufs are freed");
    let mut v = Vec::new();
    assert!(q.rx_burst(&mut v, 32) > 0);
}

#[test]
fn worker_threads_register_as_lcores() {
    let _ = eal();
    let t = std::thread::spawn(|| {
        assert_eq!(dpdk::current_lcore(), None);
        let r = dpdk::register_worker_thread().unwrap();
        assert_eq!(dpdk::current_lcore(), Some(r.lcore()));
        assert_ne!(r.lcore(), 0, "lcore 0 is the main lcore");
        r.lcore()
    });
    let l = t.join().unwrap();
    assert!(l < 128);
}

#[test]
fn bad_input_is_a_clear_error() {
    let eal = eal();
    let ring = profile("vdev-ring");
    // A port the EAL cannot find.
    let e = err(eal.open_port(&ring, Some("net_ring9"), 1));
    assert!(matches!(e, DpdkError::PortNotFound { .. }), "{e}");
    assert!(e.to_string().contains("net_ring9"), "{e}");
    // More workers than queues: the ring PMD has 16 TX queues, we need 17.
    let mut many = ring.clone();
    many.queues.max = 16;
    let e = err(eal.open_port(&many, Some("net_ring2"), 16));
    assert!(matches!(e, DpdkError::TooManyWorkers { workers: 16, .. }), "{e}");
    // A profile the NIC contradicts: wrong driver, ESP RSS, TX checksum.
    let mut wrong = ring.clone();
    wrong.device.pmd = "net_ice".into();
    let e = err(eal.open_port(&wrong, Some("net_ring2"), 1));
    assert!(
        matches!(e, DpdkError::Contradiction { .. }) && e.to_string().contains("driver"),
        "{e}"
    );
    let mut esp = ring.clone();
    esp.rss.hash = vec![profile::RssField::Esp];
    let e = err(eal.open_port(&esp, Some("net_ring2"), 1));
    assert!(e.to_string().contains("rss hash"), "{e}");
    let mut csum = ring.clone();
    csum.offloads.tx_checksum = vec![profile::Csum::Udp];
    let e = err(eal.open_port(&csum, Some("net_ring2"), 1));
    assert!(e.to_string().contains("tx checksum"), "{e}");
    // Too few mbufs for the queues (validation skipped by editing in place).
    let mut few = ring.clone();
    few.mbuf.count = 100_000;
    few.mbuf.data_room = 2304; // its own pool
    few.queues.rx_desc = 8192;
    few.queues.tx_desc = 8192;
    let mut small = few.clone();
    small.mbuf.count = 1023;
    small.mbuf.cache = 32;
    let e = err(eal.open_port(&small, Some("net_ring2"), 1));
    assert!(matches!(e, DpdkError::TooFewMbufs { .. }), "{e}");
    // And the port still opens with a sane profile.
    assert!(eal.open_port(&ring, Some("net_ring2"), 2).is_ok());
}

#[test]
fn report_compares_profile_and_nic() {
    let eal = eal();
    let r = eal.port_report("net_ring3").unwrap();
    assert_eq!(r.driver, "net_ring");
    assert!(r.max_rx_queues >= 1);
    let rows = r.compare(&profile("vdev-ring"), 1);
    assert!(rows.iter().all(|r| r.ok), "{rows:?}");
    let rows = r.compare(&profile("e810"), 8);
    let bad: Vec<_> = rows.iter().filter(|r| !r.ok).map(|r| r.what).collect();
    assert!(bad.contains(&"driver") && bad.contains(&"rss hash"), "{bad:?}");
}
