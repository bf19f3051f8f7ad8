#!/bin/bash
# restore live/<id>/ from certs.orig (+ the empty crl)
cd "$(dirname "$0")"
for n in v c w; do rm -rf live/$n; mkdir -p live/$n; cp certs.orig/ca.pem certs.orig/$n.pem certs.orig/$n.key crl0.pem live/$n/; mv live/$n/crl0.pem live/$n/crl.pem; done
