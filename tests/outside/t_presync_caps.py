"""Caps apply to frames sent before SYNCED too?"""
from peer import *
def blast(p, frames, chunk=2048):
    for i in range(0, len(frames), chunk):
        p.send(b"".join(frames[i:i+chunk]))
p = Peer(); mb = p.lookup("echo")["mbox"]
blast(p, [f_name_add("p%d" % i, 10+i) for i in range(16384)])
print("16384 names before SYNCED, alive", p.alive(5))
p.send(f_gjoin("x", 1)); time.sleep(0.5); print("one more before SYNCED -> closed?", p.closed_at is not None); p.close()
p = Peer(); mb = p.lookup("echo")["mbox"]
blast(p, [f_monitor(i, 1, mb, p.peer_inc) for i in range(1, 65537)])
print("65536 monitors before SYNCED alive", p.alive(5))
p.send(f_synced()); p.send(f_monitor(10**9, 1, mb, p.peer_inc)); time.sleep(0.5); print("one more after SYNCED -> closed?", p.closed_at is not None); p.close()
