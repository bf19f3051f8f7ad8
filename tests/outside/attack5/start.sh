#!/bin/bash
# usage: start.sh [extra args for v...]; starts v (7402) and h (7403); pids in run/
cd /tmp/atk
./stop.sh
mkdir -p run
RUST_LOG=${RUST_LOG:-info} ./node --config v.toml "$@" > run/v.out 2> run/v.err & echo $! > run/v.pid
sleep 0.5
RUST_LOG=${RUST_LOG:-info} ./node --config h.toml > run/h.out 2> run/h.err & echo $! > run/h.pid
sleep 1.5
cat run/v.out run/h.out
