#!/bin/bash
# t1_devzero.sh: v's crl.pem becomes a symlink to /dev/zero, then SIGHUP: does the reload read without bound?
# RSS sampled each second for 8 s; v killed if RSS passes 1.5 GB.
cd "$(dirname "$0")"; ./reset.sh; ./start.sh v c w; sleep 2
V=$(cat run/v.pid); L=live/v
rm $L/crl.pem; ln -s /dev/zero $L/crl.pem; kill -HUP $V
for i in 1 2 3 4 5 6 7 8; do sleep 1; r=$(awk '/VmRSS/{print $2}' /proc/$V/status); echo "t+$i s: rss $r kB"; [ "$r" -gt 1500000 ] && { kill -9 $V; echo "killed at 1.5 GB"; break; }; done
tail -2 run/v.out
