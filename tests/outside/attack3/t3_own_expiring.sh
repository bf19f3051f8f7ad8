#!/bin/bash
# t3_own_expiring.sh: v's own certificate (1-year lifetime) ends 40 s after start; check interval 3 s.
# Expect: WARN + CertificateExpiring event at start and every 3 s; at not-after c and w end their links with v
# (CertificateExpired on their side, GOODBYE 3 -> RefusedByPeer(expired) on v's side).
cd "$(dirname "$0")"; ./reset.sh
python3 mkcert.py live/v v -31536000 40
./start_v.sh v_exp.toml; sleep 50
echo "== v.out"; cat run/v.out | cut -c1-250
echo "== v.err WARN lines about certificates"; grep -i -E "expir" run/v.err | cut -c1-250 | head -30
echo "== c.out"; cat run/c.out; echo "== w.out"; cat run/w.out
