"""Flood LOOKUPs (or other answered frames) and never read the answers."""
import sys, socket
from peer import *
VPID = int(open("run/v.pid").read())
kind = sys.argv[1] if len(sys.argv) > 1 else "lookup"
p = Peer(read=False, auto_hb=True)
# read up to SYNCED by hand, then stop reading forever
while True:
    k, _ = p.read_frame()
    if k == K_SYNCED: break
p.send(f_synced())
p.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
inc = p.peer_inc
if kind == "lookup": fr = b"".join(f_lookup(i, "echo") for i in range(4096))
elif kind == "lookup_miss": fr = b"".join(f_lookup(i, "n"*255) for i in range(4096))
elif kind == "mon_nonexist": fr = b"".join(f_monitor(i, 7, 999+i, inc) for i in range(4096))
elif kind == "mon_otherlife": fr = b"".join(f_monitor(i, 7, 999+i, inc ^ 1) for i in range(4096))
print("RSS before", rss(VPID), flush=True)
t0 = time.monotonic(); sent = 0; last = 0
try:
    while time.monotonic() - t0 < 60:
        p.send(fr); sent += 4096
        if time.monotonic() - last > 1:
            last = time.monotonic(); print("  t=%.1f sent=%d RSS=%s cpu=%.1f" % (last - t0, sent, rss(VPID)[:2], cpu(VPID)), flush=True)
except Exception as e:
    print("send failed after %.1fs, %d frames: %r" % (time.monotonic()-t0, sent, e))
time.sleep(1)
print("RSS after", rss(VPID), flush=True)
