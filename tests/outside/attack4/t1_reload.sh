#!/bin/bash
# Test 1: correct update, then revoke OLD serial + SIGHUP (link must stay), then NEW serial + SIGHUP (must end, GOODBYE 2)
cd "$(dirname "$0")"; CG=/work/wt-attack4/target/debug/reign-certgen
OLD=$(openssl x509 -in certs/a.pem -noout -serial | cut -d= -f2)
NEW=$(openssl x509 -in certs/forge/${UP:-a_new1}.pem -noout -serial | cut -d= -f2)
: > run/v.out.mark; LN=$(wc -l < run/v.out)
./m.sh -upcert certs/forge/${UP:-a_new1}.pem -upkey certs/forge/${UP:-a_new1}.key -hold 1s -stay 30s > run/t1.log 2>&1 &
MP=$!
sleep 3
echo "== revoke OLD $OLD"; $CG revoke --dir certs --serial $OLD 2>&1 | tail -1
kill -HUP $(cat run/v.pid); sleep 2; tail -n +$((LN+1)) run/v.out; LN=$(wc -l < run/v.out)
echo "== revoke NEW $NEW"; $CG revoke --dir certs --serial $NEW 2>&1 | tail -1
kill -HUP $(cat run/v.pid); sleep 2; tail -n +$((LN+1)) run/v.out
sleep 1; kill $MP 2>/dev/null; cat run/t1.log
