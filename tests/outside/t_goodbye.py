"""GOODBYE, then keep talking."""
from peer import *
def vout(): return open("run/v.out").read().splitlines()
for variant in ["then_frames", "then_silence_open", "reason255", "goodbye_x1000", "goodbye_before_synced"]:
    n0 = len(vout())
    p = Peer(); p.wait_synced()
    if variant != "goodbye_before_synced": p.send(f_synced())
    mb = p.lookup("echo")["mbox"]
    t = time.monotonic()
    if variant == "reason255": p.send(f_goodbye(255))
    elif variant == "goodbye_x1000": p.send(f_goodbye() * 1000)
    else: p.send(f_goodbye())
    if variant in ("then_frames", "goodbye_x1000", "reason255", "goodbye_before_synced"):
        # keep sending monitors/lookups/heartbeats after GOODBYE
        try:
            for i in range(200):
                p.send(f_monitor(i+1, 7, mb, p.peer_inc) + f_lookup(i, "echo") + f_name_add("gb%d" % i, 5) + f_hb())
                time.sleep(0.01)
                if p.closed_at: break
        except Exception as e:
            pass
    else:
        p.stop_hb.set()
        while p.closed_at is None and time.monotonic() - t < 8: time.sleep(0.01)
    while p.closed_at is None and time.monotonic() - t < 8: time.sleep(0.01)
    lr = sum(1 for k, _ in p.skipped if k == K_LOOKUP_REPLY) + sum(1 for _ in range(p.q.qsize()))
    print("%-22s victim closed after %s; answers after GOODBYE (approx)=%d, reason=%s; v.out: %s" % (
        variant, "%.3fs" % (p.closed_at - t) if p.closed_at else "NEVER(8s)", p.counts.get(K_LOOKUP_REPLY, 0) - 1, p.close_reason, vout()[n0:]), flush=True)
    p.close(); time.sleep(0.3)
