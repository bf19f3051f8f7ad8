#!/bin/bash
# t2_k8s.sh: watch = true on a Kubernetes-style volume: one swap to a revoking CRL, one back, then a swap storm.
cd "$(dirname "$0")"; ./reset.sh; ./k8s.sh init; ./start_v.sh v_k8s.toml
V=$(cat run/v.pid)
st() { echo "rss $(awk '/VmRSS/{print $2}' /proc/$V/status) kB, threads $(awk '/Threads/{print $2}' /proc/$V/status), fds $(ls /proc/$V/fd | wc -l), cpu_ticks $(awk '{print $14+$15}' /proc/$V/stat)"; }
mark() { echo; echo "### $1 at $(date -u +%T.%N)"; M=$(wc -l < run/v.err); }
show() { tail -n +$((M+1)) run/v.err | grep -E -i "reload|watch|link down|error" | cut -c1-200 | sed 's/^/   err: /'; }
mark "swap to revoking CRL"; ./k8s.sh swap certsRw/crl.pem; sleep 3; show
mark "swap back"; ./k8s.sh swap crl0.pem; sleep 6; show; tail -1 run/v.out
echo "before storm: $(st)"
python3 stream.py b 34 10 > run/stream_b.out 2>&1 & SP=$!
sleep 1
mark "storm: ${RATE:-20} swaps/s for 30 s alternating revoking/clean, ending clean"
end=$((SECONDS+30)); i=0
while [ $SECONDS -lt $end ]; do if [ $((i%2)) = 0 ]; then ./k8s.sh swap certsRw/crl.pem; else ./k8s.sh swap crl0.pem; fi; i=$((i+1)); sleep $(python3 -c "print(1/${RATE:-20})"); done
[ $((i%2)) = 1 ] && ./k8s.sh swap crl0.pem
echo "swaps: $i; during: $(st)"
sleep 4; echo "after: $(st)"
echo "watch reloads: $(tail -n +$((M+1)) run/v.err | grep -c 'files changed')  ok: $(tail -n +$((M+1)) run/v.err | grep -c 'material reloaded node')  failed: $(tail -n +$((M+1)) run/v.err | grep -c 'reload failed')"
tail -n +$((M+1)) run/v.err | grep 'reload failed' | cut -c1-250 | sort | uniq -c | sort -rn | head -5
echo "w up/down events on v: $(grep -c 'w down' run/v.out) downs"; tail -2 run/v.out
wait $SP; cat run/stream_b.out
ls -la live/k8s | head; sleep 5; echo "idle after 5 s: $(st)"
