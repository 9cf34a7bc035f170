//! Complete IMS AKA registrations per second through the registrar alone:
//! unprotected REGISTER, 401 (SA-set creation with key derivation),
//! protected REGISTER, 200 OK, with every output drained. Each iteration uses
//! a fresh IMPI and Call-ID; deregistration (REGISTER Expires 0 + 200) is
//! measured separately so the table stays bounded.
use control::registrar::{Arrival, Config, Event, Output, Pcscf, TableUpdate};
use control::time::Instant;
use control::types::Transport;
use core::time::Duration;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

const CK: &str = "0123456789abcdef0123456789abcdef";
const IK: &str = "fedcba9876543210fedcba9876543210";

fn register(n: u64, cseq: u32, extra: &str, resp: &str, exp: u32) -> Vec<u8> {
    format!(
        "REGISTER sip:ims.example SIP/2.0\r\nVia: SIP/2.0/UDP 10.1.0.5:5060;branch=z9hG4bK{n}.{cseq};rport\r\n\
         Max-Forwards: 70\r\nFrom: <sip:u{n}@ims.example>;tag=a\r\nTo: <sip:u{n}@ims.example>\r\n\
         Call-ID: c{n}\r\nCSeq: {cseq} REGISTER\r\nContact: <sip:10.1.0.5:5101>;expires={exp}\r\n\
         Authorization: Digest username=\"u{n}@ims.example\", realm=\"ims.example\", uri=\"sip:ims.example\", nonce=\"\", response=\"{resp}\"\r\n\
         Security-Client: ipsec-3gpp;alg=hmac-sha-1-96;ealg=aes-cbc;prot=esp;mod=trans;spi-c=1111;spi-s=2222;port-c=5100;port-s=5101\r\n\
         {extra}Require: sec-agree\r\nContent-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

fn resp(n: u64, cseq: u32, status: &str, extra: &str) -> Vec<u8> {
    format!(
        "SIP/2.0 {status}\r\nVia: SIP/2.0/UDP 10.1.0.5:5060;branch=z9hG4bK{n}.{cseq};rport\r\n\
         From: <sip:u{n}@ims.example>;tag=a\r\nTo: <sip:u{n}@ims.example>;tag=b\r\nCall-ID: c{n}\r\n\
         CSeq: {cseq} REGISTER\r\n{extra}Content-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

struct Msgs {
    r1: Vec<u8>,
    c401: Vec<u8>,
    ok: Vec<u8>,
    n: u64,
}

fn msgs(n: u64) -> Msgs {
    Msgs {
        r1: register(n, 1, "", "", 600000),
        c401: resp(
            n,
            1,
            "401 Unauthorized",
            &format!("WWW-Authenticate: Digest realm=\"ims.example\", nonce=\"abc\", algorithm=AKAv1-MD5, ck=\"{CK}\", ik=\"{IK}\"\r\n"),
        ),
        ok: resp(n, 2, "200 OK", "Contact: <sip:10.1.0.5:5101>;expires=600000\r\nP-Associated-URI: <sip:u@ims.example>\r\n"),
        n,
    }
}

/// One full registration; returns the installed set's inbound SPI.
fn one(p: &mut Pcscf, now: Instant, m: &Msgs, scratch: &mut Vec<u8>) -> u32 {
    let src = "10.1.0.5:5060".parse().unwrap();
    p.handle_event(
        now,
        Event::FromUe {
            arrival: Arrival::Unprotected {
                src,
                transport: Transport::Udp,
            },
            bytes: &m.r1,
        },
    );
    while p.poll_output().is_some() {}
    p.handle_event(now, Event::FromScscf { bytes: &m.c401 });
    let mut spi = 0;
    let mut server = String::new();
    while let Some(o) = p.poll_output() {
        match o {
            Output::Table(_, TableUpdate::InstallSaSet(d)) => spi = d.sas[0].spi,
            Output::Transmit(t) => {
                let s = String::from_utf8_lossy(&t.payload);
                if let Some(l) = s.lines().find_map(|l| l.strip_prefix("Security-Server: ")) {
                    server = l.to_string();
                }
            }
            _ => {}
        }
    }
    scratch.clear();
    scratch.extend_from_slice(&register(
        m.n,
        2,
        &format!("Security-Verify: {server}\r\n"),
        "deadbeef",
        600000,
    ));
    let src2 = "10.1.0.5:5100".parse().unwrap();
    p.handle_event(
        now,
        Event::FromUe {
            arrival: Arrival::Protected {
                spi,
                src: src2,
                transport: Transport::Udp,
            },
            bytes: scratch,
        },
    );
    while p.poll_output().is_some() {}
    p.handle_event(now, Event::FromScscf { bytes: &m.ok });
    while p.poll_output().is_some() {}
    spi
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("registration");
    g.throughput(Throughput::Elements(1));
    // Pre-built messages for many distinct users (the protected REGISTER is
    // built per iteration because it echoes the Security-Server).
    const USERS: u64 = 4096;
    let all: Vec<Msgs> = (0..USERS).map(msgs).collect();
    g.bench_function("ims_aka_full", |b| {
        let mut p = Pcscf::new(Config::default());
        let mut now = Instant::ZERO;
        let mut i = 0usize;
        let mut scratch = Vec::new();
        b.iter(|| {
            let m = &all[i % all.len()];
            i += 1;
            now = now + Duration::from_micros(10);
            // Re-registering the same user later is an initial
            // registration again: row 6 deletes its previous set, so the
            // table stays at USERS sets.
            criterion::black_box(one(&mut p, now, m, &mut scratch));
        });
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
