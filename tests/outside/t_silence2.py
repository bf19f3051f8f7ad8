"""Silence variants: right after ACCEPT (no SYNCED); mid-frame (header sent, body withheld); dribble."""
from peer import *
# 1: silent right after ACCEPT
p = Peer(auto_hb=False)
last = time.monotonic()  # ACCEPT was our last byte
while p.closed_at is None and time.monotonic() - last < 10: time.sleep(0.001)
print("after ACCEPT, no SYNCED: closed after %.3f" % (p.closed_at - last), p.close_reason); p.close(); time.sleep(0.3)
# 2: partial frame: length + kind of a HEARTBEAT, then silence
p = Peer(auto_hb=False); p.wait_synced(); p.send(f_synced())
p.send(f_hb()[:6]); last = time.monotonic()
while p.closed_at is None and time.monotonic() - last < 10: time.sleep(0.001)
print("mid-frame silence: closed after %.3f" % (p.closed_at - last), p.close_reason); p.close(); time.sleep(0.3)
# 3: dribble a big frame 1 byte per second: link should live (bytes arrive)
p = Peer(auto_hb=False); p.wait_synced(); p.send(f_synced())
hdr = struct.pack(">IB", 1000, K_SEND)
p.send(hdr); t0 = time.monotonic()
for i in range(8):
    time.sleep(1.0); p.send(b"\0")
    if p.closed_at: break
print("dribble: alive after %.1fs? %s" % (time.monotonic()-t0, p.closed_at is None))
p.close()
