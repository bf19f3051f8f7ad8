"""Item 1/2 with a mailbox number learned from a message: v runs with --send-echo a, so it looks
up a's `echo` and sends a request carrying its reply address (v, inc, R). The attacker answers
the LOOKUP, learns R, floods SENDs at numbers near R (R^low bits, R+i, same low 32 bits) and
alternating R / echo M / near numbers with wrong tags or incarnations, then sends ONE correct
reply inside a run of bad ones. v must print exactly one `echo reply`.
usage: t_reply.py SECS   (v started by: ./start.sh --send-echo a --text probe --wait 30)"""
import sys, random
from peer import *
VPID = int(open(os.path.join(HERE, "run", "v.pid")).read())
secs = float(sys.argv[1]) if len(sys.argv) > 1 else 5
def varint(n):
    if n < 251: return bytes([n])
    if n < 1 << 16: return b"\xfb" + n.to_bytes(2, "little")
    if n < 1 << 32: return b"\xfc" + n.to_bytes(4, "little")
    return b"\xfd" + n.to_bytes(8, "little")
def rd(b, o):
    m = b[o]
    if m < 251: return m, o + 1
    w = {251: 2, 252: 4, 253: 8}[m]; return int.from_bytes(b[o+1:o+1+w], "little"), o + 1 + w
p = Peer(me="a", read=False)
R = None; M = None
while True:
    k, pl = p.read_frame()
    if k == K_SYNCED: p.send(f_synced())
    if k == K_LOOKUP:
        req = struct.unpack(">Q", pl[:8])[0]; print("v looks up", pl[9:].decode())
        p.send(f_lookup_reply(req, 0, 77, "reign.echo.Request"))
    if k == K_SEND:
        tl = pl[16]; tag = pl[17:17 + tl].decode(); body = pl[17 + tl:]
        n, o = rd(body, 0); text = body[o:o + n]; o += n
        n, o = rd(body, o); node = body[o:o + n].decode(); o += n
        inc_, o = rd(body, o); R, o = rd(body, o)
        print("v's request: tag %s text %r reply to (%s, %016x, %016x) trailing %d" % (tag, text, node, inc_, R, len(body) - o))
        break
inc = p.peer_inc; assert inc_ == inc
threading.Thread(target=p._read_loop, daemon=True).start()
M = p.lookup("echo")["mbox"]
print("v echo M %016x, reply R %016x" % (M, R))
M64 = (1 << 64) - 1; rnd = random.Random(2)
def snd(t, i, tag, body): return frame(K_SEND, struct.pack(">QQ", t, i) + t8(tag) + body)
good_reply = varint(len(text)) + text
TR = "reign.echo.Reply"
pats = {"R_lowbits": [R ^ k for k in range(1, 1 << 16)], "R_seq": [(R + k) & M64 for k in range(1, 1 << 16)],
        "R_samelow32": [(rnd.getrandbits(32) << 32) | (R & 0xffffffff) for _ in range(1 << 16)],
        "random": [rnd.getrandbits(64) for _ in range(1 << 16)]}
for name, T in pats.items():
    blob = b"".join(snd(t, inc, TR, good_reply) for t in T); c0 = cpu(VPID); t0 = time.monotonic(); n = 0
    while time.monotonic() - t0 < secs: p.send(blob); n += len(T)
    print("FLOOD %-12s %d frames %.1fs victim cpu %.2f us/frame, RSS %s" % (name, n, time.monotonic() - t0, (cpu(VPID) - c0) / n * 1e6, rss(VPID)[0]))
# cache confusion around the real reply mailbox: alternating runs, none of which may be taken as the reply
bad = []
for j in range(20000):
    c = j % 6
    if c == 0: bad.append(snd(R, inc ^ 1, TR, good_reply))          # wrong incarnation
    elif c == 1: bad.append(snd(R, inc, "reign.echo.Request", good_reply))  # wrong tag
    elif c == 2: bad.append(snd(R ^ 1, inc, TR, good_reply))        # neighbour number
    elif c == 3: bad.append(snd(M, inc, TR, good_reply))            # echo with a reply's tag
    elif c == 4: bad.append(snd(R, inc, TR, b"\xff\xff"))            # undecodable body
    else: bad.append(snd(R, inc, TR, good_reply + b"\x00"))          # trailing byte
n_before = open(os.path.join(HERE, "run", "v.out")).read().count("echo reply")
p.send(b"".join(bad[:10000]) + snd(R, inc, TR, varint(8) + b"RIGHTONE") + b"".join(bad[10000:]) + snd(R, inc, TR, varint(6) + b"SECOND"))
time.sleep(1.5)
out = open(os.path.join(HERE, "run", "v.out")).read()
print("REPLY: v printed %d echo reply line(s) after: %s; link alive=%s" % (out.count("echo reply") - n_before, [l for l in out.splitlines() if "echo" in l], p.alive(5)))
p.close()
