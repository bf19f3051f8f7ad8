"""Item 1/2: SEND floods to chosen target mailbox numbers; victim CPU per frame, RSS.
usage: t_hash.py MODE SECS   (run with probe9.py alongside: see run.sh)"""
import sys, random
from peer import *
VPID = int(open(os.path.join(HERE, "run", "v.pid")).read())
mode = sys.argv[1]; dur = float(sys.argv[2]) if len(sys.argv) > 2 else 10
N = 1 << 17
p = Peer(me="a"); got, _ = p.wait_synced(); p.send(f_synced())
learned = [g[1].get("mbox") for g in got if isinstance(g[1], dict) and "mbox" in g[1]]
r = p.lookup("echo"); M = r["mbox"]; inc = p.peer_inc; M64 = (1 << 64) - 1
print("echo mailbox %016x, learned at sync: %s" % (M, ["%016x" % x for x in learned]))
rnd = random.Random(1)
def targets():
    if mode == "random":      return [rnd.getrandbits(64) | 1 for _ in range(N)]
    if mode == "lowbits":     return [M ^ k for k in range(1, N + 1)]           # differ in low 17 bits
    if mode == "seq":         return [(M + k) & M64 for k in range(1, N + 1)]
    if mode == "highbits":    return [M ^ ((k << 47) & M64) for k in range(1, N + 1)]   # differ in bits 47..63
    if mode == "same_low":    return [(rnd.getrandbits(32) << 32) | (M & 0xffffffff) for _ in range(N)]
    if mode == "same_low_h2": # same top 7 bits (hashbrown's h2 if the hash is the number) and same low 32 bits
        return [(M & (0x7f << 57)) | (rnd.getrandbits(25) << 32) | (M & 0xffffffff) for _ in range(N)]
    if mode == "one_bit":     return [M ^ (1 << (k % 64)) for k in range(N)]
    if mode == "alt_real":    return [M if k % 2 else M ^ 1 for k in range(N)]  # real/nonexistent alternating
    if mode == "same_real":   return [M] * N                                    # one run to the real mailbox
    raise SystemExit("mode?")
T = targets()
tag = "u64" if mode not in ("same_real", "alt_real") else "u64"   # wrong tag for echo: refused after lookup
frames = [frame(K_SEND, struct.pack(">QQ", t, inc) + t8(tag) + b"\x07") for t in T]
CH = 8192
chunks = [b"".join(frames[i:i + CH]) for i in range(0, N, CH)]
c0 = cpu(VPID); rss0 = int(rss(VPID)[0].split()[0]); t0 = time.monotonic(); sent = 0; i = 0; peak = rss0
samples = []
while time.monotonic() - t0 < dur and p.closed_at is None:
    p.send(chunks[i % len(chunks)]); sent += CH; i += 1
    if i % 16 == 0:
        r_ = int(rss(VPID)[0].split()[0]); peak = max(peak, r_); samples.append(r_)
el = time.monotonic() - t0
ok = p.alive(10)
c1 = cpu(VPID); time.sleep(0.5); rss1 = int(rss(VPID)[0].split()[0])
print("HASH %s: %d frames in %.1fs (%.0f k/s), victim cpu %.2fs = %.2f us/frame, RSS %d -> peak %d -> %d kB, link alive=%s, hb gap to a %.0f ms" % (
    mode, sent, el, sent / el / 1000, c1 - c0, (c1 - c0) / sent * 1e6, rss0, peak, rss1, ok, getattr(p, "max_hb_gap", 0) * 1000))
p.close()
