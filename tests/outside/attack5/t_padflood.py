"""Sustained flood of records that carry no plaintext (padding only, or zero-length), for SECS.
mode: pad (16 KiB of padding, nothing else) | padhb (one HB frame + padding) | data (16 KiB of HB frames)"""
import sys
from rawtls import *
mode = sys.argv[1]; secs = float(sys.argv[2]); every = int(sys.argv[3]) if len(sys.argv) > 3 else 20
V = pid("v"); c0 = cpu(V)
p = Raw(me="a", auto_hb=True); p.wait_synced()
wait_block()
t0 = time.monotonic(); n = 0; hbn = 0; last_hb = time.monotonic()
hbdata = b"".join(hb(i) for i in range(16384 // 13))
while time.monotonic() - t0 < secs and p.closed_at is None:
    recs = []
    p.wlock.acquire()
    for i in range(64):
        if mode == "pad":
            recs.append(p.tx.seal(CT_APP, hb(i) if i % every == 0 else b"", 16384 - (13 if i % every == 0 else 0)))
        elif mode == "padlk":
            lk = frame(0x40, struct.pack(">Q", i) + bytes([4]) + b"echo")
            recs.append(p.tx.seal(CT_APP, lk, 16384 - len(lk)))
        elif mode == "smallhb":
            recs.append(p.tx.seal(CT_APP, hb(i)))
        elif mode == "padhb":
            recs.append(p.tx.seal(CT_APP, hb(i), 16384 - 13))
        else:
            recs.append(p.tx.seal(CT_APP, hbdata))
        n += 1
    if time.monotonic() - last_hb > 0.5:
        recs.append(p.tx.seal(CT_APP, hb(hbn))); hbn += 1; last_hb = time.monotonic()
    try:
        p.s.sendall(b"".join(recs))
    except Exception as e:
        print("send:", repr(e)); p.wlock.release(); break
    p.wlock.release()
t1 = time.monotonic()
time.sleep(1)
alive = p.closed_at is None and p.lookup() is not None
print("%s: %d records (%.0f MB) in %.1fs, v cpu %.1fs, attacker link alive=%s %s, max gap of v's HBs to attacker %.0f ms" % (
    mode, n, n * 16.4 / 1000, t1 - t0, cpu(V) - c0, alive, p.close_reason, p.max_hb_gap * 1000))
p.close()
