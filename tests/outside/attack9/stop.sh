#!/bin/bash
cd "$(dirname "$0")"
source ./env.sh
for n in v h; do [ -f run/$n.pid ] && kill $(cat run/$n.pid) 2>/dev/null; done
sleep 0.5
for n in v h; do [ -f run/$n.pid ] && { kill -9 $(cat run/$n.pid) 2>/dev/null; rm -f run/$n.pid; }; done
true
