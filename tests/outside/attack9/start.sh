#!/bin/bash
# usage: start.sh [extra args for v]; victim v on 7402, honest h on 7403 (release build)
cd "$(dirname "$0")"
source ./env.sh
./stop.sh
mkdir -p run
NODE=${NODE:-../../../target/release/examples/node}
RUST_LOG=${RUST_LOG:-info} $NODE --config v.toml "$@" > run/v.out 2> run/v.err & echo $! > run/v.pid
sleep 0.5
RUST_LOG=${RUST_LOG:-info} $NODE --config h.toml > run/h.out 2> run/h.err & echo $! > run/h.pid
sleep 1.5
cat run/v.out run/h.out
