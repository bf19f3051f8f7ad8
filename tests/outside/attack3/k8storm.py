"""k8storm.py RATE SECS: Kubernetes-style ..data swaps in live/k8s at RATE per second for SECS seconds, alternating
between state A (original v cert/key, clean CRL) and state B (renewed v cert/key, CRL revoking w); ends on state B.
Prints the number of swaps."""
import os, sys, time, shutil
rate, secs = float(sys.argv[1]), float(sys.argv[2]); D = "live/k8s"
A = {"ca.pem": "certs.orig/ca.pem", "v.pem": "certs.orig/v.pem", "v.key": "certs.orig/v.key", "crl.pem": "crl0.pem"}
B = {"ca.pem": "certs.orig/ca.pem", "v.pem": "certsN/v.pem", "v.key": "certsN/v.key", "crl.pem": "certsRw/crl.pem"}
data = {k: open(v, "rb").read() for k, v in A.items()}, {k: open(v, "rb").read() for k, v in B.items()}
def swap(state, i):
    n = "..s%d_%d" % (os.getpid(), i); os.mkdir(os.path.join(D, n))
    for f, b in state.items(): open(os.path.join(D, n, f), "wb").write(b)
    old = os.readlink(os.path.join(D, "..data"))
    os.symlink(n, os.path.join(D, "..data_tmp")); os.rename(os.path.join(D, "..data_tmp"), os.path.join(D, "..data"))
    shutil.rmtree(os.path.join(D, old))
t0 = time.monotonic(); i = 0
while time.monotonic() - t0 < secs:
    swap(data[i % 2], i); i += 1
    d = t0 + i / rate - time.monotonic()
    if d > 0: time.sleep(d)
if i % 2 == 1: swap(data[1], i); i += 1   # last swap made A: end on B
print("k8storm: %d swaps in %.1f s, final state B (renewed cert, CRL revoking w)" % (i, time.monotonic() - t0), flush=True)
