#!/bin/sh
# start node b (acceptor for a) in background; log in /work/interop/logs/b.*
mkdir -p /work/interop/logs
cd /work/interop
RUST_LOG=${RUST_LOG:-info} /work/wt-interop/target/debug/examples/node --config ${1:-b.toml} > logs/b.out 2> logs/b.err &
echo $! > logs/b.pid
sleep 1
cat logs/b.out
