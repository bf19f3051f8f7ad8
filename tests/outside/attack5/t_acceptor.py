"""A hostile acceptor w (ID above v, so v dials it): HELLO followed in the same TLS record by link frames
(before v's ACCEPT), or after it as usual. Is the LOOKUP answered?"""
import sys, socket, ssl, struct, time
how = sys.argv[1]
def t8(b): return bytes([len(b)]) + b
def fr(k, p=b""): return struct.pack(">IB", len(p) + 1, k) + p
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); ctx.minimum_version = ssl.TLSVersion.TLSv1_3
ctx.load_cert_chain("certs/w.pem", "certs/w.key"); ctx.load_verify_locations("certs/ca.pem"); ctx.verify_mode = ssl.CERT_REQUIRED
ctx.set_alpn_protocols(["reign/1"])
ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); ls.bind(("127.0.0.1", 7405)); ls.listen(5)
ls.settimeout(15)
raw, _ = ls.accept(); s = ctx.wrap_socket(raw, server_side=True); s.settimeout(5)
def rx(n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c: raise EOFError
        b += c
    return b
def rf():
    ln = struct.unpack(">I", rx(4))[0]; b = rx(ln); return b[0], b[1:]
k, p = rf(); assert k == 1, k
hello = fr(1, struct.pack(">HQ", 1, 99) + t8(b"demo") + t8(b"w"))
link = fr(0x5f) + fr(0x40, struct.pack(">Q", 4343) + t8(b"echo")) + fr(0x30, b"\0" * 8)
if how == "same_record":
    s.sendall(hello + link); k, p = rf(); print("v's next frame kind", hex(k))
else:
    s.sendall(hello); k, p = rf(); print("v's ACCEPT kind", hex(k)); s.sendall(link)
t0 = time.monotonic(); ans = None
try:
    while time.monotonic() - t0 < 4:
        k, p = rf()
        if k == 0x41 and struct.unpack(">Q", p[:8])[0] == 4343: ans = p; break
        if k == 0x30: s.sendall(fr(0x30, b"\0" * 8))
except Exception as e:
    print("read:", repr(e))
print(how, "-> LOOKUP answered:", ans is not None)
s.close()
