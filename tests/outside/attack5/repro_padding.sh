#!/bin/bash
# Reproduces the finding: a member's flood of TLS records that carry (almost) no frame but maximum
# padding (rustls accepts up to 32 empty records in a row) monopolises the node's thread.
#  A: application not blocked: 800 MB flood (~30 MB/s)   B: application blocking its workers for 10 s
cd /tmp/atk
echo "== A: no block"; ./start.sh > /dev/null
(./wchan.sh $(cat run/v.pid) 32 > run/wchan.A.out &)
OPS=1 PROBE_DUR=30 ATK_TIMEOUT=100 ./run.sh t_padstall.py 800 2>&1 | grep -Ev "^0$|slow"
echo "mesh thread: $(awk '{print $3}' run/wchan.A.out | uniq -c | tr '\n' ' ') | futex waits (100 ms samples): $(grep -c futex run/wchan.A.out)"
echo "== B: application blocks its workers for 10 s"
OPS=1 ./block2.sh 10000 t_padstall.py 300
./stop.sh
