#!/usr/bin/env python3
"""A throw-away stand-in for `pcscf-dp run`, used only to validate the sipp
harness (tests/peers/sipp/run.sh --standin) while, or if, the real binary is
not available. It is NOT a P-CSCF and proves nothing about pcscf-dp.

  standin_pcscf.py run --config pcscf.toml --duration S

It reads the same TOML (access/core addresses, gateway MACs, next hop, Annex N
bindings), opens both ports with AF_PACKET and, for IPv4/UDP SIP only:
  - a request from a bound UE to the access address: drops the UE's
    P-Asserted-Identity and P-Preferred-Identity lines, asserts the preferred
    IMPU if it is one of the binding's IMPUs (plain string compare; the real
    one compares per RFC 3261) or else the first default, and sends it from
    the core address to the next hop;
  - anything from the next hop to the core address (a response): sends it
    from the access address to the (single) bound UE.
"""

import argparse
import select
import signal
import socket
import struct
import sys
import time
import tomllib

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4


def mac(s):
    return bytes(int(x, 16) for x in s.split(":"))


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def build(dst_mac, src_mac, src_ip, dst_ip, sport, dport, payload):
    ulen = 8 + len(payload)
    pseudo = socket.inet_aton(src_ip) + socket.inet_aton(dst_ip) + struct.pack("!BBH", 0, 17, ulen)
    udp = struct.pack("!HHHH", sport, dport, ulen, 0) + payload
    c = csum(pseudo + udp) or 0xFFFF
    udp = udp[:6] + struct.pack("!H", c) + udp[8:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + ulen, 0, 0x4000, 64, 17, 0,
                     socket.inet_aton(src_ip), socket.inet_aton(dst_ip))
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return dst_mac + src_mac + b"\x08\x00" + ip + udp


def parse(frame):
    if len(frame) < 42 or frame[12:14] != b"\x08\x00":
        return None
    ip = frame[14:]
    ihl = (ip[0] & 0xF) * 4
    if ip[0] >> 4 != 4 or ip[9] != 17:
        return None
    total = struct.unpack("!H", ip[2:4])[0]
    src, dst = socket.inet_ntoa(ip[12:16]), socket.inet_ntoa(ip[16:20])
    sport, dport, ulen = struct.unpack("!HHH", ip[ihl:ihl + 6])
    return src, dst, sport, dport, ip[ihl + 8:min(total, ihl + ulen)]


def assert_identity(payload, binding):
    head, sep, body = payload.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    keep, ppi = [lines[0]], None
    for line in lines[1:]:
        name = line.split(b":", 1)[0].strip().lower()
        if name == b"p-preferred-identity":
            ppi = line.split(b":", 1)[1].strip().strip(b"<>").decode()
            continue
        if name == b"p-asserted-identity":
            continue
        keep.append(line)
    impus = binding["impus"]
    chosen = ppi if ppi in impus else impus[(binding.get("defaults") or [0])[0]]
    keep.insert(1, b"P-Asserted-Identity: <" + chosen.encode() + b">")
    return b"\r\n".join(keep) + sep + body


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cmd", choices=["run"])
    ap.add_argument("--config", required=True)
    ap.add_argument("--duration", type=float, default=60)
    a = ap.parse_args()
    with open(a.config, "rb") as f:
        cfg = tomllib.load(f)
    acc, core = cfg["access"], cfg["core"]
    nh_ip, nh_port = core["next_hop"].rsplit(":", 1)
    bindings = {b["ip"]: b for b in cfg.get("annex_n", [])}
    ue_ip = next(iter(bindings))
    socks = {}
    for side in ("access", "core"):
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        s.bind((cfg[side]["port"]["iface"], 0))
        socks[side] = s
    own = {side: open("/sys/class/net/%s/address" % cfg[side]["port"]["iface"]).read().strip()
           for side in socks}
    stop = []
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    counts = {"forwarded_requests": 0, "forwarded_responses": 0, "ignored": 0}
    end = time.monotonic() + a.duration
    while not stop and time.monotonic() < end:
        r, _, _ = select.select(list(socks.values()), [], [], 0.2)
        for s in r:
            frame, addr = s.recvfrom(65535)
            if addr[2] == PACKET_OUTGOING:
                continue
            p = parse(frame)
            if p is None:
                counts["ignored"] += 1
                continue
            src, dst, sport, dport, payload = p
            if s is socks["access"] and dst == acc["ipv4"] and src in bindings and not payload.startswith(b"SIP/2.0"):
                out = assert_identity(payload, bindings[src])
                socks["core"].send(build(mac(core["gateway_mac"]), mac(own["core"]), core["ipv4"], nh_ip,
                                         core.get("sip_port", 5060), int(nh_port), out))
                counts["forwarded_requests"] += 1
            elif s is socks["core"] and src == nh_ip and dst == core["ipv4"] and payload.startswith(b"SIP/2.0"):
                socks["access"].send(build(mac(acc["gateway_mac"]), mac(own["access"]), acc["ipv4"], ue_ip,
                                           acc.get("sip_port", 5060), 5060, payload))
                counts["forwarded_responses"] += 1
            else:
                counts["ignored"] += 1
    print("standin_pcscf: %s" % counts)
    return 0


if __name__ == "__main__":
    sys.exit(main())
