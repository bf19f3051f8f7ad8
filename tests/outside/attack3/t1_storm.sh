#!/bin/bash
# t1_storm.sh RATE SECS: SIGHUP storm on v while python b streams echo requests (10 ms) and times v's heartbeats;
# v's RSS and CPU sampled every 2 s; reloaded: lines counted.
RATE=${1:-500}; SECS=${2:-20}
cd "$(dirname "$0")"; ./reset.sh; ./start.sh v c w; sleep 2
V=$(cat run/v.pid)
rss() { awk '/VmRSS|Threads/{printf "%s %s ", $1, $2}' /proc/$V/status; awk '{print "cpu_ticks", $14+$15}' /proc/$V/stat; }
echo "before: $(rss)"; n0=$(grep -c reloaded run/v.out)
python3 stream.py b $((SECS+4)) 10 > run/stream_b.out 2>&1 & SP=$!
sleep 1
python3 hupstorm.py $V $RATE $SECS & HP=$!
for i in $(seq 1 $((SECS/2))); do sleep 2; echo "t+$((i*2)): $(rss)"; done
wait $HP; wait $SP
sleep 1; echo "after: $(rss)"
echo "reloaded lines: $(( $(grep -c reloaded run/v.out) - n0 )); refused lines: $(grep -c 'reload refused' run/v.out)"
cat run/stream_b.out; echo "c.out/w.out tails:"; tail -1 run/c.out; tail -1 run/w.out
grep -c . run/v.err | sed 's/^/v.err lines: /'; grep -v "TLS material reloaded" run/v.err | tail -3
