"""Honest member b: LOOKUP round trips to v every 20 ms for DUR s; v's heartbeat gaps; link loss."""
import sys
from peer import *
dur = float(sys.argv[1]) if len(sys.argv) > 1 else 30
p = Peer(me="b"); p.wait_synced(); p.send(f_synced())
t_end = time.monotonic() + dur; rtts = []; fails = 0
while time.monotonic() < t_end and p.closed_at is None:
    t = time.monotonic(); ok = p.lookup("echo", timeout=5); d = time.monotonic() - t
    if not ok or (isinstance(ok, tuple) and ok[0] is None):
        fails += 1; print("probe: lookup failed after %.2fs (%s)" % (d, p.close_reason), flush=True)
        if p.closed_at: break
    rtts.append(d); time.sleep(0.02)
rtts.sort()
print("PROBE: n=%d p50 %.1f ms p99 %.1f ms worst %.0f ms, max v-heartbeat gap %.0f ms, fails %d, link %s" % (
    len(rtts), rtts[len(rtts)//2]*1000, rtts[int(len(rtts)*.99)]*1000, rtts[-1]*1000,
    getattr(p, "max_hb_gap", 0)*1000, fails, "up" if p.closed_at is None else "DOWN " + str(p.close_reason)), flush=True)
p.close()
