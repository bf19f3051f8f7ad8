"""Random control-plane frame sequences with mutations; reconnect on close. Checks the victim survives."""
import sys, random
from peer import *
VPID = int(open("run/v.pid").read())
dur = float(sys.argv[1]) if len(sys.argv) > 1 else 60
rng = random.Random(int(sys.argv[2]) if len(sys.argv) > 2 else 1)
def mk():
    p = Peer(); p.wait_synced()
    if rng.random() < 0.8: p.send(f_synced())
    return p, p.lookup("echo")["mbox"]
p, mb = mk(); inc = p.peer_inc
def rid(): return rng.choice([0, 1, 2, 3, mb, mb ^ 1, 2**64-1, rng.getrandbits(64), rng.randrange(10)])
def rinc(): return rng.choice([inc, inc ^ 1, 0, 2**64-1])
def rtext(): return rng.choice(["a", "echo", "x"*255, "é"*127, "\x00", "g%d" % rng.randrange(5)])
def gen():
    c = rng.randrange(14)
    if c == 0: return f_monitor(rid(), rid(), rid(), rinc())
    if c == 1: return f_demonitor(rid())
    if c == 2: return f_down(rid(), rid(), rid(), rinc(), rng.randrange(256), rtext()[:rng.randrange(1, 10)])
    if c == 3: return f_hb(rid())
    if c == 4: return f_goodbye(rng.randrange(256)) if rng.random() < 0.00005 else f_hb()
    if c == 5: return f_lookup(rid(), rtext())
    if c == 6: return f_lookup_reply(rid(), rng.choice([0, 1, 2]), rid(), rtext())
    if c == 7: return f_name_add(rtext(), rid(), rtext(), rid())
    if c == 8: return f_name_remove(rtext(), rid())
    if c == 9: return f_gjoin(rtext(), rid(), rtext())
    if c == 10: return f_gleave(rtext(), rid())
    if c == 11: return f_synced()
    if c == 12: return frame(K_SEND_NAMED, t8("echo") + t8(rtext()) + os.urandom(rng.randrange(20)))
    return frame(K_SEND, struct.pack(">QQ", rid(), rinc()) + t8(rtext()) + os.urandom(rng.randrange(20)))
def mutate(f):
    b = bytearray(f); m = rng.randrange(4)
    if m == 0 and len(b) > 5: b[rng.randrange(5, len(b))] ^= 1 << rng.randrange(8)
    elif m == 1 and len(b) > 6: cut = rng.randrange(5, len(b)); b = b[:cut]; b[0:4] = struct.pack(">I", cut - 4)
    elif m == 2: b += b"\0"; b[0:4] = struct.pack(">I", len(b) - 4)
    else: b[4] = rng.randrange(256)
    return bytes(b)
t0 = time.monotonic(); links = 0; frames = 0
while time.monotonic() - t0 < dur:
    batch = [gen() for _ in range(rng.randrange(1, 3000))]
    if rng.random() < 0.3: batch.append(mutate(gen()))
    try:
        p.send(b"".join(batch)); frames += len(batch)
    except Exception:
        pass
    if p.closed_at is not None or rng.random() < 0.02:
        p.close(); links += 1
        if not os.path.exists("/proc/%d" % VPID): print("VICTIM GONE"); break
        p, mb = mk(); inc = p.peer_inc
print("fuzz: %.0fs, %d frames, %d links, victim alive=%s RSS=%s" % (time.monotonic()-t0, frames, links, os.path.exists("/proc/%d" % VPID), rss(VPID)))
p.close()
