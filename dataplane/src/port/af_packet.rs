//! `af_packet` port: a named Linux interface through `AF_PACKET` raw sockets.
//!
//! Lets peers on a veth in a network namespace reach the data plane. Each
//! worker gets its own socket; with several workers the sockets join one
//! `PACKET_FANOUT_HASH` group so the kernel spreads flows over them. The
//! control thread gets a TX-only socket. Sockets are non-blocking; frames the
//! data plane sends itself are ignored on receive.
//!
//! This backend makes one system call per frame: it is for functional tests
//! and peers, not for line rate (that is DPDK's job).
#![allow(unsafe_code)]

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use super::{OpenedPort, PortError, PortInfo, PortQueue};
use crate::buf::{Buf, PacketBuf};

const ETH_P_ALL: u16 = 0x0003;
const PACKET_IGNORE_OUTGOING: libc::c_int = 23;
const PACKET_OUTGOING: u8 = 4;

/// One socket on the interface.
pub struct AfPacketQueue {
    fd: OwnedFd,
    ifindex: i32,
    rx_enabled: bool,
}

fn os_err(what: String) -> PortError {
    PortError::Io {
        what,
        source: std::io::Error::last_os_error(),
    }
}

fn read_sys(iface: &str, attr: &str) -> Result<String, PortError> {
    let p = format!("/sys/class/net/{iface}/{attr}");
    std::fs::read_to_string(&p)
        .map(|s| s.trim().to_string())
        .map_err(|source| PortError::Io {
            what: format!("interface {iface}: read {p}"),
            source,
        })
}

/// Parse `aa:bb:cc:dd:ee:ff` (the one MAC parser: `wire::MacAddr`).
pub fn parse_mac(s: &str) -> Option<[u8; 6]> {
    s.parse::<crate::wire::MacAddr>().ok().map(|m| m.0)
}

fn open_socket(iface: &str, ifindex: i32, rx: bool, fanout: Option<u16>) -> Result<AfPacketQueue, PortError> {
    let proto = if rx { ETH_P_ALL.to_be() } else { 0 };
    // SAFETY: plain socket(2) call with constant arguments; the result is
    // checked before use and wrapped in an OwnedFd that closes it.
    let raw = unsafe {
        libc::socket(
            libc::AF_PACKET,
            libc::SOCK_RAW | libc::SOCK_NONBLOCK,
            i32::from(proto),
        )
    };
    if raw < 0 {
        return Err(os_err(format!(
            "interface {iface}: socket(AF_PACKET) (needs root or CAP_NET_RAW)"
        )));
    }
    // SAFETY: `raw` is a fresh, valid descriptor owned by nobody else.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    // SAFETY: sockaddr_ll is plain old data; all-zero is a valid value.
    let mut sll: libc::sockaddr_ll = unsafe { core::mem::zeroed() };
    sll.sll_family = libc::AF_PACKET as u16;
    sll.sll_protocol = proto;
    sll.sll_ifindex = ifindex;
    // SAFETY: we pass a pointer to a properly initialised sockaddr_ll and its size.
    let r = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&sll as *const libc::sockaddr_ll).cast(),
            core::mem::size_of::<libc::sockaddr_ll>() as u32,
        )
    };
    if r < 0 {
        return Err(os_err(format!("interface {iface}: bind")));
    }
    let one: libc::c_int = 1;
    // SAFETY: setsockopt with a pointer to a live c_int and its size. Failure
    // (kernels before 4.20) is tolerated: outgoing frames are filtered on rx.
    unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_PACKET,
            PACKET_IGNORE_OUTGOING,
            (&one as *const libc::c_int).cast(),
            core::mem::size_of::<libc::c_int>() as u32,
        );
    }
    if let Some(group) = fanout {
        let arg: libc::c_int = i32::from(group) | (libc::PACKET_FANOUT_HASH as i32) << 16;
        // SAFETY: as above, pointer to a live c_int and its size.
        let r = unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_PACKET,
                libc::PACKET_FANOUT,
                (&arg as *const libc::c_int).cast(),
                core::mem::size_of::<libc::c_int>() as u32,
            )
        };
        if r < 0 {
            return Err(os_err(format!("interface {iface}: PACKET_FANOUT")));
        }
    }
    Ok(AfPacketQueue {
        fd,
        ifindex,
        rx_enabled: rx,
    })
}

/// Open interface `iface` with one socket per worker plus a TX-only socket
/// for the control thread.
pub fn open(name: &str, iface: &str, workers: usize) -> Result<OpenedPort<AfPacketQueue>, PortError> {
    let ifindex: i32 = read_sys(iface, "ifindex")?
        .parse()
        .map_err(|_| PortError::Config(format!("interface {iface}: bad ifindex")))?;
    let mac = parse_mac(&read_sys(iface, "address")?)
        .ok_or_else(|| PortError::Config(format!("interface {iface}: bad MAC address")))?;
    let mtu: usize = read_sys(iface, "mtu")?.parse().unwrap_or(1500);
    let fanout = (workers > 1).then(|| (std::process::id() as u16) ^ (ifindex as u16));
    let mut worker_queues = Vec::with_capacity(workers);
    for _ in 0..workers.max(1) {
        worker_queues.push(open_socket(iface, ifindex, true, fanout)?);
    }
    let control_queue = open_socket(iface, ifindex, false, None)?;
    Ok(OpenedPort {
        info: PortInfo {
            name: name.to_string(),
            mac,
            mtu: mtu.min(crate::buf::MAX_FRAME - 18),
        },
        worker_queues,
        control_queue,
    })
}

impl PortQueue for AfPacketQueue {
    type Buf = PacketBuf;

    fn rx_burst(&mut self, out: &mut Vec<PacketBuf>, max: usize) -> usize {
        if !self.rx_enabled {
            return 0;
        }
        let mut n = 0;
        while n < max {
            let mut b = PacketBuf::new();
            let space = b.rx_space();
            // SAFETY: sockaddr_ll is plain old data; all-zero is valid.
            let mut from: libc::sockaddr_ll = unsafe { core::mem::zeroed() };
            let mut flen = core::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
            // SAFETY: `space` is a live, writable buffer of `space.len()`
            // bytes; `from`/`flen` describe a live sockaddr_ll. MSG_TRUNC makes
            // the kernel report the real length so oversized frames are seen.
            let r = unsafe {
                libc::recvfrom(
                    self.fd.as_raw_fd(),
                    space.as_mut_ptr().cast(),
                    space.len(),
                    libc::MSG_DONTWAIT | libc::MSG_TRUNC,
                    (&mut from as *mut libc::sockaddr_ll).cast(),
                    &mut flen,
                )
            };
            if r <= 0 {
                break;
            }
            if from.sll_pkttype == PACKET_OUTGOING {
                continue;
            }
            // A frame longer than the buffer was truncated by the kernel; the
            // pipeline sees the IP length disagree and counts the drop.
            b.set_received(r as usize);
            out.push(b);
            n += 1;
        }
        n
    }

    fn tx_burst(&mut self, pkts: &mut Vec<PacketBuf>) -> usize {
        let mut sent = 0;
        for b in pkts.drain(..) {
            let d = b.data();
            // SAFETY: sockaddr_ll is plain old data; all-zero is valid.
            let mut to: libc::sockaddr_ll = unsafe { core::mem::zeroed() };
            to.sll_family = libc::AF_PACKET as u16;
            to.sll_ifindex = self.ifindex;
            to.sll_halen = 6;
            if d.len() >= 6 {
                to.sll_addr[..6].copy_from_slice(&d[..6]);
            }
            // SAFETY: `d` is a live buffer of `d.len()` bytes and `to` a live
            // sockaddr_ll of the size passed.
            let r = unsafe {
                libc::sendto(
                    self.fd.as_raw_fd(),
                    d.as_ptr().cast(),
                    d.len(),
                    libc::MSG_DONTWAIT,
                    (&to as *const libc::sockaddr_ll).cast(),
                    core::mem::size_of::<libc::sockaddr_ll>() as u32,
                )
            };
            if r >= 0 {
                sent += 1;
            }
        }
        sent
    }

    fn alloc(&mut self) -> Option<PacketBuf> {
        Some(PacketBuf::new())
    }
}

/// Whether `iface` names an interface of this network namespace.
pub fn interface_exists(iface: &str) -> bool {
    CString::new(iface).is_ok() && std::path::Path::new(&format!("/sys/class/net/{iface}")).exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_mac_accepts_and_rejects() {
        assert_eq!(parse_mac("02:00:0a:ff:00:01"), Some([2, 0, 10, 255, 0, 1]));
        assert_eq!(parse_mac("02:00:0a:ff:00"), None);
        assert_eq!(parse_mac("02:00:0a:ff:00:01:02"), None);
        assert_eq!(parse_mac("zz:00:0a:ff:00:01"), None);
    }

    #[test]
    fn missing_interface_is_a_clear_error() {
        let e = open("x", "no-such-if0", 1).err().expect("must fail");
        assert!(e.to_string().contains("no-such-if0"), "{e}");
    }
}
