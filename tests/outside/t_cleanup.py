"""Fill every cap, end the link in various ways, repeat; victim RSS must plateau."""
import sys
from peer import *
VPID = int(open("run/v.pid").read())
def blast(p, frames, chunk=2048):
    for i in range(0, len(frames), chunk):
        p.send(b"".join(frames[i:i+chunk]))
L = "y"*245
def fill(p, mb):
    blast(p, [f_name_add(L+"%05d" % i, 100+i, "t"*255) for i in range(8192)])
    blast(p, [f_gjoin(L+"%05d" % i, 100+i, "t"*255) for i in range(8192)])
    blast(p, [f_monitor(i, 1000+i, mb, p.peer_inc) for i in range(1, 65537)])
    assert p.alive(10), "died while filling"
ends = sys.argv[1:] or ["close", "goodbye", "replace", "cap", "close"]
old = None
for rnd in range(3):
    for how in ends:
        p = Peer(); p.wait_synced(); p.send(f_synced()); mb = p.lookup("echo")["mbox"]
        if old is not None:
            time.sleep(0.3); print("   replaced link closed by victim?", old.closed_at is not None, old.close_reason); old.close(); old = None
        fill(p, mb)
        t = time.monotonic()
        if how == "close": p.close()
        elif how == "goodbye": p.send(f_goodbye()); time.sleep(0.5); p.close()
        elif how == "replace": old = p
        elif how == "cap": p.send(f_monitor(10**12, 1, mb, p.peer_inc)); time.sleep(0.5); p.close()
        time.sleep(0.7)
        print("round %d end=%-8s RSS/HWM %s" % (rnd, how, rss(VPID)[:2]), flush=True)
if old: old.close()
