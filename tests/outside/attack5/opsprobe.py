"""Times TLS handshakes + an operator STATUS (both served on the node's own thread) every 200 ms."""
import sys, os, socket, ssl, struct, time
dur = float(sys.argv[1]); port = int(sys.argv[2]) if len(sys.argv) > 2 else 7402
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT); ctx.minimum_version = ssl.TLSVersion.TLSv1_3; ctx.check_hostname = False
ctx.load_verify_locations("certs/ca.pem"); ctx.load_cert_chain("certs/ops.pem", "certs/ops.key"); ctx.set_alpn_protocols(["reign-operator/1"])
def fr(k, p=b""): return struct.pack(">IB", len(p) + 1, k) + p
def rx(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c: raise EOFError
        b += c
    return b
def rframe(s):
    ln = struct.unpack(">I", rx(s, 4))[0]; b = rx(s, ln); return b[0], b[1:]
end = time.monotonic() + dur; worst = 0; worst_st = 0; n = 0
while time.monotonic() < end:
    t = time.monotonic()
    try:
        raw = socket.create_connection(("127.0.0.1", port), timeout=10)
        s = ctx.wrap_socket(raw); 
        s.sendall(fr(1, struct.pack(">HQ", 1, 77) + b"\x04demo" + b"\x03ops"))
        k, p = rframe(s); s.sendall(fr(3)); th = time.monotonic() - t
        t2 = time.monotonic(); s.sendall(fr(0x70, b"\x00")); k, p = rframe(s); ts = time.monotonic() - t2
        s.close()
    except Exception as e:
        th = ts = time.monotonic() - t; print("ops: error %r after %.2fs" % (e, th), flush=True)
    worst = max(worst, th); worst_st = max(worst_st, ts); n += 1
    if th > 0.3 or ts > 0.3: print("ops: slow handshake %.0f ms, status %.0f ms at +%.1fs" % (th*1000, ts*1000, dur - (end - time.monotonic())), flush=True)
    time.sleep(0.2)
print("OPS: %d handshakes, worst handshake %.0f ms, worst STATUS %.0f ms" % (n, worst*1000, worst_st*1000), flush=True)
