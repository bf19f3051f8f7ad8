"""Honest member b: LOOKUP round trips to v every 50 ms; v's heartbeat gaps; link loss."""
import sys
from rawtls import *
dur = float(sys.argv[1]) if len(sys.argv) > 1 else 30
p = Raw(me="b"); p.wait_synced()
t_end = time.monotonic() + dur; worst = 0; sec = time.monotonic(); wmax = 0; n = 0; fails = 0
while time.monotonic() < t_end and p.closed_at is None:
    t = time.monotonic(); ok = p.lookup("echo", timeout=5)
    d = time.monotonic() - t
    if not ok:
        fails += 1
        print("probe: lookup failed after %.2fs (%s)" % (d, p.close_reason), flush=True)
        if p.closed_at: break
    wmax = max(wmax, d); worst = max(worst, d); n += 1
    if time.monotonic() - sec >= 1:
        print("probe: %d rtts, max %.0f ms, hb gap so far %.0f ms" % (n, wmax*1000, p.max_hb_gap*1000), flush=True); sec = time.monotonic(); wmax = 0; n = 0
    time.sleep(0.05)
print("PROBE: worst rtt %.0f ms, max gap between v heartbeats %.0f ms, fails %d, link %s" % (worst*1000, p.max_hb_gap*1000, fails, "up" if p.closed_at is None else "DOWN " + str(p.close_reason)), flush=True)
p.close()
