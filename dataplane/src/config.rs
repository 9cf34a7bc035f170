//! The `pcscf-dp run` configuration (TOML).
//!
//! Every key is documented in `docs/config.md`. Unknown keys are refused;
//! every error names the file and the key. Values are validated once, here,
//! and turned into typed values ("parse, don't validate"): nothing downstream
//! re-checks them.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// A configuration problem, always naming the file and the key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{file}: {source}")]
    Read {
        /// The file.
        file: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// TOML syntax error, unknown key or wrong type (the message names the key).
    #[error("{file}: {msg}")]
    Syntax {
        /// The file.
        file: String,
        /// The parser's message.
        msg: String,
    },
    /// A value out of range or inconsistent with another.
    #[error("{file}: key `{key}`: {msg}")]
    Value {
        /// The file.
        file: String,
        /// Dotted key path.
        key: String,
        /// What is wrong.
        msg: String,
    },
}

/// Raw file layout (serde), checked into [`Config`] by [`Config::from_toml`].
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    dataplane: RawDataplane,
    access: RawSide,
    core: RawSide,
    #[serde(default)]
    timers: RawTimers,
    #[serde(default)]
    annex_n: Vec<RawBinding>,
    #[serde(default)]
    sa_set: Vec<RawSaSet>,
    #[serde(default)]
    esp: RawEsp,
    #[serde(default)]
    registrar: Option<RawRegistrar>,
}

/// `[registrar]`: the control thread's registration core (absent: Annex N
/// static bindings only).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRegistrar {
    mode: String,
    #[serde(default = "default_pp_base")]
    protected_port_base: u16,
    #[serde(default = "default_pp_pairs")]
    protected_port_pairs: u16,
    #[serde(default = "default_spi_min")]
    spi_min: u32,
    #[serde(default = "default_spi_max")]
    spi_max: u32,
    #[serde(default)]
    alg: Option<Vec<String>>,
    #[serde(default)]
    ealg: Option<Vec<String>>,
    #[serde(default = "default_max_sets")]
    max_sets_per_impi: u16,
    #[serde(default = "default_retry_after")]
    retry_after_s: u32,
    #[serde(default = "default_max_registration")]
    max_registration_s: u64,
    #[serde(default)]
    annex_n: bool,
}

fn default_pp_base() -> u16 {
    6100
}
fn default_pp_pairs() -> u16 {
    8
}
fn default_spi_min() -> u32 {
    0x0001_0000
}
fn default_spi_max() -> u32 {
    0x0FFF_FFFF
}
fn default_max_sets() -> u16 {
    3
}
fn default_retry_after() -> u32 {
    30
}
fn default_max_registration() -> u64 {
    7 * 24 * 3600
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEsp {
    #[serde(default = "default_window")]
    replay_window: u32,
    #[serde(default)]
    allow_hmac_md5: bool,
}

impl Default for RawEsp {
    fn default() -> Self {
        RawEsp {
            replay_window: default_window(),
            allow_hmac_md5: false,
        }
    }
}

fn default_window() -> u32 {
    1024
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSaSet {
    ue: IpAddr,
    port_uc: u16,
    port_us: u16,
    port_pc: u16,
    port_ps: u16,
    spi_uc: u32,
    spi_us: u32,
    spi_pc: u32,
    spi_ps: u32,
    alg: String,
    ealg: String,
    ck: String,
    ik: String,
    impi: String,
    impus: Vec<String>,
    #[serde(default)]
    defaults: Vec<u16>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDataplane {
    #[serde(default = "one")]
    workers: usize,
    #[serde(default)]
    cores: Vec<usize>,
    #[serde(default)]
    control_core: Option<usize>,
    #[serde(default = "default_exq")]
    exception_queue_depth: usize,
    #[serde(default = "default_cap")]
    table_capacity: usize,
    #[serde(default = "yes")]
    verify_udp_checksum: bool,
    #[serde(default)]
    stats_interval_s: u64,
    #[serde(default = "yes")]
    huge_text: bool,
}

impl Default for RawDataplane {
    fn default() -> Self {
        RawDataplane {
            workers: 1,
            cores: Vec::new(),
            control_core: None,
            exception_queue_depth: default_exq(),
            table_capacity: default_cap(),
            verify_udp_checksum: true,
            stats_interval_s: 0,
            huge_text: true,
        }
    }
}

fn one() -> usize {
    1
}
fn yes() -> bool {
    true
}
fn default_exq() -> usize {
    1024
}
fn default_cap() -> usize {
    1 << 16
}
fn default_sip_port() -> u16 {
    5060
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPort {
    backend: String,
    #[serde(default)]
    iface: Option<String>,
    #[serde(default)]
    input: Option<PathBuf>,
    #[serde(default)]
    output: Option<PathBuf>,
    #[serde(default)]
    mac: Option<String>,
    #[serde(default)]
    profile: Option<PathBuf>,
    #[serde(default)]
    devargs: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSide {
    port: RawPort,
    ipv4: Option<Ipv4Addr>,
    ipv6: Option<Ipv6Addr>,
    #[serde(default = "default_sip_port")]
    sip_port: u16,
    gateway_mac: String,
    #[serde(default)]
    next_hop: Option<SocketAddr>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTimers {
    #[serde(default = "default_t1")]
    t1_ms: u64,
    #[serde(default = "default_await")]
    reg_await_auth_s: u64,
}

impl Default for RawTimers {
    fn default() -> Self {
        RawTimers {
            t1_ms: default_t1(),
            reg_await_auth_s: default_await(),
        }
    }
}

fn default_t1() -> u64 {
    500
}
fn default_await() -> u64 {
    240
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBinding {
    ip: IpAddr,
    #[serde(default)]
    port: Option<u16>,
    #[serde(default = "udp")]
    transport: String,
    impi: String,
    impus: Vec<String>,
    #[serde(default)]
    defaults: Vec<u16>,
}

fn udp() -> String {
    "udp".into()
}

/// Which kind of port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PortBackend {
    /// In-memory rings (demo, tests).
    Mem,
    /// pcap files.
    Pcap {
        /// File replayed on receive.
        input: Option<PathBuf>,
        /// File written on send.
        output: Option<PathBuf>,
    },
    /// A Linux interface through AF_PACKET.
    AfPacket {
        /// Interface name.
        iface: String,
    },
    /// A DPDK port (needs the `dpdk` feature).
    Dpdk {
        /// hw-profile file.
        profile: PathBuf,
        /// EAL device arguments (e.g. `net_ring0` or a PCI address).
        devargs: String,
    },
}

impl PortBackend {
    /// Short name.
    pub fn kind(&self) -> &'static str {
        match self {
            PortBackend::Mem => "mem",
            PortBackend::Pcap { .. } => "pcap",
            PortBackend::AfPacket { .. } => "af_packet",
            PortBackend::Dpdk { .. } => "dpdk",
        }
    }
}

/// One side (access toward UEs, or core toward the S-CSCF).
#[derive(Clone, Debug)]
pub struct SideConfig {
    /// Port backend.
    pub backend: PortBackend,
    /// MAC to use for mem/pcap ports (af_packet and DPDK read the NIC's).
    pub mac: [u8; 6],
    /// Our IPv4 address on this side.
    pub ipv4: Option<Ipv4Addr>,
    /// Our IPv6 address on this side.
    pub ipv6: Option<Ipv6Addr>,
    /// Our SIP port on this side.
    pub sip_port: u16,
    /// MAC of the next layer-2 hop for everything sent out of this side.
    pub gateway_mac: [u8; 6],
}

/// A static Annex N binding.
#[derive(Clone, Debug)]
pub struct StaticBinding {
    /// The key.
    pub key: control::types::BindingKey,
    /// Who is there.
    pub identity: control::types::Identity,
}

/// A static (manually keyed) SA set, like `ip xfrm state add` four times.
#[derive(Clone, Debug)]
pub struct StaticSaSet {
    /// The four SAs, keys derived per TS 33.203 Annex I.
    pub desc: std::sync::Arc<control::registrar::SaSetDesc>,
    /// Who is behind it.
    pub identity: control::types::Identity,
}

/// A checked configuration.
#[derive(Clone, Debug)]
pub struct Config {
    /// Static SA sets.
    pub sa_sets: Vec<StaticSaSet>,
    /// Anti-replay window of inbound SAs.
    pub replay_window: u32,
    /// Whether hmac-md5-96 is allowed (deprecated by TS 33.203).
    pub allow_hmac_md5: bool,
    /// Number of workers.
    pub workers: usize,
    /// Cores to pin workers to, in worker order (empty: cores 1.. modulo the
    /// machine's count).
    pub cores: Vec<usize>,
    /// Core for the control thread.
    pub control_core: Option<usize>,
    /// Depth of each worker's exception queue.
    pub exception_queue_depth: usize,
    /// Capacity hint for each table.
    pub table_capacity: usize,
    /// Verify UDP checksums on receive.
    pub verify_udp_checksum: bool,
    /// Print counters every this many seconds (0: only at exit).
    pub stats_interval_s: u64,
    /// Move the code onto 2 MiB pages at start-up ([`crate::hugetext`]).
    pub huge_text: bool,
    /// UE-facing side.
    pub access: SideConfig,
    /// Core-facing side.
    pub core: SideConfig,
    /// The S-CSCF (or I-CSCF) we forward to.
    pub next_hop: SocketAddr,
    /// SIP T1.
    pub t1_ms: u64,
    /// reg-await-auth.
    pub reg_await_auth_s: u64,
    /// Static Annex N bindings.
    pub annex_n: Vec<StaticBinding>,
    /// `[registrar]`: the registration core the control thread drives
    /// (`None`: no registration; REGISTER from bound senders is proxied,
    /// anything else from unbound senders is answered 403).
    pub registrar: Option<control::registrar::Config>,
}

fn mac_of(file: &str, key: &str, s: &str) -> Result<[u8; 6], ConfigError> {
    crate::port::af_packet::parse_mac(s).ok_or_else(|| ConfigError::Value {
        file: file.into(),
        key: key.into(),
        msg: format!("`{s}` is not a MAC address (aa:bb:cc:dd:ee:ff)"),
    })
}

impl Config {
    /// Read and check a configuration file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            file: file.clone(),
            source,
        })?;
        let mut c = Self::from_toml(&file, &text)?;
        // Relative paths in the file are relative to the file itself.
        if let Some(dir) = path.parent() {
            for side in [&mut c.access, &mut c.core] {
                let fix = |p: &mut PathBuf| {
                    if p.is_relative() {
                        *p = dir.join(&*p);
                    }
                };
                match &mut side.backend {
                    PortBackend::Pcap { input, output } => {
                        input.as_mut().map(fix);
                        output.as_mut().map(fix);
                    }
                    PortBackend::Dpdk { profile, .. } => fix(profile),
                    _ => {}
                }
            }
        }
        Ok(c)
    }

    /// Check a configuration held in memory; `file` names it in errors.
    pub fn from_toml(file: &str, text: &str) -> Result<Config, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError::Syntax {
            file: file.into(),
            msg: e.to_string(),
        })?;
        let verr = |key: &str, msg: String| ConfigError::Value {
            file: file.into(),
            key: key.into(),
            msg,
        };
        let d = &raw.dataplane;
        if d.workers == 0 || d.workers > 256 {
            return Err(verr(
                "dataplane.workers",
                format!("{} is out of range 1..=256", d.workers),
            ));
        }
        if !d.cores.is_empty() && d.cores.len() != d.workers {
            return Err(verr(
                "dataplane.cores",
                format!("lists {} cores for {} workers", d.cores.len(), d.workers),
            ));
        }
        if !(16..=1 << 20).contains(&d.exception_queue_depth) {
            return Err(verr(
                "dataplane.exception_queue_depth",
                "must be within 16..=1048576".into(),
            ));
        }
        if !(16..=1 << 26).contains(&d.table_capacity) {
            return Err(verr(
                "dataplane.table_capacity",
                "must be within 16..=67108864".into(),
            ));
        }
        let side = |name: &str, s: &RawSide| -> Result<SideConfig, ConfigError> {
            let p = &s.port;
            let backend = match p.backend.as_str() {
                "mem" => PortBackend::Mem,
                "pcap" => PortBackend::Pcap {
                    input: p.input.clone(),
                    output: p.output.clone(),
                },
                "af_packet" => PortBackend::AfPacket {
                    iface: p.iface.clone().ok_or_else(|| {
                        verr(
                            &format!("{name}.port.iface"),
                            "required for backend af_packet".into(),
                        )
                    })?,
                },
                "dpdk" => PortBackend::Dpdk {
                    profile: p.profile.clone().ok_or_else(|| {
                        verr(
                            &format!("{name}.port.profile"),
                            "required for backend dpdk".into(),
                        )
                    })?,
                    devargs: p.devargs.clone().ok_or_else(|| {
                        verr(
                            &format!("{name}.port.devargs"),
                            "required for backend dpdk".into(),
                        )
                    })?,
                },
                other => {
                    return Err(verr(
                        &format!("{name}.port.backend"),
                        format!("unknown backend `{other}` (mem, pcap, af_packet, dpdk)"),
                    ))
                }
            };
            let mac = match &p.mac {
                Some(m) => mac_of(file, &format!("{name}.port.mac"), m)?,
                None => [0x02, 0, 0, 0, 0, if name == "access" { 1 } else { 2 }],
            };
            if s.ipv4.is_none() && s.ipv6.is_none() {
                return Err(verr(
                    &format!("{name}.ipv4"),
                    "an ipv4 or ipv6 address is required".into(),
                ));
            }
            if s.sip_port == 0 {
                return Err(verr(&format!("{name}.sip_port"), "must not be 0".into()));
            }
            Ok(SideConfig {
                backend,
                mac,
                ipv4: s.ipv4,
                ipv6: s.ipv6,
                sip_port: s.sip_port,
                gateway_mac: mac_of(file, &format!("{name}.gateway_mac"), &s.gateway_mac)?,
            })
        };
        let access = side("access", &raw.access)?;
        let core = side("core", &raw.core)?;
        if raw.access.next_hop.is_some() {
            return Err(verr("access.next_hop", "only valid in [core]".into()));
        }
        if access.backend.kind() != core.backend.kind() {
            return Err(verr(
                "core.port.backend",
                format!("must match access.port.backend (`{}`)", access.backend.kind()),
            ));
        }
        let nh = raw
            .core
            .next_hop
            .ok_or_else(|| verr("core.next_hop", "required".into()))?;
        let fam_ok = match nh.ip() {
            IpAddr::V4(_) => core.ipv4.is_some(),
            IpAddr::V6(_) => core.ipv6.is_some(),
        };
        if !fam_ok || nh.port() == 0 {
            return Err(verr(
                "core.next_hop",
                format!("{nh} needs a core address of its family and a port"),
            ));
        }
        let t = &raw.timers;
        if !(1..=60_000).contains(&t.t1_ms) {
            return Err(verr("timers.t1_ms", "must be within 1..=60000".into()));
        }
        if !(1..=86_400).contains(&t.reg_await_auth_s) {
            return Err(verr("timers.reg_await_auth_s", "must be within 1..=86400".into()));
        }
        let mut annex_n = Vec::with_capacity(raw.annex_n.len());
        for (i, b) in raw.annex_n.iter().enumerate() {
            let k = |f: &str| format!("annex_n[{i}].{f}");
            let transport = match b.transport.to_ascii_lowercase().as_str() {
                "udp" => control::types::Transport::Udp,
                "tcp" => control::types::Transport::Tcp,
                other => return Err(verr(&k("transport"), format!("`{other}` is not udp or tcp"))),
            };
            if b.impus.is_empty() {
                return Err(verr(&k("impus"), "at least one IMPU is required".into()));
            }
            for u in &b.impus {
                let l = u.to_ascii_lowercase();
                if !(l.starts_with("sip:") || l.starts_with("sips:") || l.starts_with("tel:")) {
                    return Err(verr(&k("impus"), format!("`{u}` is not a sip, sips or tel URI")));
                }
            }
            if let Some(&bad) = b.defaults.iter().find(|&&d| usize::from(d) >= b.impus.len()) {
                return Err(verr(&k("defaults"), format!("index {bad} is past the IMPU list")));
            }
            if b.impi.is_empty() {
                return Err(verr(&k("impi"), "must not be empty".into()));
            }
            let key = match b.port {
                Some(0) => return Err(verr(&k("port"), "must not be 0".into())),
                Some(p) => control::types::BindingKey::IpPort(b.ip, p, transport),
                None => control::types::BindingKey::Ip(b.ip),
            };
            let impus: Vec<&str> = b.impus.iter().map(|s| s.as_str()).collect();
            let mut identity = control::types::Identity::new(&b.impi, &impus);
            identity.defaults = b.defaults.clone();
            annex_n.push(StaticBinding { key, identity });
        }
        let e = &raw.esp;
        if !(32..=1 << 20).contains(&e.replay_window) {
            return Err(verr("esp.replay_window", "must be within 32..=1048576".into()));
        }
        let mut sa_sets = Vec::with_capacity(raw.sa_set.len());
        for (i, r) in raw.sa_set.iter().enumerate() {
            sa_sets.push(static_sa_set(file, i, r, &access, e.allow_hmac_md5)?);
        }
        let registrar = match &raw.registrar {
            Some(r) => registrar_config(file, r, &access, t, e.allow_hmac_md5, &sa_sets)?,
            None => None,
        };
        Ok(Config {
            sa_sets,
            replay_window: e.replay_window,
            allow_hmac_md5: e.allow_hmac_md5,
            workers: d.workers,
            cores: d.cores.clone(),
            control_core: d.control_core,
            exception_queue_depth: d.exception_queue_depth,
            table_capacity: d.table_capacity,
            verify_udp_checksum: d.verify_udp_checksum,
            stats_interval_s: d.stats_interval_s,
            huge_text: d.huge_text,
            access,
            core,
            next_hop: nh,
            t1_ms: t.t1_ms,
            reg_await_auth_s: t.reg_await_auth_s,
            annex_n,
            registrar,
        })
    }
}

/// Map `[registrar]` (with `[access]`, `[timers]` and `[esp]`) onto the
/// registration core's configuration; `None` for `mode = "off"`.
fn registrar_config(
    file: &str,
    r: &RawRegistrar,
    access: &SideConfig,
    t: &RawTimers,
    allow_md5: bool,
    sa_sets: &[StaticSaSet],
) -> Result<Option<control::registrar::Config>, ConfigError> {
    use control::types::{EncrAlg, IntegAlg};
    use std::time::Duration;
    let verr = |key: &str, msg: String| ConfigError::Value {
        file: file.into(),
        key: format!("registrar.{key}"),
        msg,
    };
    match r.mode.as_str() {
        "ims-aka" => {}
        "off" => return Ok(None),
        other => return Err(verr("mode", format!("unknown mode `{other}` (ims-aka, off)"))),
    }
    let pcscf_ip = access
        .ipv4
        .map(IpAddr::V4)
        .or(access.ipv6.map(IpAddr::V6))
        .ok_or_else(|| verr("mode", "needs an access address".into()))?;
    let (base, pairs) = (
        u32::from(r.protected_port_base),
        u32::from(r.protected_port_pairs),
    );
    if base < 1024 {
        return Err(verr("protected_port_base", "must be at least 1024".into()));
    }
    if !(1..=4096).contains(&pairs) || base + 2 * pairs - 1 > 65535 {
        return Err(verr(
            "protected_port_pairs",
            "must be within 1..=4096 and keep the pool below 65536".into(),
        ));
    }
    let pool = base..base + 2 * pairs;
    if pool.contains(&u32::from(access.sip_port)) {
        return Err(verr(
            "protected_port_base",
            format!("the pool {}..{} holds access.sip_port", pool.start, pool.end),
        ));
    }
    if r.spi_min < 256 {
        return Err(verr("spi_min", "SPIs 0..=255 are reserved (RFC 4303)".into()));
    }
    if r.spi_max <= r.spi_min {
        return Err(verr("spi_max", "must be above spi_min".into()));
    }
    let spis = r.spi_min..=r.spi_max;
    for (i, s) in sa_sets.iter().enumerate() {
        if s.desc.inbound_spis().iter().any(|x| spis.contains(x)) {
            return Err(verr(
                "spi_min",
                format!("the SPI range holds an inbound SPI of sa_set[{i}]"),
            ));
        }
    }
    let integ_prefs = match &r.alg {
        None => {
            let mut v = vec![IntegAlg::Null, IntegAlg::AesGmac, IntegAlg::HmacSha196];
            if allow_md5 {
                v.push(IntegAlg::HmacMd596);
            }
            v
        }
        Some(names) => {
            let mut v = Vec::with_capacity(names.len());
            for n in names {
                let a =
                    IntegAlg::from_name(n).ok_or_else(|| verr("alg", format!("unknown algorithm `{n}`")))?;
                if a == IntegAlg::HmacMd596 && !allow_md5 {
                    return Err(verr(
                        "alg",
                        "hmac-md5-96 is deprecated; set esp.allow_hmac_md5 = true to allow it".into(),
                    ));
                }
                v.push(a);
            }
            v
        }
    };
    let encr_prefs = match &r.ealg {
        None => vec![EncrAlg::AesGcm, EncrAlg::Null, EncrAlg::AesCbc],
        Some(names) => names
            .iter()
            .map(|n| EncrAlg::from_name(n).ok_or_else(|| verr("ealg", format!("unknown algorithm `{n}`"))))
            .collect::<Result<_, _>>()?,
    };
    let usable = integ_prefs.iter().any(|&i| {
        encr_prefs
            .iter()
            .any(|&e| control::keys::is_valid_combination(i, e))
    });
    if !usable {
        return Err(verr(
            "alg",
            "no listed alg can be combined with a listed ealg".into(),
        ));
    }
    if !(1..=64).contains(&r.max_sets_per_impi) {
        return Err(verr("max_sets_per_impi", "must be within 1..=64".into()));
    }
    if !(1..=86_400).contains(&r.retry_after_s) {
        return Err(verr("retry_after_s", "must be within 1..=86400".into()));
    }
    if !(60..=365 * 24 * 3600).contains(&r.max_registration_s) {
        return Err(verr("max_registration_s", "must be within 60..=31536000".into()));
    }
    let t1 = Duration::from_millis(t.t1_ms);
    Ok(Some(control::registrar::Config {
        pcscf_ip,
        unprotected_port: access.sip_port,
        protected_port_base: r.protected_port_base,
        protected_port_pairs: r.protected_port_pairs,
        spi_min: r.spi_min,
        spi_max: r.spi_max,
        integ_prefs,
        encr_prefs,
        t1,
        reg_await_auth: Duration::from_secs(t.reg_await_auth_s),
        max_sets_per_impi: r.max_sets_per_impi,
        // An SA that was removed may still see packets for 64*T1.
        spi_quarantine: t1 * 64,
        retry_after_secs: r.retry_after_s,
        max_registration: Duration::from_secs(r.max_registration_s),
        annex_n: r.annex_n,
        annex_o: false,
    }))
}

fn hex16(file: &str, key: &str, s: &str) -> Result<[u8; 16], ConfigError> {
    let bad = || ConfigError::Value {
        file: file.into(),
        key: key.into(),
        msg: "must be 32 hex digits".into(),
    };
    if s.len() != 32 || !s.is_ascii() {
        return Err(bad());
    }
    let mut o = [0u8; 16];
    for (i, b) in o.iter_mut().enumerate() {
        *b = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
    }
    Ok(o)
}

fn static_sa_set(
    file: &str,
    i: usize,
    r: &RawSaSet,
    access: &SideConfig,
    allow_md5: bool,
) -> Result<StaticSaSet, ConfigError> {
    use control::registrar::{ContactId, EspMode, SaDesc, SaDirection, SaSetDesc, SaSetId};
    use control::types::{EncrAlg, IntegAlg};
    let k = |f: &str| format!("sa_set[{i}].{f}");
    let verr = |key: String, msg: String| ConfigError::Value {
        file: file.into(),
        key,
        msg,
    };
    let integ = IntegAlg::from_name(&r.alg)
        .ok_or_else(|| verr(k("alg"), format!("unknown algorithm `{}`", r.alg)))?;
    let encr = EncrAlg::from_name(&r.ealg)
        .ok_or_else(|| verr(k("ealg"), format!("unknown algorithm `{}`", r.ealg)))?;
    if !control::keys::is_valid_combination(integ, encr) {
        return Err(verr(
            k("alg"),
            format!("{} cannot be combined with {}", r.alg, r.ealg),
        ));
    }
    if integ == IntegAlg::HmacMd596 && !allow_md5 {
        return Err(verr(
            k("alg"),
            "hmac-md5-96 is deprecated; set esp.allow_hmac_md5 = true to allow it".into(),
        ));
    }
    let ck = hex16(file, &k("ck"), &r.ck)?;
    let ik = hex16(file, &k("ik"), &r.ik)?;
    let pcscf: IpAddr = match r.ue {
        IpAddr::V4(_) => access.ipv4.map(IpAddr::V4),
        IpAddr::V6(_) => access.ipv6.map(IpAddr::V6),
    }
    .ok_or_else(|| verr(k("ue"), "no access address of the same family".into()))?;
    for (name, p) in [
        ("port_uc", r.port_uc),
        ("port_us", r.port_us),
        ("port_pc", r.port_pc),
        ("port_ps", r.port_ps),
    ] {
        if p == 0 {
            return Err(verr(k(name), "must not be 0".into()));
        }
    }
    if r.port_pc == r.port_ps || r.port_pc == access.sip_port || r.port_ps == access.sip_port {
        return Err(verr(
            k("port_ps"),
            "protected ports must differ from each other and from sip_port".into(),
        ));
    }
    for (name, spi) in [
        ("spi_uc", r.spi_uc),
        ("spi_us", r.spi_us),
        ("spi_pc", r.spi_pc),
        ("spi_ps", r.spi_ps),
    ] {
        if spi < 256 {
            return Err(verr(k(name), "SPIs 0..=255 are reserved (RFC 4303)".into()));
        }
    }
    if r.spi_pc == r.spi_ps {
        return Err(verr(k("spi_ps"), "inbound SPIs must differ".into()));
    }
    if r.impus.is_empty() {
        return Err(verr(k("impus"), "at least one IMPU is required".into()));
    }
    if let Some(&bad) = r.defaults.iter().find(|&&d| usize::from(d) >= r.impus.len()) {
        return Err(verr(k("defaults"), format!("index {bad} is past the IMPU list")));
    }
    let sa = |direction, spi, src: (IpAddr, u16), dst: (IpAddr, u16)| SaDesc {
        direction,
        spi,
        src: SocketAddr::new(src.0, src.1),
        dst: SocketAddr::new(dst.0, dst.1),
    };
    let ue = r.ue;
    let desc = SaSetDesc {
        id: SaSetId(0x8000_0000 | i as u32),
        contact: ContactId(0x8000_0000 | i as u32),
        impi: r.impi.as_str().into(),
        ue_ip: ue,
        pcscf_ip: pcscf,
        sas: [
            sa(
                SaDirection::Inbound,
                r.spi_ps,
                (ue, r.port_uc),
                (pcscf, r.port_ps),
            ),
            sa(
                SaDirection::Outbound,
                r.spi_us,
                (pcscf, r.port_pc),
                (ue, r.port_us),
            ),
            sa(
                SaDirection::Outbound,
                r.spi_uc,
                (pcscf, r.port_ps),
                (ue, r.port_uc),
            ),
            sa(
                SaDirection::Inbound,
                r.spi_pc,
                (ue, r.port_us),
                (pcscf, r.port_pc),
            ),
        ],
        integ,
        encr,
        mode: EspMode::Transport,
        keys: control::keys::derive_sa_keys(&ck, &ik, integ, encr),
        expires_at: control::time::Instant(u64::MAX),
    };
    let impus: Vec<&str> = r.impus.iter().map(|s| s.as_str()).collect();
    let mut identity = control::types::Identity::new(&r.impi, &impus);
    identity.defaults = r.defaults.clone();
    Ok(StaticSaSet {
        desc: std::sync::Arc::new(desc),
        identity,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[dataplane]
workers = 2

[access]
ipv4 = "10.77.0.1"
gateway_mac = "02:00:00:00:01:02"
[access.port]
backend = "mem"

[core]
ipv4 = "10.77.1.1"
gateway_mac = "02:00:00:00:02:02"
next_hop = "10.77.1.2:5060"
[core.port]
backend = "mem"

[[annex_n]]
ip = "10.77.0.2"
impi = "alice@ims.example"
impus = ["sip:alice@ims.example", "tel:+15550101"]
"#;

    #[test]
    fn parse_good_config() {
        let c = Config::from_toml("good.toml", GOOD).unwrap();
        assert_eq!(c.workers, 2);
        assert_eq!(c.access.sip_port, 5060);
        assert_eq!(c.annex_n.len(), 1);
        assert_eq!(c.annex_n[0].identity.impus[1].uri(), "tel:+15550101");
        assert!(c.huge_text, "huge_text defaults to on");
        let off = Config::from_toml(
            "g.toml",
            &GOOD.replace("workers = 2", "workers = 2\nhuge_text = false"),
        )
        .unwrap();
        assert!(!off.huge_text);
        let e = Config::from_toml(
            "g.toml",
            &GOOD.replace("workers = 2", "workers = 2\nhuge_text = 1"),
        )
        .unwrap_err();
        assert!(e.to_string().contains("huge_text"), "{e}");
    }

    #[test]
    fn unknown_key_names_file_and_key() {
        let bad = GOOD.replace("workers = 2", "workers = 2\nwokrers = 3");
        let e = Config::from_toml("x.toml", &bad).unwrap_err().to_string();
        assert!(e.contains("x.toml") && e.contains("wokrers"), "{e}");
    }

    #[test]
    fn bad_values_name_the_key() {
        for (from, to, key) in [
            ("workers = 2", "workers = 0", "dataplane.workers"),
            ("02:00:00:00:01:02", "02:00:00:01:02", "access.gateway_mac"),
            (
                "next_hop = \"10.77.1.2:5060\"",
                "next_hop = \"10.77.1.2:5060\"\nnext_hopp = 1",
                "next_hopp",
            ),
            ("10.77.1.2:5060", "[::1]:5060", "core.next_hop"),
            ("tel:+15550101", "mailto:x", "annex_n[0].impus"),
        ] {
            let e = Config::from_toml("f.toml", &GOOD.replace(from, to))
                .unwrap_err()
                .to_string();
            assert!(e.contains("f.toml") && e.contains(key), "{key}: {e}");
        }
        let e = Config::from_toml(
            "f.toml",
            &GOOD.replacen("backend = \"mem\"", "backend = \"nic\"", 1),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("access.port.backend"), "{e}");
        let e = Config::from_toml("f.toml", &GOOD.replace("workers = 2", "workers = \"two\"")).unwrap_err();
        assert!(e.to_string().contains("workers"), "{e}");
    }
}
