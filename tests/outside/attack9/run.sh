#!/bin/bash
# usage: run.sh SCRIPT args: runs SCRIPT with probe9 (member b) alongside for PROBE_DUR s; prints events
cd "$(dirname "$0")"
source ./env.sh
hn=$(wc -l < run/h.out); vn=$(wc -l < run/v.out)
timeout $(( ${PROBE_DUR:-15} + 20 )) python3 probe9.py ${PROBE_DUR:-15} > run/probe.out 2>&1 & PP=$!
sleep 1
timeout ${ATK_TIMEOUT:-120} python3 "$@"; echo "attack rc=$?"
wait $PP; grep -E "PROBE|failed" run/probe.out
echo "h events: $(tail -n +$((hn+1)) run/h.out | tr '\n' ';')"
echo "v events: $(tail -n +$((vn+1)) run/v.out | head -20 | tr '\n' ';')"
echo "v alive: $(kill -0 $(cat run/v.pid) 2>/dev/null && echo yes || echo NO) $(grep VmRSS /proc/$(cat run/v.pid)/status 2>/dev/null)"
