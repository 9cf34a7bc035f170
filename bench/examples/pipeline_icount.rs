//! Runs N frames through `pipeline::process` (after a copy into a buffer), so
//! that `perf stat -e instructions:u` or callgrind can count instructions per
//! packet independently of machine load:
//! `valgrind --tool=callgrind target/release/examples/pipeline_icount N SIZE`
//! for two values of N; the difference per packet is the figure.

use dataplane::buf::{Buf, PacketBuf};
use dataplane::pipeline::{self, PipeState, Side, Verdict};
use dataplane::testgen::PipelineFixture;

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let size: usize = std::env::args()
        .nth(2)
        .and_then(|a| a.parse().ok())
        .unwrap_or(400);
    // A third argument measures one stage alone: `scan` (the SIP scanner on
    // the UDP payload) or `parse` (the L2-L4 parse with checksum verify), or
    // `burst`: the whole path in bursts of 32 with the senders looked up per burst,
    // or `copy`: only what the harness adds around `process` (the frame
    // copied into the buffer, the guard and the quiescent report), the
    // reference to subtract for the path alone.
    let stage = std::env::args().nth(3).unwrap_or_default();
    // The code goes onto 2 MiB pages as in `pcscf-dp run` (PCSCF_HUGE_TEXT=0
    // keeps it on the page cache's 4 KiB pages, whose placement changes the
    // time per packet by up to a fifth on this VM: BENCHMARKS.md).
    eprintln!("{}", bench::code_on_huge_pages());
    // PIPELINE_UES and PIPELINE_SENDERS (a power of two) as in the
    // criterion bench: 1 000 and 256 by default (warm tables); 1 000 000
    // and 65 536 for cold table entries and identities.
    let env = |k: &str, d: usize| std::env::var(k).ok().and_then(|v| v.parse().ok()).unwrap_or(d);
    let (ues, senders) = (env("PIPELINE_UES", 1000), env("PIPELINE_SENDERS", 256));
    let f = PipelineFixture::new(ues, senders, size);
    let mask = senders - 1;
    if stage == "burst" {
        // As a worker runs: bursts of 32, the senders looked up per burst.
        let mut bufs: Vec<PacketBuf> = (0..32).map(|_| PacketBuf::new()).collect();
        let mut reader = f.domain.register().expect("one reader");
        let mut st = PipeState::new(1);
        let mut fwd = 0usize;
        for k in (0..n).step_by(32) {
            for (j, b) in bufs.iter_mut().enumerate() {
                b.fill(&f.frames[(k + j) & mask]);
            }
            {
                let g = reader.guard();
                let mut found = pipeline::BurstLookups::none();
                pipeline::lookup_burst(&bufs, Side::Access, &f.readers, &g, &mut found);
                for (i, b) in bufs.iter_mut().enumerate() {
                    let v = pipeline::process_with(
                        b,
                        Side::Access,
                        &f.ctx,
                        &f.readers,
                        &g,
                        &mut st,
                        found.frame(i),
                    );
                    fwd += matches!(v, Verdict::Forward(Side::Core)) as usize;
                }
            }
            reader.quiescent();
        }
        println!("{fwd} forwarded in bursts");
        return;
    }
    if !stage.is_empty() && stage != "copy" {
        let mut ok = 0usize;
        for k in 0..n {
            let fr = &f.frames[k & mask];
            let Ok(p) = dataplane::wire::parse_frame(std::hint::black_box(fr), stage == "parse") else {
                continue;
            };
            if stage == "scan" {
                ok += dataplane::sipfast::scan(p.payload(fr)).is_ok() as usize;
            } else {
                ok += 1;
            }
        }
        println!("{ok} of {n} {stage} ok");
        return;
    }
    let mut reader = f.domain.register().expect("one reader");
    let mut st = PipeState::new(1);
    let mut buf = PacketBuf::new();
    let mut fwd = 0usize;
    if stage == "copy" {
        let mut sum = 0usize;
        for k in 0..n {
            buf.fill(&f.frames[k & mask]);
            {
                let _g = reader.guard();
                sum += usize::from(std::hint::black_box(buf.data())[0]);
            }
            reader.quiescent();
        }
        println!("{sum} copied");
        return;
    }
    for k in 0..n {
        buf.fill(&f.frames[k & mask]);
        let v = {
            let g = reader.guard();
            pipeline::process(&mut buf, Side::Access, &f.ctx, &f.readers, &g, &mut st)
        };
        reader.quiescent();
        fwd += matches!(v, Verdict::Forward(Side::Core)) as usize;
    }
    println!("{fwd} of {n} forwarded");
}
