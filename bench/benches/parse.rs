//! Wire-view benchmarks: `wire::parse_frame` on a 64-byte and an 800-byte
//! UDP SIP frame (IPv4, and IPv6 for the large one), with and without the
//! UDP checksum check; the checksum kernel alone; and the header (re)write
//! helpers the fast path uses after editing a SIP payload.
//!
//! Throughput is in frames (`parse_frame/*`, `rewrite/*`: ns per frame is
//! 1e3 / (Melem/s)) and in bytes for the checksum kernel.
//!
//! Run: `cargo bench -p bench --bench parse -- --warm-up-time 1 --measurement-time 3`.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use dataplane::wire::{self, checksum, HeadersRepr, MacAddr};

fn headers(v6: bool) -> HeadersRepr {
    let (src, dst) = if v6 {
        (
            IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2)),
            IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)),
        )
    } else {
        (
            IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)),
            IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
        )
    };
    HeadersRepr {
        eth_src: MacAddr([2, 0, 0, 0, 0, 2]),
        eth_dst: MacAddr([2, 0, 0, 0, 0, 1]),
        vlan: [None, None],
        src,
        dst,
        hop_limit: 64,
        src_port: 5060,
        dst_port: 5060,
    }
}

/// A valid UDP SIP frame of exactly `len` bytes.
fn frame(len: usize, v6: bool) -> Vec<u8> {
    let h = headers(v6);
    let hl = h.udp_header_len();
    let text =
        b"MESSAGE sip:bob@ims.example.com SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.2:5060;branch=z9hG4bK1\r\n";
    let mut f: Vec<u8> = (0..len).map(|i| text[i % text.len()]).collect();
    let n = h.emit_udp(&mut f, len - hl).expect("bench frame fits");
    assert_eq!(n, hl);
    wire::parse_frame(&f, true).expect("bench frame parses");
    f
}

fn bench_parse(c: &mut Criterion) {
    let mut g = c.benchmark_group("parse_frame");
    g.throughput(Throughput::Elements(1));
    for (name, len, v6) in [
        ("v4_64B", 64, false),
        ("v4_800B", 800, false),
        ("v6_800B", 800, true),
    ] {
        let f = frame(len, v6);
        g.bench_function(format!("{name}/verify"), |b| {
            b.iter(|| wire::parse_frame(black_box(&f), true).map(|p| p.payload_len))
        });
        g.bench_function(format!("{name}/no_verify"), |b| {
            b.iter(|| wire::parse_frame(black_box(&f), false).map(|p| p.payload_len))
        });
    }
    g.finish();

    let mut g = c.benchmark_group("parse_frame_bytes");
    for len in [64usize, 800] {
        let f = frame(len, false);
        g.throughput(Throughput::Bytes(len as u64));
        g.bench_function(format!("v4_{len}B/verify"), |b| {
            b.iter(|| wire::parse_frame(black_box(&f), true).map(|p| p.payload_len))
        });
    }
    g.finish();
}

fn bench_checksum(c: &mut Criterion) {
    let mut g = c.benchmark_group("checksum");
    for len in [20usize, 800, 1500] {
        let data: Vec<u8> = (0..len).map(|i| i as u8).collect();
        g.throughput(Throughput::Bytes(len as u64));
        g.bench_function(format!("data_{len}B"), |b| {
            b.iter(|| checksum::data(black_box(&data)))
        });
    }
    g.finish();
}

fn bench_rewrite(c: &mut Criterion) {
    let mut g = c.benchmark_group("rewrite");
    g.throughput(Throughput::Elements(1));
    let f = frame(800, false);
    let p = wire::parse_frame(&f, true).expect("parses");
    let mut out = headers(false);
    out.src = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
    out.dst = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 7));
    let mut buf = f.clone();
    let new_len = p.payload_len as usize - 10;
    g.bench_function("v4_800B/in_place", |b| {
        b.iter(|| wire::rewrite_udp_in_place(black_box(&mut buf), &p, black_box(&out), new_len))
    });
    let mut buf = f.clone();
    g.bench_function("v4_800B/emit_udp", |b| {
        b.iter(|| black_box(&out).emit_udp(black_box(&mut buf), new_len))
    });
    g.finish();
}

criterion_group!(benches, bench_parse, bench_checksum, bench_rewrite);
criterion_main!(benches);
