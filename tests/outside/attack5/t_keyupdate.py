"""KeyUpdate floods. mode: burst (N KeyUpdate(requested) in a row), alt (KeyUpdate(req)+HB pairs),
alt_noread (same, never reading), norq (KeyUpdate(not requested)+HB)."""
import sys
from rawtls import *
mode = sys.argv[1]; N = int(sys.argv[2]) if len(sys.argv) > 2 else 10000
V = pid("v"); c0 = cpu(V); r0 = rss_kb(V)
p = Raw(me="a", reader=(mode != "alt_noread"), auto_hb=False)
p.wait_synced() if mode != "alt_noread" else p.send(frame(0x5f))
t0 = time.monotonic(); peak = r0
try:
    if mode == "burst":
        for i in range(N):
            p.key_update(1)
    else:
        req = 0 if mode == "norq" else 1
        chunk = []
        for i in range(N):
            with p.wlock:
                chunk.append(p.tx.seal(CT_HS, bytes([24, 0, 0, 1, req]))); p.tx.update()
                chunk.append(p.tx.seal(CT_APP, hb(i)))
            if len(chunk) >= 2000:
                p.s.sendall(b"".join(chunk)); chunk = []
                peak = max(peak, rss_kb(V))
        if chunk: p.s.sendall(b"".join(chunk))
except Exception as e:
    print("send failed:", repr(e))
t1 = time.monotonic()
time.sleep(2)
print("%s N=%d: sent in %.2fs, v cpu %.2fs, rss %d -> %d kB (peak %d), key updates from v %d, link closed=%s %s" % (
    mode, N, t1 - t0, cpu(V) - c0, r0, rss_kb(V), peak, p.key_updates_rx, p.closed_at is not None, p.close_reason))
if mode != "alt_noread" and p.closed_at is None:
    print("lookup after:", p.lookup())
p.close()
