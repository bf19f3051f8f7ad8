#!/bin/bash
# start victim v and honest h; pids in run/
cd "$(dirname "$0")"
for n in v h; do
  [ -f run/$n.pid ] && kill $(cat run/$n.pid) 2>/dev/null
done
sleep 0.3
mkdir -p run
RUST_LOG=${RUST_LOG:-info} "${NODE:-../../target/debug/examples/node}" --config v.toml > run/v.out 2> run/v.err & echo $! > run/v.pid
RUST_LOG=${RUST_LOG:-info} "${NODE:-../../target/debug/examples/node}" --config h.toml > run/h.out 2> run/h.err & echo $! > run/h.pid
sleep 1
cat run/v.out run/h.out
