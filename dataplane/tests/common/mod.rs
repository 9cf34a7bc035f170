//! Steps the DPDK end-to-end tests share: put SIP MESSAGEs from a bound UE
//! on a queue as mbufs, run what comes back through the pipeline as a worker
//! does, and check what the pipeline forwarded. How frames come back (a ring
//! looping TX to RX, or a peer process) is each test's own.
#![cfg(feature = "dpdk")]
#![allow(dead_code)]

use std::net::{IpAddr, SocketAddr};

use dataplane::buf::Buf;
use dataplane::pipeline::{self, PipeState, Side, Verdict};
use dataplane::port::dpdk::{DpdkQueue, Mbuf};
use dataplane::port::PortQueue;
use dataplane::testgen::PipelineFixture;
use dataplane::wire;

/// Frames per test run.
pub const FRAMES: usize = 8;

/// The demo configuration with a few bound UEs; UE 0 prefers its tel URI.
pub fn fixture() -> PipelineFixture {
    PipelineFixture::new(8, 8, 600)
}

/// Send [`FRAMES`] 600-byte MESSAGEs from UE 0 (with a P-Preferred-Identity)
/// to the P-CSCF out of `q`.
pub fn send_messages(q: &mut DpdkQueue, fx: &PipelineFixture) {
    let cfg = &fx.cfg;
    let pcscf = SocketAddr::new(IpAddr::V4(cfg.access.ipv4.expect("demo has v4")), 5060);
    let ue = SocketAddr::new(IpAddr::V4(dataplane::demo::ue_addr(0)), 5060);
    let mut out = Vec::new();
    for call in 0..FRAMES as u64 {
        let msg = dataplane::testgen::message(ue, pcscf, Some("tel:+15550000000"), call, 600);
        let f = dataplane::testgen::udp_frame(cfg.access.gateway_mac, cfg.access.mac, ue, pcscf, &msg);
        let mut m = q.alloc().expect("mbuf");
        m.append(f.len()).expect("room");
        m.data_mut().copy_from_slice(&f);
        out.push(m);
    }
    assert_eq!(q.tx_burst(&mut out), FRAMES);
}

/// Run received frames through `pipeline::process` as a worker does; every
/// one must be forwarded to the core with an asserted identity.
pub fn forward_all(rx: &mut Vec<Mbuf>, fx: &PipelineFixture) -> Vec<Mbuf> {
    let mut reader = fx.domain.register().expect("reader");
    let mut st = PipeState::new(7);
    let mut fwd = Vec::new();
    for mut m in rx.drain(..) {
        let v = {
            let g = reader.guard();
            pipeline::process(&mut m, Side::Access, &fx.ctx, &fx.readers, &g, &mut st)
        };
        assert_eq!(v, Verdict::Forward(Side::Core));
        fwd.push(m);
    }
    reader.quiescent();
    assert_eq!(st.counters.asserted, FRAMES as u64);
    fwd
}

/// What the pipeline forwarded: to the next hop from our core address, valid
/// checksums, the asserted identity once, no P-Preferred-Identity, our Via.
pub fn check_forwarded(back: &[Mbuf], fx: &PipelineFixture) {
    let cfg = &fx.cfg;
    assert_eq!(back.len(), FRAMES);
    for m in back {
        let p = wire::parse_frame(m.data(), true).expect("forwarded frame parses with valid checksums");
        assert_eq!(p.dst_socket(), cfg.next_hop);
        assert_eq!(p.src, IpAddr::V4(cfg.core.ipv4.expect("v4")));
        let sip = String::from_utf8_lossy(p.payload(m.data()));
        assert_eq!(
            sip.matches("P-Asserted-Identity: <tel:+15550000000>").count(),
            1,
            "{sip}"
        );
        assert!(!sip.contains("P-Preferred-Identity"), "{sip}");
        assert!(
            sip.contains("Via: SIP/2.0/UDP 10.65.0.1:5060;branch=z9hG4bKpdp"),
            "{sip}"
        );
    }
}
