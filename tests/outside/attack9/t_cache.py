"""Item 1/2 correctness: the per-run target cache must never deliver a SEND to the wrong
mailbox/incarnation/tag. Runs of valid echo requests interleaved with requests to M with a
wrong incarnation, to M^bit, and with a wrong tag. Only 'ok' requests may be answered.
usage: t_cache.py ROUNDS"""
import sys, random
from peer import *
def varint(n):
    if n < 251: return bytes([n])
    if n < 1 << 16: return b"\xfb" + n.to_bytes(2, "little")
    if n < 1 << 32: return b"\xfc" + n.to_bytes(4, "little")
    return b"\xfd" + n.to_bytes(8, "little")
def bstr(s): s = s.encode(); return varint(len(s)) + s
rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 50
p = Peer(me="a"); p.wait_synced(); p.send(f_synced())
M = p.lookup("echo")["mbox"]; inc = p.peer_inc; ME = 5
def req(text): return bstr(text) + bstr("a") + varint(p.inc) + varint(ME)
def send(t, i, tg, text): return frame(K_SEND, struct.pack(">QQ", t, i) + t8(tg) + req(text))
RQ = "reign.echo.Request"
rnd = random.Random(7); expected = set(); bad_sent = 0
for r in range(rounds):
    fr = []
    for j in range(120):
        k = rnd.randrange(10); txt = "ok-%d-%d" % (r, j)
        if k < 5: fr.append(send(M, inc, RQ, txt)); expected.add(txt)
        elif k == 5: fr.append(send(M, inc ^ 1, RQ, "bad-inc-%d-%d" % (r, j))); bad_sent += 1
        elif k == 6: fr.append(send(M, (inc + 1) & ((1<<64)-1), RQ, "bad-inc2-%d-%d" % (r, j))); bad_sent += 1
        elif k == 7: fr.append(send(M ^ (1 << rnd.randrange(64)), inc, RQ, "bad-mb-%d-%d" % (r, j))); bad_sent += 1
        elif k == 8: fr.append(send(M, inc, "reign.echo.Reply", "bad-tag-%d-%d" % (r, j))); bad_sent += 1
        else: fr.append(send(M, inc, RQ + "x", "bad-tag2-%d-%d" % (r, j))); bad_sent += 1
    p.send(b"".join(fr))
    time.sleep(0.03)
got = set(); wrong = []; other = 0; end = time.monotonic() + 8
def rd(b, o):
    m = b[o]
    if m < 251: return m, o + 1
    w = {251: 2, 252: 4, 253: 8}[m]; return int.from_bytes(b[o+1:o+1+w], "little"), o + 1 + w
while time.monotonic() < end and len(got) < len(expected):
    try: k, pl = p.q.get(timeout=max(0.01, end - time.monotonic()))
    except queue.Empty: break
    if k is None: print("link closed", pl); break
    if k != K_SEND: other += 1; continue
    tgt, ti = struct.unpack(">QQ", pl[:16]); tl = pl[16]; body = pl[17 + tl:]
    n, o = rd(body, 0); txt = body[o:o+n].decode()
    if txt in expected and tgt == ME and ti == p.inc: got.add(txt)
    else: wrong.append(txt)
print("CACHE: sent %d ok + %d bad; answered ok %d, missing %d, WRONGLY DELIVERED %d %s; link alive=%s" % (
    len(expected), bad_sent, len(got), len(expected - got), len(wrong), wrong[:5], p.alive(5)))
p.close()
