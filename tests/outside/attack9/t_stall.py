"""Item 3: look for a link that stops delivering while bytes wait (lost wake-up).
Each case sends one LOOKUP (plus filler) in crafted TLS records / TCP segments, sends NOTHING
more, and requires its LOOKUP_REPLY within BOUND s. A miss is a stall; then a heartbeat
record is sent, and whether the reply comes right after it is noted (a lost wake-up).
The attacker's own heartbeats are off (it sends one between cases).
usage: t_stall.py [CASES...]"""
import sys, random
from rawtls import *
BOUND = float(os.environ.get("BOUND", "0.5"))
rnd = random.Random(int(os.environ.get("SEED", "3")))
p = Raw(me="a", auto_hb=False); p.wait_synced()
raw = p.s
stats = {}; stalls = []
def lk(req, name=b"echo"): return frame(0x40, struct.pack(">Q", req) + bytes([len(name)]) + name)
def segs(parts, pause):
    for i, b in enumerate(parts):
        if i and pause: time.sleep(pause)
        raw.sendall(b)
def wait_req(req, t):
    end = time.monotonic() + t
    while True:
        left = end - time.monotonic()
        if left <= 0: return False
        try: k, pl = p.q.get(timeout=left)
        except queue.Empty: return False
        if k is None: raise SystemExit("LINK CLOSED: %s" % pl)
        if k == 0x41 and struct.unpack(">Q", pl[:8])[0] == req: return True
def case(name, fn, expect_reqs, hb_after=True):
    t0 = time.monotonic(); fn(); ts = time.monotonic()
    for rq in expect_reqs:
        if not wait_req(rq, BOUND - (time.monotonic() - ts) if BOUND > time.monotonic() - ts else 0.001):
            # stall: does one more record release it?
            if hb_after: p.send(hb(1))
            late = wait_req(rq, 1.0)
            stalls.append((name, "released by next record" if late else "lost even after next record"))
            for r2 in expect_reqs[expect_reqs.index(rq) + 1:]: wait_req(r2, 1.0)
            break
    d = time.monotonic() - ts
    s = stats.setdefault(name.split(":")[0], [0, 0.0]); s[0] += 1; s[1] = max(s[1], d)
    if hb_after: p.send(hb(0))              # keep the link from silence between cases
def R(data, pad=0): return p.rec(data, pad=pad)
req = [1000]
def nreq(): req[0] += 1; return req[0]
cases = sys.argv[1:] or ["split", "tiny", "across", "burst", "partial_next", "pipelined", "race", "bigrec"]
t_all = time.monotonic()
if "split" in cases:   # one record split into two TCP segments at every offset, with pauses
    for pause in (0, 0.002, 0.03):
        q = nreq(); L = len(R(lk(q))); p.tx.seq -= 1
        for k in range(1, L):
            q = nreq(); r = R(lk(q)); assert len(r) == L
            case("split:%d/%s" % (k, pause), lambda: segs([r[:k], r[k:]], pause), [q])
if "tiny" in cases:    # the frame in 1-byte records: one write, then one record per segment
    for pause in (None, 0, 0.005):
        for _ in range(5):
            q = nreq(); f = lk(q); rs = [R(f[i:i+1]) for i in range(len(f))]
            if pause is None: case("tiny:onewrite", lambda: raw.sendall(b"".join(rs)), [q])
            else: case("tiny:segs%s" % pause, lambda: segs(rs, pause), [q])
if "across" in cases:  # frame across two records, the second split into 3 segments
    for _ in range(60):
        q = nreq(); f = lk(q); c = rnd.randrange(1, len(f)); r1, r2 = R(f[:c]), R(f[c:])
        b = r1 + r2; a1 = rnd.randrange(1, len(b) - 1); a2 = rnd.randrange(a1 + 1, len(b))
        case("across", lambda: segs([b[:a1], b[a1:a2], b[a2:]], rnd.choice([0, 0.001, 0.01])), [q])
if "burst" in cases:   # filler records, then the LOOKUP last, total TCP bytes exactly around buffer sizes
    filler = hb(7)
    for total in [16384, 16405, 32768, 65535, 65536, 65537, 65536 + 29, 131072, 131072 + 7, 262144, 1 << 20, 4 << 20]:
        for recsz in (15600, 1000, 13):
            p.send(hb(0)); m = max(1, recsz // 13); full = 13 * m + 22
            out = bytearray(); rem = total - 40
            while rem > 0:
                if rem - full >= 35: out += R(filler * m); rem -= full
                else: out += R(filler, pad=rem - 35); rem = 0
            q = nreq(); lr = R(lk(q)); assert len(lr) == 40
            b = bytes(out + lr); assert len(b) == total, (len(b), total)
            case("burst:%d/%d" % (total, recsz), lambda: raw.sendall(b), [q])
if "partial_next" in cases:  # LOOKUP record + first k bytes of the next record; rest much later
    for k in (1, 4, 5, 6, 20, 30):
        q = nreq(); r = R(lk(q)); nxt = R(hb(3))
        case("partial_next:%d" % k, lambda: raw.sendall(r + nxt[:k]), [q], hb_after=False)
        time.sleep(0.2); raw.sendall(nxt[k:])
if "pipelined" in cases:     # many small records back to back, each a LOOKUP
    for n in (10, 200, 2000):
        qs = [nreq() for _ in range(n)]; b = b"".join(R(lk(x)) for x in qs)
        case("pipelined:%d" % n, lambda: raw.sendall(b), qs)
if "race" in cases:          # second half right after the victim read the first
    for i in range(300):
        q = nreq(); r = R(lk(q)); k = rnd.randrange(1, len(r)); d = rnd.random() * 0.0005
        def fn():
            raw.sendall(r[:k]); t = time.perf_counter()
            while time.perf_counter() - t < d: pass
            raw.sendall(r[k:])
        case("race", fn, [q])
if "bigrec" in cases:        # full 16 KiB records of frames with a LOOKUP at a random spot, split oddly
    for i in range(40):
        q = nreq(); f = hb(9) * 1200; pos = rnd.randrange(0, 1200) * len(hb(9))
        data = f[:pos] + lk(q) + f[pos:]
        recs = b"".join(R(data[j:j+16384]) for j in range(0, len(data), 16384))
        cuts = sorted(rnd.sample(range(1, len(recs)), 4))
        parts = [recs[a:b_] for a, b_ in zip([0] + cuts, cuts + [len(recs)])]
        case("bigrec", lambda: segs(parts, rnd.choice([0, 0.001, 0.02])), [q])
def varint(n):
    if n < 251: return bytes([n])
    if n < 1 << 16: return b"\xfb" + n.to_bytes(2, "little")
    if n < 1 << 32: return b"\xfc" + n.to_bytes(4, "little")
    return b"\xfd" + n.to_bytes(8, "little")
def bstr(s): s = s.encode() if isinstance(s, str) else s; return varint(len(s)) + s
def echo_req(text):
    body = struct.pack(">QQ", M, p.peer_inc) + bytes([18]) + b"reign.echo.Request" + bstr(text) + bstr("a") + varint(p.inc) + varint(5)
    return frame(0x10, body)
if any(c in cases for c in ("writeheavy", "noread")):
    M = p.lookup("echo")["mbox"]
if "pingpong" in cases:      # each LOOKUP right after the previous reply, split in two segments
    for i in range(2000):
        q = nreq(); r = R(lk(q)); k = rnd.randrange(1, len(r))
        case("pingpong", lambda: segs([r[:k], r[k:]], 0), [q], hb_after=(i % 200 == 0))
if "keyupdate" in cases:     # KeyUpdate(update_requested) makes the victim write; LOOKUP right behind it
    for i in range(60):
        q = nreq()
        def fn():
            p.key_update(1); r = R(lk(q)); k = rnd.randrange(1, len(r)); segs([r[:k], r[k:]], rnd.choice([0, 0.001]))
        case("keyupdate", fn, [q])
if "writeheavy" in cases:    # victim busy writing a 60 KB echo reply while a LOOKUP trickles in
    for i in range(100):
        q = nreq()
        def fn():
            p.send(echo_req("y" * 60000)); r = R(lk(q)); segs([r[j:j+7] for j in range(0, len(r), 7)], rnd.choice([0, 0.0005]))
        case("writeheavy", fn, [q])
if "noread" in cases:        # we stop reading for 8 s (v's writes block), keep sending; then read again
    stop_rd = p.s; import socket as _s
    # the reader thread cannot be paused, so throttle it: hold the rbuf by stealing the socket is not possible;
    # instead make the reply queue large: send big echo requests without consuming them quickly
    t0 = time.monotonic(); n = 0
    while time.monotonic() - t0 < 8:
        p.send(echo_req("z" * 8000) * 20); n += 20; p.send(hb(0)); time.sleep(0.05)
    q = nreq(); r = R(lk(q)); t1 = time.monotonic(); raw.sendall(r)
    ok = wait_req(q, 5.0)
    print("NOREAD-ish: %d echo requests of 8 KB in 8 s, then LOOKUP answered=%s in %.0f ms, echo replies seen %d" % (n, ok, (time.monotonic()-t1)*1000, p.counts.get(0x10, 0)))
if "units" in cases:        # exactly N units of work (control frames, or SENDs in runs) then the LOOKUP, nothing more
    MM = p.lookup("echo")["mbox"]
    for N in (255, 256, 257, 511, 512, 513, 1023, 1024, 1025, 4095, 4096, 4097, 16 * 256, 16 * 256 + 1):
        for unit in ("hb", "sendrun", "sendalt", "lookup"):
            if unit == "hb": fr = [hb(j) for j in range(N)]
            elif unit == "lookup": fr = [lk(5_000_000 + j) for j in range(N)]
            elif unit == "sendrun": fr = [frame(0x10, struct.pack(">QQ", MM, p.peer_inc) + b"\x03u64\x07")] * N
            else: fr = [frame(0x10, struct.pack(">QQ", MM ^ (j & 1), p.peer_inc) + b"\x03u64\x07") for j in range(N)]
            q = nreq(); data = b"".join(fr) + lk(q)
            for recsz in (16384, len(fr[0]) * 256):
                q = nreq(); data = b"".join(fr) + lk(q)
                recs = b"".join(R(data[j:j + recsz]) for j in range(0, len(data), recsz))
                case("units:%s/%d/%d" % (unit, N, recsz), lambda: raw.sendall(recs), [q])
                if unit == "lookup":   # drain their replies
                    while True:
                        try: p.q.get(timeout=0.05)
                        except queue.Empty: break
if "plain64k" in cases:     # frames of exactly 64 KiB +- d of plaintext, then the LOOKUP
    for d in range(-40, 41):
        tot = 65536 + d; q = nreq(); L = lk(q); body = tot - len(L)
        n = body // 13; rest = body - 13 * n
        fill = hb(0) * n + (frame(0x30, struct.pack(">Q", 0) + b"") if False else b"")
        if rest:                        # one SEND to nowhere of the right size absorbs the rest
            fill = hb(0) * (n - 2) + frame(0x10, struct.pack(">QQ", 1, 1) + b"\x01t" + b"x" * (rest + 26 - 4 - 1 - 18 + 0))[:0]
            fill = hb(0) * (n - 3); need = body - len(fill)   # need in 39..51
            fill += frame(0x10, struct.pack(">QQ", 1, 1) + b"\x01t" + b"x" * (need - 4 - 1 - 18))
        assert len(fill) + len(L) == tot, (len(fill), len(L), tot)
        data = fill + L
        for split in (16384, 65536):
            q2 = q
            recs = b"".join(R(data[j:j + 16384]) for j in range(0, len(data), 16384)) if split == 16384 else None
            if recs is None: break
            case("plain64k:%d" % d, lambda: raw.sendall(recs), [q2])
            q = nreq(); L = lk(q); data = fill + L
        p.send(hb(0))
if "sweep" in cases:        # TCP totals around 64 KiB and 128 KiB, and a pause right after exactly 64 KiB
    for total in list(range(65536 - 48, 65536 + 48)) + list(range(131072 - 24, 131072 + 24)):
        for two in (False, True):
            m = 1200; full = 13 * m + 22; out = bytearray(); rem = total - 40
            while rem > 0:
                if rem - full >= 35: out += R(hb(7) * m); rem -= full
                else: out += R(hb(7), pad=rem - 35); rem = 0
            q = nreq(); lr = R(lk(q)); b = bytes(out)
            if two: case("sweep2:%d" % total, lambda: segs([b, lr], 0.005), [q])
            else: case("sweep:%d" % total, lambda: raw.sendall(b + lr), [q])
for k, (n, w) in stats.items():
    print("STALL-CASE %-13s n=%4d worst %.0f ms" % (k, n, w * 1000))
print("STALLS: %d %s" % (len(stalls), stalls[:10]))
print("total %.1fs, link alive=%s, v hb gap %.0f ms" % (time.monotonic() - t_all, p.lookup() is not None, p.max_hb_gap * 1000))
p.close()
