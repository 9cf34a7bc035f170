//! The plaintext path per core: one frame through `pipeline::process`
//! (classify, Annex N lookup, identity assertion, in-place edit, re-emit),
//! against the cost of just copying the frame into a buffer (what every
//! iteration also pays, measured in the same run), and the same in bursts
//! of 32 with the burst's senders looked up at once (`burst32_…`), and those
//! bursts through a `mem` port's rings on one core (`burst32_mem_port`).
//!
//! `cargo bench -p bench --bench pipeline`

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use dataplane::buf::{Buf, PacketBuf};
use dataplane::pipeline::{self, Context, PipeState, Side, Verdict};
use dataplane::port::{mem, PortQueue};
use dataplane::state::TableReaders;
use dataplane::table::QsbrReader;
use dataplane::testgen::PipelineFixture;

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("pipeline");
    // PIPELINE_UES=1000 limits the run to one table size (for profiling).
    // (UEs bound, distinct senders in the traffic). 256 senders keep their
    // table entries and frames in cache; 65 536 senders over 1 M bindings
    // do not (26 MB of frames, one cold table entry per packet), closer to
    // a loaded P-CSCF.
    // The code on 2 MiB pages, as `pcscf-dp run` has it (BENCHMARKS.md:
    // on 4 KiB pages the time depends on where the page cache put them).
    eprintln!("{}", bench::code_on_huge_pages());
    let cases: Vec<(usize, usize)> = match std::env::var("PIPELINE_UES").ok().and_then(|v| v.parse().ok()) {
        Some(n) => vec![(n, 256)],
        None => vec![(1_000, 256), (1_000_000, 256), (1_000_000, 65_536)],
    };
    for (ues, senders) in cases {
        for size in [400usize, 800] {
            // Senders spread over the table, half with a P-Preferred-Identity.
            let f = PipelineFixture::new(ues, senders, size);
            let (frames, ctx, r) = (&f.frames, &f.ctx, &f.readers);
            // Sender counts are powers of two.
            let mask = frames.len() - 1;
            let mut reader = f.domain.register().unwrap();
            let mut st = PipeState::new(1);
            let mut buf = PacketBuf::new();
            g.throughput(Throughput::Elements(1));
            let id = format!("{size}B/{ues}ues/{senders}senders");
            g.bench_function(BenchmarkId::new("copy_only", &id), |b| {
                let mut k = 0;
                b.iter(|| {
                    buf.fill(&frames[k & mask]);
                    k += 1;
                    std::hint::black_box(buf.data()[20]);
                })
            });
            g.bench_function(BenchmarkId::new("copy_and_process", &id), |b| {
                let mut k = 0;
                b.iter(|| {
                    buf.fill(&frames[k & mask]);
                    k += 1;
                    let v = {
                        let guard = reader.guard();
                        pipeline::process(&mut buf, Side::Access, ctx, r, &guard, &mut st)
                    };
                    reader.quiescent();
                    assert!(matches!(v, Verdict::Forward(Side::Core)), "{v:?}");
                })
            });
            // As a worker runs it: a burst of 32 frames, the senders looked
            // up for the whole burst first (large tables only), one
            // guard and one quiescent report per burst. Time is per burst
            // of 32; throughput per frame.
            let mut bufs: Vec<PacketBuf> = (0..32).map(|_| PacketBuf::new()).collect();
            g.throughput(Throughput::Elements(32));
            g.bench_function(BenchmarkId::new("burst32_copy_and_process", &id), |b| {
                let mut k = 0;
                b.iter(|| {
                    for bf in bufs.iter_mut() {
                        bf.fill(&frames[k & mask]);
                        k += 1;
                    }
                    process_burst(&mut bufs, &mut reader, ctx, r, &mut st);
                })
            });
            // The same through a `mem` port, on one core: the peer offers a
            // burst of 32 frames (the copy in), the worker's queue receives
            // it, every frame is processed and the burst sent, and the peer
            // takes it back and recycles the buffers, as `pcscf-dp demo`
            // does across two cores. Time per burst; throughput per frame.
            let (mut port, mut peer) = mem::link("bench", [2, 0, 0, 0, 0, 1], 1, 64, 256);
            let (mut wq, pq) = (port.worker_queues.remove(0), &mut peer.queues[0]);
            let (mut offer, mut rx, mut back) = (
                Vec::with_capacity(32),
                Vec::with_capacity(32),
                Vec::with_capacity(32),
            );
            // The peer's burst: 32 buffers from its cache, each with a frame
            // copied in.
            let offer32 = |pq: &mut mem::MemPeerQueue, offer: &mut Vec<PacketBuf>, k: &mut usize| {
                for _ in 0..32 {
                    let mut bf = pq.alloc();
                    bf.fill(&frames[*k & mask]);
                    *k += 1;
                    offer.push(bf);
                }
            };
            // Its reference, the peer's own work (taking buffers from its
            // cache, the copy in, giving them back) without the rings and
            // the path: what a NIC does in the real thing.
            g.bench_function(BenchmarkId::new("burst32_mem_port_peer_only", &id), |b| {
                let mut k = 0;
                b.iter(|| {
                    offer32(pq, &mut offer, &mut k);
                    std::hint::black_box(offer[31].data()[20]);
                    for bf in offer.drain(..) {
                        pq.recycle(bf);
                    }
                })
            });
            g.bench_function(BenchmarkId::new("burst32_mem_port", &id), |b| {
                let mut k = 0;
                b.iter(|| {
                    offer32(pq, &mut offer, &mut k);
                    assert_eq!(pq.send_burst(&mut offer), 32);
                    assert_eq!(wq.rx_burst(&mut rx, 32), 32);
                    process_burst(&mut rx, &mut reader, ctx, r, &mut st);
                    assert_eq!(wq.tx_burst(&mut rx), 32);
                    assert_eq!(pq.recv_burst(&mut back, 32), 32);
                    for bf in back.drain(..) {
                        pq.recycle(bf);
                    }
                })
            });
        }
    }
    g.finish();
}

/// One burst as a worker runs it: one guard, the burst's senders looked
/// up at once, every frame processed (each must go on to the core), one
/// quiescent report.
#[inline(always)]
fn process_burst(
    bufs: &mut [PacketBuf],
    reader: &mut QsbrReader,
    ctx: &Context,
    r: &TableReaders,
    st: &mut PipeState,
) {
    {
        let guard = reader.guard();
        let mut found = pipeline::BurstLookups::none();
        pipeline::lookup_burst(bufs, Side::Access, r, &guard, &mut found);
        for (i, bf) in bufs.iter_mut().enumerate() {
            let v = pipeline::process_with(bf, Side::Access, ctx, r, &guard, st, found.frame(i));
            assert!(matches!(v, Verdict::Forward(Side::Core)), "{v:?}");
        }
    }
    reader.quiescent();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).warm_up_time(std::time::Duration::from_secs(1))
        .measurement_time(std::time::Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
