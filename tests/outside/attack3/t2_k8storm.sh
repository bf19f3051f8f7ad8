#!/bin/bash
# t2_k8storm.sh RATE SECS: watch = true on live/k8s; ..data swap storm (k8storm.py) while b streams; then checks v
# converged to the final state (renewed serial b864..., w revoked) and resources.
RATE=${1:-200}; SECS=${2:-20}
cd "$(dirname "$0")"; ./reset.sh; ./k8s.sh init; ./start_v.sh v_k8s.toml
V=$(cat run/v.pid)
st() { echo "rss $(awk '/VmRSS/{print $2}' /proc/$V/status) kB, threads $(awk '/Threads/{print $2}' /proc/$V/status), fds $(ls /proc/$V/fd | wc -l), cpu_ticks $(awk '{print $14+$15}' /proc/$V/stat)"; }
echo "before: $(st)"; M=$(wc -l < run/v.err)
python3 stream.py b $((SECS+6)) 10 > run/stream_b.out 2>&1 & SP=$!
sleep 1; python3 k8storm.py $RATE $SECS; echo "end of storm: $(st)"
sleep 4; echo "4 s later: $(st)"
E=$(tail -n +$((M+1)) run/v.err)
echo "watch reloads: $(grep -c 'files changed' <<<"$E")  ok: $(grep -c 'material reloaded node' <<<"$E")  failed: $(grep -c 'reload failed' <<<"$E")"
grep 'reload failed' <<<"$E" | sed 's/.*error=//' | sed 's/\.\.s[0-9_]*/..sN/g' | sort | uniq -c | sort -rn | head -6
echo "last reload: $(grep 'material reloaded node' <<<"$E" | tail -1 | sed 's/.*material=//')"
echo "w downs on v: $(grep -c 'w down' run/v.out); last v.out lines:"; tail -2 run/v.out
wait $SP; cat run/stream_b.out; sleep 3; echo "idle: $(st)"; ls live/k8s -a | wc -l
