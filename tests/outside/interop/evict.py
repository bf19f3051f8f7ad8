# evict.py idle|tls: fill the per-source cap (32) of node b's handshake table from 127.0.0.1, add a 33rd, see who is closed and how
import socket, ssl, sys, time, select
mode = sys.argv[1]; N = int(sys.argv[2]) if len(sys.argv) > 2 else 32
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT); ctx.load_verify_locations("pki/ca.pem"); ctx.check_hostname = False
ctx.load_cert_chain("pki/a.pem", "pki/a.key"); ctx.set_alpn_protocols(["reign/1"]); ctx.minimum_version = ssl.TLSVersion.TLSv1_3
def mk():
    s = socket.create_connection(("127.0.0.1", 7102))
    if mode == "tls":
        s = ctx.wrap_socket(s, suppress_ragged_eofs=False); s.setblocking(True)
    return s
conns = []
for i in range(N):
    conns.append((time.time(), mk())); time.sleep(0.01)
time.sleep(0.2)
t = time.time(); new = mk(); print(f"opened #{N+1} at +{t-conns[0][0]:.3f}s after #1")
for s in [c[1] for c in conns] + [new]: s.setblocking(False)
deadline = time.time() + 1.5 if mode == "idle" else time.time() + 0.8
closed = {}
while time.time() < deadline:
    for i, (t0, s) in enumerate(conns + [(t, new)]):
        if i in closed: continue
        try:
            d = s.recv(4096)
            closed[i] = (time.time() - t, "EOF" if not d else f"data {d.hex()}")
            if d and mode == "tls":
                # read on to see whether close_notify follows
                s.setblocking(True); s.settimeout(1)
                try:
                    more = s.recv(4096); closed[i] = (closed[i][0], closed[i][1] + (" then close_notify (clean EOF)" if more == b"" else f" then {more.hex()}"))
                except ssl.SSLEOFError: closed[i] = (closed[i][0], closed[i][1] + " then EOF WITHOUT close_notify")
                except Exception as e: closed[i] = (closed[i][0], closed[i][1] + f" then {e!r}")
        except (BlockingIOError, ssl.SSLWantReadError): pass
        except Exception as e: closed[i] = (time.time() - t, repr(e))
    time.sleep(0.005)
for i, (dt, what) in sorted(closed.items()):
    print(f"conn #{i+1} ended {dt:+.3f}s after #{N+1} opened: {what}")
print(f"{len(closed)} of {N+1} ended within the window")
