#!/usr/bin/env python3
"""scapy as a stand-in ESP endpoint for the UML kernel peer (tests/peers/uml).

It validates the harness itself (esp-peer.sh) independently of our data plane:

  scapy_esp.py decap --pcap P --out HEX   [SA options]
      Decrypt every ESP frame of P (as the kernel sent it) and write the inner
      UDP payloads, one hex line each. Fails if any frame does not verify.
  scapy_esp.py encap --payloads HEX --out PCAP [SA options] [--sport N --dport N]
      Encapsulate each payload as UDP in ESP transport mode (sequence numbers
      1..N) and write Ethernet frames to PCAP, for the kernel to accept.

SA options use the TS 33.203 names: --alg hmac-sha-1-96|hmac-md5-96|aes-gmac|null,
--ealg null|aes-cbc|aes-gcm, --spi, --auth-key, --enc-key, --salt (hex),
--src/--dst (the ESP sender and receiver addresses).
"""

import argparse
import sys

from scapy.all import IP, IPv6, UDP, Ether, Raw, rdpcap, wrpcap  # noqa: E402
from scapy.layers.ipsec import ESP, SecurityAssociation  # noqa: E402


def make_sa(a):
    auth_key = bytes.fromhex(a.auth_key or "")
    enc_key = bytes.fromhex(a.enc_key or "")
    salt = bytes.fromhex(a.salt or "")
    pair = (a.alg, a.ealg)
    if a.alg in ("hmac-sha-1-96", "hmac-md5-96") and a.ealg in ("null", "aes-cbc"):
        auth = "HMAC-SHA1-96" if a.alg == "hmac-sha-1-96" else "HMAC-MD5-96"
        if a.ealg == "aes-cbc":
            return SecurityAssociation(ESP, spi=a.spi, crypt_algo="AES-CBC", crypt_key=enc_key,
                                       auth_algo=auth, auth_key=auth_key)
        return SecurityAssociation(ESP, spi=a.spi, crypt_algo="NULL", crypt_key=None,
                                   auth_algo=auth, auth_key=auth_key)
    if pair == ("null", "aes-gcm"):
        return SecurityAssociation(ESP, spi=a.spi, crypt_algo="AES-GCM", crypt_key=enc_key + salt,
                                   auth_algo="NULL", auth_key=None)
    if pair == ("aes-gmac", "null"):
        return SecurityAssociation(ESP, spi=a.spi, crypt_algo="AES-NULL-GMAC", crypt_key=auth_key + salt,
                                   auth_algo="NULL", auth_key=None)
    raise SystemExit("scapy_esp: unsupported pair %s/%s" % pair)


def ip_layer(pkt):
    if IP in pkt:
        return pkt[IP]
    if IPv6 in pkt:
        return pkt[IPv6]
    return None


def cmd_decap(a):
    sa = make_sa(a)
    out = []
    for i, pkt in enumerate(rdpcap(a.pcap)):
        ip = ip_layer(pkt)
        if ip is None or ESP not in ip:
            continue
        if ip[ESP].spi != a.spi:
            raise SystemExit("scapy_esp: frame %d has SPI 0x%08x, expected 0x%08x" % (i, ip[ESP].spi, a.spi))
        try:
            inner = sa.decrypt(ip)
        except Exception as e:  # scapy raises IPSecIntegrityError and friends
            raise SystemExit("scapy_esp: frame %d does not decrypt/verify: %r" % (i, e))
        if UDP not in inner:
            raise SystemExit("scapy_esp: frame %d: no UDP inside: %r" % (i, inner))
        u = inner[UDP]
        if a.sport is not None and u.sport != a.sport or a.dport is not None and u.dport != a.dport:
            raise SystemExit("scapy_esp: frame %d: ports %d->%d" % (i, u.sport, u.dport))
        out.append(bytes(u.payload))
    with open(a.out, "w") as f:
        for p in out:
            f.write(p.hex() + "\n")
    print("scapy_esp: decrypted %d ESP frames from %s" % (len(out), a.pcap))
    return 0 if out else 1


def cmd_encap(a):
    sa = make_sa(a)
    with open(a.payloads) as f:
        payloads = [bytes.fromhex(line.strip()) for line in f if line.strip()]
    frames = []
    v6 = ":" in a.src
    for i, p in enumerate(payloads):
        l3 = IPv6(src=a.src, dst=a.dst) if v6 else IP(src=a.src, dst=a.dst)
        pkt = l3 / UDP(sport=a.sport, dport=a.dport) / Raw(p)
        pkt = pkt.__class__(bytes(pkt))  # fix lengths and checksums before sealing
        enc = sa.encrypt(pkt, seq_num=i + 1)
        frames.append(Ether(src=a.src_mac, dst=a.dst_mac) / enc)
    wrpcap(a.out, frames)
    print("scapy_esp: wrote %d ESP frames to %s" % (len(frames), a.out))
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("cmd", choices=["decap", "encap"])
    ap.add_argument("--alg", required=True)
    ap.add_argument("--ealg", required=True)
    ap.add_argument("--spi", type=lambda s: int(s, 0), required=True)
    ap.add_argument("--auth-key")
    ap.add_argument("--enc-key")
    ap.add_argument("--salt")
    ap.add_argument("--pcap")
    ap.add_argument("--payloads")
    ap.add_argument("--out", required=True)
    ap.add_argument("--src")
    ap.add_argument("--dst")
    ap.add_argument("--sport", type=int)
    ap.add_argument("--dport", type=int)
    ap.add_argument("--src-mac", default="02:00:0a:63:00:01")
    ap.add_argument("--dst-mac", default="02:00:0a:63:00:02")
    a = ap.parse_args()
    if a.cmd == "decap":
        if not a.pcap:
            ap.error("decap needs --pcap")
        return cmd_decap(a)
    if not (a.payloads and a.src and a.dst and a.sport and a.dport):
        ap.error("encap needs --payloads --src --dst --sport --dport")
    return cmd_encap(a)


if __name__ == "__main__":
    sys.exit(main())
