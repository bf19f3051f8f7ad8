from rawtls import *
import sys
for k in [16, 31, 32, 33, 64]:
    p = Raw(me="a", auto_hb=False); p.wait_synced()
    recs = []
    for rep in range(5):
        recs += [p.rec(b"", pad=100) for _ in range(k)] + [p.rec(hb(rep))]
    p.s.sendall(b"".join(recs)); time.sleep(0.5)
    print(k, "consecutive empty records x5: alive", p.closed_at is None and p.lookup() is not None, p.close_reason)
    p.close(); time.sleep(0.3)
