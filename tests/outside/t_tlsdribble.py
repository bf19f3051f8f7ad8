"""Dribble one TLS record (a HEARTBEAT frame) one raw TCP byte at a time: does the node count sub-record bytes as 'arrived'?"""
import sys
from peer import *
gap = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT); ctx.minimum_version = ssl.TLSVersion.TLSv1_3; ctx.check_hostname = False
ctx.load_verify_locations("certs/ca.pem"); ctx.load_cert_chain("certs/a.pem", "certs/a.key"); ctx.set_alpn_protocols(["reign/1"])
inb, outb = ssl.MemoryBIO(), ssl.MemoryBIO()
o = ctx.wrap_bio(inb, outb, server_hostname=None)
s = socket.create_connection(("127.0.0.1", 7302)); s.settimeout(0.05)
def pump():
    d = outb.read()
    if d: s.sendall(d)
    try:
        r = s.recv(65536)
        if r == b"": return False
        inb.write(r)
    except socket.timeout: pass
    return True
while True:
    try: o.do_handshake(); break
    except ssl.SSLWantReadError: pump()
pump()
inc = 12345
c = b"demo"; n = b"a"
o.write(frame(1, struct.pack(">HQ", 1, inc) + bytes([len(c)]) + c + bytes([len(n)]) + n)); pump()
buf = b""
while len(buf) < 4 or len(buf) < 4 + struct.unpack(">I", buf[:4])[0]:
    pump()
    try: buf += o.read(65536)
    except ssl.SSLWantReadError: pass
o.write(frame(3) + f_synced() + f_hb()); pump()
last_full = time.monotonic()
o.write(f_hb()); rec = outb.read()   # one TLS record, held back
print("record of %d bytes, dribbling 1 byte every %.1fs" % (len(rec), gap))
t0 = time.monotonic(); closed = None
for i, byte in enumerate(rec):
    s.sendall(bytes([byte]))
    end = time.monotonic() + gap
    while time.monotonic() < end:
        try:
            r = s.recv(65536)
            if r == b"": closed = time.monotonic(); break
        except socket.timeout: pass
        except ConnectionResetError: closed = time.monotonic(); break
    if closed: break
if closed: print("closed %.3fs after our last complete record (%d raw bytes dribbled)" % (closed - last_full, i + 1))
else: print("still open after %.1fs of dribbling" % (time.monotonic() - t0))
