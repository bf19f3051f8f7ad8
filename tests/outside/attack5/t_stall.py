"""A member that never reads. mode: echo (big echo requests, replies pile up toward us) | lookup (LOOKUP flood)
| both. Runs SECS; prints v's RSS over time and whether/when v cut us."""
import sys
from rawtls import *
mode = sys.argv[1]; secs = float(sys.argv[2]); V = pid("v")
def t8(b): return bytes([len(b)]) + b
p = Raw(me="a", auto_hb=True, reader=False)
p.send(frame(0x5f)); wait_block()
p.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
r0 = rss_kb(V); t0 = time.monotonic(); peak = r0; sent = 0; last = 0
def echo_req(text, inc, mbox=5):
    payload = b"\xfc" + struct.pack("<I", len(text)) + text + t8(b"a") + b"\xfd" + struct.pack("<Q", inc) + bytes([mbox])
    return frame(0x11, t8(b"echo") + t8(b"reign.echo.Request") + payload)
big = echo_req(b"z" * (1 << 20), p.inc)
lk = b"".join(frame(0x40, struct.pack(">Q", i) + t8(b"echo")) for i in range(5000))
p.s.settimeout(2)
try:
    while time.monotonic() - t0 < secs:
        if mode in ("echo", "both"): p.send(big); sent += 1
        if mode in ("lookup", "both"): p.send(lk); sent += 5000
        peak = max(peak, rss_kb(V))
        if time.monotonic() - last > 2:
            print("  +%.0fs v rss %d kB, sent %d" % (time.monotonic() - t0, rss_kb(V), sent), flush=True); last = time.monotonic()
except Exception as e:
    print("send stopped: %r at +%.1fs" % (e, time.monotonic() - t0))
l = [x for x in events("v") if "event: a" in x][-1:]
print("stall %s: peak v rss %d kB (start %d), now %d; v's last word on a: %s" % (mode, peak, r0, rss_kb(V), l))
time.sleep(5)
print("5 s later: v rss %d kB, last word on a: %s" % (rss_kb(V), [x for x in events("v") if "event: a" in x][-1:]))
p.close()
