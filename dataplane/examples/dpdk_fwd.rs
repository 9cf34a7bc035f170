//! DPDK io-forward smoke benchmark: receive a burst on a port's queue and
//! send it back out, like `dpdk-testpmd --forward-mode=io`, through our
//! binding (`DpdkQueue`, owning `Mbuf`s). `bench/dpdk/smoke.sh` runs it next
//! to testpmd in the same run and prints the ratio.
//!
//! Usage: dpdk_fwd PROFILE.toml [DEVARGS] [SECONDS] [io|touch|pipeline|shimcost]
//! `touch` also reads and swaps the Ethernet addresses of every frame (the
//! least work a real pipeline does). `pipeline` writes a 400-byte SIP MESSAGE
//! from a bound UE into every received mbuf (a copy, as a NIC would have
//! written it) and runs it through the real plaintext path
//! (`pipeline::process`: parse, Annex N lookup, identity assertion, edit,
//! re-emit) before sending it. Prints `mpps=<rate>` on the last line.
//!
//! The loop runs on the EAL main lcore, the profile's `layout.control_core`
//! unless `FWD_CORE=N` says otherwise; `FWD_EAL_ARGS` adds EAL arguments. It
//! waits for the link to come up (a memif server's link is up once the peer
//! process connects), puts one burst in flight, and starts its 500 ms
//! warm-up at the first frame received.

#[cfg(not(feature = "dpdk"))]
fn main() {
    eprintln!("dpdk_fwd needs --features dpdk");
    std::process::exit(2);
}

#[cfg(feature = "dpdk")]
fn main() {
    use dataplane::buf::Buf;
    use dataplane::port::dpdk::{self, Eal};
    use dataplane::port::PortQueue;
    use std::time::{Duration, Instant};

    // The code onto 2 MiB pages, as `pcscf-dp run` does at start-up.
    eprintln!(
        "dpdk_fwd: {}",
        dataplane::hugetext::describe(&dataplane::hugetext::remap_once())
    );
    let args: Vec<String> = std::env::args().collect();
    let Some(path) = args.get(1) else {
        eprintln!(
            "usage: [FWD_CORE=N] dpdk_fwd PROFILE.toml [DEVARGS] [SECONDS] [io|touch|pipeline|shimcost]"
        );
        std::process::exit(2);
    };
    let mut profile = match dataplane::profile::check(path) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    // The forwarding loop runs on the EAL main lcore: FWD_CORE moves it off
    // the profile's control core (checked against the online CPUs first).
    if let Ok(c) = std::env::var("FWD_CORE") {
        let core = match c.parse::<u32>() {
            Ok(core) => core,
            Err(_) => {
                eprintln!("FWD_CORE: `{c}` is not a core number");
                std::process::exit(2);
            }
        };
        if let Some(online) = dataplane::profile::online_cpus() {
            let plan = dataplane::profile::CorePlan {
                workers: &[],
                workers_key: "",
                control: Some(core as usize),
                control_key: "FWD_CORE",
            };
            if let Err(e) = dataplane::profile::validate_cores(&plan, &online) {
                eprintln!("{e}");
                std::process::exit(2);
            }
        }
        profile.layout.control_core = core;
    }
    let devargs = args.get(2).filter(|s| !s.is_empty()).map(String::as_str);
    let secs: u64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(5);
    let touch = args.get(4).is_some_and(|m| m == "touch");
    let pipeline_mode = args.get(4).is_some_and(|m| m == "pipeline");
    // The plaintext path's state, as a worker has it (the demo's config).
    let fx = dataplane::testgen::PipelineFixture::new(1000, 64, 400);
    let (ctx, readers, templates) = (&fx.ctx, &fx.readers, &fx.frames);
    let mut qsbr = fx.domain.register().expect("one reader");
    let mut st = dataplane::pipeline::PipeState::new(1);
    let mut k = 0usize;
    let mut run = || -> Result<(u64, Duration), dpdk::DpdkError> {
        // FWD_EAL_ARGS: further EAL arguments, split on whitespace (e.g.
        // `-d DIR` where the PMDs are not in DPDK's default plugin path).
        let mut extra = vec!["--log-level=*:warning".to_owned()];
        if let Ok(e) = std::env::var("FWD_EAL_ARGS") {
            extra.extend(e.split_whitespace().map(str::to_owned));
        }
        let eal_args = dataplane::profile::eal_command_line(&[(&profile, devargs)], &extra);
        let eal = Eal::init(&eal_args)?;
        let (port, opened) = eal.open_port(&profile, devargs, 1)?;
        let mut q = opened
            .worker_queues
            .into_iter()
            .next()
            .expect("one worker queue was asked for");
        let _lcore = dpdk::register_worker_thread()?;
        if args.get(4).is_some_and(|m| m == "shimcost") {
            shim_cost(&mut q);
        }
        // A memif server's link comes up when the peer process connects;
        // wait for it (testpmd's link check does the same) so that the
        // first burst is not lost.
        let name = dataplane::profile::device_name(&profile.device_spec(devargs)).to_owned();
        let waited = Instant::now();
        while !eal.port_report(&name)?.link.0 {
            if waited.elapsed() > Duration::from_secs(30) {
                return Err(dpdk::DpdkError::Io(format!("{name}: link still down after 30 s")));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let mut v = Vec::with_capacity(64);
        // Like testpmd --tx-first: put one burst in flight (a loopback ring
        // has nothing to receive otherwise).
        for _ in 0..32 {
            if let Some(mut m) = q.alloc() {
                if m.append(64).is_ok() {
                    m.data_mut().fill(0);
                    v.push(m);
                }
            }
        }
        q.tx_burst(&mut v);
        v.clear();
        let mut n = 0u64;
        // Warm up for 500 ms from the first frame received, then measure.
        let waited = Instant::now();
        let mut warm: Option<Instant> = None;
        while warm.is_none_or(|w| w.elapsed() < Duration::from_millis(500)) {
            if q.rx_burst(&mut v, 32) > 0 && warm.is_none() {
                warm = Some(Instant::now());
            }
            q.tx_burst(&mut v);
            v.clear();
            if warm.is_none() && waited.elapsed() > Duration::from_secs(30) {
                return Err(dpdk::DpdkError::Io(format!("{name}: nothing received in 30 s")));
            }
        }
        let t = Instant::now();
        let end = Duration::from_secs(secs);
        'outer: loop {
            for _ in 0..1024 {
                let got = q.rx_burst(&mut v, 32);
                if pipeline_mode {
                    let g = qsbr.guard();
                    v.retain_mut(|m| {
                        let f = &templates[k & 63];
                        k += 1;
                        let len = m.len();
                        if m.trim(len).is_err() || m.append(f.len()).is_err() {
                            return false;
                        }
                        m.data_mut().copy_from_slice(f);
                        matches!(
                            dataplane::pipeline::process(
                                m,
                                dataplane::pipeline::Side::Access,
                                ctx,
                                readers,
                                &g,
                                &mut st
                            ),
                            dataplane::pipeline::Verdict::Forward(_)
                        )
                    });
                }
                if touch {
                    for m in v.iter_mut() {
                        let d = m.data_mut();
                        if d.len() >= 12 {
                            let (dst, src) = d.split_at_mut(6);
                            dst.swap_with_slice(&mut src[..6]);
                        }
                    }
                }
                q.tx_burst(&mut v);
                v.clear(); // frames the TX ring refused are freed here
                n += got as u64;
            }
            qsbr.quiescent();
            if t.elapsed() >= end {
                break 'outer;
            }
        }
        let el = t.elapsed();
        if pipeline_mode {
            eprintln!(
                "pipeline: asserted={} drops={}",
                st.counters.asserted,
                st.counters.total_drops()
            );
        }
        let st = port.stats()?;
        eprintln!(
            "port {}: ipackets={} opackets={} imissed={} rx_nombuf={} queue0 alloc_failures={}",
            st.port, st.ipackets, st.opackets, st.imissed, st.rx_nombuf, st.queues[0].alloc_failures
        );
        drop(q);
        drop(opened.control_queue);
        drop(_lcore);
        let rep = eal.shutdown(vec![port])?;
        eprintln!("shutdown: {rep:?}");
        Ok((n, el))
    };
    // Cost of one FFI call into the C shim against the same work inlined
    // from Rust (rte_pktmbuf_tailroom vs Mbuf::tailroom), and of
    // alloc+free through the shim (one call each).
    fn shim_cost(q: &mut dataplane::port::dpdk::DpdkQueue) {
        use dataplane::port::dpdk::shim_ref;
        use std::hint::black_box;
        let m = q.alloc().expect("mbuf");
        let n = 50_000_000u64;
        let t = Instant::now();
        let mut acc = 0usize;
        for _ in 0..n {
            acc = acc.wrapping_add(black_box(&m).tailroom());
        }
        let rust_ns = t.elapsed().as_nanos() as f64 / n as f64;
        let t = Instant::now();
        for _ in 0..n {
            acc = acc.wrapping_add(usize::from(shim_ref::tailroom(black_box(&m))));
        }
        let shim_ns = t.elapsed().as_nanos() as f64 / n as f64;
        let k = 5_000_000u64;
        let t = Instant::now();
        for _ in 0..k {
            drop(black_box(q.alloc()));
        }
        let af_ns = t.elapsed().as_nanos() as f64 / k as f64;
        black_box(acc);
        println!(
            "tailroom: rust_inline_ns={rust_ns:.2} shim_call_ns={shim_ns:.2} overhead_ns={:.2}; alloc+free_ns={af_ns:.2}",
            shim_ns - rust_ns
        );
    }

    match run() {
        Ok((n, el)) => {
            println!("forwarded={n} seconds={:.3}", el.as_secs_f64());
            println!("mpps={:.3}", n as f64 / el.as_secs_f64() / 1e6);
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
