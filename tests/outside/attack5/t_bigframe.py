"""Send COUNT SEND frames of FK KiB (to a mailbox that does not exist), then check the link."""
import sys
from rawtls import *
FK = int(sys.argv[1]); COUNT = int(sys.argv[2]); target = sys.argv[3] if len(sys.argv) > 3 else "none"
V = pid("v")
p = Raw(me="a", auto_hb=True); p.wait_synced()
mb = p.lookup()["mbox"] if target == "echo" else 12345
L = FK * 1024
body = struct.pack(">QQ", mb, p.peer_inc) + b"\x03u64" + b"\x07" * (L - 8 - 8 - 4 - 1)
f = frame(0x10, body)
c0 = cpu(V); t0 = time.monotonic()
for i in range(COUNT):
    try:
        p.send(f)
    except Exception as e:
        print("send:", repr(e)); break
t1 = time.monotonic()
r = p.lookup(timeout=5)
print("FK=%d (frame length %d) x%d: sent in %.2fs, v cpu %.2fs, lookup after: %s, link closed=%s %s" % (
    FK, L, COUNT, t1 - t0, cpu(V) - c0, r, p.closed_at is not None, p.close_reason))
p.close()
