"""Close a link (TCP close, no GOODBYE) and redial at once: does the new link survive?"""
import sys
from peer import *
delay = float(sys.argv[1]) if len(sys.argv) > 1 else 0.0
res = []
for i in range(10):
    p = Peer(); p.wait_synced(); p.send(f_synced()); assert p.alive()
    p.close(); time.sleep(delay)
    t = time.monotonic()
    q = Peer(); got, last = q.wait_synced()
    ok = last is not None and last[0] == K_SYNCED
    try:
        q.send(f_synced()); alive = q.alive(3)
    except Exception as e:
        alive = repr(e)
    res.append((ok, alive, q.close_reason))
    print("try %d: new link synced=%s alive=%s reason=%s" % (i, ok, alive, q.close_reason), flush=True)
    q.close(); time.sleep(0.5)
