#!/bin/bash
# t1_revoke.sh: v, c, w running; python b streams echo to v; v's CRL is replaced by one revoking w; SIGHUP v.
cd "$(dirname "$0")"; ./reset.sh; ./start.sh v c w; sleep 2
python3 stream.py b 6 10 > run/stream_b.out 2>&1 &
SP=$!
sleep 2
cp certsRw/crl.pem live/v/crl.pem
date +%T.%N; kill -HUP $(cat run/v.pid)
sleep 3
wait $SP
for n in v c w; do echo "== $n.out"; cat run/$n.out; done
echo "== stream"; cat run/stream_b.out
echo "== v.err (reload/down/refus)"; grep -i -E "reload|down|refus|goodbye" run/v.err | tail -8
echo "== w.err"; grep -i -E "down|refus|goodbye|handshake" run/w.err | tail -8
