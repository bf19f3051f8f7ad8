#!/bin/bash
# usage: runflood.sh MODE [DUR]; prints probe worst rtt and any h/v down events
cd "$(dirname "$0")"
hn=$(wc -l < run/h.out); vn=$(wc -l < run/v.out)
python3 probe.py $(( ${2:-15} + 3 )) > run/probe.$1.out 2>&1 &
PP=$!
sleep 1
python3 t_flood.py "$@"
wait $PP
echo "probe: $(tail -1 run/probe.$1.out); per-second max: $(grep -o 'max [0-9]* ms' run/probe.$1.out | awk '{print $2}' | sort -n | tail -3 | tr '\n' ' ')"
echo "h events: $(tail -n +$((hn+1)) run/h.out | tr '\n' ';')"
echo "v events (non-a): $(tail -n +$((vn+1)) run/v.out | grep -v 'event: a ' | tr '\n' ';')"
