"""Isolate: fill one kind to its cap, close, repeat N times; print RSS each cycle."""
import sys
from peer import *
VPID = int(open("run/v.pid").read())
def blast(p, frames, chunk=2048):
    for i in range(0, len(frames), chunk):
        p.send(b"".join(frames[i:i+chunk]))
L = "y"*245
kind, N = sys.argv[1], int(sys.argv[2])
how = sys.argv[3] if len(sys.argv) > 3 else "close"
out = []
for c in range(N):
    p = Peer(); p.wait_synced(); p.send(f_synced()); mb = p.lookup("echo")["mbox"]
    if kind == "names": blast(p, [f_name_add(L+"%05d" % i, 100+i, "t"*255) for i in range(16384)])
    if kind == "groups": blast(p, [f_gjoin(L+"%05d" % i, 100+i, "t"*255) for i in range(16384)])
    if kind == "group1": blast(p, [f_gjoin("G", 100+i, "t"*255) for i in range(16384)])
    if kind == "monitors": blast(p, [f_monitor(i, 1000+i, mb, p.peer_inc) for i in range(1, 65537)])
    if kind == "none": pass
    assert p.alive(10)
    if how == "close": p.close()
    elif how == "goodbye": p.send(f_goodbye()); time.sleep(0.3); p.close()
    time.sleep(0.6)
    out.append(int(rss(VPID)[0].split()[0])//1024)
print(kind, how, "RSS MiB per cycle:", out, flush=True)
