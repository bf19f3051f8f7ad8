#!/bin/bash
# block.sh BLOCK_MS SCRIPT [args]: restart v with a worker block of BLOCK_MS (starting 4 s after ready),
# start the probe and, once v prints "blocking", the attack. Prints what h and v saw.
cd /tmp/atk
B=$1; shift
./start.sh --send-echo h --block-workers-after 4000 --block-for $B > /dev/null
timeout 60 python3 probe.py $(( B/1000 + 10 )) > run/probe.out 2>&1 &
PP=$!
for i in $(seq 1 100); do grep -q blocking run/v.out && break; sleep 0.1; done
grep blocking run/v.out
if [ -n "$OPS" ]; then timeout 60 python3 opsprobe.py $(( B/1000 )) > run/ops.out 2>&1 & OP=$!; fi
./threads.sh $(cat run/v.pid) $(( B/1000 + 3 )) > run/threads.out 2>&1 &
if [ "$1" != "none" ]; then timeout $(( B/1000 + 30 )) python3 "$@"; echo "attack rc=$?"; fi
wait $PP
if [ -n "$OPS" ]; then wait $OP; grep -E "OPS|error" run/ops.out; fi
grep PROBE run/probe.out
echo "probe per-second max rtt/hb gap: $(grep -o 'max [0-9]* ms, hb gap so far [0-9]*' run/probe.out | awk "{print \$2\"/\"\$8}" | tr '\n' ' ')"
echo "h: $(tail -n +3 run/h.out | tr '\n' ';')"
echo "v: $(tail -n +2 run/v.out | tr '\n' ';')"
echo "mesh thread CPU ticks: $(grep -o 'reign-mesh-v:[A-Z]:[0-9]*' run/threads.out | cut -d: -f2,3 | tr '\n' ' ')"
