#!/bin/bash
# Test 3 (long): honest probe b (LOOKUP RTTs + gaps between v's heartbeats) while a sends valid
# CERT_UPDATEs at the allowed maximum (1/s, 8-certificate chain) for DUR s, and a second attacker
# loop reconnects as a and bursts 3 (2 verified + 1 that ends the link) as fast as it can.
cd "$(dirname "$0")"; F=certs/forge; DUR=${DUR:-60}; V=$(cat run/v.pid)
cpu() { awk '{print $14+$15}' /proc/$V/stat; }
rss() { grep VmRSS /proc/$V/status | awk '{print $2}'; }
echo "baseline: cpu ticks $(cpu) rss ${RSS:-$(rss)} kB"; c0=$(cpu); sleep 10; c1=$(cpu); echo "idle 10 s: $((c1-c0)) ticks"
python3 probe.py $((DUR+5)) > run/probe_long.txt 2>&1 & PP=$!
sleep 1
./m.sh -q -upcert $F/a_new4.pem -upkey $F/a_new4.key -repeat 8 -n $DUR -interval 1s -hold 500ms > run/long_a.txt 2>&1 &
AP=$!
c0=$(cpu); end=$((SECONDS+DUR)); loops=0
if [ -n "$RECONNECT" ]; then
  while [ $SECONDS -lt $end ]; do ./m.sh -q -delay 0 -hold 200ms -upcert certs/forge/c_new.pem -upkey certs/forge/c_new.key -n 3 -me c -cert certs/c.pem -key certs/c.key >/dev/null 2>&1; loops=$((loops+1)); done
else
  sleep $DUR
fi
wait $AP; c1=$(cpu); wait $PP
echo "attack $DUR s: victim cpu $((c1-c0)) ticks (100/s), rss $(rss) kB, reconnect loops $loops"
grep RESULT run/long_a.txt; tail -2 run/probe_long.txt
sort -k5 -n -t' ' run/probe_long.txt | grep 'rtts' | awk '{print $5}' | sort -n | tail -1 | sed 's/^/worst per-second max rtt ms: /'
