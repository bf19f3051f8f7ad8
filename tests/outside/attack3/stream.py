"""stream.py ME SECS [PERIOD_MS]: honest member ME dials v (7402), sends echo requests "ME-<n>" every
PERIOD ms for SECS seconds, checks every reply arrives in order, times v's heartbeats (gap) and
the echo round trips. Prints a summary; 'LINK DOWN' with the reason if the link ends."""
import sys
from util import *
me = sys.argv[1]; secs = float(sys.argv[2]); period = float(sys.argv[3]) / 1000 if len(sys.argv) > 3 else 0.01
p = Peer(me=me, port=7402); p.wait_synced(); p.send(f_synced())
sent = {}; got = []; lock = threading.Lock(); rtt_max = [0.0]; stop = threading.Event()
def reader():
    while not stop.is_set():
        r = p.q.get()
        k, pl = r
        if k is None:
            print(me, "LINK DOWN:", pl, flush=True); stop.set(); return
        if k == K_SEND:
            _, _, tag, text = parse_reply(pl)
            n = int(text.split("-")[1]); got.append(n)
            rtt_max[0] = max(rtt_max[0], time.monotonic() - sent[n])
        elif k == K_GOODBYE:
            print(me, "GOODBYE", parse(k, pl), flush=True)
threading.Thread(target=reader, daemon=True).start()
t_end = time.monotonic() + secs; n = 0; sec = time.monotonic(); hb_gap_sec = 0
while time.monotonic() < t_end and not stop.is_set():
    sent[n] = time.monotonic()
    try: p.send(f_echo("%s-%d" % (me, n), me, p.inc))
    except Exception as e: print(me, "send failed", e); break
    n += 1
    time.sleep(period)
time.sleep(1.0); stop.set()
missing = sorted(set(range(n)) - set(got)); inorder = got == sorted(got)
print("%s: sent %d, replies %d, missing %d%s, in order %s, max rtt %.0f ms, max v heartbeat gap %.0f ms, link %s" % (
    me, n, len(got), len(missing), (" first %s" % missing[:5]) if missing else "", inorder, rtt_max[0] * 1000,
    getattr(p, "max_hb_gap", 0) * 1000, "up" if p.closed_at is None else "DOWN (%s)" % p.close_reason), flush=True)
p.close()
