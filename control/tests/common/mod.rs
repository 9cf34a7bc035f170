//! Test harness: a registrar on virtual time plus message builders.
#![allow(dead_code)]

use control::registrar::{
    Arrival, Config, Destination, Event, Output, Pcscf, SaSetDesc, SaSetId, TableUpdate, Transmit,
};
use control::time::Instant;
use control::types::Transport;
use core::net::SocketAddr;
use core::time::Duration;
use std::sync::Arc;

pub const CK: &str = "0123456789abcdef0123456789abcdef";
pub const IK: &str = "fedcba9876543210fedcba9876543210";

pub struct H {
    pub p: Pcscf,
    pub now: Instant,
    pub out: Vec<Output>,
}

impl H {
    pub fn new(cfg: Config) -> Self {
        H {
            p: Pcscf::new(cfg),
            now: Instant::ZERO + Duration::from_secs(1),
            out: Vec::new(),
        }
    }

    pub fn drain(&mut self) -> Vec<Output> {
        let mut v = Vec::new();
        while let Some(o) = self.p.poll_output() {
            v.push(o);
        }
        self.out.extend(v.iter().cloned());
        v
    }

    pub fn ue(&mut self, arrival: Arrival, bytes: &[u8]) -> Vec<Output> {
        self.p.handle_event(self.now, Event::FromUe { arrival, bytes });
        self.drain()
    }

    pub fn scscf(&mut self, bytes: &[u8]) -> Vec<Output> {
        self.p.handle_event(self.now, Event::FromScscf { bytes });
        self.drain()
    }

    /// Advance virtual time, firing every deadline on the way (bounded).
    pub fn advance(&mut self, d: Duration) -> Vec<Output> {
        let end = self.now + d;
        let mut all = Vec::new();
        for _ in 0..10_000 {
            match self.p.poll_timeout() {
                Some(t) if t <= end => {
                    self.now = self.now.max(t);
                    self.p.handle_timeout(self.now);
                    all.extend(self.drain());
                }
                _ => break,
            }
        }
        self.now = end;
        self.p.handle_timeout(self.now);
        all.extend(self.drain());
        all
    }
}

pub fn transmits(o: &[Output]) -> Vec<Transmit> {
    o.iter()
        .filter_map(|o| match o {
            Output::Transmit(t) => Some(t.clone()),
            _ => None,
        })
        .collect()
}

pub fn updates(o: &[Output]) -> Vec<TableUpdate> {
    o.iter()
        .filter_map(|o| match o {
            Output::Table(_, u) => Some(u.clone()),
            _ => None,
        })
        .collect()
}

pub fn installed(o: &[Output]) -> Vec<Arc<SaSetDesc>> {
    updates(o)
        .into_iter()
        .filter_map(|u| match u {
            TableUpdate::InstallSaSet(d) => Some(d),
            _ => None,
        })
        .collect()
}

pub fn text(t: &Transmit) -> String {
    String::from_utf8_lossy(&t.payload).into_owned()
}

pub fn status(t: &Transmit) -> u16 {
    text(t).get(8..11).and_then(|s| s.parse().ok()).unwrap_or(0)
}

/// A UE with its sec-agree parameters.
#[derive(Clone)]
pub struct Ue {
    pub ip: &'static str,
    pub port: u16,
    pub impi: String,
    pub impu: String,
    pub spi_c: u32,
    pub spi_s: u32,
    pub port_c: u16,
    pub port_s: u16,
    pub call_id: String,
    pub cseq: u32,
    pub algs: &'static str,
}

impl Ue {
    pub fn new(n: u32) -> Self {
        Ue {
            ip: "10.1.0.5",
            port: 5060,
            impi: format!("user{n}@ims.example"),
            impu: format!("sip:user{n}@ims.example"),
            spi_c: 1000 + n * 4,
            spi_s: 1001 + n * 4,
            port_c: 5100,
            port_s: 5101,
            call_id: format!("call-{n}"),
            cseq: 1,
            algs: "alg=hmac-sha-1-96;ealg=aes-cbc",
        }
    }

    pub fn src(&self) -> SocketAddr {
        format!("{}:{}", self.ip, self.port).parse().unwrap()
    }

    pub fn unprotected(&self) -> Arrival {
        Arrival::Unprotected {
            src: self.src(),
            transport: Transport::Udp,
        }
    }

    /// Arrival over SA1 of `d` (UE port-uc → P port-ps, spi-ps).
    pub fn on(&self, d: &SaSetDesc) -> Arrival {
        Arrival::Protected {
            spi: d.sas[0].spi,
            src: d.sas[0].src,
            transport: Transport::Udp,
        }
    }

    pub fn security_client(&self) -> String {
        format!(
            "Security-Client: ipsec-3gpp;{};prot=esp;mod=trans;spi-c={};spi-s={};port-c={};port-s={}\r\n",
            self.algs, self.spi_c, self.spi_s, self.port_c, self.port_s
        )
    }

    /// A REGISTER with the given extra headers and response param.
    pub fn register(&self, extra: &str, response: &str, expires: u32) -> Vec<u8> {
        format!(
            "REGISTER sip:ims.example SIP/2.0\r\n\
             Via: SIP/2.0/UDP {ip}:{port};branch=z9hG4bK{cseq}x;rport\r\n\
             Max-Forwards: 70\r\n\
             From: <{impu}>;tag=ue1\r\n\
             To: <{impu}>\r\n\
             Call-ID: {cid}\r\n\
             CSeq: {cseq} REGISTER\r\n\
             Contact: <sip:{ip}:{pc}>;expires={expires}\r\n\
             Authorization: Digest username=\"{impi}\", realm=\"ims.example\", uri=\"sip:ims.example\", nonce=\"\", response=\"{response}\"\r\n\
             {extra}\
             Require: sec-agree\r\n\
             Content-Length: 0\r\n\r\n",
            ip = self.ip,
            port = self.port,
            impu = self.impu,
            impi = self.impi,
            cid = self.call_id,
            cseq = self.cseq,
            pc = self.port_s,
        )
        .into_bytes()
    }

    pub fn initial(&self) -> Vec<u8> {
        self.register(&self.security_client(), "", 600000)
    }

    pub fn protected(&mut self, server: &str, res: bool) -> Vec<u8> {
        self.cseq += 1;
        let extra = format!("{}Security-Verify: {}\r\n", self.security_client(), server);
        self.register(&extra, if res { "deadbeef" } else { "" }, 600000)
    }

    pub fn dereg(&mut self) -> Vec<u8> {
        self.cseq += 1;
        self.register(&self.security_client(), "deadbeef", 0)
    }

    pub fn resp(&self, code: u16, reason: &str, extra: &str) -> Vec<u8> {
        format!(
            "SIP/2.0 {code} {reason}\r\n\
             Via: SIP/2.0/UDP {ip}:{port};branch=z9hG4bK{cseq}x;rport\r\n\
             From: <{impu}>;tag=ue1\r\n\
             To: <{impu}>;tag=sc1\r\n\
             Call-ID: {cid}\r\n\
             CSeq: {cseq} REGISTER\r\n\
             {extra}\
             Content-Length: 0\r\n\r\n",
            ip = self.ip,
            port = self.port,
            impu = self.impu,
            cid = self.call_id,
            cseq = self.cseq,
        )
        .into_bytes()
    }

    pub fn r401(&self) -> Vec<u8> {
        self.resp(
            401,
            "Unauthorized",
            &format!(
                "WWW-Authenticate: Digest realm=\"ims.example\", nonce=\"bm9uY2U=\", algorithm=AKAv1-MD5, ck=\"{CK}\", ik=\"{IK}\", qop=\"auth\"\r\n"
            ),
        )
    }

    pub fn r200(&self, expires: u32) -> Vec<u8> {
        self.resp(
            200,
            "OK",
            &format!(
                "Contact: <sip:{}:{}>;expires={expires}\r\nP-Associated-URI: <{}>, <tel:+15550100>\r\n",
                self.ip, self.port_s, self.impu
            ),
        )
    }
}

/// The Security-Server line value of a 401 transmit.
pub fn security_server(t: &Transmit) -> String {
    text(t)
        .lines()
        .find_map(|l| l.strip_prefix("Security-Server: "))
        .unwrap_or_default()
        .to_string()
}

/// Run an initial registration to completion. Returns the set.
pub fn register(h: &mut H, ue: &mut Ue) -> (Arc<SaSetDesc>, SaSetId) {
    let _ = h.ue(ue.unprotected(), &ue.initial());
    let o = h.scscf(&ue.r401());
    let d = installed(&o).pop().expect("temporary set installed");
    let server = security_server(&transmits(&o)[0]);
    let _ = h.ue(ue.on(&d), &ue.protected(&server, true));
    let _ = h.scscf(&ue.r200(600));
    (d.clone(), d.id)
}

/// Start a re-authentication on `on`: protected REGISTER, 401. Returns the
/// new temporary set and the Security-Server.
pub fn challenge_on(h: &mut H, ue: &mut Ue, on: &SaSetDesc) -> (Arc<SaSetDesc>, String) {
    ue.cseq += 1;
    ue.spi_c += 100;
    ue.spi_s += 100;
    ue.port_c += 2;
    ue.port_s += 2;
    let r = ue.register(&ue.security_client(), "", 600000);
    let _ = h.ue(ue.on(on), &r);
    let o = h.scscf(&ue.r401());
    let d = installed(&o).pop().expect("temporary set installed");
    (d, security_server(&transmits(&o)[0]))
}

pub fn dest_set(t: &Transmit) -> Option<SaSetId> {
    match t.dest {
        Destination::UeProtected { set, .. } => Some(set),
        _ => None,
    }
}
