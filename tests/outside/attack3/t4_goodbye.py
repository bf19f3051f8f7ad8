"""t4_goodbye.py MODE: hostile member a (python) ends links with v by GOODBYE of every reason 0..255.
MODE synced: after SYNCED both ways; presync: right after ACCEPT, before reading v's SYNCED; midstream: while
sending 200 echo requests back to back; extra: GOODBYE with trailing bytes / without its reason byte.
Prints per reason what a saw (frames after the GOODBYE, close time)."""
import sys
from util import *
mode = sys.argv[1]
res = {}
def one(r, payload=None):
    p = Peer(me="a", port=7402)
    if mode == "synced":
        p.wait_synced(); p.send(f_synced()); time.sleep(0.05)
    elif mode == "midstream":
        p.wait_synced(); p.send(f_synced())
        for i in range(200): p.send(f_echo("a-%d" % i, "a", p.inc))
    t0 = time.monotonic()
    p.send(frame(K_GOODBYE, payload) if payload is not None else f_goodbye(r))
    seen = []
    while True:
        x = p.expect(timeout=3)
        if x is None: seen.append("no close in 3 s"); break
        if x[0] is None: seen.append("closed %.0f ms" % ((time.monotonic() - t0) * 1000)); break
        seen.append(NAMES.get(x[0], x[0]))
    p.close()
    return seen
if mode == "extra":
    print("trailing:", one(0, bytes([2, 0xff])), flush=True)
    print("empty:", one(0, b""), flush=True)
    print("reason 3 + 1000 bytes:", one(0, bytes([3]) + b"\x1b[31m" * 200), flush=True)
    sys.exit()
for r in range(256):
    s = one(r)
    key = tuple(x for x in s if not x.startswith("closed"))
    res.setdefault(key, []).append(r)
    time.sleep(0.12)
for k, v in res.items():
    print("reasons %s..%s (%d): a saw %s" % (v[0], v[-1], len(v), list(k)), flush=True)
