"""Monitor cap (65,536 default): distinct IDs on echo; repeats; other incarnation; nonexistent; DEMONITOR unknown."""
import sys
from peer import *
VPID = int(open("run/v.pid").read())
CAP = 65536
def mk():
    p = Peer(); p.wait_synced(); p.send(f_synced())
    mb = p.lookup("echo")["mbox"]; return p, mb
def blast(p, frames, chunk=4096):
    for i in range(0, len(frames), chunk):
        p.send(b"".join(frames[i:i+chunk]))
def downs(p, t=1.0):
    n = 0; reasons = {}
    while True:
        r = p.expect([K_DOWN], timeout=t)
        if r is None or r[0] is None: return n, reasons, r
        n += 1; reasons[r[1]["reason"]] = reasons.get(r[1]["reason"], 0) + 1
print("RSS start", rss(VPID))
test = sys.argv[1] if len(sys.argv) > 1 else "all"

if test in ("cap", "all"):
    p, mb = mk()
    blast(p, [f_monitor(i, 1000+i, mb, p.peer_inc) for i in range(1, CAP+1)])
    print("after %d distinct monitors alive:" % CAP, p.alive(5), rss(VPID), "downs:", downs(p, 0.3)[:2])
    p.send(f_monitor(CAP+1, 5, mb, p.peer_inc)); time.sleep(1)
    print("after one more: closed?", p.closed_at is not None, p.close_reason, rss(VPID)); p.close()

if test in ("repeat", "all"):
    p, mb = mk()
    blast(p, [f_monitor(i, 1000+i, mb, p.peer_inc) for i in range(1, CAP+1)])
    # repeated IDs 200k times: must not count
    blast(p, [f_monitor(1 + (i % 100), 7, mb, p.peer_inc) for i in range(200000)])
    print("repeat IDs at cap alive:", p.alive(5), rss(VPID))
    # other incarnation 100k: answered at once not counted
    blast(p, [f_monitor(10**9+i, 7, mb, p.peer_inc ^ 1) for i in range(100000)])
    print("other-incarnation x100k alive:", p.alive(10), "downs", downs(p, 1.0)[:2], rss(VPID))
    # nonexistent mailbox in this life 100k (each fires at once)
    blast(p, [f_monitor(2*10**9+i, 7, 12345+i, p.peer_inc) for i in range(100000)])
    print("nonexistent-mailbox x100k alive:", p.alive(10), "downs", downs(p, 1.0)[:2], rss(VPID))
    # DEMONITOR unknown 200k
    blast(p, [f_demonitor(5*10**9+i) for i in range(200000)])
    print("DEMONITOR unknown x200k alive:", p.alive(10), rss(VPID))
    # demonitor 10, add 10 new: ok; then one more: cut
    blast(p, [f_demonitor(i) for i in range(1, 11)] + [f_monitor(3*10**9+i, 7, mb, p.peer_inc) for i in range(10)])
    print("demonitor 10 + 10 new alive:", p.alive(5))
    p.send(f_monitor(4*10**9, 7, mb, p.peer_inc)); time.sleep(1)
    print("then one more: closed?", p.closed_at is not None); p.close()
time.sleep(1); print("RSS end", rss(VPID))
