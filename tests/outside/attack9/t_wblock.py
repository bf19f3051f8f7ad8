"""Item 3: the victim's writes blocked (we do not read) while we keep writing: v must keep
reading (our heartbeats, 2 per s) for SECS > silence limit, and answer promptly once we read.
usage: t_wblock.py SECS"""
import sys
from peer import *
VPID = int(open(os.path.join(HERE, "run", "v.pid")).read())
secs = float(sys.argv[1]) if len(sys.argv) > 1 else 8
def varint(n):
    if n < 251: return bytes([n])
    if n < 1 << 16: return b"\xfb" + n.to_bytes(2, "little")
    if n < 1 << 32: return b"\xfc" + n.to_bytes(4, "little")
    return b"\xfd" + n.to_bytes(8, "little")
def bstr(s): s = s.encode(); return varint(len(s)) + s
p = Peer(me="a", read=False)
while p.read_frame()[0] != K_SYNCED: pass
p.send(f_synced()); p.send(f_lookup(1, "echo"))
while True:
    k, pl = p.read_frame()
    if k == K_LOOKUP_REPLY: M = struct.unpack(">Q", pl[9:17])[0]; break
inc = p.peer_inc
req = frame(K_SEND, struct.pack(">QQ", M, inc) + t8("reign.echo.Request") + bstr("w" * 16000) + bstr("a") + varint(p.inc) + varint(5))
t0 = time.monotonic(); n = 0; peak = 0
while time.monotonic() - t0 < secs:
    p.send(req * 10); n += 10; time.sleep(0.02)          # ~8 MB/s of echo requests; replies pile up at v
    peak = max(peak, int(rss(VPID)[0].split()[0]))
print("sent %d echo requests of 16 KB in %.1f s without reading; v RSS peak %d kB" % (n, secs, peak))
# now read: a LOOKUP sent now must be answered (after the backlog v queued for us)
p.s.settimeout(10); t1 = time.monotonic(); p.send(f_lookup(2, "echo")); nbytes = 0; got = None; echoes = 0
try:
    while time.monotonic() - t1 < 10:
        k, pl = p.read_frame(); nbytes += len(pl) + 5
        if k == K_SEND: echoes += 1
        if k == K_LOOKUP_REPLY and struct.unpack(">Q", pl[:8])[0] == 2: got = time.monotonic() - t1; break
except Exception as e:
    print("read ended:", repr(e))
print("WBLOCK: link %s; LOOKUP answered after %s (%d echo replies, %d bytes read first); v RSS now %s" % (
    "up" if got is not None else "DOWN?", "%.0f ms" % (got * 1000) if got is not None else "NONE", echoes, nbytes, rss(VPID)[0]))
p.close()
