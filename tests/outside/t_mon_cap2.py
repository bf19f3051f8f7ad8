"""Does a MONITOR of a nonexistent mailbox (this life) count against the cap?"""
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
def nd(p): return p.counts.get(K_DOWN, 0)
case = sys.argv[1]
p, mb = mk()
if case == "nonexist_then_real":
    blast(p, [f_monitor(10**9+i, 7, 12345+i, p.peer_inc) for i in range(100000)])
    print("100k nonexistent alive", p.alive(10), "DOWNs so far", nd(p))
    blast(p, [f_monitor(i, 7, mb, p.peer_inc) for i in range(1, CAP+1)])
    print("then 65536 real alive", p.alive(10), "DOWNs", nd(p), p.close_reason)
elif case == "otherinc_then_real":
    blast(p, [f_monitor(10**9+i, 7, mb, p.peer_inc ^ 1) for i in range(100000)])
    print("100k other-inc alive", p.alive(10), "DOWNs so far", nd(p))
    blast(p, [f_monitor(i, 7, mb, p.peer_inc) for i in range(1, CAP+1)])
    print("then 65536 real alive", p.alive(10), "DOWNs", nd(p), p.close_reason)
elif case == "at_cap_nonexist":
    blast(p, [f_monitor(i, 7, mb, p.peer_inc) for i in range(1, CAP+1)])
    print("65536 real alive", p.alive(10))
    p.send(f_monitor(10**9, 7, 999, p.peer_inc)); time.sleep(1)
    print("one nonexistent-mailbox MONITOR at the cap -> closed?", p.closed_at is not None, "DOWNs", nd(p))
    p.close(); p, mb = mk()
    blast(p, [f_monitor(i, 7, mb, p.peer_inc) for i in range(1, CAP+1)])
    p.send(f_monitor(10**9, 7, mb, p.peer_inc ^ 1)); time.sleep(1)
    print("one other-incarnation MONITOR at the cap -> closed?", p.closed_at is not None, "DOWNs", nd(p))
    p.send(f_monitor(5, 7, mb, p.peer_inc)); time.sleep(0.5)
    print("repeat id at cap -> closed?", p.closed_at is not None)
    p.send(f_monitor(5, 7, 4242, p.peer_inc)); time.sleep(0.5)
    print("repeat id at cap retargeted to nonexistent -> closed?", p.closed_at is not None, "DOWNs", nd(p))
    p.send(f_monitor(5, 7, mb, p.peer_inc ^ 1)); time.sleep(0.5)
    print("repeat id at cap retargeted to other life -> closed?", p.closed_at is not None, "DOWNs", nd(p))
    # if id 5 was freed by the retarget, one new id must now fit
    p.send(f_monitor(10**10, 7, mb, p.peer_inc)); time.sleep(0.5)
    print("new id after the retargets -> closed?", p.closed_at is not None, p.close_reason)
p.close()
