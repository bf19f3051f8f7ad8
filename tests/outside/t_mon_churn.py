"""Churn one monitor ID between echo and something answered at once; watch RSS/CPU. Leaks of hooks on the echo mailbox would grow RSS."""
import sys
from peer import *
VPID = int(open("run/v.pid").read())
def blast(p, frames, chunk=4096):
    for i in range(0, len(frames), chunk):
        p.send(b"".join(frames[i:i+chunk]))
p = Peer(); p.wait_synced(); p.send(f_synced()); mb = p.lookup("echo")["mbox"]
inc = p.peer_inc
variants = {
 "nonexist": lambda i: [f_monitor(1, 7, mb, inc), f_monitor(1, 7, 4242, inc)],
 "otherlife": lambda i: [f_monitor(1, 7, mb, inc), f_monitor(1, 7, mb, inc ^ 1)],
 "demon": lambda i: [f_monitor(1, 7, mb, inc), f_demonitor(1)],
 "watcherchg": lambda i: [f_monitor(1, i, mb, inc)],
 "node0": lambda i: [f_monitor(1, 7, 0, inc), f_monitor(1, 7, mb, inc)],
}
v = sys.argv[1]; N = int(sys.argv[2]) if len(sys.argv) > 2 else 300000
print(v, "RSS before", rss(VPID), "cpu", cpu(VPID))
t0 = time.monotonic(); c0 = cpu(VPID)
for j in range(0, N, 10000):
    blast(p, [f for i in range(j, j+10000) for f in variants[v](i)])
    if not p.alive(10): print("DEAD", p.close_reason); break
print(v, "N=%d pairs in %.1fs, victim cpu %.1fs" % (N, time.monotonic()-t0, cpu(VPID)-c0), "RSS after", rss(VPID), "DOWNs", p.counts.get(K_DOWN,0))
p.close()
