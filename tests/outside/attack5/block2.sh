#!/bin/bash
# block2.sh BLOCK_MS SCRIPT [args]: like block.sh, but the attacker links before the block and
# waits (WAIT_BLOCK) for it to start flooding.
cd /tmp/atk
B=$1; shift
./start.sh --send-echo h --block-workers-after ${AFTER:-6000} --block-for $B > /dev/null
timeout 150 python3 probe.py $(( B/1000 + 14 + ${AFTER:-6000}/1000 - 6 )) > run/probe.out 2>&1 &
PP=$!
WAIT_BLOCK=1 timeout $(( B/1000 + 120 )) python3 "$@" > run/atk.out 2>&1 &
AP=$!
for i in $(seq 1 600); do grep -q blocking run/v.out && break; sleep 0.1; done
grep blocking run/v.out
if [ -n "$OPS" ]; then timeout 60 python3 opsprobe.py $(( B/1000 )) > run/ops.out 2>&1 & OP=$!; fi
./threads.sh $(cat run/v.pid) $(( B/1000 + 3 )) > run/threads.out 2>&1 &
wait $AP; echo "attack rc=$?"; cat run/atk.out
wait $PP
if [ -n "$OPS" ]; then wait $OP; grep -E "OPS|error" run/ops.out; fi
grep PROBE run/probe.out
echo "probe per-second max rtt/hb gap: $(grep -o 'max [0-9]* ms, hb gap so far [0-9]*' run/probe.out | awk "{print \$2\"/\"\$8}" | tr '\n' ' ')"
echo "h: $(tail -n +3 run/h.out | tr '\n' ';')"
echo "v: $(tail -n +2 run/v.out | tr '\n' ';')"
echo "mesh thread CPU ticks: $(grep -o 'reign-mesh-v:[A-Z]:[0-9]*' run/threads.out | cut -d: -f2,3 | tr '\n' ' ')"
