"""Across a block and its end: numbered echo requests (SIZE bytes each, every GAP s) and numbered LOOKUPs,
for SECS; every reply must come back once, in order, intact (a TLS error would show as a decrypt failure)."""
import sys
from rawtls import *
secs = float(sys.argv[1]); size = int(sys.argv[2]); gap = float(sys.argv[3])
def t8(b): return bytes([len(b)]) + b
def echo_req(text, inc, mbox=5):
    ln = len(text)
    v = bytes([ln]) if ln < 251 else (b"\xfb" + struct.pack("<H", ln) if ln < 65536 else b"\xfc" + struct.pack("<I", ln))
    payload = v + text + t8(b"a") + b"\xfd" + struct.pack("<Q", inc) + bytes([mbox])
    return frame(0x11, t8(b"echo") + t8(b"reign.echo.Request") + payload)
p = Raw(me="a", auto_hb=True); p.wait_synced()
t0 = time.monotonic(); n = 0
while time.monotonic() - t0 < secs and p.closed_at is None:
    txt = (b"%08d" % n) * (size // 8)
    p.send(echo_req(txt, p.inc) + frame(0x40, struct.pack(">Q", n) + t8(b"echo")))
    n += 1; time.sleep(gap)
end = time.monotonic() + 15
echo_seen = []; lk_seen = []
while time.monotonic() < end and (len(echo_seen) < n or len(lk_seen) < n):
    r = p.expect([0x10, 0x41], timeout=end - time.monotonic())
    if not r or r[0] is None: break
    k, b = r
    if k == 0x41: lk_seen.append(struct.unpack(">Q", b[:8])[0])
    else:
        # SEND: mailbox u64, inc u64, tag text8, payload: EchoReply{text}
        tl = b[16]; pl = b[17 + tl:]
        if pl[0] < 251: ln, o = pl[0], 1
        elif pl[0] == 0xfb: ln, o = struct.unpack("<H", pl[1:3])[0], 3
        else: ln, o = struct.unpack("<I", pl[1:5])[0], 5
        text = pl[o:o + ln]
        k0 = int(text[:8]); ok = text == (b"%08d" % k0) * (size // 8)
        echo_seen.append(k0 if ok else -1)
bad = echo_seen.count(-1)
print("sent %d; echo replies %d (corrupt %d, in order %s, dupes %d, missing %s); lookup replies %d (in order %s, missing %s); link %s" % (
    n, len(echo_seen), bad, echo_seen == sorted(echo_seen), len(echo_seen) - len(set(echo_seen)),
    sorted(set(range(n)) - set(echo_seen))[:10], len(lk_seen), lk_seen == sorted(lk_seen),
    sorted(set(range(n)) - set(lk_seen))[:10], "up" if p.closed_at is None else p.close_reason))
p.close()
