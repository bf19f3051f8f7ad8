"""Floods of control frames; run with probe.py (member b) and watch h.out for 'v down'."""
import sys
from peer import *
VPID = int(open("run/v.pid").read())
def blast(p, frames, chunk=4096):
    for i in range(0, len(frames), chunk):
        p.send(b"".join(frames[i:i+chunk]))
mode = sys.argv[1]; dur = float(sys.argv[2]) if len(sys.argv) > 2 else 15
c0 = cpu(VPID); t0 = time.monotonic(); sent = 0; peak = 0
def mk():
    p = Peer(); p.wait_synced(); p.send(f_synced()); return p, p.lookup("echo")["mbox"]
p, mb = mk(); inc = p.peer_inc
if mode in ("mon_churn_at_cap", "teardown_mon"):
    blast(p, [f_monitor(i, 1000+i, mb, inc) for i in range(1, 65537)])
if mode == "group_churn":
    blast(p, [f_gjoin("G", 100+i, "t"*255) for i in range(16000)])
rnd = 0
while time.monotonic() - t0 < dur:
    if mode == "mon_churn_at_cap":
        fr = [f_monitor(1 + (i*7919) % 65536, i, mb, inc) for i in range(8192)]
    elif mode == "junk":
        fr = [f for i in range(2048) for f in (f_demonitor(10**6+i), f_down(i, i, i, inc, 1, "z"*200), f_hb(i), f_synced(), f_name_remove("q%d" % i, 0), f_gleave("G", i), f_lookup_reply(10**9+i, 1))]
    elif mode == "group_churn":
        fr = [f for i in range(4096) for f in (f_gleave("G", 100 + i % 16000), f_gjoin("G", 100 + i % 16000, "t"*255))]
    elif mode == "name_churn":
        fr = [f_name_add("N", 1 + (rnd*4096+i) % 1000, "t"*255) for i in range(4096)] + [f_name_remove("N", 0)]
    elif mode == "mon_nonexist":
        fr = [f_monitor(i, 7, 5+i, inc) for i in range(8192)]
    elif mode == "teardown_mon" or mode == "teardown_all":
        p.close()
        p, mb = mk(); inc = p.peer_inc
        blast(p, [f_monitor(i, 1000+i, mb, inc) for i in range(1, 65537)])
        if mode == "teardown_all":
            blast(p, [f_name_add("y"*245 + "%05d" % i, 100+i, "t"*255) for i in range(8192)])
            blast(p, [f_gjoin("G", 100+i, "t"*255) for i in range(8192)])
        p.alive(10); fr = []
    elif mode == "reconnect":
        p.close(); p, mb = mk(); fr = []
    blast(p, fr); sent += len(fr); rnd += 1
    peak = max(peak, int(rss(VPID)[0].split()[0]))
    if p.closed_at: print("attacker link closed:", p.close_reason); break
print("max gap between v heartbeats to attacker: %.0f ms" % (getattr(p, "max_hb_gap", 0)*1000))
print("%s: %.1fs, %d frames, %d rounds, victim cpu %.1fs, peak RSS %d kB; attacker link alive=%s" % (
    mode, time.monotonic()-t0, sent, rnd, cpu(VPID)-c0, peak, p.alive(10)))
p.close()
