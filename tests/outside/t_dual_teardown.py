"""Members a and b both fill their caps and drop their links at the same instant, repeatedly. h is the honest observer."""
import sys, threading
from peer import *
VPID = int(open("run/v.pid").read())
dur = float(sys.argv[1]) if len(sys.argv) > 1 else 30
def blast(p, frames, chunk=2048):
    for i in range(0, len(frames), chunk):
        p.send(b"".join(frames[i:i+chunk]))
bar = threading.Barrier(2); gaps = {}; rounds = {}
def worker(me):
    t0 = time.monotonic(); n = 0
    while time.monotonic() - t0 < dur:
        p = Peer(me=me); p.wait_synced(); p.send(f_synced()); mb = p.lookup("echo")["mbox"]; inc = p.peer_inc
        blast(p, [f_monitor(i, 1000+i, mb, inc) for i in range(1, 65537)])
        blast(p, [f_gjoin("G", 100+i, "t"*255) for i in range(16384)])
        p.alive(20)
        gaps[me] = max(gaps.get(me, 0), getattr(p, "max_hb_gap", 0))
        try: bar.wait(30)
        except Exception: pass
        p.close(); n += 1
    rounds[me] = n
ts = [threading.Thread(target=worker, args=(m,)) for m in ("a", "b")]
hn = len(open("run/h.out").read().splitlines())
for t in ts: t.start()
for t in ts: t.join()
print("rounds", rounds, "max v->attacker heartbeat gaps (s)", gaps, "RSS", rss(VPID))
print("h events:", open("run/h.out").read().splitlines()[hn:])
