#!/bin/bash
# t1_fifo.sh: v's crl.pem replaced by a FIFO nobody writes, then SIGHUP (twice), while b streams: does the reload
# block the node (heartbeats, echo), and is a later good reload still possible once the FIFO is fed?
cd "$(dirname "$0")"; ./reset.sh; ./start.sh v c w; sleep 2
V=$(cat run/v.pid); L=live/v
python3 stream.py b 12 10 > run/stream_b.out 2>&1 & SP=$!
sleep 1; rm $L/crl.pem; mkfifo $L/crl.pem
echo "HUP at $(date -u +%T.%N)"; kill -HUP $V; sleep 1; kill -HUP $V; sleep 5
echo "threads: $(awk '/Threads/{print $2}' /proc/$V/status), state: $(awk '{print $3}' /proc/$V/stat)"
echo "feeding the FIFO with the clean CRL at $(date -u +%T.%N)"; cat crl0.pem > $L/crl.pem & FP=$!; sleep 2; kill $FP 2>/dev/null
wait $SP; cat run/stream_b.out; tail -3 run/v.out; tail -3 run/c.out; tail -3 run/w.out
rm -f $L/crl.pem; cp crl0.pem $L/crl.pem; kill -HUP $V; sleep 0.5; tail -1 run/v.out
