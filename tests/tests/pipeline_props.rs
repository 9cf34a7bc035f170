//! Property tests of the whole per-packet pipeline (`pipeline::process`,
//! as a worker calls it, with tables built the way `app::start` builds
//! them): random bytes, and valid frames — plaintext and ESP-protected,
//! requests and responses, from both sides — mutated at the frame level
//! (with and without fixing checksums afterwards) and at the SIP level
//! (then framed, and protected when the original was).
//!
//! Properties: nothing panics; a forwarded frame parses again with
//! `wire::parse_frame(…, true)` (checksums valid) and fits the MTU; a
//! request forwarded toward the core carries no P-Preferred-Identity, at
//! most one P-Asserted-Identity, exactly one when it has no To tag, and
//! that one is a registered IMPU; a frame handed to the control thread is
//! untouched (plaintext input); whatever we ESP-protect toward a UE, the
//! UE decapsulates.

use std::net::SocketAddr;
use std::sync::Arc;

use control::types::{EncrAlg, IntegAlg};
use dataplane::buf::{Buf, PacketBuf};
use dataplane::config::Config;
use dataplane::pipeline::{self, Context, PipeState, Side, Verdict};
use dataplane::state::{self, TableReaders, TableWriters};
use dataplane::table::{QsbrDomain, QsbrReader};
use dataplane::wire;
use proptest::prelude::*;
use proptest::test_runner::{Config as PtConfig, TestCaseError, TestRunner};
use tests::*;

/// How a base message is carried.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Carry {
    /// Plaintext UDP from `src` to `dst`, arriving on `side`.
    Plain(Side, SocketAddr, SocketAddr),
    /// ESP-protected by UE SA set `k` (0: registered, 1: temporary).
    Esp(usize),
}

struct Fixture {
    ctx: Context,
    tables: TableReaders,
    reader: QsbrReader,
    st: PipeState,
    ue_sas: [UeSa; 2],
    bases: Vec<(Carry, Vec<u8>)>,
    impus: Vec<String>,
    _writers: TableWriters,
    _domain: QsbrDomain,
}

fn temp_spec() -> SaSpec {
    SaSpec::new("10.77.0.11".parse().unwrap(), 2, IntegAlg::Null, EncrAlg::AesGcm)
}

fn reg_spec() -> SaSpec {
    SaSpec::new(
        "10.77.0.10".parse().unwrap(),
        1,
        IntegAlg::HmacSha196,
        EncrAlg::AesCbc,
    )
}

impl Fixture {
    fn new() -> Fixture {
        let toml = base_toml()
            + &annex_n_toml(
                "10.77.0.2".parse().unwrap(),
                None,
                "a@ims.example",
                &["tel:+15550101", "sip:alice@ims.example"],
            )
            + &annex_n_toml(
                "fd00:77::2".parse().unwrap(),
                None,
                "a6@ims.example",
                &["sip:alice6@ims.example"],
            )
            + &annex_n_toml(
                "10.77.0.3".parse().unwrap(),
                Some(5062),
                "ob@ims.example",
                &["sip:ob@ims.example"],
            )
            + &reg_spec().toml()
            + &temp_spec().toml();
        let cfg = Config::from_toml("props.toml", &toml).expect("config");
        // As app::start does: bindings, SA sets, one published batch.
        let domain = QsbrDomain::new(2);
        let (mut w, tables) = state::tables(&domain, cfg.table_capacity);
        for b in &cfg.annex_n {
            w.bind(b.key, Arc::new(b.identity.clone()));
        }
        let reg = &cfg.sa_sets[0];
        w.install_sa_set(
            &reg.desc,
            Some(Arc::new(reg.identity.clone())),
            true,
            cfg.replay_window,
        )
        .unwrap();
        // The second set stays temporary (no identity: only REGISTER).
        w.install_sa_set(&cfg.sa_sets[1].desc, None, true, cfg.replay_window)
            .unwrap();
        w.publish();
        let reader = domain.register().unwrap();
        let ctx = Context::new(&cfg, (ACCESS_MAC, 1500), (CORE_MAC, 1500));
        let mut impus: Vec<String> = cfg
            .annex_n
            .iter()
            .flat_map(|b| b.identity.impus.iter())
            .map(|i| i.uri().into())
            .collect();
        impus.extend(reg.identity.impus.iter().map(|i| i.uri().to_string()));
        let mut fx = Fixture {
            ctx,
            tables,
            reader,
            st: PipeState::new(7),
            ue_sas: [reg_spec().ue_side(), temp_spec().ue_side()],
            bases: Vec::new(),
            impus,
            _writers: w,
            _domain: domain,
        };
        fx.build_bases();
        fx
    }

    fn run(&mut self, frame: &[u8], side: Side) -> (Verdict, PacketBuf) {
        let mut b = PacketBuf::from_slice(frame).expect("fits");
        let v = {
            let g = self.reader.guard();
            pipeline::process(&mut b, side, &self.ctx, &self.tables, &g, &mut self.st)
        };
        self.reader.quiescent();
        self.st.first_use = None;
        (v, b)
    }

    fn build_bases(&mut self) {
        let alice = Ue::new("10.77.0.2:5070".parse().unwrap(), "alice");
        let alice6 = Ue::new("[fd00:77::2]:5060".parse().unwrap(), "alice6");
        let ob = Ue::new("10.77.0.3:5062".parse().unwrap(), "ob");
        let eve = Ue::new("10.77.0.66:5060".parse().unwrap(), "eve");
        let up = |u: &Ue| Carry::Plain(Side::Access, u.addr, u.pcscf());
        let msg = alice
            .request("MESSAGE", "m1", None)
            .header("P-Preferred-Identity", "<sip:alice@ims.example>")
            .header("P-Asserted-Identity", "<sip:evil@ims.example>")
            .body("text/plain", b"hello");
        let mut bases = vec![
            (up(&alice), msg.build()),
            (
                up(&alice),
                alice
                    .request("INVITE", "i1", None)
                    .header("P-Preferred-Identity", "<tel:+1-555-0101>")
                    .build(),
            ),
            (
                up(&alice),
                alice
                    .request("BYE", "b1", Some("tt"))
                    .header("P-Asserted-Identity", "<sip:x@y>")
                    .build(),
            ),
            (up(&alice), alice.request("REGISTER", "r1", None).build()),
            (
                up(&alice6),
                alice6
                    .request("OPTIONS", "o6", None)
                    .header("P-Preferred-Identity", "<sip:nobody@x>")
                    .build(),
            ),
            (up(&ob), ob.request("MESSAGE", "ob", None).build()),
            (up(&eve), eve.request("MESSAGE", "e1", None).build()),
        ];
        // A request from the core to alice, and alice's answer to it as it
        // comes back through us.
        let creq = Scscf.request_to("MESSAGE", alice.addr, "c1");
        let cp = Frame::parse(creq.clone()).unwrap();
        bases.push((
            Carry::Plain(Side::Core, cp.src(), cp.dst()),
            cp.payload().to_vec(),
        ));
        if let (Verdict::Forward(Side::Access), b) = self.run(&creq, Side::Core) {
            let f = Frame::parse(b.data().to_vec()).unwrap();
            let ans = Frame::parse(alice.answer(&f, 200)).unwrap();
            bases.push((
                Carry::Plain(Side::Access, ans.src(), ans.dst()),
                ans.payload().to_vec(),
            ));
        }
        // Core responses to forwarded requests (they carry our branch).
        for (c, sip) in bases.clone().iter().take(5) {
            if let Carry::Plain(_, src, dst) = *c {
                let f = udp_frame(UE_GW_MAC, ACCESS_MAC, src, dst, sip);
                if let (Verdict::Forward(Side::Core), b) = self.run(&f, Side::Access) {
                    let fw = Frame::parse(b.data().to_vec()).unwrap();
                    let ans = Frame::parse(Scscf.answer(&fw, 200)).unwrap();
                    bases.push((
                        Carry::Plain(Side::Core, ans.src(), ans.dst()),
                        ans.payload().to_vec(),
                    ));
                }
            }
        }
        // Over the SAs: requests, and the core's answer to one.
        for k in 0..2 {
            let s = &self.ue_sas[k].spec;
            let u = Ue::new(SocketAddr::new(s.ue, s.port_uc), "esp");
            let m = u
                .request("MESSAGE", "s1", None)
                .header("P-Preferred-Identity", &format!("<{}>", s.impus[1]));
            bases.push((Carry::Esp(k), m.build()));
            bases.push((Carry::Esp(k), u.request("REGISTER", "s2", None).build()));
        }
        let esp_req = bases
            .iter()
            .find(|(c, _)| *c == Carry::Esp(0))
            .map(|(_, s)| s.clone())
            .unwrap();
        let f = self.ue_sas[0].protect(&esp_req);
        if let (Verdict::Forward(Side::Core), b) = self.run(&f, Side::Access) {
            let fw = Frame::parse(b.data().to_vec()).unwrap();
            let ans = Frame::parse(Scscf.answer(&fw, 200)).unwrap();
            bases.push((
                Carry::Plain(Side::Core, ans.src(), ans.dst()),
                ans.payload().to_vec(),
            ));
        }
        // Every kind of base must be represented (a set-up bug would
        // otherwise make the properties vacuous).
        assert_eq!(bases.len(), 7 + 2 + 4 + 4 + 1, "fixture");
        self.bases = bases;
    }

    fn frame(&self, c: Carry, sip: &[u8]) -> (Vec<u8>, Side) {
        // Keep the frame within a packet buffer.
        let sip = &sip[..sip.len().min(1900)];
        match c {
            Carry::Plain(Side::Access, s, d) => (udp_frame(UE_GW_MAC, ACCESS_MAC, s, d, sip), Side::Access),
            Carry::Plain(Side::Core, s, d) => (udp_frame(CORE_GW_MAC, CORE_MAC, s, d, sip), Side::Core),
            Carry::Esp(k) => (self.ue_sas[k].protect(sip), Side::Access),
        }
    }
}

/// Interesting header lines for SIP-level mutations.
const LINES: &[&str] = &[
    "P-Asserted-Identity: <sip:evil@ims.example>",
    "P-Preferred-Identity: <tel:+15550101>",
    "p-preferred-identity: <sip:alice@ims.example>, <sip:x@y>",
    "P-Preferred-Identity:\r\n <sip:alice@ims.example>",
    "P-Asserted-Identity:<sip:nospace@x>",
    "P-Asserted-Identity :<sip:spaced@x>",
    "P-ASSERTED-IDENTITY: <tel:+1>",
    "To: <sip:bob@ims.example>;tag=x",
    "t: <sip:bob@x>;tag=1",
    "To: <sip:bob@ims.example;tag=inside>",
    "Max-Forwards: 0",
    "Max-Forwards: 1",
    "Content-Length: 5",
    "l: 0",
    "Via: SIP/2.0/UDP 10.77.1.1:5060;branch=z9hG4bKpdp00",
    "v: SIP/2.0/UDP a;branch=z9hG4bK1, SIP/2.0/UDP b",
    "CSeq: 1 REGISTER",
    "Route: <sip:10.77.0.1;lr>",
];

#[derive(Clone, Debug)]
enum Op {
    Set(prop::sample::Index, u8),
    Flip(prop::sample::Index, u8),
    Truncate(prop::sample::Index),
    Insert(prop::sample::Index, Vec<u8>),
    Delete(prop::sample::Index, u8),
    Line(prop::sample::Index, usize),
    DropLine(prop::sample::Index),
    DupLine(prop::sample::Index),
    Grow(u16),
}

fn op() -> impl Strategy<Value = Op> {
    use prop::sample::Index;
    prop_oneof![
        3 => (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Op::Set(i, b)),
        3 => (any::<Index>(), 0u8..8).prop_map(|(i, b)| Op::Flip(i, b)),
        1 => any::<Index>().prop_map(Op::Truncate),
        2 => (any::<Index>(), prop::collection::vec(prop_oneof![Just(b'\r'), Just(b'\n'), Just(b':'), Just(b';'), Just(b','), Just(b'<'), Just(b'>'), any::<u8>()], 1..6)).prop_map(|(i, v)| Op::Insert(i, v)),
        2 => (any::<Index>(), 1u8..40).prop_map(|(i, n)| Op::Delete(i, n)),
        4 => (any::<Index>(), 0..LINES.len()).prop_map(|(i, l)| Op::Line(i, l)),
        2 => any::<Index>().prop_map(Op::DropLine),
        2 => any::<Index>().prop_map(Op::DupLine),
        1 => (1u16..1600).prop_map(Op::Grow),
    ]
}

fn line_starts(v: &[u8]) -> Vec<usize> {
    let mut s = vec![0];
    s.extend(
        v.windows(2)
            .enumerate()
            .filter(|(_, w)| w == b"\r\n")
            .map(|(i, _)| i + 2),
    );
    s.retain(|&x| x < v.len());
    s
}

fn apply(v: &mut Vec<u8>, ops: &[Op]) {
    for o in ops {
        let n = v.len().max(1);
        match o {
            Op::Set(i, b) if !v.is_empty() => v[i.index(n)] = *b,
            Op::Flip(i, b) if !v.is_empty() => v[i.index(n)] ^= 1 << b,
            Op::Truncate(i) => v.truncate(i.index(n)),
            Op::Insert(i, b) => {
                let at = i.index(v.len() + 1);
                v.splice(at..at, b.iter().copied());
            }
            Op::Delete(i, k) if !v.is_empty() => {
                let at = i.index(n);
                let end = (at + *k as usize).min(v.len());
                v.drain(at..end);
            }
            Op::Line(i, l) => {
                let starts = line_starts(v);
                // After the start line when there is one.
                let at = starts
                    .get(1 + i.index(starts.len().max(1)))
                    .copied()
                    .unwrap_or(v.len());
                let mut ins = LINES[*l].as_bytes().to_vec();
                ins.extend_from_slice(b"\r\n");
                v.splice(at..at, ins);
            }
            Op::DropLine(i) | Op::DupLine(i) => {
                let starts = line_starts(v);
                if starts.is_empty() {
                    continue;
                }
                let k = i.index(starts.len());
                let (s, e) = (starts[k], starts.get(k + 1).copied().unwrap_or(v.len()));
                if matches!(o, Op::DropLine(_)) {
                    v.drain(s..e);
                } else {
                    let l = v[s..e].to_vec();
                    v.splice(e..e, l);
                }
            }
            Op::Grow(k) => v.extend(std::iter::repeat_n(b'x', *k as usize)),
            _ => {}
        }
    }
}

/// Header lines of a SIP message, unfolded: (name, value) up to the empty
/// line. Written here, independently of both SIP parsers.
fn header_lines(sip: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(sip);
    let head = text.split("\r\n\r\n").next().unwrap_or("");
    let mut out: Vec<(String, String)> = Vec::new();
    for l in head.split("\r\n").skip(1) {
        if l.starts_with([' ', '\t']) {
            if let Some(last) = out.last_mut() {
                last.1.push(' ');
                last.1.push_str(l.trim());
            }
            continue;
        }
        if let Some((n, v)) = l.split_once(':') {
            out.push((n.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    out
}

fn has_to_tag(hs: &[(String, String)]) -> bool {
    hs.iter().filter(|(n, _)| n == "to" || n == "t").any(|(_, v)| {
        let params = match v.find('>') {
            Some(i) => &v[i + 1..],
            None => v.as_str(),
        };
        // RFC 3261: tag-param = "tag" EQUAL token. A parameter whose name
        // merely starts with "tag" (`tagx=1`, or a mangled `tag<tt`) is not a
        // tag, and the request is not in-dialog.
        params.split(';').skip(1).any(|p| {
            p.split_once('=')
                .is_some_and(|(name, _)| name.trim().eq_ignore_ascii_case("tag"))
        })
    })
}

/// The properties of one verdict.
/// With `strict`, a request with a To tag must carry no P-Asserted-Identity
/// (TS 24.229 §5.2.6.3 asserts only on initial and standalone requests).
fn check(
    fx: &mut Fixture,
    input: &[u8],
    plain_input: bool,
    v: Verdict,
    out: &PacketBuf,
    strict: bool,
) -> Result<(), TestCaseError> {
    match v {
        Verdict::Drop(_) => Ok(()),
        Verdict::Exception(_) => {
            if plain_input {
                prop_assert!(out.data() == input, "an exception frame must be untouched");
            }
            Ok(())
        }
        Verdict::Forward(side) => {
            let d = out.data();
            // Our Neighbor Advertisement (ICMPv6 136) is not something the
            // classifier accepts as input.
            if d.len() > 54 && d[12..14] == [0x86, 0xdd] && d[20] == 58 && d[54] == 136 {
                return Ok(());
            }
            let p = wire::parse_frame(d, true);
            prop_assert!(p.is_ok(), "forwarded frame does not parse: {:?}", p);
            let p = p.unwrap();
            if p.l3 == wire::L3::Arp {
                return Ok(());
            }
            prop_assert!(
                d.len() - p.l3_off as usize <= 1500,
                "forwarded IP packet over the MTU: {}",
                d.len()
            );
            let ours = fx.ctx.side(side);
            let mac_ok = d[6..12] == ours.mac && d[0..6] == ours.gateway_mac;
            prop_assert!(mac_ok, "forwarded frame MACs");
            if p.is_esp() {
                prop_assert_eq!(side, Side::Access);
                let sa = &fx.ue_sas[0];
                if p.spi == sa.spec.spi_uc {
                    let inner = sa.unprotect(d);
                    prop_assert!(
                        inner.is_ok(),
                        "the UE cannot decapsulate what we protected: {:?}",
                        inner.err()
                    );
                }
                return Ok(());
            }
            prop_assert!(verify_checksums(d).is_ok(), "{:?}", verify_checksums(d));
            let payload = p.payload(d);
            let is_request = !payload.starts_with(b"SIP/2.0 ");
            if side == Side::Core && is_request {
                prop_assert_eq!(p.dst_socket(), SCSCF);
                let hs = header_lines(payload);
                let count = |n: &str| hs.iter().filter(|(h, _)| h == n).count();
                prop_assert_eq!(
                    count("p-preferred-identity"),
                    0,
                    "PPI forwarded:\n{}",
                    String::from_utf8_lossy(payload)
                );
                let pai: Vec<&String> = hs
                    .iter()
                    .filter(|(h, _)| h == "p-asserted-identity")
                    .map(|(_, v)| v)
                    .collect();
                if has_to_tag(&hs) && strict {
                    prop_assert!(
                        pai.is_empty(),
                        "in-dialog request with PAI:\n{}",
                        String::from_utf8_lossy(payload)
                    );
                } else if has_to_tag(&hs) {
                    prop_assert!(
                        pai.len() <= 1,
                        "{} PAI:\n{}",
                        pai.len(),
                        String::from_utf8_lossy(payload)
                    );
                } else {
                    prop_assert_eq!(pai.len(), 1, "PAI count:\n{}", String::from_utf8_lossy(payload));
                }
                for v in pai {
                    let uri = v.trim_start_matches('<').trim_end_matches('>');
                    prop_assert!(
                        fx.impus.iter().any(|i| i == uri),
                        "asserted {} is no registered IMPU",
                        v
                    );
                }
            }
            Ok(())
        }
    }
}

fn runner(cases: u32) -> TestRunner {
    TestRunner::new(PtConfig {
        cases,
        failure_persistence: None,
        ..PtConfig::default()
    })
}

#[test]
fn random_bytes_never_panic() {
    // `TestRunner::run` takes an `Fn`; the fixture is per-test mutable state.
    let fx = std::cell::RefCell::new(Fixture::new());
    let strat = (
        prop::collection::vec(any::<u8>(), 0..1600),
        any::<bool>(),
        any::<bool>(),
    );
    runner(3000)
        .run(&strat, |(mut bytes, core, with_eth)| {
            let mut fx = fx.borrow_mut();
            if with_eth && bytes.len() >= 14 {
                // Give the noise a plausible Ethernet header so it reaches IP.
                let et: &[u8] = if bytes[0] & 1 == 0 {
                    &[0x08, 0x00]
                } else {
                    &[0x86, 0xdd]
                };
                bytes[12..14].copy_from_slice(et);
                if bytes.len() > 14 {
                    bytes[14] = (bytes[14] & 0x0f) | if et[0] == 0x08 { 0x40 } else { 0x60 };
                }
            }
            let side = if core { Side::Core } else { Side::Access };
            let (v, out) = fx.run(&bytes, side);
            check(&mut fx, &bytes, true, v, &out, true)
        })
        .unwrap();
}

#[test]
fn mutated_valid_frames_keep_the_properties() {
    mutated(false);
}

#[test]
fn mutated_in_dialog_requests_carry_no_pai() {
    mutated(true);
}

fn mutated(strict: bool) {
    let fx = std::cell::RefCell::new(Fixture::new());
    let n = fx.borrow().bases.len();
    let strat = (0..n, 0u8..3, prop::collection::vec(op(), 0..5), any::<bool>());
    let forwarded_core_requests = std::cell::Cell::new(0u32);
    let seen = std::cell::RefCell::new(std::collections::BTreeMap::<String, u32>::new());
    runner(4000)
        .run(&strat, |(k, mode, ops, flip_side)| {
            let mut fx = fx.borrow_mut();
            let (carry, sip) = fx.bases[k].clone();
            let plain = !matches!(carry, Carry::Esp(_));
            let (frame, mut side) = match mode {
                // SIP-level mutation, then framed (and protected).
                0 => {
                    let mut s = sip;
                    apply(&mut s, &ops);
                    fx.frame(carry, &s)
                }
                // Frame-level mutation, checksums as they fall.
                1 => {
                    let (mut f, side) = fx.frame(carry, &sip);
                    apply(&mut f, &ops);
                    (f, side)
                }
                // Frame-level mutation, checksums fixed.
                _ => {
                    let (mut f, side) = fx.frame(carry, &sip);
                    apply(&mut f, &ops);
                    fix_checksums(&mut f);
                    (f, side)
                }
            };
            if flip_side && ops.len() == 1 {
                side = side.other();
            }
            // A port never delivers more than a buffer holds.
            let frame = &frame[..frame.len().min(dataplane::buf::MAX_FRAME)];
            let (v, out) = fx.run(frame, side);
            *seen.borrow_mut().entry(format!("{v:?}")).or_default() += 1;
            if v == Verdict::Forward(Side::Core) && side == Side::Access {
                forwarded_core_requests.set(forwarded_core_requests.get() + 1);
            }
            check(&mut fx, frame, plain, v, &out, strict)
        })
        .unwrap();
    // Not vacuous: many mutated requests made it through to the core.
    let n = forwarded_core_requests.get();
    let seen = seen.into_inner();
    eprintln!("verdicts: {seen:#?}");
    assert!(n > 200, "only {n} forwarded");
    // ... and the mutations reach deep: responses and core requests are
    // forwarded, exceptions raised, and many different drop reasons hit.
    for v in [
        "Forward(Access)",
        "Exception(Register)",
        "Exception(UnknownSender)",
    ] {
        assert!(seen.contains_key(v), "{v} never happened: {seen:?}");
    }
    let reasons = seen.keys().filter(|k| k.starts_with("Drop")).count();
    assert!(reasons >= 15, "only {reasons} drop reasons hit: {seen:?}");
}

#[test]
fn unmutated_bases_are_forwarded_as_expected() {
    let mut fx = Fixture::new();
    let mut verdicts = Vec::new();
    for (c, sip) in fx.bases.clone() {
        let (f, side) = fx.frame(c, &sip);
        let (v, out) = fx.run(&f, side);
        check(&mut fx, &f, !matches!(c, Carry::Esp(_)), v, &out, false).unwrap();
        verdicts.push(v);
    }
    use dataplane::counters::DropReason;
    use pipeline::ExceptionKind as E;
    let fwd = |s| Verdict::Forward(s);
    assert_eq!(
        verdicts,
        vec![
            fwd(Side::Core),
            fwd(Side::Core),
            fwd(Side::Core),
            Verdict::Exception(E::Register),
            fwd(Side::Core),
            fwd(Side::Core),
            Verdict::Exception(E::UnknownSender),
            fwd(Side::Access),
            fwd(Side::Core),
            fwd(Side::Access),
            fwd(Side::Access),
            fwd(Side::Access),
            fwd(Side::Access),
            fwd(Side::Core),
            Verdict::Exception(E::Register),
            Verdict::Drop(DropReason::TemporarySaNotRegister),
            Verdict::Exception(E::Register),
            fwd(Side::Access),
        ]
    );
}
