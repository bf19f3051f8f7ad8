#!/bin/bash
# backoff.sh: start node b (b2.toml) with nothing listening on member c's address (127.0.0.1:7199);
# print the gaps between b's dial attempts (from its debug log). PROTOCOL.md s.4 "Redial": first delay
# 100 ms x [0.5,1) = 50-100 ms, then 100-200, 200-400, 400-800, 800-1600, 1600-3200, then 2500-5000.
cd /work/interop; [ -f logs/b.pid ] && kill $(cat logs/b.pid) 2>/dev/null; sleep 0.5
RUST_LOG=debug /work/wt-interop/target/debug/examples/node --config b2.toml > logs/bk.out 2> logs/bk.err & P=$!
sleep ${1:-12}; kill $P
python3 - <<'PY'
import datetime
ts = [datetime.datetime.fromisoformat(l[:26]) for l in open("/work/interop/logs/bk.err") if "7199" in l and "dial failed" in l]
print("gaps ms:", [int((b - a).total_seconds() * 1000) for a, b in zip(ts, ts[1:])])
PY
