#!/bin/bash
# every truncation of a valid CERT_UPDATE payload (frame length adjusted): each must close the link as a protocol error
cd "$(dirname "$0")"; F=certs/forge
PL=$(( $(./m.sh -q -hold 100ms -upcert $F/a_new2.pem -upkey $F/a_new2.key -n 0 2>&1 | wc -l) ))
LEN=${LEN:-510}
for t in $(seq 0 $((LEN-1))); do
  r=$(./m.sh -q -delay 30ms -hold 400ms -upcert $F/a_new2.pem -upkey $F/a_new2.key -trunc $t 2>&1 | grep RESULT | sed 's/^.*: //; s/(last record.*//')
  echo "$t $r"
done > run/trunc.txt
sed 's/^[0-9]* //' run/trunc.txt | sort | uniq -c
