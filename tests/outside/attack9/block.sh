#!/bin/bash
# v's application runtime blocked (all workers asleep) for BLOCK ms, AFTER ms after ready; during it,
# honest probe b (round trips, heartbeat gaps) and attacker a running t_stall.py cases; then events.
cd "$(dirname "$0")"
source ./env.sh
BLOCK=${BLOCK:-10000}; AFTER=${AFTER:-4000}
./start.sh --send-echo h --block-workers-after $AFTER --block-for $BLOCK > /dev/null
timeout 40 python3 probe9.py $(( (AFTER + BLOCK) / 1000 + 4 )) > run/probe_block.out 2>&1 & PP=$!
sleep $(( AFTER / 1000 + 1 ))
grep -q blocking run/v.out && echo "v: $(grep blocking run/v.out)"
timeout 30 python3 t_stall.py "$@" 2>&1 | grep -E "STALL|total|LINK|Error"
wait $PP; cat run/probe_block.out | grep -E "PROBE|failed"
echo "v out: $(cat run/v.out | tr '\n' ';')"
echo "h out: $(tail -n +2 run/h.out | tr '\n' ';')"
