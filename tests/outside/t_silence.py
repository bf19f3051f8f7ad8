"""Go silent after a given phase; measure victim close time after our last byte."""
import sys
from peer import *
limit = float(sys.argv[1]) if len(sys.argv) > 1 else 3.0
ME = sys.argv[2] if len(sys.argv) > 2 else "a"
res = []
for phase in [0.0, 0.1, 0.25, 0.4, 0.55, 0.7, 0.85, 0.95, 0.33, 0.66]:
    p = Peer(me=ME, auto_hb=False)
    p.wait_synced()
    p.send(f_synced())
    # send HBs for 2 s at 0.5 s, then a last one "phase" s after a victim heartbeat
    t0 = time.monotonic()
    while time.monotonic() - t0 < 1.0:
        p.send(f_hb()); time.sleep(0.2)
    # wait for a victim HB arrival, then phase
    c = p.counts.get(K_HB, 0)
    while p.counts.get(K_HB, 0) == c: time.sleep(0.002)
    time.sleep(phase)
    p.send(f_hb())
    last = time.monotonic()
    while p.closed_at is None and time.monotonic() - last < 10: time.sleep(0.001)
    d = (p.closed_at - last) if p.closed_at else None
    res.append((phase, d))
    print("phase %.2f: closed after %s s (%s)" % (phase, "%.3f" % d if d else None, p.close_reason), flush=True)
    p.close(); time.sleep(0.5)
ds = [d for _, d in res if d]
print("limit %.3f  min %.3f max %.3f  max excess %.0f ms" % (limit, min(ds), max(ds), (max(ds)-limit)*1000))
