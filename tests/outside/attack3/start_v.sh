#!/bin/bash
# start_v.sh CONFIG: (re)start node v with CONFIG (v.toml, v_watch.toml, v_k8s.toml) plus c and w
cd "$(dirname "$0")"; mkdir -p run
for n in v c w; do [ -f run/$n.pid ] && kill $(cat run/$n.pid) 2>/dev/null; done; sleep 0.3
for n in c w; do RUST_LOG=info ./node --config $n.toml > run/$n.out 2> run/$n.err & echo $! > run/$n.pid; done
RUST_LOG=${RUST_LOG:-info} ./node --config $1 > run/v.out 2> run/v.err & echo $! > run/v.pid
sleep 2
