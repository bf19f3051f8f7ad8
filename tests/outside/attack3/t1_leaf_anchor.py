"""t1_leaf_anchor.py: v's CA bundle = cluster CA + member a's leaf certificate (accepted by reload as
'ca bundle 2 certificates'). Can member a, holding only a.key, mint a certificate for node b that v accepts?"""
import subprocess, peer
from util import *
subprocess.run(os.environ.get("NORELOAD") and "true" or "./reset.sh && cat certs.orig/ca.pem certs.orig/a.pem > live/v/ca.pem && kill -HUP $(cat run/v.pid)", shell=True)
time.sleep(0.5)
print(open("run/v.out").read().splitlines()[-1])
peer.CERTS = "certsForge"
try:
    p = Peer(me="b", port=7402); got, r = p.wait_synced(); p.send(f_synced()); time.sleep(0.5)
    print("FORGED b ACCEPTED by v: got", [x[0] for x in got], "peer", p.peer_id)
    p.close()
except Exception as e:
    print("forged b refused:", repr(e))
time.sleep(0.3)
subprocess.run("grep -E 'b up|refused' run/v.out | tail -2; ./reset.sh; kill -HUP $(cat run/v.pid)", shell=True)
