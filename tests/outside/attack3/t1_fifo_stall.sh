#!/bin/bash
# t1_fifo_stall.sh: watch = true; v's crl.pem becomes a FIFO nobody writes (then a regular file again 1 s later is NOT
# done: the FIFO stays). The watcher's reload blocks in open(); then one SIGHUP blocks the SIGHUP reload too.
# Are heartbeats still sent (c, w, python b)? Does v recover when the FIFO is replaced by a good file?
cd "$(dirname "$0")"; ./reset.sh; ./start_v.sh v_watch.toml
V=$(cat run/v.pid); L=live/v
python3 stream.py b 20 10 > run/stream_b.out 2>&1 & SP=$!
sleep 1; rm $L/crl.pem; mkfifo $L/crl.pem; echo "FIFO at $(date -u +%T.%N)"; sleep 3
for t in /proc/$V/task/*; do echo "  task $(cat $t/comm) $(cat $t/wchan)"; done
if [ -z "$NOHUP" ]; then echo "SIGHUP at $(date -u +%T.%N)"; kill -HUP $V; fi; sleep 1
for t in /proc/$V/task/*; do echo "  task $(cat $t/comm) $(cat $t/wchan)"; done
sleep 4
echo "replacing the FIFO by the clean CRL (regular file) at $(date -u +%T.%N)"; rm $L/crl.pem; cp crl0.pem $L/crl.pem
sleep 6
for t in /proc/$V/task/*; do echo "  task $(cat $t/comm) $(cat $t/wchan)"; done
wait $SP; cat run/stream_b.out
echo "== v.out"; cat run/v.out; echo "== c.out"; tail -3 run/c.out; echo "== w.out"; tail -3 run/w.out
