#!/bin/bash
# start victim v (7402) and honest node h (7403); pids in run/. Uses the wt-attack4 build.
cd "$(dirname "$0")"
NODE=${NODE:-/work/wt-attack4/target/debug/examples/node}
for n in v h; do [ -f run/$n.pid ] && kill $(cat run/$n.pid) 2>/dev/null; done
sleep 0.3
RUST_LOG=${RUST_LOG:-info} $NODE --config ${VCONF:-v.toml} > run/v.out 2> run/v.err & echo $! > run/v.pid
RUST_LOG=${RUST_LOG:-info} $NODE --config h.toml > run/h.out 2> run/h.err & echo $! > run/h.pid
sleep 1.5
cat run/v.out run/h.out
