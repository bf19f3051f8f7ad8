#!/bin/bash
# t3_rate.sh: v's cert has 1 day left; certificate_check_interval_ms = 1 (allowed: "above zero"): WARN lines per second,
# CPU; then the bounds of certificate_expiry_warning_hours (0, 720, 100000) and check interval 0.
cd "$(dirname "$0")"; ./reset.sh; python3 mkcert.py live/v v -31536000 86400 >/dev/null
./start_v.sh v_iv1.toml; V=$(cat run/v.pid); t0=$(awk '{print $14+$15}' /proc/$V/stat); n0=$(grep -c 'near the end' run/v.err); sleep 5
echo "interval 1 ms: $(( ($(grep -c 'near the end' run/v.err)-n0)/5 )) WARN lines/s, $(grep -c 'certificate expiring' run/v.out) events printed in ~7 s, cpu $(( $(awk '{print $14+$15}' /proc/$V/stat)-t0 )) ticks in 5 s, missed-events lines: $(grep -c 'events missed' run/v.out), v.err size $(du -h run/v.err | cut -f1)"
tail -1 run/c.out
kill $V; sleep 0.3
for c in v_iv0 v_wh0 v_wh720 v_whbig; do ./node --config $c.toml > run/x.out 2> run/x.err & P=$!; sleep 1.5; kill $P 2>/dev/null; echo "$c: $(head -1 run/x.out) $(grep -m1 -i -E 'error' run/x.err | cut -c1-200) $(cut -c1-200 run/x.err | grep -m1 'node: error')"; grep -m1 'near the end' run/x.err | cut -c 60-260; done
