# hello_probe.py GROUPS KEYSHARES [ALPN,..] [VERSIONS]: send a hand-made TLS 1.3 ClientHello to node b
# and print its answer (ServerHello/HelloRetryRequest with the chosen group, or the alert).
# e.g. python3 hello_probe.py secp384r1,x25519 x25519
import os, socket, struct, sys, tlsparse
from cryptography.hazmat.primitives.asymmetric import ec, x25519
from cryptography.hazmat.primitives import serialization
ID = {v: k for k, v in tlsparse.GROUPS.items()}
def share(gname):
    if gname == "x25519": return x25519.X25519PrivateKey.generate().public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    if gname in ("secp256r1", "secp384r1", "secp521r1"):
        c = {"secp256r1": ec.SECP256R1(), "secp384r1": ec.SECP384R1(), "secp521r1": ec.SECP521R1()}[gname]
        return ec.generate_private_key(c).public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    if gname == "X25519MLKEM768": return bytes(1184) + share("x25519")
    raise SystemExit("no share for " + gname)
def ext(t, b): return struct.pack(">HH", t, len(b)) + b
def ch(groups, shares, alpn, versions):
    e = b""
    gl = b"".join(struct.pack(">H", ID[x]) for x in groups)
    e += ext(10, struct.pack(">H", len(gl)) + gl)
    sa = b"".join(struct.pack(">H", x) for x in (0x0403, 0x0503, 0x0804, 0x0805, 0x0807))
    e += ext(13, struct.pack(">H", len(sa)) + sa)
    if alpn:
        al = b"".join(bytes([len(p)]) + p.encode() for p in alpn)
        e += ext(16, struct.pack(">H", len(al)) + al)
    vl = b"".join(struct.pack(">H", v) for v in versions)
    e += ext(43, bytes([len(vl)]) + vl)
    e += ext(45, b"\x01\x01")
    if 0x0304 in versions:
        ks = b"".join(struct.pack(">HH", ID[x], len(s)) + s for x in shares for s in [share(x)])
        e += ext(51, struct.pack(">H", len(ks)) + ks)
    body = b"\x03\x03" + os.urandom(32) + b"\x20" + os.urandom(32) + b"\x00\x06\x13\x01\x13\x02\x13\x03" + b"\x01\x00" + struct.pack(">H", len(e)) + e
    hs = b"\x01" + len(body).to_bytes(3, "big") + body
    return b"\x16\x03\x01" + struct.pack(">H", len(hs)) + hs
