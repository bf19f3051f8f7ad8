"""Names + group memberships cap (16,384 default)."""
import sys
from peer import *
VPID = int(open("run/v.pid").read())
CAP = 16384
def mk():
    p = Peer(); p.wait_synced(); p.send(f_synced()); return p
def blast(p, frames, chunk=2048):
    for i in range(0, len(frames), chunk):
        p.send(b"".join(frames[i:i+chunk]))
def check(p, what, t=5):
    time.sleep(0.3); a = p.alive(t); print("%-60s alive=%s %s" % (what, a, rss(VPID)[0]), flush=True); return a
L = "x"*240
case = sys.argv[1]
p = mk()
if case == "cap":
    blast(p, [f_name_add(L+"%05d" % i, 100+i, "t"*255) for i in range(CAP)])
    check(p, "16384 names")
    blast(p, [f_name_add(L+"%05d" % i, 100+i, "t"*255) for i in range(CAP)])
    check(p, "same 16384 again (repeats)")
    blast(p, [f_name_add(L+"%05d" % i, 9999+i, "u"*255) for i in range(CAP)])
    check(p, "same names, new mailbox/tag (replace)")
    p.send(f_name_add("one-more", 1)); check(p, "one more name -> should be cut")
elif case == "mixed":
    blast(p, [f_name_add("n%d" % i, 100+i) for i in range(CAP//2)])
    blast(p, [f_gjoin("g", 100+i) for i in range(CAP//2)])
    check(p, "8192 names + 8192 joins")
    blast(p, [f_gjoin("g", 100+i, "othertag") for i in range(CAP//2)])
    check(p, "same joins, different tag")
    p.send(f_gjoin("g2", 1)); check(p, "one more join -> should be cut")
elif case == "wrongremove":
    blast(p, [f_name_add("n%d" % i, 100+i) for i in range(CAP)])
    check(p, "16384 names")
    blast(p, [f_name_remove("n%d" % i, 5) for i in range(CAP)])
    check(p, "NAME_REMOVE each with the wrong mailbox")
    blast(p, [f_name_remove("never%d" % i, 0) for i in range(50000)])
    check(p, "50000 NAME_REMOVE of names never claimed")
    blast(p, [f_gleave("never%d" % i, 5) for i in range(50000)])
    check(p, "50000 GROUP_LEAVE never joined")
    p.send(f_name_add("extra", 1)); check(p, "one more name (count must still be full) -> should be cut")
elif case == "remove_readd":
    blast(p, [f_name_add("n%d" % i, 100+i) for i in range(CAP)])
    check(p, "16384 names")
    blast(p, [f_name_remove("n%d" % i, 0) for i in range(CAP)])
    blast(p, [f_name_add("m%d" % i, 100+i) for i in range(CAP)])
    check(p, "removed all (mbox 0), added 16384 others")
    blast(p, [f_name_remove("m%d" % i, 100+i) for i in range(CAP)])
    blast(p, [f_gjoin("g%d" % i, 1) for i in range(CAP)])
    check(p, "removed all (exact mbox), joined 16384 groups")
    blast(p, [f_gleave("g%d" % i, 1) for i in range(CAP)] + [f_gjoin("g%d" % i, 1) for i in range(CAP)])
    check(p, "left all, rejoined all")
    blast(p, [f_gleave("g%d" % i, 2) for i in range(CAP)])
    check(p, "GROUP_LEAVE with wrong mailbox x16384")
    p.send(f_gjoin("zz", 1)); check(p, "one more join -> should be cut")
elif case == "churn":
    N = int(sys.argv[2]); c0 = cpu(VPID); t0 = time.monotonic()
    for j in range(0, N, 20000):
        blast(p, [f for i in range(20000) for f in (f_name_add("same", i+1), f_gjoin("gg", 1), f_gleave("gg", 1))])
        if not p.alive(10): print("dead"); break
    print("churn %d x (NAME_ADD same name new mbox, JOIN, LEAVE) in %.1fs victim cpu %.1fs" % (N, time.monotonic()-t0, cpu(VPID)-c0))
    check(p, "after churn")
p.close()
