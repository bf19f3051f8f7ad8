"""v runs --monitor a. We send DEMONITOR/MONITOR reusing v's own monitor ID (the other direction); v's monitor must be unaffected."""
from peer import *
p = Peer(); p.wait_synced(); p.send(f_synced())
MB = 0x77; looks = []; t = time.monotonic()
while time.monotonic() - t < 5 and not looks:
    k, pp = p.q.get(timeout=5)
    if k == K_LOOKUP: looks.append(struct.unpack(">Q", pp[:8])[0])
p.send(f_lookup_reply(looks[0], 0, MB, "reign.echo.Request"))
mon = None
while mon is None:
    k, pp = p.q.get(timeout=5)
    if k == K_MONITOR: mon = struct.unpack(">QQQQ", pp)
m, w, tg, inc = mon
print("v's monitor", mon)
echo = p.lookup("echo")["mbox"]
p.send(f_demonitor(m) + f_monitor(m, w, echo, p.peer_inc) + f_demonitor(m))
p.send(f_down(m, w, tg, inc ^ 1, 0, ""))  # wrong incarnation: ignored
time.sleep(0.5); print("v.out tail before genuine:", open("run/v.out").read().splitlines()[-1])
p.send(f_down(m, w, tg, inc, 1, "genuine after cross-direction noise")); time.sleep(0.5)
print("v.out tail:", open("run/v.out").read().splitlines()[-1])
p.close()
