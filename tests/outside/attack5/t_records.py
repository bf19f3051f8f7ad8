"""Record shapes. modes: tiny N | zero N | padonly N | max N | split SEGS PAUSE | bigpad | overflow | zero_only SECS"""
import sys
from rawtls import *
mode = sys.argv[1]; arg = sys.argv[2:] 
V = pid("v"); c0 = cpu(V)
p = Raw(me="a", auto_hb=True); p.wait_synced(); wait_block(); p.stop_hb.set(); time.sleep(0.6)
t0 = time.monotonic()
def batch(recs, n=4000):
    for i in range(0, len(recs), n): p.s.sendall(b"".join(recs[i:i+n]))
if mode == "tiny":   # N heartbeat frames, each byte its own record
    N = int(arg[0]); data = b"".join(hb(i) for i in range(N))
    recs = [p.rec(data[i:i+1]) for i in range(len(data))]
    print("records:", len(recs)); batch(recs)
elif mode == "zero":  # N zero-length application-data records, a HB every 100
    N = int(arg[0]); recs = []
    for i in range(N):
        recs.append(p.rec(b""))
        if i % 100 == 0: recs.append(p.rec(hb(i)))
    batch(recs)
elif mode == "padonly":  # records with max padding and no content
    N = int(arg[0]); recs = []
    for i in range(N):
        recs.append(p.rec(b"", pad=16384))
        if i % 10 == 0: recs.append(p.rec(hb(i)))
    batch(recs, 200)
elif mode == "zero_only":  # only zero-length records for SECS: does that count as arrived?
    secs = float(arg[0]); end = time.monotonic() + secs
    while time.monotonic() < end and p.closed_at is None:
        p.s.sendall(p.rec(b"")); time.sleep(0.2)
elif mode == "max":  # N full 16 KiB records of small frames (HB 13 bytes each)
    N = int(arg[0]); data = b"".join(hb(i) for i in range(N * 16384 // 13 + 1))
    recs = [p.rec(data[i:i+16384]) for i in range(0, len(data), 16384)]
    print("records:", len(recs), "frames:", len(data)//13); batch(recs, 64)
elif mode == "split":  # one record split in SEGS TCP segments with PAUSE s between, repeated for 6 s
    segs = int(arg[0]); pause = float(arg[1]); end = time.monotonic() + 6
    while time.monotonic() < end and p.closed_at is None:
        r = p.rec(hb(1) * 50); step = max(1, len(r) // segs)
        for i in range(0, len(r), step):
            p.s.sendall(r[i:i+step]); time.sleep(pause)
elif mode == "bigpad":  # 1 HB frame + padding to the maximum inner plaintext (2^14 + 1)
    for i in range(2000): p.s.sendall(p.rec(hb(i), pad=16384 - 13))
elif mode == "overflow":  # inner plaintext of 2^14 + 2 bytes: record_overflow expected
    p.s.sendall(p.rec(hb(0), pad=16384 - 12))
t1 = time.monotonic()
time.sleep(1.5)
alive = p.closed_at is None and p.lookup() is not None
print("%s %s: sent in %.2fs, v cpu %.2fs (during+1.5s), link alive=%s %s, hb from v %d, alerts %r" % (
    mode, arg, t1 - t0, cpu(V) - c0, alive, p.close_reason, p.counts.get(0x30, 0), p.alerts))
p.close()
