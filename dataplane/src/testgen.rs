//! Frame and message builders for the demo, the benches and the tests.
//!
//! Never used on the packet path: it allocates freely.

use std::net::SocketAddr;

use crate::wire::{HeadersRepr, MacAddr};

/// An Ethernet/IP/UDP frame carrying `payload`, with correct checksums.
pub fn udp_frame(
    src_mac: [u8; 6],
    dst_mac: [u8; 6],
    src: SocketAddr,
    dst: SocketAddr,
    payload: &[u8],
) -> Vec<u8> {
    let h = HeadersRepr {
        eth_src: MacAddr(src_mac),
        eth_dst: MacAddr(dst_mac),
        vlan: [None, None],
        src: src.ip(),
        dst: dst.ip(),
        hop_limit: 64,
        src_port: src.port(),
        dst_port: dst.port(),
    };
    let hl = h.udp_header_len();
    let mut f = vec![0u8; hl + payload.len()];
    f[hl..].copy_from_slice(payload);
    // The addresses come from the caller's own test set-up; a family mix is
    // a bug in the caller.
    if h.emit_udp(&mut f, payload.len()).is_err() {
        f.clear();
    }
    f
}

/// A MESSAGE from `from` (a UE address) to the P-CSCF at `pcscf`, optionally
/// with a P-Preferred-Identity, padded with a body so the whole SIP message is
/// about `size` bytes.
pub fn message(from: SocketAddr, pcscf: SocketAddr, ppi: Option<&str>, call: u64, size: usize) -> Vec<u8> {
    let host = |a: SocketAddr| match a {
        SocketAddr::V4(v) => v.to_string(),
        SocketAddr::V6(v) => format!("[{}]:{}", v.ip(), v.port()),
    };
    let mut head = format!(
        "MESSAGE sip:bob@ims.example SIP/2.0\r\n\
Via: SIP/2.0/UDP {};branch=z9hG4bK{call:016x}\r\n\
Max-Forwards: 70\r\n\
From: <sip:ue@ims.example>;tag={call:x}\r\n\
To: <sip:bob@ims.example>\r\n\
Call-ID: {call:x}@demo\r\n\
CSeq: 1 MESSAGE\r\n",
        host(from),
    );
    let _ = pcscf;
    if let Some(p) = ppi {
        head.push_str(&format!("P-Preferred-Identity: <{p}>\r\n"));
    }
    head.push_str("Content-Type: text/plain\r\n");
    let base = head.len() + "Content-Length: 0000\r\n\r\n".len();
    let body_len = size.saturating_sub(base);
    head.push_str(&format!("Content-Length: {body_len}\r\n\r\n"));
    let mut v = head.into_bytes();
    v.extend(std::iter::repeat_n(b'x', body_len));
    v
}

/// Everything a worker needs to run the plaintext path on the demo's
/// configuration, outside the threads: context, tables with `ues` bound UEs,
/// and `frames.len()` template frames (UE i sends; even UEs carry a
/// P-Preferred-Identity with their tel URI). Used by the benches, the
/// instruction counter and the DPDK tests.
pub struct PipelineFixture {
    /// The demo's configuration.
    pub cfg: crate::config::Config,
    /// The pipeline context.
    pub ctx: crate::pipeline::Context,
    /// The QSBR domain the tables live in (room for one more reader).
    pub domain: crate::table::QsbrDomain,
    /// Table writers (kept alive for the readers).
    pub writers: crate::state::TableWriters,
    /// Table readers.
    pub readers: crate::state::TableReaders,
    /// Template frames from bound UEs to the P-CSCF.
    pub frames: Vec<Vec<u8>>,
}

impl PipelineFixture {
    /// `ues` bound UEs, `templates` frames spread over them, each carrying a
    /// SIP MESSAGE of about `size` bytes.
    pub fn new(ues: usize, templates: usize, size: usize) -> Self {
        Self::with_readers(ues, templates, size, 1)
    }

    /// As [`PipelineFixture::new`], with room for `readers` QSBR readers
    /// (one per worker thread) besides the writer's.
    pub fn with_readers(ues: usize, templates: usize, size: usize, readers: usize) -> Self {
        use std::net::{IpAddr, Ipv4Addr};
        let o = crate::demo::DemoOptions {
            ues,
            seconds: 0.0,
            workers: 1,
            size,
        };
        let cfg = crate::demo::config(&o);
        let domain = crate::table::QsbrDomain::new(readers + 1);
        let (mut writers, readers) = crate::state::tables(&domain, cfg.table_capacity);
        for b in &cfg.annex_n {
            writers.bind(b.key, std::sync::Arc::new(b.identity.clone()));
        }
        writers.publish();
        let ctx = crate::pipeline::Context::new(&cfg, (cfg.access.mac, 1500), (cfg.core.mac, 1500));
        let pcscf = SocketAddr::new(IpAddr::V4(cfg.access.ipv4.unwrap_or(Ipv4Addr::UNSPECIFIED)), 5060);
        let step = (ues / templates.max(1)).max(1);
        let frames = (0..templates)
            .map(|k| {
                let i = (k * step) % ues.max(1);
                let ue = SocketAddr::new(IpAddr::V4(crate::demo::ue_addr(i)), 5060);
                let tel = format!("tel:+1555{i:07}");
                let ppi = (k % 2 == 0).then_some(tel.as_str());
                let msg = message(ue, pcscf, ppi, i as u64, size);
                udp_frame(cfg.access.gateway_mac, cfg.access.mac, ue, pcscf, &msg)
            })
            .collect();
        PipelineFixture {
            cfg,
            ctx,
            domain,
            writers,
            readers,
            frames,
        }
    }
}
