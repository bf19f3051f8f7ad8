"""Run v with --monitor a --send-echo a. We act as a; forge LOOKUP_REPLY/DOWN variants and watch v.out."""
from peer import *
def vout(): return open("run/v.out").read().splitlines()
n0 = len(vout())
p = Peer(verbose=False); p.wait_synced(); p.send(f_synced())
MB = 0x1122334455667788
# wait for v's LOOKUPs
looks = []
t = time.monotonic()
while time.monotonic() - t < 5 and len(looks) < 2:
    r = p.q.get(timeout=5)
    if r[0] == K_LOOKUP:
        req = struct.unpack(">Q", r[1][:8])[0]; name = r[1][9:].decode(); looks.append((req, name)); print("v LOOKUP", req, name)
    else: print("v sent", NAMES.get(r[0]), r[1][:40].hex())
req0 = looks[0][0]
# forged replies with the wrong request ids first
real = {r for r, _ in looks}
for fid in [0, 3, 4, 5, 100, 1 << 32, 12345] + list(range(6, 2000)):
    assert fid not in real
    p.send(f_lookup_reply(fid, 0, 0xdead, "reign.echo.Request"))
p.send(f_lookup_reply(req0 ^ (1 << 63), 0, 0xdead, "reign.echo.Request"))
time.sleep(0.5)
print("after wrong-id replies, v frames:", [(NAMES.get(k), pp[:40].hex()) for k, pp in p.rawdrain(0.3)])
# now answer each lookup correctly, twice (second must be ignored)
for req, name in looks:
    p.send(f_lookup_reply(req, 0, MB, "reign.echo.Request"))
for req, name in looks:
    p.send(f_lookup_reply(req, 0, MB + 1, "reign.echo.Request"))
time.sleep(1.0)
mons = []
for k, pp in p.rawdrain(0.5):
    if k == K_MONITOR:
        m, w, tg, inc = struct.unpack(">QQQQ", pp); mons.append((m, w, tg, inc)); print("v MONITOR", hex(m), hex(w), hex(tg), hex(inc))
    elif k == K_SEND:
        tg, inc = struct.unpack(">QQ", pp[:16]); print("v SEND to", hex(tg), "inc", hex(inc), "tag", pp[17:17+pp[16]])
    else: print("v sent", NAMES.get(k), pp[:60].hex())
print("v.out so far:", vout()[n0:])
m, w, tg, inc = mons[0]
forged = [
  ("wrong monitor id", (m ^ 1, w, tg, inc)),
  ("wrong watcher", (m, w ^ 1, tg, inc)),
  ("wrong target", (m, w, tg ^ 1, inc)),
  ("wrong incarnation", (m, w, tg, inc ^ 1)),
  ("monitor 0", (0, w, tg, inc)),
]
for what, f in forged:
    p.send(f_down(*f, reason=1, text="forged: " + what)); time.sleep(0.3)
    print("%-20s v.out new: %s" % (what, vout()[n0+2:]))
p.send(f_down(m, w, tg, inc, reason=1, text="genuine")); time.sleep(0.3)
print("genuine DOWN -> v.out:", vout()[n0:])
p.send(f_down(m, w, tg, inc, reason=1, text="replayed")); time.sleep(0.3)
print("replay -> v.out:", vout()[n0:])
print("alive", p.alive())
p.close()
