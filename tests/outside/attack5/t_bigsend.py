"""Pre-sealed flood of big, protocol-valid SEND frames (to a mailbox that does not exist, or echo's),
TOTAL MB of frames of FRAME KiB each, in ordinary full 16 KiB records. No TLS trickery.
Sealing uses sequence numbers reserved ahead, so our heartbeats continue meanwhile.
NOHB=1: no HEARTBEAT frame between the SENDs (one run of SENDs)."""
import sys, copy
from rawtls import *
MB = int(sys.argv[1]); FK = int(sys.argv[2]); target = sys.argv[3] if len(sys.argv) > 3 else "none"
V = pid("v")
p = Raw(me="a", auto_hb=True); p.wait_synced()
mb = p.lookup()["mbox"] if target == "echo" else 12345
body = struct.pack(">QQ", mb, p.peer_inc) + b"\x03u64" + b"\x07" * (FK * 1024 - 8 - 8 - 4 - 1)
f = frame(0x10, body)
RES = 2000
with p.wlock:
    d = copy.copy(p.tx); flood_start = p.tx.seq + RES; d.seq = flood_start
t0 = time.monotonic(); parts = []; n = 0
while n * len(f) < MB * 1e6:
    parts += [d.seal(CT_APP, f[i:i+16384]) for i in range(0, len(f), 16384)]
    n += 1
    if os.environ.get("NOHB") is None: parts.append(d.seal(CT_APP, hb(n)))
buf = b"".join(parts); del parts
print("sealed %d MB (%d SEND frames of %d KiB) in %.1fs" % (len(buf) // 10**6, n, FK, time.monotonic() - t0), flush=True)
wait_block(90)
c0 = cpu(V); t0 = time.monotonic()
with p.wlock:
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
