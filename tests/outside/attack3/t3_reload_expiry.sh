#!/bin/bash
# t3_reload_expiry.sh: (1) reload to a certificate with 100 s left: WARN right after the reload? which cert do new
# handshakes get? (2) reload to an already expired own certificate: accepted or refused? (start accepted one, with a WARN)
cd "$(dirname "$0")"; ./reset.sh; ./start_v.sh v_exp.toml; V=$(cat run/v.pid)
python3 getcert.py 7402
python3 mkcert.py live/v v -31536000 100; M=$(wc -l < run/v.err); kill -HUP $V; sleep 0.5
tail -n +$((M+1)) run/v.err | grep -E "near the end|reload" | cut -c1-200
python3 getcert.py 7402
python3 mkcert.py live/v v -31536000 -60; M=$(wc -l < run/v.err); kill -HUP $V; sleep 0.5
echo "reload to expired own cert:"; tail -2 run/v.out | cut -c1-250
python3 getcert.py 7402
