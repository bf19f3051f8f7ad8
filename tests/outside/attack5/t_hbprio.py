"""Heartbeat priority: v sends us one big echo reply (SIZE bytes) while we read at RATE bytes/s;
when do v's HEARTBEATs arrive relative to the reply's frames?"""
import sys
from rawtls import *
size = int(sys.argv[1]); rate = float(sys.argv[2]); count = int(sys.argv[3]) if len(sys.argv) > 3 else 1
def t8(b): return bytes([len(b)]) + b
p = Raw(me="a", auto_hb=True, reader=False); p.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, int(os.environ.get("RCVBUF", "65536")))
class Slow:
    def __init__(self, s): self.s = s; self.t = time.monotonic(); self.n = 0
    def recv(self, n):
        n = min(n, 16384)
        # pace: at most `rate` bytes/s
        due = self.t + self.n / rate
        if due > time.monotonic(): time.sleep(due - time.monotonic())
        b = self.s.recv(n); self.n += len(b); return b
    def __getattr__(self, k): return getattr(self.s, k)
p.s = Slow(p.s)
threading.Thread(target=p._read_loop, daemon=True).start()
p.wait_synced()
text = b"q" * size
payload = b"\xfc" + struct.pack("<I", len(text)) + text + t8(b"a") + b"\xfd" + struct.pack("<Q", p.inc) + bytes([5])
hb0 = len(p.hb_times); t0 = time.monotonic()
p.send(frame(0x11, t8(b"echo") + t8(b"reign.echo.Request") + payload) * count)
for i in range(count): r = p.expect([0x10], timeout=60)
t1 = time.monotonic()
hbs = [round(t - t0, 2) for t in p.hb_times[hb0:]]
print("%d replies of %d bytes at %.0f B/s took %.1fs; v's heartbeats arrived at %s (gaps max %.1fs)" % (
    count, size, rate, t1 - t0, hbs, max([b - a for a, b in zip([0] + hbs, hbs + [t1 - t0])])))
time.sleep(2.5); hbs2 = [round(t - t0, 2) for t in p.hb_times[hb0:]]
print("  and after the reply: %s" % hbs2[len(hbs):])
p.close()
