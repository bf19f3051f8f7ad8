# hello_probe.py GROUPS KEYSHARES [ALPN,..] [VERSIONS]: send a hand-made TLS 1.3 ClientHello to node b
# and print its answer (ServerHello/HelloRetryRequest with the chosen group, or the alert).
# e.g. python3 hello_probe.py secp384r1,x25519 x25519
import os, socket, struct, sys, tlsparse
from cryptography.hazmat.primitives.asymmetric import ec, x25519
from cryptography.hazmat.primitives import serialization
from hello_probe_lib import *  # noqa: F401,F403  (ch and the record helpers)

groups = sys.argv[1].split(",")
shares = [x for x in sys.argv[2].split(",") if x]
alpn = sys.argv[3].split(",") if len(sys.argv) > 3 and sys.argv[3] else []
versions = [int(v, 16) for v in sys.argv[4].split(",")] if len(sys.argv) > 4 else [0x0304]
s = socket.create_connection((os.environ.get("HOST", "127.0.0.1"), int(os.environ.get("PORT", "7102"))))
s.sendall(ch(groups, shares, alpn, versions)); s.settimeout(4)
buf = b""
try:
    while True:
        d = s.recv(65536)
        if not d: print("EOF"); break
        buf += d
        recs, buf = tlsparse.records(buf)
        done = False
        for ct, p in recs:
            if ct == 22:
                for n, i in tlsparse.describe_handshake(p): print(n, i)
                done = True
            elif ct == 21: print("alert", {2: "fatal", 1: "warning"}.get(p[0]), p[1]); done = True
        if done: break
except socket.timeout: print("timeout")
