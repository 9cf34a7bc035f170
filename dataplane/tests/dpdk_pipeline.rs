//! The plaintext path on DPDK mbufs over a net_ring virtual device (feature
//! `dpdk`; run by `.ci/dpdk-suite`): frames are received from the ring as
//! mbufs, run through the very same `pipeline::process` as every other port,
//! transmitted, and received back (net_ring loops TX to RX) to check what
//! left: identity asserted, headers rewritten, checksums valid.
#![cfg(feature = "dpdk")]

mod common;

use std::path::Path;

use dataplane::port::dpdk::Eal;
use dataplane::port::PortQueue;
use dataplane::profile;

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

    // UE 0's MESSAGEs go onto the ring as mbufs and come straight back.
    let fx = common::fixture();
    common::send_messages(q, &fx);
    let mut rx = Vec::new();
    while rx.len() < common::FRAMES {
        assert!(q.rx_burst(&mut rx, 32) > 0, "ring lost frames");
    }
    // Through the pipeline, as a worker does, and out again.
    let mut fwd = common::forward_all(&mut rx, &fx);
    assert_eq!(q.tx_burst(&mut fwd), common::FRAMES);
    let mut back = Vec::new();
    while back.len() < common::FRAMES {
        assert!(q.rx_burst(&mut back, 32) > 0, "ring lost forwarded frames");
    }
    common::check_forwarded(&back, &fx);
}
