//! Precomputed Ethernet/IP/UDP headers for the datagrams one port sends
//! from one of its addresses: the bytes that never change (MACs, ethertype,
//! version, TTL, protocol, our address) are built once, and each datagram
//! only patches lengths, the destination, ports and checksums, the IPv4
//! header checksum from a precomputed partial sum.
//!
//! Owns: [`UdpTemplate`]. The frames it writes are byte for byte those of
//! [`super::HeadersRepr::emit_udp`] (untagged), which the tests check.
//!
//! Must never: panic on any length or address, or read the payload when the
//! NIC computes the UDP checksum.

use core::net::{IpAddr, SocketAddr};

use super::{checksum, ethernet, ip_proto, ipv4, ipv6, udp, Error, MacAddr, Result};

/// Who fills in the UDP checksum.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum L4Csum {
    /// Computed here over the whole datagram.
    Software,
    /// The NIC computes it on transmit: the field holds the pseudo-header
    /// sum (not inverted), as DPDK requires.
    Offload,
}

/// Headers from one source address (and MAC) to peers of the same family.
#[derive(Clone, Debug)]
pub struct UdpTemplate {
    bytes: [u8; 62],
    v6: bool,
    /// IPv4: ones-complement sum of the header words that never change.
    ip_const: u32,
    /// IPv4: the same words read native-endian, for [`UdpTemplate::emit_v4`].
    ip_const_ne: u32,
    /// Sum of our address' 16-bit words (pseudo-header part).
    src_sum: u32,
    /// IPv4: our address as a native-endian `u32` plus the native-endian
    /// protocol word: the pseudo-header's fixed part for
    /// [`checksum::data_ne_plus`].
    pseudo_ne: u64,
}

fn words_sum(b: &[u8]) -> u32 {
    b.chunks(2)
        .map(|w| u32::from(u16::from_be_bytes([w[0], *w.get(1).unwrap_or(&0)])))
        .sum()
}

#[inline(always)]
fn fold32(s: u32) -> u16 {
    // Each step adds the carry back; two steps fold any 32-bit value.
    let s = (s & 0xffff) + (s >> 16);
    let s = (s & 0xffff) + (s >> 16);
    s as u16
}

impl UdpTemplate {
    /// Headers from `src` (and `eth_src`) to the next layer-2 hop `eth_dst`.
    pub fn new(eth_src: MacAddr, eth_dst: MacAddr, src: IpAddr, hop_limit: u8) -> Self {
        let mut b = [0u8; 62];
        b[0..6].copy_from_slice(&eth_dst.0);
        b[6..12].copy_from_slice(&eth_src.0);
        let l3 = ethernet::HEADER_LEN;
        let (v6, ip_const, src_sum) = match src {
            IpAddr::V4(a) => {
                b[12..14].copy_from_slice(&ethernet::ethertype::IPV4.to_be_bytes());
                let h = &mut b[l3..l3 + ipv4::HEADER_LEN];
                h[0] = 0x45;
                h[6] = 0x40; // DF, as ipv4::Repr::emit sets it
                h[8] = hop_limit;
                h[9] = ip_proto::UDP;
                h[12..16].copy_from_slice(&a.octets());
                // Length, checksum and destination are zero here.
                (false, words_sum(h), words_sum(&a.octets()))
            }
            IpAddr::V6(a) => {
                b[12..14].copy_from_slice(&ethernet::ethertype::IPV6.to_be_bytes());
                let h = &mut b[l3..l3 + ipv6::HEADER_LEN];
                h[0] = 0x60;
                h[6] = ip_proto::UDP;
                h[7] = hop_limit;
                h[8..24].copy_from_slice(&a.octets());
                (true, 0, words_sum(&a.octets()))
            }
        };
        let ip_const_ne = match src {
            IpAddr::V4(_) => b[l3..l3 + ipv4::HEADER_LEN]
                .chunks(2)
                .map(|w| u32::from(u16::from_ne_bytes([w[0], w[1]])))
                .sum(),
            IpAddr::V6(_) => 0,
        };
        let pseudo_ne = match src {
            IpAddr::V4(a) => u64::from(u32::from_ne_bytes(a.octets())) + checksum::ne_word_lo(ip_proto::UDP),
            IpAddr::V6(_) => 0,
        };
        UdpTemplate {
            bytes: b,
            v6,
            ip_const,
            ip_const_ne,
            src_sum,
            pseudo_ne,
        }
    }

    /// Bytes in front of the UDP payload.
    #[inline]
    pub fn header_len(&self) -> usize {
        ethernet::HEADER_LEN + self.ip_header_len() + udp::HEADER_LEN
    }

    /// The IP header length.
    #[inline]
    pub fn ip_header_len(&self) -> usize {
        if self.v6 {
            ipv6::HEADER_LEN
        } else {
            ipv4::HEADER_LEN
        }
    }

    /// Write the headers into the front of `buf`, in front of the
    /// `payload_len` payload bytes already at `buf[self.header_len()..]`,
    /// to `dst` from our `src_port`. Returns the header length.
    /// [`Error::Unsupported`] if `dst` is of the other family,
    /// [`Error::Truncated`] if `buf` is too short, [`Error::Malformed`] if
    /// a length field would overflow.
    ///
    /// The IPv4 form is inlined into the caller; the rest is out of line.
    #[inline(always)]
    pub fn emit(
        &self,
        buf: &mut [u8],
        dst: SocketAddr,
        src_port: u16,
        payload_len: usize,
        csum: L4Csum,
    ) -> Result<usize> {
        if let (IpAddr::V4(d), false) = (dst.ip(), self.v6) {
            return self.emit_v4(buf, d.octets(), dst.port(), src_port, payload_len, csum);
        }
        self.emit_any(buf, dst, src_port, payload_len, csum)
    }

    /// [`UdpTemplate::emit`] for IPv6, or a family mismatch.
    #[inline(never)]
    fn emit_any(
        &self,
        buf: &mut [u8],
        dst: SocketAddr,
        src_port: u16,
        payload_len: usize,
        csum: L4Csum,
    ) -> Result<usize> {
        let hl = self.header_len();
        let udp_len = udp::HEADER_LEN.saturating_add(payload_len);
        let l4 = hl - udp::HEADER_LEN;
        let ip_len = udp_len.saturating_add(self.ip_header_len());
        if ip_len > u16::MAX as usize || (self.v6 && udp_len > u16::MAX as usize) {
            return Err(Error::Malformed);
        }
        let Some(frame) = buf.get_mut(..hl.saturating_add(payload_len)) else {
            return Err(Error::Truncated);
        };
        frame[..l4].copy_from_slice(&self.bytes[..l4]);
        let l3 = ethernet::HEADER_LEN;
        let dst_sum = match (dst.ip(), self.v6) {
            (IpAddr::V4(d), false) => {
                let o = d.octets();
                frame[l3 + 2..l3 + 4].copy_from_slice(&(ip_len as u16).to_be_bytes());
                frame[l3 + 16..l3 + 20].copy_from_slice(&o);
                let s = words_sum(&o);
                let c = !fold32(self.ip_const + ip_len as u32 + s);
                frame[l3 + 10..l3 + 12].copy_from_slice(&c.to_be_bytes());
                s
            }
            (IpAddr::V6(d), true) => {
                let o = d.octets();
                frame[l3 + 4..l3 + 6].copy_from_slice(&(udp_len as u16).to_be_bytes());
                frame[l3 + 24..l3 + 40].copy_from_slice(&o);
                words_sum(&o)
            }
            _ => return Err(Error::Unsupported),
        };
        let (u, payload) = frame[l4..].split_at_mut(udp::HEADER_LEN);
        u[0..2].copy_from_slice(&src_port.to_be_bytes());
        u[2..4].copy_from_slice(&dst.port().to_be_bytes());
        u[4..6].copy_from_slice(&(udp_len as u16).to_be_bytes());
        // Pseudo-header: addresses, protocol, UDP length.
        let pseudo = fold32(self.src_sum + dst_sum + u32::from(ip_proto::UDP) + udp_len as u32);
        let c = match csum {
            L4Csum::Offload => pseudo,
            L4Csum::Software => {
                let hdr = fold32(u32::from(src_port) + u32::from(dst.port()) + udp_len as u32);
                let c = !checksum::combine(&[pseudo, hdr, checksum::data(payload)]);
                if c == 0 {
                    0xffff
                } else {
                    c
                }
            }
        };
        u[6..8].copy_from_slice(&c.to_be_bytes());
        Ok(hl)
    }
}

impl UdpTemplate {
    /// [`UdpTemplate::emit`] from an IPv4 template to `dst`: the same bytes,
    /// with every offset and length fixed.
    #[inline(always)]
    fn emit_v4(
        &self,
        buf: &mut [u8],
        dst: [u8; 4],
        dst_port: u16,
        src_port: u16,
        payload_len: usize,
        csum: L4Csum,
    ) -> Result<usize> {
        const L3: usize = ethernet::HEADER_LEN;
        const L4: usize = L3 + ipv4::HEADER_LEN;
        const HL: usize = L4 + udp::HEADER_LEN;
        if payload_len > u16::MAX as usize - (HL - L3) {
            return Err(Error::Malformed);
        }
        let udp_len = (udp::HEADER_LEN + payload_len) as u32;
        let ip_len = udp_len + ipv4::HEADER_LEN as u32;
        let Some(frame) = buf.get_mut(..HL + payload_len) else {
            return Err(Error::Truncated);
        };
        let (h, payload) = frame.split_at_mut(HL);
        let Some(h) = h.first_chunk_mut::<HL>() else {
            return Err(Error::Truncated);
        };
        let Some(t) = self.bytes.first_chunk::<L4>() else {
            return Err(Error::Truncated);
        };
        h[..L4].copy_from_slice(t);
        h[L3 + 2..L3 + 4].copy_from_slice(&(ip_len as u16).to_be_bytes());
        h[L3 + 16..L3 + 20].copy_from_slice(&dst);
        let dst_sum =
            u32::from(u16::from_be_bytes([dst[0], dst[1]])) + u32::from(u16::from_be_bytes([dst[2], dst[3]]));
        // The header checksum from the words as the frame holds them
        // (native-endian): no byte swap of the destination or the result.
        let d_ne = u32::from_ne_bytes(dst);
        let c =
            !fold32(self.ip_const_ne + u32::from((ip_len as u16).to_be()) + (d_ne & 0xffff) + (d_ne >> 16));
        h[L3 + 10..L3 + 12].copy_from_slice(&c.to_ne_bytes());
        h[L4..L4 + 2].copy_from_slice(&src_port.to_be_bytes());
        h[L4 + 2..L4 + 4].copy_from_slice(&dst_port.to_be_bytes());
        h[L4 + 4..L4 + 6].copy_from_slice(&(udp_len as u16).to_be_bytes());
        // `c` holds the field's bytes in native order.
        let c = match csum {
            // Pseudo-header (addresses, protocol, UDP length) words.
            L4Csum::Offload => fold32(self.src_sum + dst_sum + u32::from(ip_proto::UDP) + udp_len).to_be(),
            L4Csum::Software => {
                // The pseudo-header and UDP header words as the frame holds
                // them (native-endian), added to the payload's native sum:
                // no byte swap, one fold.
                let ne16 = |v: u16| u64::from(v.to_be());
                let words = self.pseudo_ne
                    + u64::from(u32::from_ne_bytes(dst))
                    + 2 * ne16(udp_len as u16)
                    + ne16(src_port)
                    + ne16(dst_port);
                let c = !checksum::data_ne_plus(payload, words);
                if c == 0 {
                    0xffff
                } else {
                    c
                }
            }
        };
        h[L4 + 6..L4 + 8].copy_from_slice(&c.to_ne_bytes());
        Ok(HL)
    }
}

#[cfg(test)]
mod tests {
    use super::super::HeadersRepr;
    use super::*;

    fn repr(t_src: IpAddr, dst: SocketAddr, src_port: u16) -> HeadersRepr {
        HeadersRepr {
            eth_src: MacAddr([2, 0, 0, 0, 1, 1]),
            eth_dst: MacAddr([2, 0, 0, 0, 1, 2]),
            vlan: [None, None],
            src: t_src,
            dst: dst.ip(),
            hop_limit: 64,
            src_port,
            dst_port: dst.port(),
        }
    }

    #[test]
    fn frames_match_the_generic_emitter_byte_for_byte() {
        let cases: [(IpAddr, SocketAddr); 3] = [
            ("10.77.1.1".parse().unwrap(), "10.77.1.2:5060".parse().unwrap()),
            (
                "255.255.255.254".parse().unwrap(),
                "0.0.0.1:65535".parse().unwrap(),
            ),
            (
                "2001:db8::1".parse().unwrap(),
                "[fd00:77::ffff]:5062".parse().unwrap(),
            ),
        ];
        for (src, dst) in cases {
            for len in [0usize, 1, 2, 3, 63, 64, 400, 1401] {
                for sport in [5060u16, 0, 65535] {
                    let payload: Vec<u8> = (0..len).map(|i| (i * 7 + len) as u8).collect();
                    let h = repr(src, dst, sport);
                    let hl = h.udp_header_len();
                    let mut want = vec![0u8; hl + len];
                    want[hl..].copy_from_slice(&payload);
                    h.emit_udp(&mut want, len).unwrap();
                    let t = UdpTemplate::new(h.eth_src, h.eth_dst, src, 64);
                    assert_eq!(t.header_len(), hl);
                    let mut got = vec![0xaau8; hl + len];
                    got[hl..].copy_from_slice(&payload);
                    t.emit(&mut got, dst, sport, len, L4Csum::Software).unwrap();
                    assert_eq!(got, want, "{src} -> {dst} len {len} sport {sport}");
                    // Offload: the same but for the pseudo-header sum
                    // (not inverted) in the checksum field.
                    let mut off = want.clone();
                    let ph = checksum::pseudo_header(&src, &dst.ip(), ip_proto::UDP, (8 + len) as u32);
                    off[hl - 2..hl].copy_from_slice(&ph.to_be_bytes());
                    t.emit(&mut got, dst, sport, len, L4Csum::Offload).unwrap();
                    assert_eq!(got, off, "offload {src} -> {dst} len {len}");
                }
            }
        }
    }

    #[test]
    fn software_checksums_match_the_generic_emitter_for_many_addresses_and_a_zero_sum() {
        let mut x = 0x853c_49e6_748f_ea9bu64;
        for i in 0..3000usize {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let src = IpAddr::from(((x >> 32) as u32).to_be_bytes());
            let dst = SocketAddr::from(((x as u32).to_be_bytes(), (x >> 16) as u16));
            let sport = (x >> 48) as u16;
            let len = i % 131;
            let mut payload: Vec<u8> = (0..len).map(|j| (j as u64 * 31 + (x >> 8)) as u8).collect();
            let h = repr(src, dst, sport);
            let hl = h.udp_header_len();
            let t = UdpTemplate::new(h.eth_src, h.eth_dst, src, 64);
            let frames = |payload: &[u8]| {
                let mut want = vec![0u8; hl + payload.len()];
                want[hl..].copy_from_slice(payload);
                h.emit_udp(&mut want, payload.len()).unwrap();
                let mut got = vec![0x55u8; hl + payload.len()];
                got[hl..].copy_from_slice(payload);
                t.emit(&mut got, dst, sport, payload.len(), L4Csum::Software)
                    .unwrap();
                (got, want)
            };
            let (got, want) = frames(&payload);
            assert_eq!(got, want, "{src} -> {dst} len {len}");
            // Make the sum come out at 0xffff (a computed checksum of zero,
            // sent as 0xffff): a trailing word that cancels the checksum.
            if len % 2 == 0 {
                payload.extend_from_slice(&[0, 0]);
                let (_, zero) = frames(&payload);
                let n = payload.len();
                payload[n - 2..].copy_from_slice(&zero[hl - 2..hl]);
                let (got, want) = frames(&payload);
                assert_eq!(&got[hl - 2..hl], &[0xff, 0xff], "{src} -> {dst} len {len}");
                assert_eq!(got, want, "zero sum {src} -> {dst} len {len}");
            }
        }
    }

    #[test]
    fn bad_sizes_and_families_are_errors() {
        let t = UdpTemplate::new(MacAddr([0; 6]), MacAddr([0; 6]), "10.0.0.1".parse().unwrap(), 64);
        let v6: SocketAddr = "[::1]:5060".parse().unwrap();
        let v4: SocketAddr = "10.0.0.2:5060".parse().unwrap();
        assert_eq!(
            t.emit(&mut [0u8; 100], v6, 1, 10, L4Csum::Software),
            Err(Error::Unsupported)
        );
        assert_eq!(
            t.emit(&mut [0u8; 50], v4, 1, 10, L4Csum::Software),
            Err(Error::Truncated)
        );
        assert_eq!(
            t.emit(&mut [0u8; 100], v4, 1, 70_000, L4Csum::Software),
            Err(Error::Malformed)
        );
    }
}
