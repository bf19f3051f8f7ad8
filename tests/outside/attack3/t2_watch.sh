#!/bin/bash
# t2_watch.sh: [tls] watch = true on plain files: edit in place, half-written CRL, atomic rename, delete.
# For each: time of the change (UTC) and the lines v logged/printed afterwards about reloads and w.
cd "$(dirname "$0")"; ./reset.sh; ./start_v.sh v_watch.toml
L=live/v
mark() { echo; echo "### $1 at $(date -u +%T.%N)"; M=$(wc -l < run/v.err); O=$(wc -l < run/v.out); }
show() { tail -n +$((M+1)) run/v.err | grep -E -i "reload|refus|watch|link down|link up|error|warn" | cut -c1-260 | sed 's/^/   err: /'; tail -n +$((O+1)) run/v.out | sed 's/^/   out: /'; }
sleep 1
mark "no change for 3 s (expect nothing)"; sleep 3; show
mark "edit in place: cat revoking CRL > crl.pem"; cat certsRw/crl.pem > $L/crl.pem; sleep 3; show
mark "edit in place back to empty CRL"; cat crl0.pem > $L/crl.pem; sleep 6; show
mark "half-written: first 200 bytes of revoking CRL, then 4 s, then the rest"; head -c 200 certsRw/crl.pem > $L/crl.pem; sleep 4; show
mark "  ...rest written"; tail -c +201 certsRw/crl.pem >> $L/crl.pem; sleep 3; show
mark "atomic rename back to empty CRL"; cp crl0.pem $L/.crl.tmp; mv $L/.crl.tmp $L/crl.pem; sleep 6; show
mark "same content rewritten (touch only)"; touch $L/crl.pem; sleep 3; show
mark "delete crl.pem"; rm $L/crl.pem; sleep 3; show
mark "restore crl.pem (revoking)"; cp certsRw/crl.pem $L/crl.pem; sleep 3; show
mark "cert then key replaced 3 s apart (renewed v: new cert first)"; cp certs.orig/v.pem $L/v.pem.old
