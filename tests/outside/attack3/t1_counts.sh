#!/bin/bash
# t1_counts.sh: the counts of the reloaded: line for bundles and CRL files of several shapes.
cd "$(dirname "$0")"; ./reset.sh; ./start.sh v c w; sleep 2
L=live/v; V=$(cat run/v.pid)
hup() { echo "### $1"; n=$(wc -l < run/v.out); kill -HUP $V; sleep 0.6; tail -n +$((n+1)) run/v.out | sed 's/^/   /'; }
cat certs.orig/ca.pem certsX/ca.pem > $L/ca.pem; hup "bundle ours+foreign (expect 2 certificates)"
cat certs.orig/ca.pem certs.orig/ca.pem > $L/ca.pem; hup "bundle ours twice"
cat certs.orig/ca.pem certs.orig/a.pem > $L/ca.pem; hup "bundle ours + a leaf (a.pem)"
cp certs.orig/ca.pem $L/ca.pem
cat certsRw/crl.pem certsX/crl.pem > $L/crl.pem; hup "crl file: ours(1 entry: w) + foreign CA's (0) with foreign CA not in bundle"
cat certs.orig/ca.pem certsX/ca.pem > $L/ca.pem; hup "same, foreign CA in bundle"
cp certs.orig/ca.pem $L/ca.pem; cat crl0.pem certsRw/crl.pem > $L/crl.pem; hup "crl file: two CRLs of our CA (0 entries, #1; 1 entry, #1)"
cp certsRwc/crl.pem $L/crl.pem; hup "crl 2 entries (w, c) -> both links end"
sleep 1.5
echo "### c.out"; cat run/c.out; echo "### w.out"; tail -3 run/w.out
