#!/bin/bash
# t3_cases.sh: expiry warnings in several situations (v alone + c, w; check interval 3 s unless said).
cd "$(dirname "$0")"
run() { # title, seconds to run, config
  echo; echo "######## $1"; ./start_v.sh $3; sleep $2
  echo "   v.out:"; grep -v -E "^event: (c|w) up|^event: refused|^ready" run/v.out | cut -c1-220 | sed 's/^/     /'
  echo "   v.err WARN/ERROR (first 4):"; grep -E "WARN|ERROR" run/v.err | grep -v "refused peer" | cut -c1-220 | head -4 | sed 's/^/     /'
  echo "   expiry WARN lines: $(grep -c 'near the end' run/v.err)"
  kill $(cat run/v.pid) 2>/dev/null; sleep 0.3; }
./reset.sh; run "healthy certificates (1 year left): expect no warning" 4 v_exp.toml
./reset.sh; python3 mkcert.py live/v v -50 40 >/dev/null; run "lifetime 90 s, 40 s left (last third = 30 s): none at start, warning from ~10 s on" 14 v_exp.toml
./reset.sh; python3 mkcert.py live/v v -31536000 -60 >/dev/null; run "own certificate expired 60 s ago, at start" 4 v_exp.toml
./reset.sh; python3 mkcert.py live/v v 120 31536000 >/dev/null; run "own certificate not yet valid (from now+120 s), at start" 4 v_exp.toml
./reset.sh; python3 mkcert.py caX caX -31536000 40 --self-ca >/dev/null; cat caX/ca.pem >> live/v/ca.pem; run "bundle: cluster CA + a second CA with 40 s left" 5 v_exp.toml
./reset.sh; python3 mkcert.py caY caY -31536000 -60 --self-ca >/dev/null; cat caY/ca.pem >> live/v/ca.pem; run "bundle: cluster CA + a second CA expired 60 s ago" 5 v_exp.toml
