"""Big echo replies toward a reader with a tiny receive window that reads a few bytes at a time:
v's writes are partial all the time; every record must still decrypt and every reply be intact."""
import sys
from rawtls import *
N = int(sys.argv[1]); size = int(sys.argv[2])
def t8(b): return bytes([len(b)]) + b
def echo_req(text, inc, mbox=5):
    payload = b"\xfc" + struct.pack("<I", len(text)) + text + t8(b"a") + b"\xfd" + struct.pack("<Q", inc) + bytes([mbox])
    return frame(0x11, t8(b"echo") + t8(b"reign.echo.Request") + payload)
p = Raw(me="a", auto_hb=True, reader=False)
p.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
class Slow:
    def __init__(self, s): self.s = s
    def recv(self, n):
        time.sleep(0.0005); return self.s.recv(min(n, 1500))
    def __getattr__(self, k): return getattr(self.s, k)
p.s = Slow(p.s)
threading.Thread(target=p._read_loop, daemon=True).start()
p.wait_synced()
t0 = time.monotonic()
for i in range(N): p.send(echo_req((b"%08d" % i) * (size // 8), p.inc))
got = []
while len(got) < N:
    r = p.expect([0x10], timeout=15)
    if not r or r[0] is None: print("stopped:", r and r[1]); break
    b = r[1]; tl = b[16]; pl = b[17 + tl:]; ln = struct.unpack("<I", pl[1:5])[0]; text = pl[5:5 + ln]
    k = int(text[:8]); got.append(k if text == (b"%08d" % k) * (size // 8) else -1)
print(p.counts, len(p.rbuf), len(p.pt)); print("slow reader: %d/%d replies, corrupt %d, in order %s, %.1fs, link %s" % (len(got), N, got.count(-1), got == sorted(got), time.monotonic() - t0, "up" if p.closed_at is None else p.close_reason))
p.close()
