#!/bin/bash
cd /tmp/atk
for n in v h; do
  if [ -f run/$n.pid ]; then kill $(cat run/$n.pid) 2>/dev/null; fi
done
sleep 0.5
for n in v h; do
  if [ -f run/$n.pid ]; then kill -9 $(cat run/$n.pid) 2>/dev/null; rm -f run/$n.pid; fi
done
true
