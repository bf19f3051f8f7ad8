#!/bin/bash
# t2_certkey.sh: watch = true; v's cert replaced by a renewed one, its key 3 s later (a non-atomic renewal copy);
# then same-size/same-mtime in-place content change of the CRL (revoking c instead of w, mtime restored).
cd "$(dirname "$0")"; ./reset.sh; ./start_v.sh v_watch.toml
L=live/v
mark() { echo; echo "### $1 at $(date -u +%T.%N)"; M=$(wc -l < run/v.err); O=$(wc -l < run/v.out); }
show() { tail -n +$((M+1)) run/v.err | grep -E -i "reload|watch|link down|error" | cut -c1-300 | sed 's/^/   err: /'; tail -n +$((O+1)) run/v.out | sed 's/^/   out: /'; }
mark "new cert"; cp certsN/v.pem $L/v.pem; sleep 3; show
mark "new key"; cp certsN/v.key $L/v.key; sleep 3; show
echo "new handshake after renewal (restart c):"; kill $(cat run/c.pid); sleep 0.3; ./node --config c.toml > run/c.out 2> run/c.err & echo $! > run/c.pid; sleep 1.5; cat run/c.out
cp certsRw/crl.pem $L/crl.pem; sleep 3
cp -a certs.orig certsRc; ../../attack3/r3/x 2>/dev/null; /work/wt-attack3/target/debug/reign-certgen revoke --dir certsRc c >/dev/null
ls -l certsRw/crl.pem certsRc/crl.pem $L/crl.pem
mark "in-place rewrite, same size, mtime restored (revoke c instead of w)"; cp -p $L/crl.pem /tmp/ref.crl; cat certsRc/crl.pem > $L/crl.pem; touch -r /tmp/ref.crl $L/crl.pem; sleep 3; show
echo "   c.out tail: $(tail -1 run/c.out)"
