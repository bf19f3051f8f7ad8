"""When does the victim send its first HEARTBEAT after ACCEPT (docs: at once)? Gaps over 6 s, with and without our SYNCED."""
from peer import *
for sync in (True, False):
    p = Peer(read=False, auto_hb=True); t0 = time.monotonic(); seen = []
    if sync: p.send(f_synced())
    while time.monotonic() - t0 < 6:
        k, pp = p.read_frame()
        seen.append((round(time.monotonic() - t0, 3), NAMES.get(k)))
    hbs = [t for t, k in seen if k == "HEARTBEAT"]
    print("our SYNCED=%s first frames %s; first HB at %.3fs; max gap %.3fs" % (sync, seen[:3], hbs[0], max(b - a for a, b in zip(hbs, hbs[1:]))))
    p.close()
