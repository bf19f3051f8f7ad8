"""Item 3: the first frames of a fresh link. Connect, read v's sync, send SYNCED, wait D ms,
send one LOOKUP, send nothing more; the reply must come promptly (bound 2 s, under the 3 s
silence limit). On a miss, one heartbeat record is sent and the reply awaited 1 s more.
usage: t_first.py ROUNDS"""
import sys
from rawtls import *
rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
def lk(req): return frame(0x40, struct.pack(">Q", req) + b"\x04echo")
def wait_req(p, req, t):
    end = time.monotonic() + t
    while time.monotonic() < end:
        try: k, pl = p.q.get(timeout=max(0.001, end - time.monotonic()))
        except queue.Empty: return None
        if k is None: return None
        if k == 0x41 and struct.unpack(">Q", pl[:8])[0] == req: return time.monotonic()
    return None
out = {}
for r in range(rounds):
    for d in (0, 0.001, 0.005, 0.02, 0.1, 0.5):
        p = Raw(me="a", auto_hb=False); p.wait_synced()   # sends SYNCED
        time.sleep(d); q = 99 + r; t0 = time.monotonic(); p.send(lk(q))
        t = wait_req(p, q, 2.0)
        if t is None:
            p.send(hb(1)); t2 = wait_req(p, q, 1.0)
            res = "STALL: none in 2 s; %s after one more record" % ("answered" if t2 else "still none")
            lat = 9.99
        else:
            lat = t - t0; res = "%.1f ms" % (lat * 1000)
        out.setdefault(d, []).append(lat)
        print("FIRST d=%4.0f ms round %d: %s" % (d * 1000, r, res), flush=True)
        p.close(); time.sleep(0.1)
for d, v in out.items():
    print("FIRSTSUM delay %4.0f ms: worst %.1f ms, stalls %d/%d" % (d * 1000, max(v) * 1000, sum(1 for x in v if x > 1), len(v)))
