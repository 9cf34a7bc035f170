//! Runs N frames through `pipeline::process` (after a copy into a buffer), so
//! that `perf stat -e instructions:u` or callgrind can count instructions per
//! packet independently of machine load:
//! `perf stat -e instructions:u target/release/examples/pipeline_icount 1000000`
//! minus the same with `0` gives the per-packet count.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use dataplane::buf::PacketBuf;
use dataplane::demo::{self, DemoOptions};
use dataplane::pipeline::{self, Context, PipeState, Side, Verdict};
use dataplane::state;
use dataplane::table::QsbrDomain;

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let size: usize = std::env::args()
        .nth(2)
        .and_then(|a| a.parse().ok())
        .unwrap_or(400);
    let o = DemoOptions {
        ues: 1000,
        seconds: 0.0,
        workers: 1,
        size,
    };
    let cfg = demo::config(&o);
    let domain = QsbrDomain::new(2);
    let (mut w, r) = state::tables(&domain, cfg.table_capacity);
    for b in &cfg.annex_n {
        w.bind(b.key, Arc::new(b.identity.clone()));
    }
    w.publish();
    let ctx = Context::new(&cfg, (cfg.access.mac, 1500), (cfg.core.mac, 1500));
    let pcscf = SocketAddr::new(IpAddr::V4(cfg.access.ipv4.unwrap_or(Ipv4Addr::LOCALHOST)), 5060);
    let frames: Vec<Vec<u8>> = (0..256usize)
        .map(|i| {
            let ue = SocketAddr::new(IpAddr::V4(Ipv4Addr::from(0x0a40_0000u32 | (i as u32 + 2))), 5060);
            let tel = format!("tel:+1555{i:07}");
            let ppi = (i % 2 == 0).then_some(tel.as_str());
            let msg = dataplane::testgen::message(ue, pcscf, ppi, i as u64, size);
            dataplane::testgen::udp_frame(cfg.access.gateway_mac, cfg.access.mac, ue, pcscf, &msg)
        })
        .collect();
    let mut reader = domain.register().expect("one reader");
    let mut st = PipeState::new(1);
    let mut buf = PacketBuf::new();
    let mut fwd = 0usize;
    for k in 0..n {
        buf.fill(&frames[k & 255]);
        let v = {
            let g = reader.guard();
            pipeline::process(&mut buf, Side::Access, &ctx, &r, &g, &mut st)
        };
        reader.quiescent();
        fwd += matches!(v, Verdict::Forward(Side::Core)) as usize;
    }
    println!("{fwd} of {n} forwarded");
}
