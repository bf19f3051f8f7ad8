#!/bin/bash
# start.sh N... : start examples/node for each id (config N.toml), outputs in run/N.out, run/N.err, pid in run/N.pid
cd "$(dirname "$0")"; mkdir -p run
for n in "$@"; do
  [ -f run/$n.pid ] && kill $(cat run/$n.pid) 2>/dev/null
done
sleep 0.3
for n in "$@"; do
  RUST_LOG=${RUST_LOG:-info} ./node --config $n.toml > run/$n.out 2> run/$n.err & echo $! > run/$n.pid
done
