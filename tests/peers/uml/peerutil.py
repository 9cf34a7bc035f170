#!/usr/bin/env python3
"""Helpers for the user-mode-linux ESP peer (tests/peers/uml).

Standard library only: this file runs both on the host and inside the UML
guest (whose root file system is the host's, mounted with hostfs, so the
guest uses /usr/bin/python3 and whatever that interpreter has).

Sub-commands:
  payloads     print the deterministic test payloads, one hex line each
  guest-send   (guest) send the payloads as UDP datagrams through the SA
  guest-recv   (guest) receive UDP datagrams, write them as hex lines
  inject       (host) write the frames of a pcap onto an interface (AF_PACKET)
  pcap-esp     (host) list the ESP frames of a pcap: count, SPIs, sequence numbers
  compare      compare two hex-line payload files, explain the first difference
  plain-pcap   (host) build Ethernet/IP/UDP frames (checksums right) from payloads
  udp-payloads (host) extract the UDP payloads of a plain pcap, checking
               lengths, ports and the UDP checksum

It never opens anything but the interface or socket it is told to.
"""

import argparse
import os
import socket
import struct
import sys
import time


def payload(i, size):
    """Payload number i: a readable tag, then a byte pattern. The length varies
    with i (size .. size+15) so that every CBC pad length gets exercised."""
    n = size + (i % 16)
    head = ("pcscf-dp-uml seq=%06d len=%05d " % (i, n)).encode()
    body = bytes(((i * 7 + k) & 0xFF) for k in range(max(0, n - len(head))))
    return (head + body)[:n]


def payloads(count, size):
    return [payload(i, size) for i in range(count)]


def write_hex(path, items):
    with open(path, "w") as f:
        for p in items:
            f.write(p.hex() + "\n")


def read_hex(path):
    with open(path) as f:
        return [bytes.fromhex(line.strip()) for line in f if line.strip()]


def family_of(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


# ---------------------------------------------------------------- guest side


def cmd_guest_send(a):
    fam = family_of(a.src)
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.bind((a.src, a.sport))
    sent = []
    for p in payloads(a.count, a.size):
        s.sendto(p, (a.dst, a.dport))
        sent.append(p)
        time.sleep(a.interval)
    write_hex(a.out, sent)
    print("guest-send: sent %d datagrams %s:%d -> %s:%d" % (len(sent), a.src, a.sport, a.dst, a.dport))
    return 0


def cmd_guest_recv(a):
    fam = family_of(a.bind)
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.bind((a.bind, a.port))
    with open(a.ready, "w") as f:
        f.write("ready\n")
        f.flush()
        os.fsync(f.fileno())
    got = []
    deadline = time.monotonic() + a.timeout
    while len(got) < a.count:
        now = time.monotonic()
        if now >= deadline:
            break
        # Once the host says it has injected everything (--done appears),
        # wait only a short quiet period for stragglers.
        if a.done and os.path.exists(a.done):
            deadline = min(deadline, now + a.idle)
        s.settimeout(min(0.2, max(0.001, deadline - now)))
        try:
            data, _peer = s.recvfrom(65535)
        except socket.timeout:
            continue
        got.append(data)
    write_hex(a.out, got)
    print("guest-recv: received %d of %d datagrams on %s:%d" % (len(got), a.count, a.bind, a.port))
    return 0


# ---------------------------------------------------------------- pcap


LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
LINKTYPE_RAW_ALT = 12
LINKTYPE_IPV4 = 228
LINKTYPE_IPV6 = 229
LINKTYPE_LINUX_SLL = 113


def read_pcap(path):
    """Returns (linktype, [frame bytes]). pcap only (not pcapng)."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        raise SystemExit("%s: too short for a pcap header (%d bytes)" % (path, len(data)))
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        e = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = ">"
    elif magic == b"\x0a\x0d\x0d\x0a":
        raise SystemExit("%s: pcapng is not supported, write classic pcap" % path)
    else:
        raise SystemExit("%s: not a pcap file (magic %s)" % (path, magic.hex()))
    linktype = struct.unpack(e + "I", data[20:24])[0] & 0x0FFFFFFF
    frames = []
    off = 24
    while off + 16 <= len(data):
        incl, orig = struct.unpack(e + "II", data[off + 8:off + 16])
        off += 16
        if off + incl > len(data):
            raise SystemExit("%s: truncated record at offset %d" % (path, off - 16))
        if incl != orig:
            raise SystemExit("%s: frame %d was captured truncated (%d of %d bytes)"
                             % (path, len(frames), incl, orig))
        frames.append(data[off:off + incl])
        off += incl
    return linktype, frames


def to_ip(linktype, frame):
    """Strip the link layer; returns the IP packet or None."""
    if linktype == LINKTYPE_ETHERNET:
        off = 12
        et = struct.unpack("!H", frame[off:off + 2])[0]
        off += 2
        while et in (0x8100, 0x88A8) and len(frame) >= off + 4:
            et = struct.unpack("!H", frame[off + 2:off + 4])[0]
            off += 4
        if et not in (0x0800, 0x86DD):
            return None
        return frame[off:]
    if linktype in (LINKTYPE_RAW, LINKTYPE_RAW_ALT, LINKTYPE_IPV4, LINKTYPE_IPV6):
        return frame
    if linktype == LINKTYPE_LINUX_SLL:
        return frame[16:]
    raise SystemExit("unsupported pcap link type %d" % linktype)


def esp_of(ip):
    """(spi, seq, src, dst) if ip is an ESP packet (no IPv6 extension headers)."""
    if not ip:
        return None
    v = ip[0] >> 4
    if v == 4 and len(ip) >= 20:
        ihl = (ip[0] & 0xF) * 4
        if ip[9] != 50 or len(ip) < ihl + 8:
            return None
        spi, seq = struct.unpack("!II", ip[ihl:ihl + 8])
        return spi, seq, socket.inet_ntop(socket.AF_INET, ip[12:16]), socket.inet_ntop(socket.AF_INET, ip[16:20])
    if v == 6 and len(ip) >= 48:
        if ip[6] != 50:
            return None
        spi, seq = struct.unpack("!II", ip[40:48])
        return spi, seq, socket.inet_ntop(socket.AF_INET6, ip[8:24]), socket.inet_ntop(socket.AF_INET6, ip[24:40])
    return None


def cmd_pcap_esp(a):
    lt, frames = read_pcap(a.pcap)
    esp = [e for e in (esp_of(to_ip(lt, f)) for f in frames) if e]
    spis = sorted({e[0] for e in esp})
    seqs = [e[1] for e in esp]
    if a.print_count:
        print(len(esp))
        return 0
    print("pcap-esp: %s: %d frames, %d ESP, SPIs %s, seq %s..%s"
          % (a.pcap, len(frames), len(esp), ",".join("0x%08x" % s for s in spis),
             seqs[0] if seqs else "-", seqs[-1] if seqs else "-"))
    bad = []
    if a.count is not None and len(esp) != a.count:
        bad.append("expected %d ESP frames, found %d" % (a.count, len(esp)))
    if a.spi is not None and any(s != a.spi for s in spis):
        bad.append("expected only SPI 0x%08x" % a.spi)
    if a.spi is not None and not esp:
        bad.append("no ESP frame at all")
    if seqs and seqs != list(range(seqs[0], seqs[0] + len(seqs))):
        bad.append("sequence numbers are not consecutive: %s" % seqs[:10])
    for b in bad:
        print("pcap-esp: FAIL: " + b, file=sys.stderr)
    return 1 if bad else 0


def mac_bytes(s):
    b = bytes(int(x, 16) for x in s.split(":"))
    if len(b) != 6:
        raise SystemExit("bad MAC address %r" % s)
    return b


def cmd_inject(a):
    lt, frames = read_pcap(a.pcap)
    dst = mac_bytes(a.dst_mac)
    src = mac_bytes(a.src_mac)
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((a.iface, 0))
    n = 0
    for f in frames:
        ip = to_ip(lt, f)
        if ip is None:
            continue
        if a.esp_only and esp_of(ip) is None:
            continue
        et = b"\x86\xdd" if (ip[0] >> 4) == 6 else b"\x08\x00"
        s.send(dst + src + et + ip)
        n += 1
        time.sleep(a.interval)
    print("inject: wrote %d of %d frames from %s onto %s" % (n, len(frames), a.pcap, a.iface))
    return 0 if n else 1


def inet_csum(data):
    if len(data) % 2:
        data += b"\0"
    t = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while t >> 16:
        t = (t & 0xFFFF) + (t >> 16)
    return (~t) & 0xFFFF


def udp_pseudo(src, dst, length):
    if ":" in src:
        return (socket.inet_pton(socket.AF_INET6, src) + socket.inet_pton(socket.AF_INET6, dst)
                + struct.pack("!IxxxB", length, 17))
    return socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!xBH", 17, length)


def build_udp_frame(dst_mac, src_mac, src, dst, sport, dport, payload, ip_id=0):
    ulen = 8 + len(payload)
    udp = struct.pack("!HHHH", sport, dport, ulen, 0) + payload
    c = inet_csum(udp_pseudo(src, dst, ulen) + udp) or 0xFFFF
    udp = udp[:6] + struct.pack("!H", c) + udp[8:]
    if ":" in src:
        ip = struct.pack("!IHBB", 6 << 28, ulen, 17, 64) + socket.inet_pton(socket.AF_INET6, src) \
            + socket.inet_pton(socket.AF_INET6, dst)
        et = b"\x86\xdd"
    else:
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + ulen, ip_id & 0xFFFF, 0x4000, 64, 17, 0,
                         socket.inet_aton(src), socket.inet_aton(dst))
        ip = ip[:10] + struct.pack("!H", inet_csum(ip)) + ip[12:]
        et = b"\x08\x00"
    return dst_mac + src_mac + et + ip + udp


def write_pcap(path, frames):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, LINKTYPE_ETHERNET))
        for i, fr in enumerate(frames):
            f.write(struct.pack("<IIII", 1700000000 + i, 0, len(fr), len(fr)))
            f.write(fr)


def cmd_plain_pcap(a):
    frames = [build_udp_frame(mac_bytes(a.dst_mac), mac_bytes(a.src_mac), a.src, a.dst, a.sport, a.dport, p, i + 1)
              for i, p in enumerate(read_hex(a.payloads))]
    write_pcap(a.out, frames)
    print("plain-pcap: wrote %d UDP frames to %s" % (len(frames), a.out))
    return 0


def cmd_udp_payloads(a):
    lt, frames = read_pcap(a.pcap)
    out = []
    for i, f in enumerate(frames):
        ip = to_ip(lt, f)
        if ip is None:
            raise SystemExit("udp-payloads: frame %d is not IP" % i)
        v = ip[0] >> 4
        if v == 4:
            ihl = (ip[0] & 0xF) * 4
            total = struct.unpack("!H", ip[2:4])[0]
            if ip[9] != 17 or total > len(ip) or inet_csum(ip[:ihl]) != 0:
                raise SystemExit("udp-payloads: frame %d: not UDP, bad total length or bad IPv4 header "
                                 "checksum (proto %d, total %d, have %d)" % (i, ip[9], total, len(ip)))
            src = socket.inet_ntop(socket.AF_INET, ip[12:16])
            dst = socket.inet_ntop(socket.AF_INET, ip[16:20])
            l4 = ip[ihl:total]
        elif v == 6:
            plen = struct.unpack("!H", ip[4:6])[0]
            if ip[6] != 17 or 40 + plen > len(ip):
                raise SystemExit("udp-payloads: frame %d: next header %d is not UDP, or bad payload length"
                                 % (i, ip[6]))
            src = socket.inet_ntop(socket.AF_INET6, ip[8:24])
            dst = socket.inet_ntop(socket.AF_INET6, ip[24:40])
            l4 = ip[40:40 + plen]
        else:
            raise SystemExit("udp-payloads: frame %d: IP version %d" % (i, v))
        sport, dport, ulen, uc = struct.unpack("!HHHH", l4[:8])
        if ulen != len(l4):
            raise SystemExit("udp-payloads: frame %d: UDP length %d, IP says %d" % (i, ulen, len(l4)))
        if (a.sport and sport != a.sport) or (a.dport and dport != a.dport):
            raise SystemExit("udp-payloads: frame %d: ports %d->%d" % (i, sport, dport))
        if (uc != 0 or v == 6) and inet_csum(udp_pseudo(src, dst, ulen) + l4) != 0:
            raise SystemExit("udp-payloads: frame %d: bad UDP checksum 0x%04x" % (i, uc))
        out.append(l4[8:])
    write_hex(a.out, out)
    print("udp-payloads: %d UDP payloads from %s, checksums good" % (len(out), a.pcap))
    return 0


def cmd_compare(a):
    exp = read_hex(a.expect)
    got = read_hex(a.got)
    ok = True
    if len(exp) != len(got):
        print("compare: expected %d payloads, got %d" % (len(exp), len(got)), file=sys.stderr)
        ok = False
    for i, (e, g) in enumerate(zip(exp, got)):
        if e != g:
            print("compare: payload %d differs:\n  expected %s\n  got      %s" % (i, e.hex(), g.hex()),
                  file=sys.stderr)
            ok = False
            break
    if ok:
        print("compare: %d payloads identical" % len(exp))
    return 0 if ok else 1


def cmd_payloads(a):
    for p in payloads(a.count, a.size):
        print(p.hex())
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)

    p = sub.add_parser("payloads")
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--size", type=int, required=True)

    p = sub.add_parser("guest-send")
    p.add_argument("--src", required=True)
    p.add_argument("--sport", type=int, required=True)
    p.add_argument("--dst", required=True)
    p.add_argument("--dport", type=int, required=True)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--size", type=int, required=True)
    p.add_argument("--interval", type=float, default=0.005)
    p.add_argument("--out", required=True)

    p = sub.add_parser("guest-recv")
    p.add_argument("--bind", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--timeout", type=float, required=True)
    p.add_argument("--idle", type=float, default=2.0)
    p.add_argument("--done", help="file the host creates once it has injected everything")
    p.add_argument("--ready", required=True)
    p.add_argument("--out", required=True)

    p = sub.add_parser("inject")
    p.add_argument("--iface", required=True)
    p.add_argument("--pcap", required=True)
    p.add_argument("--dst-mac", required=True)
    p.add_argument("--src-mac", required=True)
    p.add_argument("--interval", type=float, default=0.002)
    p.add_argument("--esp-only", action="store_true")

    p = sub.add_parser("pcap-esp")
    p.add_argument("--pcap", required=True)
    p.add_argument("--count", type=int)
    p.add_argument("--spi", type=lambda s: int(s, 0))
    p.add_argument("--print-count", action="store_true", help="print only the number of ESP frames")

    p = sub.add_parser("compare")
    p.add_argument("--expect", required=True)
    p.add_argument("--got", required=True)

    p = sub.add_parser("plain-pcap")
    p.add_argument("--payloads", required=True)
    p.add_argument("--src", required=True)
    p.add_argument("--dst", required=True)
    p.add_argument("--sport", type=int, required=True)
    p.add_argument("--dport", type=int, required=True)
    p.add_argument("--src-mac", default="02:00:0a:63:00:01")
    p.add_argument("--dst-mac", default="02:00:0a:63:00:02")
    p.add_argument("--out", required=True)

    p = sub.add_parser("udp-payloads")
    p.add_argument("--pcap", required=True)
    p.add_argument("--sport", type=int)
    p.add_argument("--dport", type=int)
    p.add_argument("--out", required=True)

    a = ap.parse_args()
    fn = {
        "plain-pcap": cmd_plain_pcap,
        "udp-payloads": cmd_udp_payloads,
        "payloads": cmd_payloads,
        "guest-send": cmd_guest_send,
        "guest-recv": cmd_guest_recv,
        "inject": cmd_inject,
        "pcap-esp": cmd_pcap_esp,
        "compare": cmd_compare,
    }[a.cmd]
    return fn(a)


if __name__ == "__main__":
    sys.exit(main())
