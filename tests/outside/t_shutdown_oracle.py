"""Which monitors does the victim hold? SIGTERM it and collect the DOWNs it sends before GOODBYE."""
import os, signal
from peer import *
VPID = int(open("run/v.pid").read())
p = Peer(); p.wait_synced(); p.send(f_synced()); mb = p.lookup("echo")["mbox"]; inc = p.peer_inc
fr = [f_monitor(i, 1000+i, mb, inc) for i in range(1, 101)]
fr += [f_demonitor(i) for i in range(1, 51)]
fr += [f_monitor(60, 1, mb, inc ^ 1), f_monitor(70, 1, 777, inc)]
fr += [f_monitor(200, 1, mb, inc), f_demonitor(200), f_monitor(200, 2, mb, inc)]
fr += [f_monitor(300, 1, mb, inc), f_demonitor(300)]
fr += [f_demonitor(400), f_monitor(400, 4, mb, inc)]
fr += [f_monitor(500, 5, mb, inc), f_monitor(500, 55, mb, inc)]  # replace: watcher 55 expected
p.send(b"".join(fr)); assert p.alive()
early = [(k, parse(k, pp)) for k, pp in p.skipped if k == K_DOWN] + [(k, parse(k, pp)) for k, pp in p.rawdrain(0.3) if k == K_DOWN]
print("DOWNs before shutdown:", sorted((d["mon"], d["reason"]) for _, d in early))
os.kill(VPID, signal.SIGTERM)
downs = []; other = []
while True:
    r = p.expect(timeout=6)
    if r is None or r[0] is None: break
    if r[0] == K_DOWN: downs.append((r[1]["mon"], r[1]["watcher"], r[1]["reason"]))
    else: other.append(NAMES.get(r[0]))
got = sorted(m for m, _, _ in downs)
exp = sorted(set(range(51, 101)) - {60, 70} | {200, 400, 500})
print("DOWNs at shutdown:", len(downs), "other frames:", other)
print("match expected:", got == exp, "missing", sorted(set(exp)-set(got)), "extra", sorted(set(got)-set(exp)))
print("watcher of 500:", [w for m, w, _ in downs if m == 500], "of 200:", [w for m, w, _ in downs if m == 200], "reasons", {r for _, _, r in downs})
