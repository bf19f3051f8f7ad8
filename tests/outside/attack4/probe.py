"""Honest-ish member b: LOOKUP round trips to v every 50 ms, print max latency per second; also flags link loss."""
import sys
from peer import *
dur = float(sys.argv[1]) if len(sys.argv) > 1 else 30
p = Peer(me="b"); p.wait_synced(); p.send(f_synced())
t_end = time.monotonic() + dur; worst = 0; sec = time.monotonic(); wmax = 0; n = 0
while time.monotonic() < t_end:
    t = time.monotonic(); ok = p.lookup("echo", timeout=10)
    d = time.monotonic() - t
    if not ok or ok[0] is None if isinstance(ok, tuple) else False:
        print("probe: lookup failed after %.2fs" % d, p.close_reason, flush=True); break
    wmax = max(wmax, d); worst = max(worst, d); n += 1
    if time.monotonic() - sec >= 1:
        print("probe: %d rtts, max %.0f ms" % (n, wmax*1000), flush=True); sec = time.monotonic(); wmax = 0; n = 0
    time.sleep(0.05)
print("probe: worst rtt %.0f ms, max gap between v heartbeats %.0f ms, link %s" % (worst*1000, getattr(p, "max_hb_gap", 0)*1000, "up" if p.closed_at is None else "DOWN"), flush=True)
