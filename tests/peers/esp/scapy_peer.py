#!/usr/bin/env python3
"""ESP interop against scapy (a peer we did not write).

For every TS 33.203 algorithm pair, IPv4/IPv6, UDP/TCP:
  1. scapy encrypts packets; our esp_tool decaps them; the result must be the
     exact original bytes.
  2. our esp_tool encaps the plain packets; scapy decrypts them; the result
     must be the exact original inner packet.
Keys: the SA JSON carries CK/IK only; this script derives the ESP keys with
its own implementation of TS 33.203 Annex I / TS 33.220 Annex B (hmac,
hashlib), so the Rust derivation is cross-checked too.

usage: scapy_peer.py ESP_TOOL WORKDIR   (exit status 0 = all passed)
"""
import hashlib, hmac, json, os, subprocess, sys

from scapy.all import Ether, IP, IPv6, UDP, TCP, Raw, rdpcap, wrpcap, raw
from scapy.layers.ipsec import ESP, SecurityAssociation

TOOL, WORK = sys.argv[1], sys.argv[2]
CK = bytes.fromhex("00112233445566778899aabbccddeeff")
IK = bytes.fromhex("0f1e2d3c4b5a69788796a5b4c3d2e1f0")
UE_PORT, P_PORT, SPI = 5070, 5064, 0x1000

def kdf_salt(fc, label):
    s = bytes([fc]) + label + len(label).to_bytes(2, "big")
    return hmac.new(CK + IK, s, hashlib.sha256).digest()[-4:]

def scapy_sa(integ, encr):
    kw = dict(spi=SPI, seq_num=1)
    if encr == "aes-gcm":
        kw.update(crypt_algo="AES-GCM", crypt_key=CK + kdf_salt(0x59, b"AES_GCM_SALT"), auth_algo="NULL")
    elif encr == "aes-cbc":
        kw.update(crypt_algo="AES-CBC", crypt_key=CK)
    else:
        kw.update(crypt_algo="NULL")
    if integ == "hmac-sha-1-96":
        kw.update(auth_algo="HMAC-SHA1-96", auth_key=IK + b"\0" * 4)
    elif integ == "hmac-md5-96":
        kw.update(auth_algo="HMAC-MD5-96", auth_key=IK)
    elif integ == "aes-gmac":
        # scapy models RFC 4543 as a combined-mode "cipher".
        kw.update(crypt_algo="AES-NULL-GMAC", crypt_key=IK + kdf_salt(0x58, b"AES_GMAC_SALT"), auth_algo="NULL")
    return SecurityAssociation(ESP, **kw)

PAIRS = [("hmac-sha-1-96", "null"), ("hmac-sha-1-96", "aes-cbc"), ("hmac-md5-96", "null"),
         ("hmac-md5-96", "aes-cbc"), ("aes-gmac", "null"), ("null", "aes-gcm")]

def inner_packets():
    out = []
    for v6 in (False, True):
        for proto in ("udp", "tcp"):
            for n in (0, 1, 37, 500, 1300):
                l3 = IPv6(src="2001:db8::1", dst="2001:db8::2") if v6 else IP(src="10.0.0.1", dst="10.0.0.2", id=7)
                l4 = UDP(sport=UE_PORT, dport=P_PORT) if proto == "udp" else TCP(sport=UE_PORT, dport=P_PORT, flags="PA", seq=1000)
                pkt = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / l3 / l4 / Raw(bytes((i * 7 + n) & 0xff for i in range(n)))
                out.append(Ether(raw(pkt)))  # freeze lengths and checksums
    return out

def run_tool(direction, sa_json, inp, outp):
    r = subprocess.run([TOOL, direction, sa_json, inp, outp], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"esp_tool {direction} failed: {r.stderr.strip()}")

failures = 0
plain = inner_packets()
for integ, encr in PAIRS:
    name = f"{integ}+{encr}"
    sa_json = os.path.join(WORK, f"sa-{name}.json")
    with open(sa_json, "w") as f:
        json.dump({"spi": SPI, "integ": integ, "encr": encr, "ck": CK.hex(), "ik": IK.hex(),
                   "ue_port": UE_PORT, "pcscf_port": P_PORT, "allow_md5": True}, f)
    # 1. scapy -> ours
    sa = scapy_sa(integ, encr)
    enc = [Ether(raw(p[Ether].copy().__class__(src=p.src, dst=p.dst) / sa.encrypt(p.payload.copy()))) for p in plain]
    fin, fout = os.path.join(WORK, f"scapy-{name}.pcap"), os.path.join(WORK, f"ours-dec-{name}.pcap")
    wrpcap(fin, enc)
    try:
        run_tool("decap", sa_json, fin, fout)
        got = rdpcap(fout)
        bad = [i for i, (g, p) in enumerate(zip(got, plain)) if raw(g) != raw(p)]
        if len(got) != len(plain) or bad:
            failures += 1
            print(f"FAIL scapy->ours {name}: {len(got)}/{len(plain)} packets, mismatching {bad[:5]}")
        else:
            print(f"ok   scapy->ours {name}: {len(plain)} packets decapsulated to the exact bytes")
    except Exception as e:  # noqa: BLE001
        failures += 1
        print(f"FAIL scapy->ours {name}: {e}")
    # 2. ours -> scapy
    fin, fout = os.path.join(WORK, f"plain-{name}.pcap"), os.path.join(WORK, f"ours-enc-{name}.pcap")
    wrpcap(fin, plain)
    try:
        run_tool("encap", sa_json, fin, fout)
        sa = scapy_sa(integ, encr)
        bad = []
        got = rdpcap(fout)
        for i, (g, p) in enumerate(zip(got, plain)):
            try:
                dec = sa.decrypt(g.payload)
                if raw(dec) != raw(p.payload):
                    bad.append(i)
            except Exception as e:  # noqa: BLE001
                bad.append(f"{i}:{e}")
        if len(got) != len(plain) or bad:
            failures += 1
            print(f"FAIL ours->scapy {name}: mismatching {bad[:5]}")
        else:
            print(f"ok   ours->scapy {name}: {len(plain)} packets decrypted by scapy to the exact bytes")
    except Exception as e:  # noqa: BLE001
        failures += 1
        print(f"FAIL ours->scapy {name}: {e}")

sys.exit(1 if failures else 0)
