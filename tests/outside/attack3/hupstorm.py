"""hupstorm.py PID RATE SECS: send SIGHUP to PID at RATE per second for SECS seconds; prints how many were sent."""
import os, sys, time, signal
pid, rate, secs = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
n = 0; t0 = time.monotonic()
while time.monotonic() - t0 < secs:
    os.kill(pid, signal.SIGHUP); n += 1
    target = t0 + n / rate
    d = target - time.monotonic()
    if d > 0: time.sleep(d)
print("hupstorm: sent %d SIGHUP in %.1f s" % (n, time.monotonic() - t0), flush=True)
