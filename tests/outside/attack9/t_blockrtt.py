"""While v's application runtime is blocked (start v with --block-workers-after/--block-for; the
node's thread drives the links, doc: about once per heartbeat interval), send one LOOKUP in
various shapes and NOTHING more for up to 2.6 s (silence limit 3 s): how long until its reply?
A reply that waits for our next bytes (> 2.6 s) is a lost wake-up in the takeover path.
usage: t_blockrtt.py SECS"""
import sys, random
from rawtls import *
secs = float(sys.argv[1]) if len(sys.argv) > 1 else 15
VOUT = os.path.join(HERE, "run", "v.out")
rnd = random.Random(5)
def lk(req): return frame(0x40, struct.pack(">Q", req) + b"\x04echo")
p = Raw(me="a", auto_hb=False); p.wait_synced()
while "blocking" not in open(VOUT).read(): p.send(hb(0)); time.sleep(0.2)
print("v blocked"); t_all = time.monotonic(); q = 100; res = []
while time.monotonic() - t_all < secs and "unblocked" not in open(VOUT).read():
    for var in ("whole", "split", "tiny"):
        q += 1; r = p.rec(lk(q)); t0 = time.monotonic()
        if var == "whole": p.s.sendall(r)
        elif var == "split": k = rnd.randrange(1, len(r)); p.s.sendall(r[:k]); time.sleep(0.001); p.s.sendall(r[k:])
        else:
            f = lk(q); p.tx.seq -= 1; rs = [p.rec(f[i:i+1]) for i in range(len(f))]
            for x in rs: p.s.sendall(x); time.sleep(0.0005)
        got = None; end = t0 + 2.6
        while time.monotonic() < end:
            try: k_, pl = p.q.get(timeout=end - time.monotonic())
            except queue.Empty: break
            if k_ is None: print("LINK CLOSED", pl); sys.exit(1)
            if k_ == 0x41 and struct.unpack(">Q", pl[:8])[0] == q: got = time.monotonic() - t0; break
        blocked = "unblocked" not in open(VOUT).read()
        print("BLOCKRTT %-5s %s%s" % (var, "%.0f ms" % (got * 1000) if got is not None else "NONE within 2.6 s", "" if blocked else " (block over)"), flush=True)
        res.append((var, got, blocked))
        p.send(hb(0)); time.sleep(0.1)
bl = [x for x in res if x[2]]
print("BLOCKSUM during block: n=%d, worst %s, none-within-2.6s %d" % (len(bl), "%.0f ms" % (max((x[1] or 9) for x in bl) * 1000) if bl else "-", sum(1 for x in bl if x[1] is None)))
p.close()
