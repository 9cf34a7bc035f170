//! DPDK ports (feature `dpdk`): the EAL, mempools, ethdev ports and the
//! owning mbuf wrapper.
//!
//! Owns: EAL initialisation (once per process) and clean-up, one mbuf pool
//! per NUMA socket, configuring a port from its hw-profile (one RX/TX queue
//! pair per worker plus one TX queue for the control thread, RSS, checksum
//! offloads, descriptor counts, the single-segment limit), checking the
//! profile against what the NIC reports, registering worker threads with
//! the EAL, and live statistics.
//!
//! [`Mbuf`] owns one single-segment `rte_mbuf`: it frees it on `Drop`, and
//! [`Mbuf::into_raw`] hands it to the NIC on transmit. [`DpdkQueue`]
//! implements [`PortQueue`], so the pipeline runs on DPDK unchanged.
//!
//! Must never: let an mbuf be freed twice or used after the NIC took it;
//! block or allocate on the hot path (`rx_burst`, `tx_burst`, `alloc`); panic
//! on anything the NIC or the network hands us. This module and the
//! `dpdk-sys` binding are the only places in the data plane with `unsafe`
//! FFI; every block says why it is sound.
#![allow(unsafe_code)]

use super::{OpenedPort, PortError, PortInfo, PortQueue, BURST};
use crate::buf::{Buf, BufError};
use crate::profile::{Csum, Profile, RssField, L2_OVERHEAD, MBUF_HEADROOM};
use crossbeam_utils::CachePadded;
use dpdk_sys as sys;
use std::ffi::{CStr, CString};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};

// The profile's view of the mbuf headroom must be the binding's.
const _: () = assert!(MBUF_HEADROOM == sys::RTE_PKTMBUF_HEADROOM);
// BURST fits the u16 the burst functions take.
const _: () = assert!(BURST <= u16::MAX as usize);

/// What went wrong setting up or tearing down DPDK. Each message says what
/// to change.
#[derive(Debug, thiserror::Error)]
pub enum DpdkError {
    /// `Eal::init` was called a second time in this process.
    #[error("the DPDK EAL is already initialised in this process (it can be initialised once)")]
    AlreadyInitialised,
    /// A DPDK call was made before `Eal::init`.
    #[error("the DPDK EAL is not initialised")]
    NotInitialised,
    /// `rte_eal_init` failed.
    #[error("EAL initialisation failed ({reason}); EAL arguments were: {args}")]
    EalInit {
        /// The arguments given.
        args: String,
        /// `rte_strerror(rte_errno)`.
        reason: String,
    },
    /// No ethdev port of that name exists.
    #[error(
        "DPDK port `{name}` not found: the EAL has {available:?}. For a virtual device check the \
         --vdev argument; for a NIC check that it is bound to vfio-pci (dpdk-devbind.py --status) and \
         allowed with -a"
    )]
    PortNotFound {
        /// The device name looked up.
        name: String,
        /// The ports the EAL did find.
        available: Vec<String>,
    },
    /// More workers than the NIC has queues (each worker needs one RX/TX pair,
    /// the control thread one more TX queue).
    #[error(
        "port `{port}`: {workers} workers need {workers} RX and {} TX queues, the NIC offers {rx_max} RX \
         and {tx_max} TX; use fewer workers",
        workers + 1
    )]
    TooManyWorkers {
        /// The port.
        port: String,
        /// Workers asked for.
        workers: usize,
        /// RX queues the NIC has.
        rx_max: u16,
        /// TX queues the NIC has.
        tx_max: u16,
    },
    /// The mbuf pool is too small for the queues and caches.
    #[error(
        "port `{port}`: too few mbufs: the pool on socket {socket} has {have}, the queues, caches and \
         bursts of the ports on it need {need}; raise mbuf.count in the hw-profile (the pool is shared by \
         all ports on the socket and sized by the first one opened)"
    )]
    TooFewMbufs {
        /// The port.
        port: String,
        /// NUMA socket of the pool.
        socket: i32,
        /// Mbufs in the pool.
        have: u64,
        /// Mbufs needed.
        need: u64,
    },
    /// The NIC reports something the hw-profile contradicts.
    #[error("port `{port}`: the NIC contradicts hw-profile `{profile}`: {what}")]
    Contradiction {
        /// The port.
        port: String,
        /// The profile's name.
        profile: String,
        /// What differs, profile against NIC.
        what: String,
    },
    /// Creating an mbuf pool failed.
    #[error("creating the mbuf pool on socket {socket} failed: {reason} (raise -m / eal.memory_mb?)")]
    Mempool {
        /// The NUMA socket.
        socket: i32,
        /// `rte_strerror(rte_errno)`.
        reason: String,
    },
    /// An ethdev call failed.
    #[error("port `{port}`: {call} failed: {reason}")]
    Call {
        /// The port.
        port: String,
        /// The DPDK function.
        call: &'static str,
        /// `rte_strerror` of its return code.
        reason: String,
    },
    /// Shutdown was asked while queues or mbufs were still in use.
    #[error("cannot shut down DPDK: {0}")]
    InUse(String),
    /// Registering a worker thread with the EAL failed.
    #[error("registering the worker thread with the EAL failed: {0} (more threads than RTE_MAX_LCORE?)")]
    Register(String),
    /// Writing a report failed.
    #[error("{0}")]
    Io(String),
}

impl From<DpdkError> for PortError {
    fn from(e: DpdkError) -> Self {
        PortError::Config(e.to_string())
    }
}

fn strerror(code: i32) -> String {
    // SAFETY: rte_strerror returns a pointer to a static or thread-local
    // NUL-terminated string for any code; we copy it out at once.
    unsafe {
        let p = sys::rte_strerror(code.abs());
        if p.is_null() {
            return format!("error {code}");
        }
        CStr::from_ptr(p).to_string_lossy().into_owned()
    }
}

fn rte_errno() -> i32 {
    // SAFETY: reads the calling thread's rte_errno; no preconditions.
    unsafe { sys::pcscf_rte_errno() }
}

// ---------------------------------------------------------------------------
// Mbuf
// ---------------------------------------------------------------------------

/// An owned, single-segment `rte_mbuf`.
///
/// Freed back to its pool on `Drop`; [`Mbuf::into_raw`] gives up ownership
/// (to the NIC on transmit). The data accessors work on the mbuf's fields
/// directly (no FFI call per access).
pub struct Mbuf {
    ptr: NonNull<sys::rte_mbuf>,
}

// SAFETY: an Mbuf is the unique owner of its rte_mbuf (refcnt 1, not shared
// with the NIC), so moving it to another thread moves the only handle. Its
// pool is multi-producer/multi-consumer, so it may be freed from any thread.
unsafe impl Send for Mbuf {}

impl Mbuf {
    /// Take ownership of a raw mbuf.
    ///
    /// # Safety
    /// `ptr` must be a valid single-segment mbuf that nobody else owns or
    /// will free, from a pool that outlives the returned value.
    #[inline]
    pub unsafe fn from_raw(ptr: NonNull<sys::rte_mbuf>) -> Self {
        Mbuf { ptr }
    }

    /// Give up ownership without freeing (the caller, usually the NIC's TX
    /// ring, now owns it).
    #[inline]
    pub fn into_raw(self) -> NonNull<sys::rte_mbuf> {
        let p = self.ptr;
        std::mem::forget(self);
        p
    }

    #[inline]
    fn m(&self) -> &sys::rte_mbuf {
        // SAFETY: we own a valid mbuf for as long as self lives.
        unsafe { self.ptr.as_ref() }
    }

    #[inline]
    fn m_mut(&mut self) -> &mut sys::rte_mbuf {
        // SAFETY: as in m(), and &mut self makes the access unique.
        unsafe { self.ptr.as_mut() }
    }

    /// Number of segments (always 1 for mbufs this module hands out).
    #[inline]
    pub fn nb_segs(&self) -> u16 {
        self.m().nb_segs
    }

    /// The mbuf's offload flags (`RTE_MBUF_F_RX_*` on receive).
    #[inline]
    pub fn ol_flags(&self) -> u64 {
        self.m().ol_flags
    }

    /// Whether the NIC verified the L4 checksum as good on receive.
    #[inline]
    pub fn rx_l4_csum_good(&self) -> bool {
        self.ol_flags() & u64::from(sys::RTE_MBUF_F_RX_L4_CKSUM_MASK)
            == u64::from(sys::RTE_MBUF_F_RX_L4_CKSUM_GOOD)
    }

    /// Whether the NIC verified the IPv4 header checksum as good on receive.
    #[inline]
    pub fn rx_ip_csum_good(&self) -> bool {
        self.ol_flags() & u64::from(sys::RTE_MBUF_F_RX_IP_CKSUM_MASK)
            == u64::from(sys::RTE_MBUF_F_RX_IP_CKSUM_GOOD)
    }

    /// Ask the NIC to fill in checksums on transmit (only on a queue whose
    /// [`PortQueue::tx_csum_offload`] is true). `l2_len` and `l3_len` are the
    /// Ethernet (with VLAN tags) and IP header lengths. For `l4` the caller
    /// must have stored the pseudo-header checksum in the UDP/TCP checksum
    /// field, as DPDK's `rte_ipv4_phdr_cksum` computes it.
    pub fn request_tx_csum(&mut self, l2_len: u16, l3_len: u16, ipv4: bool, l4: Option<Csum>) {
        let mut fl = if ipv4 {
            sys::RTE_MBUF_F_TX_IPV4 | sys::RTE_MBUF_F_TX_IP_CKSUM
        } else {
            sys::RTE_MBUF_F_TX_IPV6
        };
        fl |= match l4 {
            Some(Csum::Udp) => sys::RTE_MBUF_F_TX_UDP_CKSUM,
            Some(Csum::Tcp) => sys::RTE_MBUF_F_TX_TCP_CKSUM,
            _ => 0,
        };
        // SAFETY: we own the mbuf; the shim writes ol_flags and the l2/l3
        // length bit-fields only.
        unsafe { sys::pcscf_mbuf_set_tx_offload(self.ptr.as_ptr(), fl, l2_len, l3_len) }
    }
}

impl Drop for Mbuf {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: we own the mbuf and never use it again.
        unsafe { sys::pcscf_rte_pktmbuf_free(self.ptr.as_ptr()) }
    }
}

impl core::fmt::Debug for Mbuf {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Mbuf")
            .field("data_off", &self.m().data_off)
            .field("data_len", &self.m().data_len)
            .field("buf_len", &self.m().buf_len)
            .finish()
    }
}

impl Buf for Mbuf {
    #[inline]
    fn rx_l4_csum_good(&self) -> bool {
        Mbuf::rx_l4_csum_good(self)
    }

    #[inline]
    fn request_tx_udp_csum(&mut self, l2_len: usize, l3_len: usize, ipv4: bool) -> bool {
        // The l2_len/l3_len bit-fields are 7 and 9 bits wide.
        let (Ok(l2), Ok(l3)) = (u16::try_from(l2_len), u16::try_from(l3_len)) else {
            return false;
        };
        if l2 >= 1 << 7 || l3 >= 1 << 9 {
            return false;
        }
        self.request_tx_csum(l2, l3, ipv4, Some(Csum::Udp));
        true
    }

    #[inline]
    fn data(&self) -> &[u8] {
        let m = self.m();
        // SAFETY: single segment (checked on receive, true on alloc), so the
        // frame is data_len bytes at buf_addr + data_off, inside the buf_len
        // bytes of buf_addr (DPDK's invariant, kept by the methods below).
        unsafe {
            std::slice::from_raw_parts(
                (m.buf_addr as *const u8).add(usize::from(m.data_off)),
                usize::from(m.data_len),
            )
        }
    }
    #[inline]
    fn data_mut(&mut self) -> &mut [u8] {
        let m = self.m_mut();
        // SAFETY: as in data(); &mut self makes it unique.
        unsafe {
            std::slice::from_raw_parts_mut(
                (m.buf_addr as *mut u8).add(usize::from(m.data_off)),
                usize::from(m.data_len),
            )
        }
    }
    #[inline]
    fn headroom(&self) -> usize {
        usize::from(self.m().data_off)
    }
    #[inline]
    fn tailroom(&self) -> usize {
        let m = self.m();
        usize::from(m.buf_len).saturating_sub(usize::from(m.data_off) + usize::from(m.data_len))
    }
    #[inline]
    fn prepend(&mut self, n: usize) -> Result<(), BufError> {
        if n > self.headroom() {
            return Err(BufError::NoHeadroom);
        }
        let m = self.m_mut();
        // n ≤ data_off ≤ u16::MAX, and data_len + n ≤ buf_len ≤ u16::MAX.
        m.data_off -= n as u16;
        m.data_len += n as u16;
        m.pkt_len += n as u32;
        Ok(())
    }
    #[inline]
    fn adj(&mut self, n: usize) -> Result<(), BufError> {
        if n > self.len() {
            return Err(BufError::TooShort);
        }
        let m = self.m_mut();
        m.data_off += n as u16;
        m.data_len -= n as u16;
        m.pkt_len -= n as u32;
        Ok(())
    }
    #[inline]
    fn append(&mut self, n: usize) -> Result<(), BufError> {
        if n > self.tailroom() {
            return Err(BufError::NoTailroom);
        }
        let m = self.m_mut();
        m.data_len += n as u16;
        m.pkt_len += n as u32;
        Ok(())
    }
    #[inline]
    fn trim(&mut self, n: usize) -> Result<(), BufError> {
        if n > self.len() {
            return Err(BufError::TooShort);
        }
        let m = self.m_mut();
        m.data_len -= n as u16;
        m.pkt_len -= n as u32;
        Ok(())
    }
}

/// The shim's own versions of the mbuf data helpers, for tests that check
/// [`Mbuf`]'s field arithmetic against DPDK's, and for measuring the cost of
/// a shim call. Not for the hot path.
pub mod shim_ref {
    use super::{sys, Mbuf};

    /// `rte_pktmbuf_headroom` through the shim.
    pub fn headroom(m: &Mbuf) -> u16 {
        // SAFETY: m owns a valid mbuf; the call only reads it.
        unsafe { sys::pcscf_rte_pktmbuf_headroom(m.ptr.as_ptr()) }
    }
    /// `rte_pktmbuf_tailroom` through the shim.
    pub fn tailroom(m: &Mbuf) -> u16 {
        // SAFETY: as above.
        unsafe { sys::pcscf_rte_pktmbuf_tailroom(m.ptr.as_ptr()) }
    }
    /// `rte_pktmbuf_data_len` through the shim.
    pub fn data_len(m: &Mbuf) -> u16 {
        // SAFETY: as above.
        unsafe { sys::pcscf_rte_pktmbuf_data_len(m.ptr.as_ptr()) }
    }
    /// `rte_pktmbuf_mtod` through the shim, as an address.
    pub fn mtod(m: &Mbuf) -> usize {
        // SAFETY: as above.
        unsafe { sys::pcscf_rte_pktmbuf_mtod(m.ptr.as_ptr()) as usize }
    }
    /// `rte_pktmbuf_prepend`; false where DPDK refuses.
    pub fn prepend(m: &mut Mbuf, n: u16) -> bool {
        // SAFETY: we own the mbuf; DPDK checks the length itself.
        unsafe { !sys::pcscf_rte_pktmbuf_prepend(m.ptr.as_ptr(), n).is_null() }
    }
    /// `rte_pktmbuf_adj`; false where DPDK refuses.
    pub fn adj(m: &mut Mbuf, n: u16) -> bool {
        // SAFETY: as above.
        unsafe { !sys::pcscf_rte_pktmbuf_adj(m.ptr.as_ptr(), n).is_null() }
    }
    /// `rte_pktmbuf_append`; false where DPDK refuses.
    pub fn append(m: &mut Mbuf, n: u16) -> bool {
        // SAFETY: as above.
        unsafe { !sys::pcscf_rte_pktmbuf_append(m.ptr.as_ptr(), n).is_null() }
    }
    /// `rte_pktmbuf_trim`; false where DPDK refuses.
    pub fn trim(m: &mut Mbuf, n: u16) -> bool {
        // SAFETY: as above.
        unsafe { sys::pcscf_rte_pktmbuf_trim(m.ptr.as_ptr(), n) == 0 }
    }
}

// ---------------------------------------------------------------------------
// EAL
// ---------------------------------------------------------------------------

const EAL_DOWN: u8 = 0;
const EAL_STARTING: u8 = 1;
const EAL_UP: u8 = 2;
const EAL_CLEANED: u8 = 3;
static EAL_STATE: AtomicU8 = AtomicU8::new(EAL_DOWN);

#[derive(Clone, Copy)]
struct PoolPtr(NonNull<sys::rte_mempool>);
// SAFETY: DPDK mempools are multi-producer/multi-consumer; a pointer to one
// may be used from any thread while the pool lives (until Eal::shutdown,
// which frees it only when no queue and no mbuf refers to it).
unsafe impl Send for PoolPtr {}
// SAFETY: as above; the pointer itself is never written through by us.
unsafe impl Sync for PoolPtr {}

struct Pool {
    socket: i32,
    data_room: u16,
    ptr: PoolPtr,
    count: u64,
    committed: u64,
}

struct EalInner {
    pools: Vec<Pool>,
    ports: Vec<(u16, String, Arc<PortLive>)>,
}

/// The initialised DPDK environment (one per process).
///
/// Made by [`Eal::init`]; opens ports ([`Eal::open_port`]); torn down by
/// [`Eal::shutdown`]. Control-path calls are serialised by an internal lock.
pub struct Eal {
    inner: Mutex<EalInner>,
}

/// Whether the EAL is up in this process.
pub fn eal_is_up() -> bool {
    EAL_STATE.load(Ordering::Acquire) == EAL_UP
}

impl Eal {
    /// Initialise the EAL with `args` (`args[0]` is the program name, as in
    /// argv). Build them with `profile::eal_command_line`. The calling
    /// thread becomes the EAL main lcore (the control thread).
    pub fn init(args: &[String]) -> Result<Eal, DpdkError> {
        if EAL_STATE
            .compare_exchange(EAL_DOWN, EAL_STARTING, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return Err(DpdkError::AlreadyInitialised);
        }
        let joined = args.join(" ");
        let mut argv: Vec<*mut libc::c_char> = Vec::with_capacity(args.len() + 1);
        for a in args {
            let c = CString::new(a.as_str()).map_err(|_| DpdkError::EalInit {
                args: joined.clone(),
                reason: format!("argument {a:?} contains a NUL byte"),
            })?;
            // The EAL may keep pointers into argv for the life of the
            // process, so the strings are leaked on purpose (once).
            argv.push(c.into_raw());
        }
        argv.push(std::ptr::null_mut());
        let argc = args.len() as libc::c_int;
        // SAFETY: argv holds argc valid NUL-terminated strings plus a NULL,
        // all leaked (live forever); the EAL is initialised at most once
        // (guarded by EAL_STATE).
        let r = unsafe { sys::rte_eal_init(argc, argv.as_mut_ptr()) };
        std::mem::forget(argv);
        if r < 0 {
            // rte_eal_init cannot be retried in the same process.
            EAL_STATE.store(EAL_CLEANED, Ordering::Release);
            return Err(DpdkError::EalInit {
                args: joined,
                reason: strerror(rte_errno()),
            });
        }
        EAL_STATE.store(EAL_UP, Ordering::Release);
        Ok(Eal {
            inner: Mutex::new(EalInner {
                pools: Vec::new(),
                ports: Vec::new(),
            }),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, EalInner> {
        // A panic while holding the lock leaves plain data; keep going.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Names of all ethdev ports the EAL found.
    pub fn port_names(&self) -> Vec<String> {
        let mut v = Vec::new();
        for id in 0..sys::RTE_MAX_ETHPORTS as u16 {
            if let Some(n) = port_name(id) {
                v.push(n);
            }
        }
        v
    }

    fn port_id(&self, name: &str) -> Result<u16, DpdkError> {
        let not_found = || DpdkError::PortNotFound {
            name: name.to_owned(),
            available: self.port_names(),
        };
        let c = CString::new(name).map_err(|_| not_found())?;
        let mut id = 0u16;
        // SAFETY: c is a valid C string; id is a valid out-pointer.
        let r = unsafe { sys::rte_eth_dev_get_port_by_name(c.as_ptr(), &mut id) };
        if r != 0 {
            return Err(not_found());
        }
        Ok(id)
    }

    /// What the NIC of device `name` reports.
    pub fn port_report(&self, name: &str) -> Result<PortReport, DpdkError> {
        let _g = self.lock();
        let id = self.port_id(name)?;
        PortReport::read(id, name)
    }

    /// Configure and start the port of `profile` (device from `devargs` when
    /// given, as in the run configuration, else from the profile) with one
    /// RX/TX queue pair per worker and one TX queue for the control thread.
    ///
    /// Checks the profile against the NIC first: driver, queue counts,
    /// NUMA node, MTU against the single-segment limit, descriptor limits,
    /// RSS hash fields and checksum offloads. Any contradiction is an error;
    /// nothing is silently adjusted.
    pub fn open_port(
        &self,
        profile: &Profile,
        devargs: Option<&str>,
        workers: usize,
    ) -> Result<(DpdkPort, OpenedPort<DpdkQueue>), DpdkError> {
        let mut inner = self.lock();
        let spec = profile.device_spec(devargs);
        let name = crate::profile::device_name(&spec).to_owned();
        let id = self.port_id(&name)?;
        let report = PortReport::read(id, &name)?;
        let contra = |what: String| DpdkError::Contradiction {
            port: name.clone(),
            profile: profile.name.clone(),
            what,
        };
        if workers == 0 {
            return Err(contra("a port needs at least one worker".into()));
        }
        if workers > usize::from(report.max_rx_queues)
            || workers + 1 > usize::from(report.max_tx_queues)
            || workers > usize::from(profile.queues.max)
        {
            return Err(DpdkError::TooManyWorkers {
                port: name.clone(),
                workers,
                rx_max: report.max_rx_queues.min(profile.queues.max),
                tx_max: report.max_tx_queues,
            });
        }
        if let Some(row) = report.compare(profile, workers).into_iter().find(|r| !r.ok) {
            return Err(contra(format!(
                "{}: profile says {}, NIC reports {}",
                row.what, row.profile, row.nic
            )));
        }
        if inner.ports.iter().any(|(p, _, _)| *p == id) {
            return Err(DpdkError::Call {
                port: name.clone(),
                call: "open_port",
                reason: "port already opened".into(),
            });
        }

        // The pool for this port's socket.
        let socket = if report.socket < 0 { 0 } else { report.socket };
        let need = profile.min_mbufs(workers);
        let data_room = profile.mbuf.data_room as u16;
        let pool_idx = match inner
            .pools
            .iter()
            .position(|p| p.socket == socket && p.data_room == data_room)
        {
            Some(i) => i,
            None => {
                let pname = CString::new(format!("pcscf_mb_s{socket}_{data_room}")).map_err(|_| {
                    DpdkError::Mempool {
                        socket,
                        reason: "bad name".into(),
                    }
                })?;
                // SAFETY: valid name; sizes validated by the profile (cache ≤
                // RTE_MEMPOOL_CACHE_MAX_SIZE, data_room ≤ u16::MAX); EAL is up.
                let mp = unsafe {
                    sys::rte_pktmbuf_pool_create(
                        pname.as_ptr(),
                        profile.mbuf.count,
                        profile.mbuf.cache,
                        0,
                        data_room,
                        socket,
                    )
                };
                let ptr = NonNull::new(mp).ok_or_else(|| DpdkError::Mempool {
                    socket,
                    reason: strerror(rte_errno()),
                })?;
                inner.pools.push(Pool {
                    socket,
                    data_room,
                    ptr: PoolPtr(ptr),
                    count: u64::from(profile.mbuf.count),
                    committed: 0,
                });
                inner.pools.len() - 1
            }
        };
        {
            let pool = &inner.pools[pool_idx];
            if pool.committed + need > pool.count {
                return Err(DpdkError::TooFewMbufs {
                    port: name.clone(),
                    socket,
                    have: pool.count,
                    need: pool.committed + need,
                });
            }
        }
        let pool = inner.pools[pool_idx].ptr;

        // Port configuration.
        let call = |call: &'static str, r: i32| -> Result<(), DpdkError> {
            if r < 0 {
                Err(DpdkError::Call {
                    port: name.clone(),
                    call,
                    reason: strerror(r),
                })
            } else {
                Ok(())
            }
        };
        let rss_hf = rss_hf(&profile.rss.hash);
        let mut key = profile.rss_key();
        let rx_off = rx_offloads(&profile.offloads.rx_checksum);
        let tx_off = tx_offloads(&profile.offloads.tx_checksum);
        let mut conf = sys::rte_eth_conf::default();
        conf.rxmode.mtu = profile.mbuf.mtu;
        conf.rxmode.offloads = rx_off;
        conf.txmode.offloads = tx_off;
        if rss_hf != 0 {
            conf.rxmode.mq_mode = sys::rte_eth_rx_mq_mode::RTE_ETH_MQ_RX_RSS;
            conf.rx_adv_conf.rss_conf.rss_hf = rss_hf;
            if !key.is_empty() {
                conf.rx_adv_conf.rss_conf.rss_key = key.as_mut_ptr();
                conf.rx_adv_conf.rss_conf.rss_key_len = key.len() as u8;
            }
        }
        let nrx = workers as u16;
        let ntx = nrx + 1;
        // SAFETY: conf is a fully initialised rte_eth_conf; the RSS key it may
        // point to (key) outlives the call, which copies it; port id valid.
        call("rte_eth_dev_configure", unsafe {
            sys::rte_eth_dev_configure(id, nrx, ntx, &conf)
        })?;
        let (mut nb_rxd, mut nb_txd) = (profile.queues.rx_desc, profile.queues.tx_desc);
        // SAFETY: valid port and out-pointers.
        call("rte_eth_dev_adjust_nb_rx_tx_desc", unsafe {
            sys::rte_eth_dev_adjust_nb_rx_tx_desc(id, &mut nb_rxd, &mut nb_txd)
        })?;
        let mut rxconf = report.default_rxconf;
        rxconf.offloads = rx_off;
        let mut txconf = report.default_txconf;
        txconf.offloads = tx_off;
        for q in 0..nrx {
            // SAFETY: queue index < configured count; rxconf valid; pool live.
            call("rte_eth_rx_queue_setup", unsafe {
                sys::rte_eth_rx_queue_setup(id, q, nb_rxd, socket as u32, &rxconf, pool.0.as_ptr())
            })?;
        }
        for q in 0..ntx {
            // SAFETY: as above.
            call("rte_eth_tx_queue_setup", unsafe {
                sys::rte_eth_tx_queue_setup(id, q, nb_txd, socket as u32, &txconf)
            })?;
        }
        // SAFETY: configured port.
        call("rte_eth_dev_start", unsafe { sys::rte_eth_dev_start(id) })?;
        // Best effort: virtual devices may not support it.
        // SAFETY: started port.
        let _ = unsafe { sys::rte_eth_promiscuous_enable(id) };
        let mut mac = sys::rte_ether_addr::default();
        // SAFETY: valid port and out-pointer.
        let _ = unsafe { sys::rte_eth_macaddr_get(id, &mut mac) };

        inner.pools[pool_idx].committed += need;
        let live = Arc::new(PortLive { pool });
        let tx_csum = tx_off != 0;
        let mk = |q: u16, rx: bool| {
            let sw: Arc<CachePadded<QueueSw>> = Arc::default();
            (
                DpdkQueue {
                    port: id,
                    queue: q,
                    rx,
                    pool,
                    tx_csum,
                    sw: sw.clone(),
                    local: LocalSw::default(),
                    scratch: [std::ptr::null_mut(); BURST],
                    _live: live.clone(),
                },
                sw,
            )
        };
        let mut worker_queues = Vec::with_capacity(workers);
        let mut sws = Vec::with_capacity(workers + 1);
        for q in 0..nrx {
            let (dq, sw) = mk(q, true);
            worker_queues.push(dq);
            sws.push(sw);
        }
        let (control_queue, sw) = mk(nrx, false);
        sws.push(sw);
        inner.ports.push((id, name.clone(), live.clone()));
        let info = PortInfo {
            name: name.clone(),
            mac: mac.addr_bytes,
            mtu: profile.mbuf.mtu as usize,
        };
        let port = DpdkPort {
            id,
            name,
            profile: profile.name.clone(),
            queues: sws,
            _live: live,
        };
        Ok((
            port,
            OpenedPort {
                info,
                worker_queues,
                control_queue,
            },
        ))
    }

    /// Stop and close every port, free the pools and clean up the EAL.
    ///
    /// Refuses (and stops nothing) while any queue of an opened port is still
    /// alive. Pools with mbufs still out (a frame kept somewhere) are left
    /// allocated and the EAL is not cleaned up, so a late `Drop` stays sound;
    /// the report says how many.
    pub fn shutdown(self, ports: Vec<DpdkPort>) -> Result<ShutdownReport, DpdkError> {
        let mut inner = self.lock();
        drop(ports);
        for (_, name, live) in &inner.ports {
            // One reference is ours; any other is a queue (or a DpdkPort the
            // caller kept).
            if Arc::strong_count(live) > 1 {
                return Err(DpdkError::InUse(format!(
                    "port `{name}` still has {} live queue or port handles; stop the workers first",
                    Arc::strong_count(live) - 1
                )));
            }
        }
        let mut rep = ShutdownReport::default();
        for (id, _, _) in inner.ports.drain(..) {
            // SAFETY: the port was started by open_port and no queue of it is
            // alive (checked above), so no burst call can race.
            unsafe {
                let _ = sys::rte_eth_dev_stop(id);
                let _ = sys::rte_eth_dev_close(id);
            }
            rep.ports_closed += 1;
        }
        let mut keep = Vec::new();
        for p in inner.pools.drain(..) {
            // SAFETY: pool is live (freed only here).
            let in_use = u64::from(unsafe { sys::rte_mempool_in_use_count(p.ptr.0.as_ptr()) });
            if in_use == 0 {
                // SAFETY: no port uses the pool any more (closed above) and no
                // mbuf of it is out.
                unsafe { sys::rte_mempool_free(p.ptr.0.as_ptr()) };
                rep.pools_freed += 1;
            } else {
                rep.mbufs_outstanding += in_use;
                keep.push(p);
            }
        }
        inner.pools = keep;
        if rep.mbufs_outstanding == 0 {
            // SAFETY: ports closed, pools freed; EAL_STATE ensures this runs once.
            let r = unsafe { sys::rte_eal_cleanup() };
            if r == 0 {
                EAL_STATE.store(EAL_CLEANED, Ordering::Release);
                rep.eal_cleaned = true;
            }
        }
        Ok(rep)
    }
}

/// What [`Eal::shutdown`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ShutdownReport {
    /// Ports stopped and closed.
    pub ports_closed: usize,
    /// Mempools freed.
    pub pools_freed: usize,
    /// Mbufs still out when the pools were checked (0 on a clean shutdown).
    pub mbufs_outstanding: u64,
    /// Whether `rte_eal_cleanup` ran.
    pub eal_cleaned: bool,
}

fn port_name(id: u16) -> Option<String> {
    // SAFETY: any id may be asked.
    if unsafe { sys::rte_eth_dev_is_valid_port(id) } == 0 {
        return None;
    }
    let mut buf = [0 as libc::c_char; sys::RTE_ETH_NAME_MAX_LEN as usize];
    // SAFETY: buf has RTE_ETH_NAME_MAX_LEN bytes as the API requires.
    if unsafe { sys::rte_eth_dev_get_name_by_port(id, buf.as_mut_ptr()) } != 0 {
        return None;
    }
    // SAFETY: DPDK NUL-terminates within the buffer.
    Some(
        unsafe { CStr::from_ptr(buf.as_ptr()) }
            .to_string_lossy()
            .into_owned(),
    )
}

/// Register the calling thread with the EAL so it gets an lcore id, and
/// with it the mempools' per-lcore caches. Call once at the start of each
/// worker thread (after pinning it); keep the guard for the thread's life.
/// Dropping the guard unregisters the thread.
pub fn register_worker_thread() -> Result<LcoreRegistration, DpdkError> {
    if !eal_is_up() {
        return Err(DpdkError::NotInitialised);
    }
    // SAFETY: reads the thread-local lcore id.
    let before = unsafe { sys::pcscf_rte_lcore_id() };
    if before != sys::LCORE_ID_ANY {
        // Already an EAL thread (the main lcore, or registered before).
        return Ok(LcoreRegistration {
            lcore: before,
            registered: false,
            _not_send: std::marker::PhantomData,
        });
    }
    // SAFETY: EAL is up; registers the calling thread only.
    if unsafe { sys::rte_thread_register() } != 0 {
        return Err(DpdkError::Register(strerror(rte_errno())));
    }
    // SAFETY: as above.
    let lcore = unsafe { sys::pcscf_rte_lcore_id() };
    Ok(LcoreRegistration {
        lcore,
        registered: true,
        _not_send: std::marker::PhantomData,
    })
}

/// The calling thread's EAL lcore id, or `None` for a thread the EAL does
/// not know.
pub fn current_lcore() -> Option<u32> {
    // SAFETY: reads a thread-local.
    let id = unsafe { sys::pcscf_rte_lcore_id() };
    (id != sys::LCORE_ID_ANY).then_some(id)
}

/// A worker thread's EAL registration (see [`register_worker_thread`]).
pub struct LcoreRegistration {
    lcore: u32,
    registered: bool,
    // Registration is per thread: the guard must be dropped where it was made.
    _not_send: std::marker::PhantomData<*const ()>,
}

impl LcoreRegistration {
    /// The lcore id the thread got.
    pub fn lcore(&self) -> u32 {
        self.lcore
    }
}

impl Drop for LcoreRegistration {
    fn drop(&mut self) {
        if self.registered && eal_is_up() {
            // SAFETY: this thread registered itself (the guard is !Send) and
            // the EAL is still up.
            unsafe { sys::rte_thread_unregister() }
        }
    }
}

// ---------------------------------------------------------------------------
// Profile ↔ DPDK flags
// ---------------------------------------------------------------------------

fn rss_bit(f: RssField) -> u64 {
    use sys::pcscf_rss_hf as h;
    match f {
        RssField::Ipv4 => h::PCSCF_RSS_IPV4,
        RssField::Ipv4Frag => h::PCSCF_RSS_FRAG_IPV4,
        RssField::Ipv4Tcp => h::PCSCF_RSS_NONFRAG_IPV4_TCP,
        RssField::Ipv4Udp => h::PCSCF_RSS_NONFRAG_IPV4_UDP,
        RssField::Ipv4Other => h::PCSCF_RSS_NONFRAG_IPV4_OTHER,
        RssField::Ipv6 => h::PCSCF_RSS_IPV6,
        RssField::Ipv6Frag => h::PCSCF_RSS_FRAG_IPV6,
        RssField::Ipv6Tcp => h::PCSCF_RSS_NONFRAG_IPV6_TCP,
        RssField::Ipv6Udp => h::PCSCF_RSS_NONFRAG_IPV6_UDP,
        RssField::Ipv6Other => h::PCSCF_RSS_NONFRAG_IPV6_OTHER,
        RssField::Esp => h::PCSCF_RSS_ESP,
        RssField::Ah => h::PCSCF_RSS_AH,
    }
}

fn rss_hf(fields: &[RssField]) -> u64 {
    fields.iter().fold(0, |a, f| a | rss_bit(*f))
}

fn rx_offloads(c: &[Csum]) -> u64 {
    use sys::pcscf_rx_offload as o;
    c.iter().fold(0, |a, c| {
        a | match c {
            Csum::Ipv4 => o::PCSCF_RX_OFFLOAD_IPV4_CKSUM,
            Csum::Udp => o::PCSCF_RX_OFFLOAD_UDP_CKSUM,
            Csum::Tcp => o::PCSCF_RX_OFFLOAD_TCP_CKSUM,
        }
    })
}

fn tx_offloads(c: &[Csum]) -> u64 {
    use sys::pcscf_tx_offload as o;
    c.iter().fold(0, |a, c| {
        a | match c {
            Csum::Ipv4 => o::PCSCF_TX_OFFLOAD_IPV4_CKSUM,
            Csum::Udp => o::PCSCF_TX_OFFLOAD_UDP_CKSUM,
            Csum::Tcp => o::PCSCF_TX_OFFLOAD_TCP_CKSUM,
        }
    })
}

const ALL_RSS: [RssField; 12] = [
    RssField::Ipv4,
    RssField::Ipv4Frag,
    RssField::Ipv4Tcp,
    RssField::Ipv4Udp,
    RssField::Ipv4Other,
    RssField::Ipv6,
    RssField::Ipv6Frag,
    RssField::Ipv6Tcp,
    RssField::Ipv6Udp,
    RssField::Ipv6Other,
    RssField::Esp,
    RssField::Ah,
];

fn rss_names(hf: u64) -> String {
    let v: Vec<&str> = ALL_RSS
        .iter()
        .filter(|f| hf & rss_bit(**f) == rss_bit(**f))
        .map(|f| f.label())
        .collect();
    if v.is_empty() {
        "-".into()
    } else {
        v.join(",")
    }
}

fn csum_names(capa: u64, f: fn(&[Csum]) -> u64) -> String {
    let v: Vec<&str> = [(Csum::Ipv4, "ipv4"), (Csum::Udp, "udp"), (Csum::Tcp, "tcp")]
        .iter()
        .filter(|(c, _)| capa & f(&[*c]) != 0)
        .map(|(_, n)| *n)
        .collect();
    if v.is_empty() {
        "-".into()
    } else {
        v.join(",")
    }
}

// ---------------------------------------------------------------------------
// Port report
// ---------------------------------------------------------------------------

/// What DPDK reports about a port.
#[derive(Clone)]
pub struct PortReport {
    /// Ethdev port id.
    pub port_id: u16,
    /// Device name.
    pub name: String,
    /// `driver_name`.
    pub driver: String,
    /// NUMA socket (-1: unknown, e.g. virtual devices).
    pub socket: i32,
    /// Largest RX queue count.
    pub max_rx_queues: u16,
    /// Largest TX queue count.
    pub max_tx_queues: u16,
    /// RSS hash types the NIC supports (`RTE_ETH_RSS_*`).
    pub rss_offloads: u64,
    /// RX offload capabilities.
    pub rx_offload_capa: u64,
    /// TX offload capabilities.
    pub tx_offload_capa: u64,
    /// Smallest MTU.
    pub min_mtu: u16,
    /// Largest MTU.
    pub max_mtu: u16,
    /// Largest frame it receives.
    pub max_rx_pktlen: u32,
    /// RX descriptor limits (min, max).
    pub rx_desc: (u16, u16),
    /// TX descriptor limits (min, max).
    pub tx_desc: (u16, u16),
    /// MAC address.
    pub mac: [u8; 6],
    /// Link up, speed in Mbit/s.
    pub link: (bool, u32),
    default_rxconf: sys::rte_eth_rxconf,
    default_txconf: sys::rte_eth_txconf,
}

/// One line of a profile-against-NIC comparison.
#[derive(Clone, Debug)]
pub struct CompareRow {
    /// What is compared.
    pub what: &'static str,
    /// The profile's value.
    pub profile: String,
    /// What the NIC reports.
    pub nic: String,
    /// Whether they agree.
    pub ok: bool,
}

impl PortReport {
    fn read(id: u16, name: &str) -> Result<PortReport, DpdkError> {
        let mut info = sys::rte_eth_dev_info::default();
        // SAFETY: valid port id (looked up by name), out-pointer valid.
        let r = unsafe { sys::rte_eth_dev_info_get(id, &mut info) };
        if r != 0 {
            return Err(DpdkError::Call {
                port: name.into(),
                call: "rte_eth_dev_info_get",
                reason: strerror(r),
            });
        }
        let driver = if info.driver_name.is_null() {
            String::new()
        } else {
            // SAFETY: driver_name points to the driver's static name string.
            unsafe { CStr::from_ptr(info.driver_name) }
                .to_string_lossy()
                .into_owned()
        };
        let mut mac = sys::rte_ether_addr::default();
        let mut link = sys::rte_eth_link::default();
        // SAFETY: valid port id and out-pointers.
        let socket = unsafe {
            let _ = sys::rte_eth_macaddr_get(id, &mut mac);
            let _ = sys::rte_eth_link_get_nowait(id, &mut link);
            sys::rte_eth_dev_socket_id(id)
        };
        Ok(PortReport {
            port_id: id,
            name: name.into(),
            driver,
            socket,
            max_rx_queues: info.max_rx_queues,
            max_tx_queues: info.max_tx_queues,
            rss_offloads: info.flow_type_rss_offloads,
            rx_offload_capa: info.rx_offload_capa,
            tx_offload_capa: info.tx_offload_capa,
            min_mtu: info.min_mtu,
            max_mtu: info.max_mtu,
            max_rx_pktlen: info.max_rx_pktlen,
            rx_desc: (info.rx_desc_lim.nb_min, info.rx_desc_lim.nb_max),
            tx_desc: (info.tx_desc_lim.nb_min, info.tx_desc_lim.nb_max),
            mac: mac.addr_bytes,
            link: (link.link_status() != 0, link.link_speed),
            default_rxconf: info.default_rxconf,
            default_txconf: info.default_txconf,
        })
    }

    /// The profile next to what the NIC reports, row by row; a row with
    /// `ok == false` is a contradiction (opening the port refuses it).
    pub fn compare(&self, p: &Profile, workers: usize) -> Vec<CompareRow> {
        let mut rows = Vec::new();
        let mut row = |what, profile: String, nic: String, ok| {
            rows.push(CompareRow {
                what,
                profile,
                nic,
                ok,
            })
        };
        row(
            "driver",
            p.device.pmd.clone(),
            self.driver.clone(),
            p.device.pmd == self.driver,
        );
        row(
            "queues",
            format!("{workers} rx + {} tx (max {})", workers + 1, p.queues.max),
            format!("{} rx, {} tx", self.max_rx_queues, self.max_tx_queues),
            workers <= usize::from(self.max_rx_queues) && workers < usize::from(self.max_tx_queues),
        );
        row(
            "numa node",
            p.layout.numa_node.to_string(),
            if self.socket < 0 {
                "any".into()
            } else {
                self.socket.to_string()
            },
            self.socket < 0 || self.socket as u32 == p.layout.numa_node,
        );
        let frame = p.mbuf.mtu + L2_OVERHEAD;
        row(
            "mtu",
            format!(
                "{} (frame {frame} in one {}-byte mbuf)",
                p.mbuf.mtu,
                p.max_frame()
            ),
            format!(
                "{}..={} (frame ≤ {})",
                self.min_mtu, self.max_mtu, self.max_rx_pktlen
            ),
            (u32::from(self.min_mtu)..=u32::from(self.max_mtu)).contains(&p.mbuf.mtu)
                && frame <= self.max_rx_pktlen
                && frame <= p.max_frame(),
        );
        let desc_ok = |n: u16, (lo, hi): (u16, u16)| n >= lo && (hi == 0 || n <= hi);
        row(
            "rx descriptors",
            p.queues.rx_desc.to_string(),
            format!("{}..={}", self.rx_desc.0, self.rx_desc.1),
            desc_ok(p.queues.rx_desc, self.rx_desc),
        );
        row(
            "tx descriptors",
            p.queues.tx_desc.to_string(),
            format!("{}..={}", self.tx_desc.0, self.tx_desc.1),
            desc_ok(p.queues.tx_desc, self.tx_desc),
        );
        let hf = rss_hf(&p.rss.hash);
        row(
            "rss hash",
            rss_names(hf),
            rss_names(self.rss_offloads),
            hf & self.rss_offloads == hf,
        );
        let rx = rx_offloads(&p.offloads.rx_checksum);
        row(
            "rx checksum",
            csum_names(rx, rx_offloads),
            csum_names(self.rx_offload_capa, rx_offloads),
            rx & self.rx_offload_capa == rx,
        );
        let tx = tx_offloads(&p.offloads.tx_checksum);
        row(
            "tx checksum",
            csum_names(tx, tx_offloads),
            csum_names(self.tx_offload_capa, tx_offloads),
            tx & self.tx_offload_capa == tx,
        );
        let m = self.mac;
        let speed = if self.link.1 == 0 || self.link.1 == u32::MAX {
            "unknown".to_owned()
        } else {
            format!("{} Gbit/s", f64::from(self.link.1) / 1000.0)
        };
        row(
            "link",
            format!("{} Gbit/s expected", p.expect.line_rate_gbps),
            format!(
                "{} {speed}, mac {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
                if self.link.0 { "up" } else { "down" },
                m[0],
                m[1],
                m[2],
                m[3],
                m[4],
                m[5]
            ),
            true,
        );
        rows
    }
}

// ---------------------------------------------------------------------------
// Port and queues
// ---------------------------------------------------------------------------

struct PortLive {
    #[allow(dead_code)] // Held so the pool's owner is visible in the type.
    pool: PoolPtr,
}

#[derive(Default)]
struct QueueSw {
    rx: AtomicU64,
    tx: AtomicU64,
    alloc_failures: AtomicU64,
    rx_multiseg_dropped: AtomicU64,
}

#[derive(Default, Clone, Copy)]
struct LocalSw {
    rx: u64,
    tx: u64,
    alloc_failures: u64,
    rx_multiseg_dropped: u64,
}

/// A started DPDK port: statistics while it runs, handed back to
/// [`Eal::shutdown`] at the end.
pub struct DpdkPort {
    id: u16,
    name: String,
    profile: String,
    queues: Vec<Arc<CachePadded<QueueSw>>>,
    // Counted by Eal::shutdown: a live handle means the port is in use.
    _live: Arc<PortLive>,
}

/// Per-queue statistics: the NIC's (`q_*` of `rte_eth_stats`, for the first
/// 16 queues) and ours.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct QueueStats {
    /// Queue index (the last one is the control thread's TX queue).
    pub queue: u16,
    /// Packets the NIC received on this queue.
    pub hw_rx: u64,
    /// Packets the NIC sent from this queue.
    pub hw_tx: u64,
    /// Errors the NIC counted on this queue.
    pub hw_errors: u64,
    /// Frames handed to the worker.
    pub rx: u64,
    /// Frames the NIC accepted for sending.
    pub tx: u64,
    /// Mbuf allocations that failed (`alloc` returned `None`).
    pub alloc_failures: u64,
    /// Received chained (multi-segment) frames dropped.
    pub rx_multiseg_dropped: u64,
}

/// Live statistics of a port (`rte_eth_stats_get`, xstats, our counters).
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct PortStats {
    /// Device name.
    pub port: String,
    /// Profile name.
    pub profile: String,
    /// Packets received.
    pub ipackets: u64,
    /// Packets sent.
    pub opackets: u64,
    /// Bytes received.
    pub ibytes: u64,
    /// Bytes sent.
    pub obytes: u64,
    /// Packets the NIC dropped because the RX queues were full.
    pub imissed: u64,
    /// Receive errors.
    pub ierrors: u64,
    /// Transmit errors.
    pub oerrors: u64,
    /// RX mbuf allocation failures in the driver.
    pub rx_nombuf: u64,
    /// Per queue.
    pub queues: Vec<QueueStats>,
    /// Extended statistics, name and value (non-zero ones).
    pub xstats: Vec<(String, u64)>,
}

impl DpdkPort {
    /// Ethdev port id.
    pub fn port_id(&self) -> u16 {
        self.id
    }

    /// Device name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Read the port's statistics now (from the control thread; lock-free
    /// for the workers).
    pub fn stats(&self) -> Result<PortStats, DpdkError> {
        let mut s = sys::rte_eth_stats::default();
        // SAFETY: the port is started (we hold its live handle) and s is a
        // valid out-pointer.
        let r = unsafe { sys::rte_eth_stats_get(self.id, &mut s) };
        if r != 0 {
            return Err(DpdkError::Call {
                port: self.name.clone(),
                call: "rte_eth_stats_get",
                reason: strerror(r),
            });
        }
        let mut out = PortStats {
            port: self.name.clone(),
            profile: self.profile.clone(),
            ipackets: s.ipackets,
            opackets: s.opackets,
            ibytes: s.ibytes,
            obytes: s.obytes,
            imissed: s.imissed,
            ierrors: s.ierrors,
            oerrors: s.oerrors,
            rx_nombuf: s.rx_nombuf,
            ..PortStats::default()
        };
        for (i, q) in self.queues.iter().enumerate() {
            let hw = |a: &[u64]| a.get(i).copied().unwrap_or(0);
            out.queues.push(QueueStats {
                queue: i as u16,
                hw_rx: hw(&s.q_ipackets),
                hw_tx: hw(&s.q_opackets),
                hw_errors: hw(&s.q_errors),
                rx: q.rx.load(Ordering::Relaxed),
                tx: q.tx.load(Ordering::Relaxed),
                alloc_failures: q.alloc_failures.load(Ordering::Relaxed),
                rx_multiseg_dropped: q.rx_multiseg_dropped.load(Ordering::Relaxed),
            });
        }
        out.xstats = self.xstats();
        Ok(out)
    }

    fn xstats(&self) -> Vec<(String, u64)> {
        // SAFETY: a NULL array with n = 0 asks for the count.
        let n = unsafe { sys::rte_eth_xstats_get_names(self.id, std::ptr::null_mut(), 0) };
        if n <= 0 {
            return Vec::new();
        }
        let n = n as usize;
        let mut names = vec![sys::rte_eth_xstat_name::default(); n];
        let mut vals = vec![sys::rte_eth_xstat::default(); n];
        // SAFETY: both arrays hold n entries, as passed.
        let (a, b) = unsafe {
            (
                sys::rte_eth_xstats_get_names(self.id, names.as_mut_ptr(), n as u32),
                sys::rte_eth_xstats_get(self.id, vals.as_mut_ptr(), n as u32),
            )
        };
        if a < 0 || b < 0 {
            return Vec::new();
        }
        let k = (a as usize).min(b as usize).min(n);
        vals[..k]
            .iter()
            .filter(|v| v.value != 0)
            .filter_map(|v| {
                let nm = names.get(v.id as usize)?;
                // SAFETY: DPDK NUL-terminates names within the 64 bytes.
                let s = unsafe { CStr::from_ptr(nm.name.as_ptr()) }
                    .to_string_lossy()
                    .into_owned();
                Some((s, v.value))
            })
            .collect()
    }
}

/// One queue of a DPDK port: the RX/TX pair of one worker, or the control
/// thread's TX queue (its `rx_burst` returns nothing).
pub struct DpdkQueue {
    port: u16,
    queue: u16,
    rx: bool,
    pool: PoolPtr,
    tx_csum: bool,
    sw: Arc<CachePadded<QueueSw>>,
    local: LocalSw,
    scratch: [*mut sys::rte_mbuf; BURST],
    _live: Arc<PortLive>,
}

// SAFETY: a queue is used by one thread at a time (it is moved to its
// worker); `scratch` holds no pointers between calls (it is only a buffer for
// one burst), and the pool pointer is Send (see PoolPtr).
unsafe impl Send for DpdkQueue {}

impl DpdkQueue {
    /// Ethdev port id and queue index.
    pub fn ids(&self) -> (u16, u16) {
        (self.port, self.queue)
    }

    #[inline]
    fn publish(&self) {
        let (s, l) = (&self.sw, &self.local);
        s.rx.store(l.rx, Ordering::Relaxed);
        s.tx.store(l.tx, Ordering::Relaxed);
        s.alloc_failures.store(l.alloc_failures, Ordering::Relaxed);
        s.rx_multiseg_dropped
            .store(l.rx_multiseg_dropped, Ordering::Relaxed);
    }
}

impl PortQueue for DpdkQueue {
    type Buf = Mbuf;

    #[inline]
    fn rx_burst(&mut self, out: &mut Vec<Mbuf>, max: usize) -> usize {
        if !self.rx {
            return 0;
        }
        let n = max.min(BURST) as u16;
        // SAFETY: scratch has BURST ≥ n slots; this queue was set up by
        // open_port and only this thread polls it.
        let got = unsafe { sys::pcscf_rte_eth_rx_burst(self.port, self.queue, self.scratch.as_mut_ptr(), n) };
        let got = usize::from(got).min(BURST);
        let mut kept = 0;
        for &p in &self.scratch[..got] {
            let Some(p) = NonNull::new(p) else { continue };
            // SAFETY: the PMD hands us ownership of each received mbuf, from
            // the pool that lives as long as this queue.
            let m = unsafe { Mbuf::from_raw(p) };
            if m.nb_segs() != 1 {
                // Chained frame (scatter is never enabled, so a PMD bug or a
                // jumbo frame on a misconfigured port): dropping frees it all.
                self.local.rx_multiseg_dropped += 1;
                continue;
            }
            out.push(m);
            kept += 1;
        }
        if got > 0 {
            self.local.rx += kept as u64;
            self.publish();
        }
        kept
    }

    #[inline]
    fn tx_burst(&mut self, pkts: &mut Vec<Mbuf>) -> usize {
        let mut total = 0;
        while !pkts.is_empty() {
            let n = pkts.len().min(BURST);
            for (slot, m) in self.scratch.iter_mut().zip(pkts.iter()) {
                *slot = m.ptr.as_ptr();
            }
            // SAFETY: scratch[..n] are valid mbufs we own; the PMD takes
            // ownership of the first `sent` of them, which we then forget.
            let sent = unsafe {
                sys::pcscf_rte_eth_tx_burst(self.port, self.queue, self.scratch.as_mut_ptr(), n as u16)
            };
            let sent = usize::from(sent).min(n);
            for m in pkts.drain(..sent) {
                let _ = m.into_raw();
            }
            total += sent;
            if sent < n {
                break;
            }
        }
        if total > 0 {
            self.local.tx += total as u64;
            self.publish();
        }
        total
    }

    #[inline]
    fn alloc(&mut self) -> Option<Mbuf> {
        // SAFETY: the pool lives as long as this queue.
        let p = unsafe { sys::pcscf_rte_pktmbuf_alloc(self.pool.0.as_ptr()) };
        match NonNull::new(p) {
            // SAFETY: a fresh single-segment mbuf we now own.
            Some(p) => Some(unsafe { Mbuf::from_raw(p) }),
            None => {
                self.local.alloc_failures += 1;
                self.publish();
                None
            }
        }
    }

    fn tx_csum_offload(&self) -> bool {
        self.tx_csum
    }
}
