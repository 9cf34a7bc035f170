#!/usr/bin/env python3
"""tshark (Wireshark 4.0) decrypts our encapsulated output given the keys:
every packet must show esp.icv_good == True and the decrypted UDP payload
must equal the original. tshark 4.0 has no GMAC; GMAC is covered by
scapy_peer.py in both directions.

usage: tshark_peer.py ESP_TOOL WORKDIR   (exit status 0 = all passed)
"""
import json, os, subprocess, sys
from scapy.all import Ether, IP, IPv6, UDP, Raw, wrpcap, raw

TOOL, WORK = sys.argv[1], sys.argv[2]
SPI, UE_PORT, P_PORT = 0x2000, 5070, 5064
IKEY = bytes(range(0x40, 0x54))          # 20 bytes (SHA-1); MD5 uses 16
EKEY = bytes(range(0x60, 0x70))
SALT = bytes.fromhex("a1b2c3d4")

CASES = [  # (integ, encr, tshark encr name, tshark auth name)
    ("hmac-sha-1-96", "null", "NULL", "HMAC-SHA-1-96 [RFC2404]"),
    ("hmac-sha-1-96", "aes-cbc", "AES-CBC [RFC3602]", "HMAC-SHA-1-96 [RFC2404]"),
    ("hmac-md5-96", "null", "NULL", "HMAC-MD5-96 [RFC2403]"),
    ("hmac-md5-96", "aes-cbc", "AES-CBC [RFC3602]", "HMAC-MD5-96 [RFC2403]"),
    ("null", "aes-gcm", "AES-GCM with 16 octet ICV [RFC4106]", "NULL"),
]

def payloads():
    return [bytes((i * 3 + n) & 0xff for i in range(n)) for n in (1, 40, 333, 1200)]

failures = 0
for integ, encr, t_enc, t_auth in CASES:
    name = f"{integ}+{encr}"
    ikey = IKEY if integ == "hmac-sha-1-96" else IKEY[:16] if integ == "hmac-md5-96" else b""
    ekey = EKEY if encr != "null" else b""
    sa = {"spi": SPI, "integ": integ, "encr": encr, "integ_key": ikey.hex(), "encr_key": ekey.hex(),
          "salt": SALT.hex(), "allow_md5": True}
    sa_json = os.path.join(WORK, f"ts-sa-{name}.json")
    with open(sa_json, "w") as f:
        json.dump(sa, f)
    pkts, expect = [], []
    for v6 in (False, True):
        for p in payloads():
            l3 = IPv6(src="2001:db8::1", dst="2001:db8::2") if v6 else IP(src="10.0.0.1", dst="10.0.0.2")
            pkts.append(Ether(raw(Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / l3 / UDP(sport=P_PORT, dport=UE_PORT) / Raw(p))))
            expect.append(p.hex())
    fin, fout = os.path.join(WORK, f"ts-plain-{name}.pcap"), os.path.join(WORK, f"ts-ours-{name}.pcap")
    wrpcap(fin, pkts)
    r = subprocess.run([TOOL, "encap", sa_json, fin, fout], capture_output=True, text=True)
    if r.returncode != 0:
        failures += 1
        print(f"FAIL tshark {name}: esp_tool encap: {r.stderr.strip()}")
        continue
    ekey_w = ("0x" + (ekey + SALT).hex()) if encr == "aes-gcm" else ("0x" + ekey.hex() if ekey else "")
    akey_w = "0x" + ikey.hex() if ikey else ""
    uat = []
    for fam, s, d in (("IPv4", "10.0.0.1", "10.0.0.2"), ("IPv6", "2001:db8::1", "2001:db8::2")):
        uat.append(f'"{fam}","{s}","{d}","0x{SPI:08x}","{t_enc}","{ekey_w}","{t_auth}","{akey_w}"')
    confdir = os.path.join(WORK, f"wsconf-{name}")
    os.makedirs(confdir, exist_ok=True)
    with open(os.path.join(confdir, "esp_sa"), "w") as f:
        f.write("\n".join(uat) + "\n")
    cmd = ["tshark", "-r", fout, "-C", "Default", "-o", "esp.enable_encryption_decode:TRUE",
           "-o", "esp.enable_authentication_check:TRUE", "-T", "fields",
           "-e", "esp.icv_good", "-e", "udp.payload", "-e", "esp.sequence"]
    # Wireshark reads the personal esp_sa UAT from $WIRESHARK_CONFIG_DIR.
    env = dict(os.environ, WIRESHARK_CONFIG_DIR=confdir)
    cmd = [c for c in cmd if c not in ("-C", "Default")]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if integ == "hmac-sha-1-96" and encr == "aes-cbc":
        # Negative control: with a wrong authentication key tshark must not
        # report a good ICV (proves the check is really performed).
        wrong = [u.replace(akey_w, "0x" + bytes(20).hex()) for u in uat]
        wdir = confdir + "-wrong"
        os.makedirs(wdir, exist_ok=True)
        with open(os.path.join(wdir, "esp_sa"), "w") as f:
            f.write("\n".join(wrong) + "\n")
        assert wrong != uat
        rn = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, WIRESHARK_CONFIG_DIR=wdir))
        if any(l.split("\t")[0] in ("1", "True") for l in rn.stdout.splitlines()):
            failures += 1
            print(f"FAIL tshark negative control {name}: ICV reported good with a wrong key")
        else:
            print(f"ok   tshark negative control {name}: wrong key -> ICV not good")
    lines = [l for l in r.stdout.splitlines() if l.strip()]
    bad = []
    for i, (l, want) in enumerate(zip(lines, expect)):
        cols = l.split("\t")
        icv = cols[0] if cols else ""
        pay = cols[1].replace(":", "") if len(cols) > 1 else ""
        if icv not in ("1", "True") or pay != want:
            bad.append((i, icv, pay[:16]))
    if r.returncode != 0 or len(lines) != len(expect) or bad:
        failures += 1
        print(f"FAIL tshark {name}: rc={r.returncode} lines={len(lines)}/{len(expect)} bad={bad[:3]} {r.stderr.strip()[:300]}")
    else:
        print(f"ok   tshark {name}: {len(expect)} packets, esp.icv_good and payload match")
sys.exit(1 if failures else 0)
