"""Fresh victim: fill every per-link cap at its worst, plus a full outbound queue; report RSS."""
import socket
from peer import *
VPID = int(open("run/v.pid").read())
def blast(p, frames, chunk=2048):
    for i in range(0, len(frames), chunk):
        p.send(b"".join(frames[i:i+chunk]))
print("fresh", rss(VPID))
p = Peer(); p.wait_synced(); p.send(f_synced()); mb = p.lookup("echo")["mbox"]; inc = p.peer_inc
blast(p, [f_monitor(i, 1000+i, mb, inc) for i in range(1, 65537)]); p.alive(10)
print("65536 monitors", rss(VPID))
blast(p, [f_gjoin("g"*250 + "%05d" % i, 100+i, "t"*255) for i in range(16384)]); p.alive(10)
print("+16384 memberships, own groups, 255B names/tags", rss(VPID))
p.close(); time.sleep(1); print("after close", rss(VPID))
p = Peer(); p.wait_synced(); p.send(f_synced()); mb = p.lookup("echo")["mbox"]; inc = p.peer_inc
blast(p, [f_name_add("n"*250 + "%05d" % i, 100+i, "t"*255) for i in range(16384)]); p.alive(10)
print("16384 names 255B", rss(VPID))
blast(p, [f_monitor(i, 1000+i, mb, inc) for i in range(1, 65537)]); p.alive(10)
print("+65536 monitors", rss(VPID))
# now stop reading and flood lookups until cut
p.stop_hb.set()
import threading
def hb():
    while p.closed_at is None:
        try: p.send(f_hb())
        except Exception: return
        time.sleep(0.5)
# reader still running consumes... so stop it from consuming: can't; use a new link instead for the queue test
print("(queue test separately, see t_lookup_flood.py)")
p.close(); time.sleep(1); print("end", rss(VPID))
