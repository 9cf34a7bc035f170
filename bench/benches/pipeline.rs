//! The plaintext path per core: one frame through `pipeline::process`
//! (classify, Annex N lookup, identity assertion, in-place edit, re-emit),
//! against the cost of just copying the frame into a buffer (what every
//! iteration also pays, measured in the same run).
//!
//! `cargo bench -p bench --bench pipeline`

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use dataplane::buf::{Buf, PacketBuf};
use dataplane::demo::{self, DemoOptions};
use dataplane::pipeline::{self, Context, PipeState, Side, Verdict};
use dataplane::state;
use dataplane::table::QsbrDomain;

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("pipeline");
    // PIPELINE_UES=1000 limits the run to one table size (for profiling).
    let sizes: Vec<usize> = match std::env::var("PIPELINE_UES").ok().and_then(|v| v.parse().ok()) {
        Some(n) => vec![n],
        None => vec![1_000, 1_000_000],
    };
    for ues in sizes {
        let o = DemoOptions {
            ues,
            seconds: 0.0,
            workers: 1,
            size: 400,
        };
        let cfg = demo::config(&o);
        let domain = QsbrDomain::new(2);
        let (mut w, r) = state::tables(&domain, cfg.table_capacity);
        for b in &cfg.annex_n {
            w.bind(b.key, Arc::new(b.identity.clone()));
        }
        w.publish();
        let ctx = Context::new(&cfg, (cfg.access.mac, 1500), (cfg.core.mac, 1500));
        let pcscf = SocketAddr::new(IpAddr::V4(cfg.access.ipv4.unwrap()), 5060);
        for size in [400usize, 800] {
            // 256 distinct UEs spread over the table, half with a P-Preferred-Identity.
            let frames: Vec<Vec<u8>> = (0..256)
                .map(|k| {
                    let i = k * (ues / 256);
                    let ue =
                        SocketAddr::new(IpAddr::V4(Ipv4Addr::from(0x0a40_0000u32 | (i as u32 + 2))), 5060);
                    let tel = format!("tel:+1555{i:07}");
                    let ppi = (k % 2 == 0).then_some(tel.as_str());
                    let msg = dataplane::testgen::message(ue, pcscf, ppi, i as u64, size);
                    dataplane::testgen::udp_frame(cfg.access.gateway_mac, cfg.access.mac, ue, pcscf, &msg)
                })
                .collect();
            let mut reader = domain.register().unwrap();
            let mut st = PipeState::new(1);
            let mut buf = PacketBuf::new();
            g.throughput(Throughput::Elements(1));
            let id = format!("{size}B/{ues}ues");
            g.bench_function(BenchmarkId::new("copy_only", &id), |b| {
                let mut k = 0;
                b.iter(|| {
                    buf.fill(&frames[k & 255]);
                    k += 1;
                    std::hint::black_box(buf.data()[20]);
                })
            });
            g.bench_function(BenchmarkId::new("copy_and_process", &id), |b| {
                let mut k = 0;
                b.iter(|| {
                    buf.fill(&frames[k & 255]);
                    k += 1;
                    let v = {
                        let guard = reader.guard();
                        pipeline::process(&mut buf, Side::Access, &ctx, &r, &guard, &mut st)
                    };
                    reader.quiescent();
                    assert!(matches!(v, Verdict::Forward(Side::Core)), "{v:?}");
                })
            });
        }
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).warm_up_time(std::time::Duration::from_secs(1))
        .measurement_time(std::time::Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
