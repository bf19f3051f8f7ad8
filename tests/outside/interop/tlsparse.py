# Minimal TLS 1.3 plaintext-handshake parser (ClientHello / ServerHello / HRR), used by proxy.py and hello_probe.py
import struct
GROUPS = {0x001d:"x25519",0x0017:"secp256r1",0x0018:"secp384r1",0x0019:"secp521r1",0x11ec:"X25519MLKEM768",0x0100:"ffdhe2048",0x6399:"X25519Kyber768Draft00",0x11eb:"SecP256r1MLKEM768"}
EXT = {0:"server_name",10:"supported_groups",13:"signature_algorithms",16:"alpn",41:"pre_shared_key",42:"early_data",43:"supported_versions",45:"psk_key_exchange_modes",51:"key_share",35:"session_ticket",23:"extended_master_secret",65281:"renegotiation_info",44:"cookie",5:"status_request",18:"sct"}
HRR_RANDOM = bytes.fromhex("CF21AD74E59A6111BE1D8C021E65B891C2A211167ABB8C5E079E09E2C8A8339C")
def g(x): return GROUPS.get(x, hex(x))
def parse_exts(b):
    out = []; i = 0
    while i + 4 <= len(b):
        t, l = struct.unpack(">HH", b[i:i+4]); out.append((t, b[i+4:i+4+l])); i += 4 + l
    return out
def client_hello(body):
    i = 2 + 32
    sid_len = body[i]; i += 1 + sid_len
    cs_len = struct.unpack(">H", body[i:i+2])[0]; cs = [hex(x) for x in struct.unpack(">%dH" % (cs_len//2), body[i+2:i+2+cs_len])]; i += 2 + cs_len
    i += 1 + body[i]
    el = struct.unpack(">H", body[i:i+2])[0]; exts = parse_exts(body[i+2:i+2+el])
    d = {"session_id_len": sid_len, "ciphers": cs, "ext_order": [EXT.get(t, t) for t, _ in exts]}
    for t, v in exts:
        if t == 10: d["supported_groups"] = [g(x) for x in struct.unpack(">%dH" % ((len(v)-2)//2), v[2:])]
        if t == 51:
            ks = []; j = 2
            while j < len(v):
                gg, l = struct.unpack(">HH", v[j:j+4]); ks.append("%s(%d bytes)" % (g(gg), l)); j += 4 + l
            d["key_shares"] = ks
        if t == 16:
            ps = []; j = 2
            while j < len(v): l = v[j]; ps.append(v[j+1:j+1+l].decode()); j += 1 + l
            d["alpn"] = ps
        if t == 0: d["sni"] = v[5:].decode(errors="replace")
        if t == 43: d["versions"] = [hex(x) for x in struct.unpack(">%dH" % (v[0]//2), v[1:])]
        if t == 41: d["PSK_OFFERED"] = True
        if t == 35: d["session_ticket_ext_len"] = len(v)
    return d
def server_hello(body):
    rnd = body[2:34]; i = 34
    sid = body[i]; i += 1 + sid
    cs = struct.unpack(">H", body[i:i+2])[0]; i += 3
    el = struct.unpack(">H", body[i:i+2])[0]; exts = parse_exts(body[i+2:i+2+el])
    d = {"HRR": rnd == HRR_RANDOM, "cipher": hex(cs), "legacy_version": hex(struct.unpack(">H", body[0:2])[0])}
    for t, v in exts:
        if t == 51: d["key_share_group"] = g(struct.unpack(">H", v[:2])[0])
        if t == 43: d["version"] = hex(struct.unpack(">H", v)[0])
        if t == 41: d["PSK_ACCEPTED"] = True
    return d
def records(buf):
    """yield (content_type, payload) for complete records in buf; returns rest via list"""
    out = []; i = 0
    while i + 5 <= len(buf):
        ct, _, l = struct.unpack(">BHH", buf[i:i+5])
        if i + 5 + l > len(buf): break
        out.append((ct, buf[i+5:i+5+l])); i += 5 + l
    return out, buf[i:]
def describe_handshake(payload):
    res = []
    i = 0
    while i + 4 <= len(payload):
        t = payload[i]; l = int.from_bytes(payload[i+1:i+4], "big"); body = payload[i+4:i+4+l]
        if t == 1: res.append(("ClientHello", client_hello(body)))
        elif t == 2: res.append(("ServerHello", server_hello(body)))
        else: res.append(("hs%d" % t, {}))
        i += 4 + l
    return res
