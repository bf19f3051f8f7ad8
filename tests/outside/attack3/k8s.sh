#!/bin/bash
# k8s.sh init|swap CRLFILE : a Kubernetes-style secret volume in live/k8s (..data symlink to a timestamped dir,
# each file a symlink through ..data); swap = new dir with CRLFILE as crl.pem, atomic rename of ..data, old dir removed.
cd "$(dirname "$0")"; D=live/k8s
newdir() { n=..$(date +%s%N); mkdir $D/$n; cp certs.orig/ca.pem certs.orig/v.pem certs.orig/v.key $D/$n/; cp $1 $D/$n/crl.pem; echo $n; }
case $1 in
init) rm -rf $D; mkdir -p $D; n=$(newdir ${2:-crl0.pem}); ln -s $n $D/..data; for f in ca.pem v.pem v.key crl.pem; do ln -s ..data/$f $D/$f; done;;
swap) old=$(readlink $D/..data); n=$(newdir $2); ln -s $n $D/..data_tmp; mv -T $D/..data_tmp $D/..data; rm -rf $D/$old;;
esac
