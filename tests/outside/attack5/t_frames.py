"""Frame-level. modes:
 trickle SECS: an 8 MiB length prefix, then the body one byte per record every 0.5 s (no HB frames)
 straddle: echo SEND_NAMED requests split across records at every position; every reply must come back
 bigecho N: N SEND_NAMED echo requests with a 4 MiB text (replies are 4 MiB each), reading them"""
import sys
from rawtls import *
mode = sys.argv[1]
V = pid("v")
def t8(b): return bytes([len(b)]) + b
def echo_req(text, inc, mbox=5):
    t = text
    ln = len(t)
    if ln < 251: v = bytes([ln])
    elif ln < 65536: v = b"\xfb" + struct.pack("<H", ln)
    else: v = b"\xfc" + struct.pack("<I", ln)
    payload = v + t + t8(b"a") + b"\xfd" + struct.pack("<Q", inc) + bytes([mbox])
    return frame(0x11, t8(b"echo") + t8(b"reign.echo.Request") + payload)
if mode == "trickle":
    secs = float(sys.argv[2])
    p = Raw(me="a", auto_hb=False); p.wait_synced(); r0 = rss_kb(V)
    p.s.sendall(p.rec(struct.pack(">I", 8388608)))
    t0 = time.monotonic()
    while time.monotonic() - t0 < secs and p.closed_at is None:
        p.s.sendall(p.rec(b"\x30")); time.sleep(0.5)
    print("trickle: link alive after %.0fs: %s (%s); v rss %d -> %d kB; v HBs received %d" % (
        time.monotonic() - t0, p.closed_at is None, p.close_reason, r0, rss_kb(V), p.counts.get(0x30, 0)))
    p.close()
elif mode == "straddle":
    p = Raw(me="a", auto_hb=True); p.wait_synced(); wait_block()
    f = echo_req(b"straddle-test-" + b"x" * 30, p.inc)
    ok = 0; bad = 0
    for cut in range(1, len(f)):
        with p.wlock:
            p.s.sendall(p.tx.seal(CT_APP, f[:cut]) + p.tx.seal(CT_APP, f[cut:]))
        r = p.expect([0x10], timeout=2)
        if r and r[0] == 0x10 and b"straddle-test" in r[1]: ok += 1
        else: bad += 1; print("cut", cut, "->", r)
    # and the whole frame one byte per record, twice, back to back
    with p.wlock:
        p.s.sendall(b"".join(p.tx.seal(CT_APP, f[i:i+1]) for i in range(len(f))) * 1)
    r = p.expect([0x10], timeout=2)
    print("straddle: %d/%d split positions answered, %d failed; 1-byte records: %s" % (ok, len(f) - 1, bad, "ok" if r and r[0] == 0x10 else r))
    p.close()
elif mode == "bigecho":
    N = int(sys.argv[2])
    p = Raw(me="a", auto_hb=True); p.wait_synced(); r0 = rss_kb(V); t0 = time.monotonic()
    f = echo_req(b"y" * (4 << 20), p.inc)
    for i in range(N): p.send(f)
    got = 0
    while got < N:
        r = p.expect([0x10], timeout=10)
        if not r or r[0] is None: break
        got += 1
    print("bigecho: %d/%d 4 MiB replies in %.1fs; v rss %d -> %d kB" % (got, N, time.monotonic() - t0, r0, rss_kb(V)))
    p.close()
