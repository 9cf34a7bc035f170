//! Hardware profiles: what a NIC (or a DPDK virtual device) is expected to
//! be and how the DPDK port on it is set up.
//!
//! A profile is a TOML file under `hw-profiles/` (schema in
//! `hw-profiles/README.md`). [`check`] parses one, rejects unknown keys
//! (naming the file and the key) and validates it on its own: descriptor
//! counts, the single-segment limit (MTU fits one mbuf), enough mbufs for the
//! queues and caches, a worker layout that fits the queues. What only the
//! running NIC can confirm (driver name, queue and offload capabilities, RSS
//! hash fields) is checked by `port::dpdk` when the port is opened, and shown
//! side by side by `show` (with the `dpdk` feature).
//!
//! Owns: the schema, its validation, the EAL arguments a profile implies,
//! and the check of configured worker/control cores against the machine's
//! online CPUs ([`validate_cores`], used by the DPDK start-up and, through
//! [`validate_config_cores`], by every `run`).
//! Must never: touch DPDK (this part builds without the `dpdk` feature) or
//! panic on a malformed file.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::{Path, PathBuf};

/// Bytes DPDK keeps in front of the frame in every mbuf (RTE_PKTMBUF_HEADROOM
/// in Debian's build; `port::dpdk` checks it against the binding).
pub const MBUF_HEADROOM: u32 = 128;
/// Layer-2 bytes on top of the MTU that one mbuf must hold: Ethernet header
/// and one VLAN tag (the CRC is stripped by the NIC).
pub const L2_OVERHEAD: u32 = 18;
/// Largest per-lcore mempool cache DPDK accepts (RTE_MEMPOOL_CACHE_MAX_SIZE).
pub const MEMPOOL_CACHE_MAX: u32 = 512;
/// Frames per rx/tx burst the worker loop asks for.
const BURST: u32 = 32;

/// A hardware profile (one file of `hw-profiles/`).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Short name, e.g. `e810` or `vdev-ring`.
    pub name: String,
    /// Free text: the card, firmware, anything an operator should know.
    #[serde(default)]
    pub description: String,
    /// The device.
    pub device: Device,
    /// EAL options this profile needs.
    #[serde(default)]
    pub eal: Eal,
    /// Queue and descriptor counts.
    pub queues: Queues,
    /// The mbuf pool (one per NUMA socket).
    pub mbuf: Mbuf,
    /// Receive-side scaling.
    #[serde(default)]
    pub rss: Rss,
    /// Checksum offloads the NIC performs.
    #[serde(default)]
    pub offloads: Offloads,
    /// Cores and NUMA node.
    pub layout: Layout,
    /// What the hardware should achieve (reported next to measurements).
    #[serde(default)]
    pub expect: Expect,
}

/// Whether the device is a virtual device or a PCI function.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum DeviceKind {
    /// A DPDK virtual device (`--vdev`), e.g. `net_ring0`.
    Vdev,
    /// A PCI function bound to vfio-pci (or mlx5's bifurcated driver), `-a`.
    Pci,
}

/// The device a profile describes.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Device {
    /// Virtual or PCI.
    pub kind: DeviceKind,
    /// The driver name the port must report (`rte_eth_dev_info.driver_name`),
    /// e.g. `net_ice`, `mlx5_pci`, `net_ring`.
    pub pmd: String,
    /// Default EAL device name: the vdev name (`net_ring0`) or the PCI address
    /// (`0000:3b:00.0`). The run configuration's `devargs` overrides it.
    pub name: String,
    /// Driver arguments appended to the device (`key=value,...`), may be empty.
    #[serde(default)]
    pub devargs: String,
}

/// EAL options.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Eal {
    /// Run without hugepages (`--no-huge`): CI and virtual devices only.
    #[serde(default)]
    pub no_huge: bool,
    /// Do not scan the PCI bus (`--no-pci`): virtual devices only.
    #[serde(default)]
    pub no_pci: bool,
    /// Run independently of other DPDK processes: `--in-memory`, or with
    /// `no_huge` (where DPDK refuses `--in-memory`) a per-process
    /// `--file-prefix`.
    #[serde(default)]
    pub in_memory: bool,
    /// Memory to reserve in MiB (`-m`), 0 for DPDK's default.
    #[serde(default)]
    pub memory_mb: u32,
    /// Further EAL arguments, passed through verbatim.
    #[serde(default)]
    pub extra_args: Vec<String>,
}

/// Queue and descriptor counts.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Queues {
    /// Largest number of RX queues to use (one per worker); the TX side gets
    /// one more, for the control thread.
    pub max: u16,
    /// RX descriptors per queue (a power of two).
    pub rx_desc: u16,
    /// TX descriptors per queue (a power of two).
    pub tx_desc: u16,
}

/// The mbuf pool.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Mbuf {
    /// Mbufs per NUMA socket (2^q - 1 is the most memory-efficient).
    pub count: u32,
    /// Per-lcore cache size (≤ 512 and ≤ count / 1.5).
    pub cache: u32,
    /// Data room per mbuf including the 128-byte headroom (2176 = DPDK's
    /// default). Every frame must fit in one: the port never chains mbufs.
    pub data_room: u32,
    /// The port MTU (largest IP packet).
    pub mtu: u32,
}

/// Receive-side scaling.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Rss {
    /// Header fields hashed to pick the RX queue; empty for no RSS.
    #[serde(default)]
    pub hash: Vec<RssField>,
    /// The RSS key as hex (40 or 52 bytes); empty for the NIC's default.
    #[serde(default)]
    pub key: String,
}

/// One RSS hash field set (DPDK's `RTE_ETH_RSS_*`).
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "kebab-case")]
pub enum RssField {
    /// IPv4 addresses of any IPv4 packet.
    Ipv4,
    /// IPv4 fragments.
    Ipv4Frag,
    /// IPv4/TCP addresses and ports.
    Ipv4Tcp,
    /// IPv4/UDP addresses and ports.
    Ipv4Udp,
    /// Other IPv4 (not TCP/UDP/SCTP, not fragmented): ESP falls here when the
    /// NIC cannot hash the SPI.
    Ipv4Other,
    /// IPv6 addresses.
    Ipv6,
    /// IPv6 fragments.
    Ipv6Frag,
    /// IPv6/TCP.
    Ipv6Tcp,
    /// IPv6/UDP.
    Ipv6Udp,
    /// Other IPv6.
    Ipv6Other,
    /// The ESP SPI (only some NICs: E810, ConnectX-6 Dx).
    Esp,
    /// The AH SPI.
    Ah,
}

impl RssField {
    /// The name used in profiles.
    pub fn label(self) -> &'static str {
        match self {
            RssField::Ipv4 => "ipv4",
            RssField::Ipv4Frag => "ipv4-frag",
            RssField::Ipv4Tcp => "ipv4-tcp",
            RssField::Ipv4Udp => "ipv4-udp",
            RssField::Ipv4Other => "ipv4-other",
            RssField::Ipv6 => "ipv6",
            RssField::Ipv6Frag => "ipv6-frag",
            RssField::Ipv6Tcp => "ipv6-tcp",
            RssField::Ipv6Udp => "ipv6-udp",
            RssField::Ipv6Other => "ipv6-other",
            RssField::Esp => "esp",
            RssField::Ah => "ah",
        }
    }
}

/// A checksum the NIC computes (TX) or verifies (RX).
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "kebab-case")]
pub enum Csum {
    /// IPv4 header checksum.
    Ipv4,
    /// UDP checksum.
    Udp,
    /// TCP checksum.
    Tcp,
}

/// Checksum offloads.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Offloads {
    /// Checksums the NIC verifies on receive.
    #[serde(default)]
    pub rx_checksum: Vec<Csum>,
    /// Checksums the NIC fills in on transmit.
    #[serde(default)]
    pub tx_checksum: Vec<Csum>,
}

/// Cores and NUMA node.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Layout {
    /// NUMA node the NIC is attached to (its mempool lives there).
    #[serde(default)]
    pub numa_node: u32,
    /// Core of the EAL main lcore, which runs the control thread.
    pub control_core: u32,
    /// Cores of the workers, one RX/TX queue pair each.
    pub worker_cores: Vec<u32>,
}

/// Expected performance, for reports.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// Line rate in Gbit/s (0 for virtual devices).
    #[serde(default)]
    pub line_rate_gbps: f64,
    /// 64-byte-frame packet rate at line rate, in Mpps.
    #[serde(default)]
    pub line_rate_mpps: f64,
    /// Notes on what limits the rate.
    #[serde(default)]
    pub notes: String,
}

/// A profile that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Not valid TOML, an unknown key, a missing key or a wrong type; the
    /// message names the key and its line.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        message: String,
    },
    /// Parsed, but a value is out of range or contradicts another.
    #[error("{path}: `{key}`: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The offending key, dotted (`mbuf.count`).
        key: &'static str,
        /// What is wrong.
        message: String,
    },
}

/// Read, parse and validate the profile at `path`.
pub fn check(path: impl AsRef<Path>) -> Result<Profile, ProfileError> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).map_err(|source| ProfileError::Io {
        path: path.to_owned(),
        source,
    })?;
    parse(&text, path)
}

/// Parse and validate profile text; `path` is only used in messages.
pub fn parse(text: &str, path: &Path) -> Result<Profile, ProfileError> {
    let p: Profile = toml::from_str(text).map_err(|e| ProfileError::Parse {
        path: path.to_owned(),
        message: e.to_string(),
    })?;
    p.validate(path)?;
    Ok(p)
}

fn is_pci_addr(s: &str) -> bool {
    // DDDD:BB:DD.F (domain optional).
    let parts: Vec<&str> = s.split(':').collect();
    let (bus_dev_fn, ok_domain) = match parts.as_slice() {
        [d, b, df] => (
            Some((*b, *df)),
            d.len() == 4 && d.chars().all(|c| c.is_ascii_hexdigit()),
        ),
        [b, df] => (Some((*b, *df)), true),
        _ => (None, false),
    };
    let Some((b, df)) = bus_dev_fn else { return false };
    let Some((dev, func)) = df.split_once('.') else {
        return false;
    };
    ok_domain
        && b.len() == 2
        && b.chars().all(|c| c.is_ascii_hexdigit())
        && dev.len() == 2
        && dev.chars().all(|c| c.is_ascii_hexdigit())
        && func.len() == 1
        && func.chars().all(|c| c.is_digit(8))
}

impl Profile {
    /// Number of workers the layout asks for.
    pub fn workers(&self) -> usize {
        self.layout.worker_cores.len()
    }

    /// Mbufs a port with `workers` workers needs per socket: every RX and TX
    /// descriptor full, every lcore cache at its flush threshold (1.5 × size),
    /// and two bursts in flight per lcore.
    pub fn min_mbufs(&self, workers: usize) -> u64 {
        let w = workers as u64;
        let lcores = w + 1;
        w * u64::from(self.queues.rx_desc)
            + lcores * u64::from(self.queues.tx_desc)
            + lcores * (u64::from(self.mbuf.cache) * 3).div_ceil(2)
            + lcores * 2 * u64::from(BURST)
    }

    /// Largest frame (layer 2, no CRC) a single mbuf holds.
    pub fn max_frame(&self) -> u32 {
        self.mbuf.data_room.saturating_sub(MBUF_HEADROOM)
    }

    /// Validate the profile on its own (what needs no NIC).
    pub fn validate(&self, path: &Path) -> Result<(), ProfileError> {
        let bad = |key: &'static str, message: String| {
            Err(ProfileError::Invalid {
                path: path.to_owned(),
                key,
                message,
            })
        };
        if self.name.is_empty() {
            return bad("name", "must not be empty".into());
        }
        let d = &self.device;
        if d.pmd.is_empty() {
            return bad(
                "device.pmd",
                "must name the driver (e.g. net_ice, net_ring)".into(),
            );
        }
        if d.name.is_empty() || d.name.contains([',', ' ', '=']) {
            return bad("device.name", format!("`{}` is not a device name", d.name));
        }
        match d.kind {
            DeviceKind::Vdev => {
                if !d.name.starts_with(&d.pmd) {
                    return bad(
                        "device.name",
                        format!(
                            "a vdev's name must start with its driver `{}`, got `{}`",
                            d.pmd, d.name
                        ),
                    );
                }
            }
            DeviceKind::Pci => {
                if !is_pci_addr(&d.name) {
                    return bad(
                        "device.name",
                        format!("`{}` is not a PCI address (0000:3b:00.0)", d.name),
                    );
                }
                if self.eal.no_pci {
                    return bad("eal.no_pci", "a PCI device cannot be used with no_pci".into());
                }
            }
        }
        if d.devargs.contains(' ') {
            return bad("device.devargs", "must be `key=value,...` without spaces".into());
        }
        let q = &self.queues;
        if q.max == 0 {
            return bad("queues.max", "must be at least 1".into());
        }
        for (key, n) in [("queues.rx_desc", q.rx_desc), ("queues.tx_desc", q.tx_desc)] {
            if !n.is_power_of_two() || !(32..=16384).contains(&n) {
                return bad(key, format!("{n} is not a power of two within 32..=16384"));
            }
        }
        let m = &self.mbuf;
        if m.cache > MEMPOOL_CACHE_MAX {
            return bad(
                "mbuf.cache",
                format!("{} exceeds DPDK's maximum {MEMPOOL_CACHE_MAX}", m.cache),
            );
        }
        if u64::from(m.cache) * 3 / 2 > u64::from(m.count) {
            return bad(
                "mbuf.cache",
                format!("{} is more than count / 1.5 ({})", m.cache, m.count),
            );
        }
        if m.data_room > u32::from(u16::MAX) || m.data_room <= MBUF_HEADROOM {
            return bad(
                "mbuf.data_room",
                format!("{} is not within {MBUF_HEADROOM}..=65535", m.data_room),
            );
        }
        if !(68..=9600).contains(&m.mtu) {
            return bad("mbuf.mtu", format!("{} is not within 68..=9600", m.mtu));
        }
        if m.mtu + L2_OVERHEAD > self.max_frame() {
            return bad(
                "mbuf.mtu",
                format!(
                    "single-segment limit: MTU {} + {L2_OVERHEAD} bytes of layer 2 does not fit the {} bytes \
                     an mbuf holds (data_room {} - headroom {MBUF_HEADROOM}); raise mbuf.data_room to at \
                     least {}",
                    m.mtu,
                    self.max_frame(),
                    m.data_room,
                    m.mtu + L2_OVERHEAD + MBUF_HEADROOM
                ),
            );
        }
        let l = &self.layout;
        if l.worker_cores.is_empty() {
            return bad("layout.worker_cores", "needs at least one worker core".into());
        }
        if l.worker_cores.len() > usize::from(q.max) {
            return bad(
                "layout.worker_cores",
                format!(
                    "{} workers but only {} queues (queues.max)",
                    l.worker_cores.len(),
                    q.max
                ),
            );
        }
        let mut seen = std::collections::HashSet::new();
        for c in &l.worker_cores {
            if !seen.insert(*c) {
                return bad("layout.worker_cores", format!("core {c} listed twice"));
            }
        }
        if seen.contains(&l.control_core) {
            return bad(
                "layout.control_core",
                format!("core {} is also a worker core", l.control_core),
            );
        }
        let need = self.min_mbufs(self.workers());
        if u64::from(m.count) < need {
            return bad(
                "mbuf.count",
                format!(
                    "too few mbufs: {} workers with {} RX / {} TX descriptors and a cache of {} need at \
                     least {need}, the profile has {}",
                    self.workers(),
                    q.rx_desc,
                    q.tx_desc,
                    m.cache,
                    m.count
                ),
            );
        }
        if !self.rss.key.is_empty() {
            let k = &self.rss.key;
            // 80 or 104 hex digits: an even count, so whole bytes.
            if !k.chars().all(|c| c.is_ascii_hexdigit()) || ![80, 104].contains(&k.len()) {
                return bad("rss.key", "must be 40 or 52 bytes of hex".into());
            }
        }
        let mut seen = std::collections::HashSet::new();
        for f in &self.rss.hash {
            if !seen.insert(*f) {
                return bad("rss.hash", format!("`{}` listed twice", f.label()));
            }
        }
        if self.expect.line_rate_gbps < 0.0 || self.expect.line_rate_mpps < 0.0 {
            return bad("expect", "rates must not be negative".into());
        }
        Ok(())
    }

    /// The RSS key as bytes (empty for the NIC's default). Validated by
    /// [`Profile::validate`].
    pub fn rss_key(&self) -> Vec<u8> {
        let k = self.rss.key.as_bytes();
        k.chunks_exact(2)
            .filter_map(|p| {
                std::str::from_utf8(p)
                    .ok()
                    .and_then(|s| u8::from_str_radix(s, 16).ok())
            })
            .collect()
    }

    /// The EAL device argument for this profile: `devargs` from the run
    /// configuration when given (it names the device and may carry driver
    /// arguments), else the profile's name and devargs.
    pub fn device_spec(&self, devargs: Option<&str>) -> String {
        match devargs {
            Some(s) if !s.is_empty() => s.to_owned(),
            _ if self.device.devargs.is_empty() => self.device.name.clone(),
            _ => format!("{},{}", self.device.name, self.device.devargs),
        }
    }

    /// The EAL arguments this profile implies for one device (`devargs` as in
    /// [`Profile::device_spec`]).
    pub fn eal_args(&self, devargs: Option<&str>) -> Vec<String> {
        let mut a = Vec::new();
        if self.eal.no_huge {
            a.push("--no-huge".to_owned());
        }
        if self.eal.no_pci {
            a.push("--no-pci".to_owned());
        }
        if self.eal.in_memory && self.eal.no_huge {
            // --in-memory needs hugepages; without them a per-process file
            // prefix gives the same independence between processes.
            a.push(format!("--file-prefix=pcscf-{}", std::process::id()));
        } else if self.eal.in_memory {
            a.push("--in-memory".to_owned());
        }
        if self.eal.memory_mb > 0 {
            a.push("-m".to_owned());
            a.push(self.eal.memory_mb.to_string());
        }
        let spec = self.device_spec(devargs);
        match self.device.kind {
            DeviceKind::Vdev => a.push(format!("--vdev={spec}")),
            DeviceKind::Pci => {
                a.push("-a".to_owned());
                a.push(spec);
            }
        }
        a.extend(self.eal.extra_args.iter().cloned());
        a
    }
}

/// EAL device name part of a device spec (`net_ring0,foo=1` → `net_ring0`).
pub fn device_name(spec: &str) -> &str {
    spec.split(',').next().unwrap_or(spec)
}

/// The full EAL command line for a set of ports: program name, the main
/// lcore (the first profile's control core), each profile's options (flags
/// deduplicated, the largest memory size), every device, then `extra`.
pub fn eal_command_line(ports: &[(&Profile, Option<&str>)], extra: &[String]) -> Vec<String> {
    let mut args = vec!["pcscf-dp".to_owned()];
    if let Some((p, _)) = ports.first() {
        args.push("-l".to_owned());
        args.push(p.layout.control_core.to_string());
    }
    let mut flags: Vec<String> = Vec::new();
    let mut mem = 0u32;
    let mut devs: Vec<String> = Vec::new();
    for (p, devargs) in ports {
        mem = mem.max(p.eal.memory_mb);
        let mut it = p.eal_args(*devargs).into_iter();
        while let Some(a) = it.next() {
            if a == "-m" {
                let _ = it.next();
            } else if a == "-a" {
                if let Some(d) = it.next() {
                    devs.push("-a".to_owned());
                    devs.push(d);
                }
            } else if a.starts_with("--vdev=") {
                devs.push(a);
            } else if !flags.contains(&a) {
                flags.push(a);
            }
        }
    }
    args.extend(flags);
    if mem > 0 {
        args.push("-m".to_owned());
        args.push(mem.to_string());
    }
    args.extend(devs);
    args.extend(extra.iter().cloned());
    args
}

/// Where a run's cores come from, for checking them against the machine
/// ([`validate_cores`]). The keys name the setting in messages, e.g.
/// `dataplane.cores` or `layout.worker_cores (hw-profiles/e810.toml)`.
#[derive(Clone, Copy, Debug)]
pub struct CorePlan<'a> {
    /// Worker cores, in worker order (may be empty: nothing to check).
    pub workers: &'a [usize],
    /// The key that set `workers`.
    pub workers_key: &'a str,
    /// The control thread's core (the EAL main lcore on DPDK), if pinned.
    pub control: Option<usize>,
    /// The key that set `control`.
    pub control_key: &'a str,
}

/// A configured core the machine cannot give the run.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum CoreError {
    /// The core does not exist on this machine or is offline.
    #[error("`{key}`: core {core} is not an online CPU of this machine (online: {online})")]
    NotOnline {
        /// The setting that names the core.
        key: String,
        /// The core.
        core: usize,
        /// The machine's online CPUs, as a Linux CPU list (`0-3,6`).
        online: String,
    },
    /// The same core is given to two workers.
    #[error(
        "`{key}`: core {core} is listed twice; each worker polls without pause and needs a core of its own"
    )]
    Duplicate {
        /// The setting that names the core.
        key: String,
        /// The core.
        core: usize,
    },
    /// A worker is put on the control thread's core.
    #[error(
        "`{key}`: core {core} is also the control core (`{control_key}`); a polling worker there would \
         starve the control thread: give the control thread a core of its own"
    )]
    SharedWithControl {
        /// The worker setting.
        key: String,
        /// The core.
        core: usize,
        /// The control-core setting.
        control_key: String,
    },
}

/// Parse a Linux CPU list (`/sys/devices/system/cpu/online`: `0-3,8,10-11`,
/// maybe with a trailing newline). `None` when malformed.
pub fn parse_cpu_list(s: &str) -> Option<Vec<usize>> {
    let s = s.trim();
    let mut v = Vec::new();
    if s.is_empty() {
        return Some(v);
    }
    for part in s.split(',') {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (usize, usize) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
                if a > b || b - a > 1 << 16 {
                    return None;
                }
                v.extend(a..=b);
            }
            None => v.push(part.trim().parse().ok()?),
        }
    }
    v.sort_unstable();
    v.dedup();
    Some(v)
}

/// Format sorted CPUs as a Linux CPU list (`0-3,6`).
pub fn format_cpu_list(cpus: &[usize]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < cpus.len() {
        let mut j = i;
        while j + 1 < cpus.len() && cpus[j + 1] == cpus[j] + 1 {
            j += 1;
        }
        out.push(if i == j {
            cpus[i].to_string()
        } else {
            format!("{}-{}", cpus[i], cpus[j])
        });
        i = j + 1;
    }
    out.join(",")
}

/// The machine's online CPUs: `/sys/devices/system/cpu/online`, or, where
/// that cannot be read, the CPUs this process may run on. `None` when
/// neither is known (then nothing can be checked).
///
/// Call it before `rte_eal_init`: the EAL narrows the calling thread's
/// affinity to its main lcore, which the fallback would then report.
pub fn online_cpus() -> Option<Vec<usize>> {
    if let Some(v) = std::fs::read_to_string("/sys/devices/system/cpu/online")
        .ok()
        .and_then(|s| parse_cpu_list(&s))
        .filter(|v| !v.is_empty())
    {
        return Some(v);
    }
    let mut v: Vec<usize> = core_affinity::get_core_ids()?.into_iter().map(|c| c.id).collect();
    v.sort_unstable();
    Some(v)
}

/// Check a core plan against the `online` CPUs (sorted): every worker and
/// the control core must be online, workers must be distinct, and no worker
/// may share the control core (workers poll; the control thread must get
/// CPU time for registrations and exceptions). The first problem found is
/// returned, naming the key and the core.
pub fn validate_cores(plan: &CorePlan<'_>, online: &[usize]) -> Result<(), CoreError> {
    let not_online = |key: &str, core: usize| CoreError::NotOnline {
        key: key.to_owned(),
        core,
        online: format_cpu_list(online),
    };
    if let Some(c) = plan.control {
        if online.binary_search(&c).is_err() {
            return Err(not_online(plan.control_key, c));
        }
    }
    for (i, &c) in plan.workers.iter().enumerate() {
        if online.binary_search(&c).is_err() {
            return Err(not_online(plan.workers_key, c));
        }
        if plan.workers[..i].contains(&c) {
            return Err(CoreError::Duplicate {
                key: plan.workers_key.to_owned(),
                core: c,
            });
        }
        if plan.control == Some(c) {
            return Err(CoreError::SharedWithControl {
                key: plan.workers_key.to_owned(),
                core: c,
                control_key: plan.control_key.to_owned(),
            });
        }
    }
    Ok(())
}

/// Check the cores a run configuration pins (`dataplane.cores`,
/// `dataplane.control_core`) against this machine's online CPUs
/// ([`online_cpus`], [`validate_cores`]). Cores left out of the file are
/// chosen by the start-up code and not checked here. When the machine's CPUs
/// cannot be read nothing is checked.
pub fn validate_config_cores(cfg: &crate::config::Config) -> Result<(), CoreError> {
    let Some(online) = online_cpus() else {
        return Ok(());
    };
    validate_cores(
        &CorePlan {
            workers: &cfg.cores,
            workers_key: "dataplane.cores",
            control: cfg.control_core,
            control_key: "dataplane.control_core",
        },
        &online,
    )
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |v: &[String]| if v.is_empty() { "-".to_owned() } else { v.join(",") };
        writeln!(f, "profile       {}", self.name)?;
        writeln!(
            f,
            "device        {:?} {} (pmd {})",
            self.device.kind,
            self.device_spec(None),
            self.device.pmd
        )?;
        writeln!(
            f,
            "queues        {} max, {} rx / {} tx descriptors",
            self.queues.max, self.queues.rx_desc, self.queues.tx_desc
        )?;
        writeln!(
            f,
            "mbufs         {} per socket, cache {}, data room {}, mtu {}",
            self.mbuf.count, self.mbuf.cache, self.mbuf.data_room, self.mbuf.mtu
        )?;
        let rss: Vec<String> = self.rss.hash.iter().map(|h| h.label().to_owned()).collect();
        writeln!(f, "rss           {}", list(&rss))?;
        let cs = |v: &[Csum]| -> Vec<String> { v.iter().map(|c| format!("{c:?}").to_lowercase()).collect() };
        writeln!(f, "rx checksum   {}", list(&cs(&self.offloads.rx_checksum)))?;
        writeln!(f, "tx checksum   {}", list(&cs(&self.offloads.tx_checksum)))?;
        writeln!(
            f,
            "layout        numa {}, control core {}, workers {:?}",
            self.layout.numa_node, self.layout.control_core, self.layout.worker_cores
        )?;
        write!(
            f,
            "expect        {} Gbit/s, {} Mpps",
            self.expect.line_rate_gbps, self.expect.line_rate_mpps
        )
    }
}

/// Print what the running DPDK reports about each profile's port next to
/// the profile. Initialises the EAL with the profiles' arguments plus
/// `extra_eal`; `ports` pairs each profile with an optional device override.
#[cfg(feature = "dpdk")]
pub fn show(
    ports: &[(&Profile, Option<&str>)],
    extra_eal: &[String],
    out: &mut dyn std::io::Write,
) -> Result<(), crate::port::dpdk::DpdkError> {
    use crate::port::dpdk::{DpdkError, Eal};
    let args = eal_command_line(ports, extra_eal);
    let eal = Eal::init(&args)?;
    let io = |e: std::io::Error| DpdkError::Io(e.to_string());
    writeln!(out, "EAL: {}", args.join(" ")).map_err(io)?;
    for (p, devargs) in ports {
        let spec = p.device_spec(*devargs);
        let r = eal.port_report(device_name(&spec))?;
        writeln!(out, "\n== {} ({}) ==", p.name, device_name(&spec)).map_err(io)?;
        writeln!(out, "{:<16} {:<40} NIC reports", "", "profile").map_err(io)?;
        for row in r.compare(p, p.workers()) {
            let mark = if row.ok {
                ""
            } else {
                "   <-- contradicts the profile"
            };
            writeln!(out, "{:<16} {:<40} {}{}", row.what, row.profile, row.nic, mark).map_err(io)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
name = "t"
[device]
kind = "vdev"
pmd = "net_ring"
name = "net_ring0"
[eal]
no_huge = true
no_pci = true
memory_mb = 512
[queues]
max = 4
rx_desc = 512
tx_desc = 512
[mbuf]
count = 8191
cache = 128
data_room = 2176
mtu = 1500
[rss]
hash = ["ipv4-udp", "esp"]
[layout]
control_core = 0
worker_cores = [1, 2]
"#;

    fn p(text: &str) -> Result<Profile, ProfileError> {
        parse(text, Path::new("x.toml"))
    }

    #[test]
    fn parses_a_good_profile() {
        let pr = p(GOOD).unwrap();
        assert_eq!(pr.workers(), 2);
        assert_eq!(pr.rss.hash, vec![RssField::Ipv4Udp, RssField::Esp]);
        assert_eq!(pr.max_frame(), 2048);
        assert_eq!(
            pr.eal_args(None),
            vec!["--no-huge", "--no-pci", "-m", "512", "--vdev=net_ring0"]
        );
        assert_eq!(pr.device_spec(Some("net_ring1,x=1")), "net_ring1,x=1");
    }

    #[test]
    fn unknown_key_names_file_and_key() {
        let e = p(&GOOD.replace("mtu = 1500", "mtu = 1500\nmtuu = 9000")).unwrap_err();
        let m = e.to_string();
        assert!(m.starts_with("x.toml:"), "{m}");
        assert!(m.contains("mtuu"), "{m}");
        let e = p(&format!("{GOOD}\n[bogus]\na = 1\n")).unwrap_err().to_string();
        assert!(e.contains("bogus"), "{e}");
    }

    #[test]
    fn unknown_rss_field_is_rejected() {
        let e = p(&GOOD.replace("\"esp\"", "\"spi\"")).unwrap_err().to_string();
        assert!(e.contains("spi"), "{e}");
    }

    #[test]
    fn single_segment_limit() {
        let e = p(&GOOD.replace("mtu = 1500", "mtu = 9000")).unwrap_err();
        assert!(matches!(e, ProfileError::Invalid { key: "mbuf.mtu", .. }), "{e}");
        assert!(p(&GOOD.replace("mtu = 1500", "mtu = 9000").replace("2176", "9344")).is_ok());
    }

    #[test]
    fn too_few_mbufs() {
        let e = p(&GOOD.replace("count = 8191", "count = 1023")).unwrap_err();
        assert!(
            matches!(
                e,
                ProfileError::Invalid {
                    key: "mbuf.count",
                    ..
                }
            ),
            "{e}"
        );
        assert!(e.to_string().contains("too few mbufs"));
    }

    #[test]
    fn more_workers_than_queues() {
        let e = p(&GOOD.replace("max = 4", "max = 1")).unwrap_err();
        assert!(
            matches!(
                e,
                ProfileError::Invalid {
                    key: "layout.worker_cores",
                    ..
                }
            ),
            "{e}"
        );
    }

    #[test]
    fn bad_values() {
        let cases = [
            ("rx_desc = 512", "rx_desc = 500", "queues.rx_desc"),
            ("control_core = 0", "control_core = 1", "layout.control_core"),
            ("name = \"net_ring0\"", "name = \"net_null0\"", "device.name"),
            ("cache = 128", "cache = 1024", "mbuf.cache"),
            ("kind = \"vdev\"", "kind = \"pci\"", "device.name"),
        ];
        for (from, to, key) in cases {
            match p(&GOOD.replace(from, to)) {
                Err(ProfileError::Invalid { key: k, .. }) => assert_eq!(k, key, "{to}"),
                other => panic!("{to}: {other:?}"),
            }
        }
    }

    #[test]
    fn pci_addresses() {
        assert!(is_pci_addr("0000:3b:00.0"));
        assert!(is_pci_addr("3b:00.1"));
        assert!(!is_pci_addr("net_ring0"));
        assert!(!is_pci_addr("0000:3b:00"));
        assert!(!is_pci_addr("0000:3b:00.9"));
    }

    #[test]
    fn eal_command_line_merges_ports() {
        let a = p(GOOD).unwrap();
        let mut b = a.clone();
        b.device.name = "net_ring1".into();
        b.eal.memory_mb = 1024;
        let args = eal_command_line(&[(&a, None), (&b, None)], &["--log-level=warning".into()]);
        assert_eq!(
            args,
            vec![
                "pcscf-dp",
                "-l",
                "0",
                "--no-huge",
                "--no-pci",
                "-m",
                "1024",
                "--vdev=net_ring0",
                "--vdev=net_ring1",
                "--log-level=warning"
            ]
        );
        assert_eq!(device_name("net_ring0,a=b"), "net_ring0");
    }

    fn plan<'a>(workers: &'a [usize], control: Option<usize>) -> CorePlan<'a> {
        CorePlan {
            workers,
            workers_key: "dataplane.cores",
            control,
            control_key: "dataplane.control_core",
        }
    }

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_cpu_list("0-3,8,10-11\n"), Some(vec![0, 1, 2, 3, 8, 10, 11]));
        assert_eq!(parse_cpu_list("0"), Some(vec![0]));
        assert_eq!(parse_cpu_list(""), Some(vec![]));
        assert_eq!(parse_cpu_list("3-1"), None);
        assert_eq!(parse_cpu_list("a"), None);
        assert_eq!(parse_cpu_list("0-"), None);
        assert_eq!(format_cpu_list(&[0, 1, 2, 3, 8, 10, 11]), "0-3,8,10-11");
        assert_eq!(format_cpu_list(&[5]), "5");
        assert_eq!(format_cpu_list(&[]), "");
    }

    #[test]
    fn cores_checked_against_a_fake_machine() {
        // A machine with CPUs 0-3 and 6 online (4 and 5 offline).
        let online = [0, 1, 2, 3, 6];
        assert_eq!(validate_cores(&plan(&[1, 2, 6], Some(0)), &online), Ok(()));
        assert_eq!(validate_cores(&plan(&[], None), &online), Ok(()));
        let e = validate_cores(&plan(&[1, 5], Some(0)), &online).unwrap_err();
        assert_eq!(
            e,
            CoreError::NotOnline {
                key: "dataplane.cores".into(),
                core: 5,
                online: "0-3,6".into()
            }
        );
        let m = e.to_string();
        assert!(
            m.contains("`dataplane.cores`") && m.contains("core 5") && m.contains("0-3,6"),
            "{m}"
        );
        let e = validate_cores(&plan(&[1], Some(64)), &online).unwrap_err();
        assert!(
            matches!(&e, CoreError::NotOnline { key, core: 64, .. } if key == "dataplane.control_core"),
            "{e}"
        );
        let e = validate_cores(&plan(&[1, 2, 1], Some(0)), &online).unwrap_err();
        assert!(matches!(&e, CoreError::Duplicate { core: 1, .. }), "{e}");
        let e = validate_cores(&plan(&[1, 2], Some(2)), &online).unwrap_err();
        assert!(
            matches!(&e, CoreError::SharedWithControl { core: 2, control_key, .. } if control_key == "dataplane.control_core"),
            "{e}"
        );
        // No pinned control core: workers only need to be online and distinct.
        assert_eq!(validate_cores(&plan(&[0, 1], None), &online), Ok(()));
    }

    #[test]
    fn this_machine_has_online_cpus() {
        let v = online_cpus().expect("Linux reports its CPUs");
        assert!(!v.is_empty());
        assert!(v.windows(2).all(|w| w[0] < w[1]), "{v:?}");
        // The CPU this test runs on is online (core ids are small here).
        assert_eq!(validate_cores(&plan(&[], v.first().copied()), &v), Ok(()));
        let beyond = v.last().copied().unwrap_or(0) + 1;
        assert!(validate_cores(&plan(&[beyond], None), &v).is_err());
    }

    #[test]
    fn shipped_profiles_check() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../hw-profiles");
        let mut n = 0;
        for e in std::fs::read_dir(&dir).unwrap() {
            let path = e.unwrap().path();
            if path.extension().is_some_and(|x| x == "toml") {
                check(&path).unwrap_or_else(|e| panic!("{e}"));
                n += 1;
            }
        }
        assert!(n >= 8, "expected the 8 shipped profiles, found {n}");
        // The smoke benchmark's memif profile.
        let memif = Path::new(env!("CARGO_MANIFEST_DIR")).join("../bench/dpdk/vdev-memif.toml");
        check(&memif).unwrap_or_else(|e| panic!("{e}"));
    }
}
