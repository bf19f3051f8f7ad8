"""t1_revoke_py.py: python member b holds a link with v; v's CRL is replaced by one revoking b and v gets SIGHUP.
Prints every frame b receives after the reload with its time, and when the TLS close (close_notify/EOF) came."""
import subprocess, shutil
from util import *
p = Peer(me="b", port=7402); p.wait_synced(); p.send(f_synced())
time.sleep(0.5); p.drain(0.2)
shutil.copy("certsRb/crl.pem", "live/v/crl.pem")
t0 = time.monotonic(); subprocess.run(["kill", "-HUP", open("run/v.pid").read().strip()])
while True:
    try: k, pl = p.q.get(timeout=5)
    except Exception: print("nothing for 5 s"); break
    print("%.1f ms" % ((time.monotonic() - t0) * 1000), NAMES.get(k, k), parse(k, pl) if k is not None else pl, flush=True)
    if k is None: break
