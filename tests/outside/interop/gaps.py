# gaps.py LOG: gaps (ms) between node b's failed dials to 127.0.0.1:7199, from its log timestamps
import sys, re, datetime
ts = [datetime.datetime.fromisoformat(l[:26]) for l in open(sys.argv[1]) if "7199" in l and "Dialer" in l]
print([int((b - a).total_seconds() * 1000) for a, b in zip(ts, ts[1:])])
