"""close_notify with the TCP connection left open: what does v do, and when?"""
import sys
from rawtls import *
after = sys.argv[1] if len(sys.argv) > 1 else "nothing"
p = Raw(me="a", auto_hb=False); p.wait_synced()
l0 = nlines("v"); hb0 = p.counts.get(0x30, 0); t0 = time.monotonic()
p.s.sendall(p.rec(b"\x01\x00", CT_ALERT))
if after == "frames":   # keep sending HEARTBEAT records after our close_notify
    for i in range(10):
        time.sleep(0.5)
        try: p.s.sendall(p.rec(hb(i)))
        except Exception as e: print("send", e); break
while p.closed_at is None and time.monotonic() - t0 < 8: time.sleep(0.01)
print("after our close_notify (then %s): v closed after %s s (%s), %d heartbeats from v meanwhile, alerts %r, event: %s" % (
    after, "%.2f" % (p.closed_at - t0) if p.closed_at else "never", p.close_reason, p.counts.get(0x30, 0) - hb0, p.alerts,
    [l for l in events("v", l0) if "event: a" in l]))
p.close()
