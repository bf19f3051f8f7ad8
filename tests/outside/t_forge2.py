"""v runs with --monitor a --send-echo a: answer with matching DOWNs carrying odd reasons."""
import sys
from peer import *
reason = int(sys.argv[1]); tl = int(sys.argv[2])
p = Peer(); p.wait_synced(); p.send(f_synced())
MB = 0x1122334455667788; looks = []
t = time.monotonic()
while time.monotonic() - t < 5 and len(looks) < 2:
    k, pp = p.q.get(timeout=5)
    if k == K_LOOKUP: looks.append(struct.unpack(">Q", pp[:8])[0])
for r in looks: p.send(f_lookup_reply(r, 0, MB, "reign.echo.Request"))
time.sleep(0.5)
mons = [struct.unpack(">QQQQ", pp) for k, pp in p.rawdrain(0.5) if k == K_MONITOR]
for m in mons:
    p.send(f_down(*m, reason=reason, text=("\x1b[31m\n" * (tl // 6 + 1))[:tl]))
time.sleep(0.5)
print("reason", reason, "text len", tl, "link alive", p.alive(), "victim pid alive", os.path.exists("/proc/" + open("run/v.pid").read().strip()))
print(open("run/v.out").read()[-600:])
p.close()
