#!/bin/bash
# t1_badfiles.sh: for each bad file, v's live dir gets the bad file AND a CRL revoking w (so a partial
# apply would end w's link); SIGHUP; print v's line and whether w stays up; then restore and SIGHUP.
cd "$(dirname "$0")"; ./reset.sh; ./start.sh v c w; sleep 2
L=live/v; V=$(cat run/v.pid)
good() { ./reset.sh >/dev/null; kill -HUP $V; sleep 0.4; }
case_() { # name, then a command that breaks files
  name=$1; shift
  cp certsRw/crl.pem $L/crl.pem
  eval "$@"
  before=$(wc -l < run/v.out)
  kill -HUP $V; sleep 0.5
  echo "### $name"; tail -n +$((before+1)) run/v.out | sed 's/^/   /'
  good; tail -1 run/v.out | sed 's/^/   after restore: /'
}
case_ garbage_ca      'echo "hello world" > $L/ca.pem'
case_ trunc_ca        'head -c 300 certs.orig/ca.pem > $L/ca.pem'
case_ trunc_cert      'head -c 300 certs.orig/v.pem > $L/v.pem'
case_ wrong_key       'cp certs.orig/c.key $L/v.key'
case_ garbage_key     'echo garbage > $L/v.key'
case_ empty_key       ': > $L/v.key'
case_ empty_cert      ': > $L/v.pem'
case_ empty_ca        ': > $L/ca.pem'
case_ other_ca        'cp certsX/ca.pem $L/ca.pem'
case_ missing_ca      'rm $L/ca.pem'
case_ cn_mismatch     'cp certs.orig/c.pem $L/v.pem; cp certs.orig/c.key $L/v.key'
case_ leaf_as_ca      'cp certs.orig/a.pem $L/ca.pem'
case_ foreign_cert    'cp certsX/v.pem $L/v.pem; cp certsX/v.key $L/v.key'
case_ foreign_crl     'cp certsX/crl.pem $L/crl.pem'
case_ garbage_crl     'echo garbage > $L/crl.pem'
case_ trunc_crl       'head -c 200 certsRw/crl.pem > $L/crl.pem'
case_ key_is_dir      'rm $L/v.key; mkdir $L/v.key'
case_ empty_crl       ': > $L/crl.pem'
case_ cert_in_crlfile 'cp certs.orig/a.pem $L/crl.pem'
echo "### final v.out tail"; tail -3 run/v.out; echo "### w.out"; cat run/w.out
