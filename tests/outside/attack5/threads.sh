#!/bin/bash
# threads.sh PID SECS: per-thread CPU (ticks) and state every second
P=$1; for i in $(seq 1 $2); do
  line=""
  for t in /proc/$P/task/*; do
    n=$(cat $t/comm); st=$(awk '{print $3}' $t/stat); u=$(awk '{print $14+$15}' $t/stat)
    line="$line $n:$st:$u"
  done
  echo "$(date +%T) $line"; sleep 1
done
