#!/bin/bash
# wchan.sh PID SECS: every 100 ms, the mesh thread's state, wchan and CPU ticks, and the workers' states
P=$1; M=$(for t in /proc/$P/task/*; do [ "$(cat $t/comm)" = "reign-mesh-v" ] && echo $t; done)
W=$(for t in /proc/$P/task/*; do [ "$(cat $t/comm)" = "tokio-rt-worker" ] && echo $t; done)
for i in $(seq 1 $(( $2 * 10 ))); do
  ws=""; for w in $W; do ws="$ws $(awk '{print $3}' $w/stat)"; done
  echo "$(date +%T.%N | cut -c1-11) mesh $(awk '{print $3, $14+$15}' $M/stat) $(cat $M/wchan) | workers$ws"
  sleep 0.1
done
