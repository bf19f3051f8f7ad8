#!/bin/bash
# usage: run.sh SCRIPT [args]: runs the attack with probe b for PROBE_DUR s; prints results and new h/v events
cd /tmp/atk
hn=$(wc -l < run/h.out); vn=$(wc -l < run/v.out)
timeout $(( ${PROBE_DUR:-20} + 20 )) python3 probe.py ${PROBE_DUR:-20} > run/probe.out 2>&1 &
PP=$!
if [ -n "$OPS" ]; then timeout $(( ${PROBE_DUR:-20} + 20 )) python3 opsprobe.py ${PROBE_DUR:-20} > run/ops.out 2>&1 & OP=$!; fi
sleep 1
timeout ${ATK_TIMEOUT:-120} python3 "$@"
echo "attack rc=$?"
wait $PP
if [ -n "$OPS" ]; then wait $OP; grep -E "OPS|error" run/ops.out; grep slow run/ops.out | head -5; fi
grep PROBE run/probe.out; grep -c failed run/probe.out
echo "probe per-second max rtt (top 3): $(grep -o 'max [0-9]* ms' run/probe.out | awk '{print $2}' | sort -n | tail -3 | tr '\n' ' ')"
echo "h events: $(tail -n +$((hn+1)) run/h.out | tr '\n' ';')"
echo "v events: $(tail -n +$((vn+1)) run/v.out | tr '\n' ';')"
echo "v alive: $(kill -0 $(cat run/v.pid) 2>/dev/null && echo yes || echo NO)  rss $(grep VmRSS /proc/$(cat run/v.pid)/status 2>/dev/null)"
