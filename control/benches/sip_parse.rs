//! Criterion benches for the SIP parser, identity assertion and the editor.
//! Run: `cargo bench -p control --bench sip_parse`.

use control::identity::{assert_identity_msg, rewrite_identity};
use control::sip::{self, Editor, Header, HeaderName, Status, Via};
use control::types::Identity;
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};

/// A MESSAGE of about 800 bytes (the vector of the unit tests).
const MESSAGE: &[u8] = b"MESSAGE sip:user2_public1@home2.net SIP/2.0\r\n\
Via: SIP/2.0/UDP [5555::aaa:bbb:ccc:ddd]:1357;comp=sigcomp;branch=z9hG4bKnashds7\r\n\
Max-Forwards: 70\r\n\
Route: <sip:pcscf1.visited1.net:7531;lr;comp=sigcomp>, <sip:orig@scscf1.home1.net;lr>\r\n\
P-Preferred-Identity: \"John Doe\" <sip:user1_public1@home1.net>\r\n\
P-Access-Network-Info: 3GPP-UTRAN-TDD; utran-cell-id-3gpp=234151D0FCE11\r\n\
From: <sip:user1_public1@home1.net>;tag=31415\r\n\
To: <sip:user2_public1@home2.net>\r\n\
Call-ID: b89rjhnedlrfjflslj40a222\r\n\
CSeq: 61 MESSAGE\r\n\
Accept-Contact: *;+g.3gpp.icsi-ref=\"urn%3Aurn-7%3A3gpp-service.ims.icsi.mmtel\"\r\n\
User-Agent: pcscf-dp test vector\r\n\
Content-Type: text/plain\r\n\
Content-Length: 150\r\n\
\r\n\
Watson, come here. I want to see you. This body pads the request to about eight hundred bytes, the size the benchmark measures; it is never parsed....";

fn parse(c: &mut Criterion) {
    assert!(MESSAGE.len() > 750);
    let mut g = c.benchmark_group("sip");
    g.throughput(Throughput::Bytes(MESSAGE.len() as u64));
    // Reference lower bound: only find the CRLFs of the header section.
    g.bench_function("line_scan_800B_reference", |b| {
        b.iter(|| {
            let buf = black_box(MESSAGE);
            let (mut pos, mut n) = (0, 0);
            while let Some(i) = memchr::memchr(b'\r', &buf[pos..]) {
                if i == 0 {
                    break;
                }
                pos += i + 2;
                n += 1;
            }
            n
        })
    });
    g.bench_function("parse_message_800B", |b| {
        b.iter(|| {
            let mut h = [Header::EMPTY; 32];
            match sip::parse(black_box(MESSAGE), &mut h) {
                Ok(Status::Complete(m)) => m.headers.len(),
                _ => 0,
            }
        })
    });
    g.bench_function("parse_message_800B_via", |b| {
        b.iter(|| {
            let mut h = [Header::EMPTY; 32];
            let Ok(Status::Complete(m)) = sip::parse(black_box(MESSAGE), &mut h) else {
                return 0;
            };
            m.header(HeaderName::Via)
                .and_then(|v| Via::parse(v.value).ok())
                .map_or(0, |v| v.host.len())
        })
    });
    let id = Identity::new(
        "user1_private@home1.net",
        &[
            "sip:user1_public2@home1.net",
            "tel:+1-212-555-1111",
            "sip:user1_public1@home1.net",
        ],
    );
    g.bench_function("parse_and_assert_identity_800B", |b| {
        b.iter(|| {
            let mut h = [Header::EMPTY; 32];
            let Ok(Status::Complete(m)) = sip::parse(black_box(MESSAGE), &mut h) else {
                return 0;
            };
            assert_identity_msg(&m, &id, 0).map_or(0, |i| i.uri().len())
        })
    });
    let mut ed = Editor::new();
    let mut out = Vec::with_capacity(2048);
    g.bench_function("parse_assert_rewrite_800B", |b| {
        b.iter(|| {
            let mut h = [Header::EMPTY; 32];
            let Ok(Status::Complete(m)) = sip::parse(black_box(MESSAGE), &mut h) else {
                return 0;
            };
            ed.clear();
            out.clear();
            let _ = rewrite_identity(&m, &id, 0, &mut ed);
            let _ = ed.apply(&m, &mut out);
            out.len()
        })
    });
    g.finish();
}

criterion_group!(benches, parse);
criterion_main!(benches);
