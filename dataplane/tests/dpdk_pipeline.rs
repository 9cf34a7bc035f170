//! The plaintext path on DPDK mbufs over a net_ring virtual device (feature
//! `dpdk`; run by `.ci/dpdk-suite`): frames are received from the ring as
//! mbufs, run through the very same `pipeline::process` as every other port,
//! transmitted, and received back (net_ring loops TX to RX) to check what
//! left: identity asserted, headers rewritten, checksums valid.
#![cfg(feature = "dpdk")]

use std::net::{IpAddr, SocketAddr};
use std::path::Path;

use dataplane::buf::Buf;
use dataplane::pipeline::{self, PipeState, Side, Verdict};
use dataplane::port::dpdk::Eal;
use dataplane::port::PortQueue;
use dataplane::profile;
use dataplane::wire;

#[test]
fn plaintext_path_on_mbufs_over_net_ring() {
    let mut ring =
        profile::check(Path::new(env!("CARGO_MANIFEST_DIR")).join("../hw-profiles/vdev-ring.toml"))
            .unwrap_or_else(|e| panic!("{e}"));
    ring.queues.rx_desc = 128;
    ring.queues.tx_desc = 128;
    let args = profile::eal_command_line(&[(&ring, Some("net_ring7"))], &["--log-level=*:warning".into()]);
    let eal = Eal::init(&args).unwrap_or_else(|e| panic!("{e}"));
    let (_port, mut opened) = eal
        .open_port(&ring, Some("net_ring7"), 1)
        .unwrap_or_else(|e| panic!("{e}"));
    let q = &mut opened.worker_queues[0];

    let fx = dataplane::testgen::PipelineFixture::new(8, 8, 600);
    let (cfg, ctx, r) = (&fx.cfg, &fx.ctx, &fx.readers);
    let pcscf = SocketAddr::new(IpAddr::V4(cfg.access.ipv4.expect("demo has v4")), 5060);
    let mut reader = fx.domain.register().expect("reader");
    let mut st = PipeState::new(7);

    // UE i = 0 prefers its tel URI; the frames go onto the ring as mbufs.
    let mut out = Vec::new();
    for call in 0..8u64 {
        let ue = SocketAddr::new("10.64.0.2".parse().expect("ip"), 5060);
        let msg = dataplane::testgen::message(ue, pcscf, Some("tel:+15550000000"), call, 600);
        let f = dataplane::testgen::udp_frame(cfg.access.gateway_mac, cfg.access.mac, ue, pcscf, &msg);
        let mut m = q.alloc().expect("mbuf");
        m.append(f.len()).expect("room");
        m.data_mut().copy_from_slice(&f);
        out.push(m);
    }
    assert_eq!(q.tx_burst(&mut out), 8);
    let mut rx = Vec::new();
    while rx.len() < 8 {
        assert!(q.rx_burst(&mut rx, 32) > 0, "ring lost frames");
    }
    // Through the pipeline, as a worker does.
    let mut fwd = Vec::new();
    for mut m in rx.drain(..) {
        let v = {
            let g = reader.guard();
            pipeline::process(&mut m, Side::Access, ctx, r, &g, &mut st)
        };
        assert_eq!(v, Verdict::Forward(Side::Core));
        fwd.push(m);
    }
    reader.quiescent();
    assert_eq!(st.counters.asserted, 8);
    assert_eq!(q.tx_burst(&mut fwd), 8);
    let mut back = Vec::new();
    while back.len() < 8 {
        assert!(q.rx_burst(&mut back, 32) > 0, "ring lost forwarded frames");
    }
    for m in &back {
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
