#!/bin/bash
# ss.sh CERT KEY SECONDS [extra s_server args]: openssl s_server on 7199 standing in for member c
C=$1; K=$2; T=$3; shift 3
( sleep $T ) | timeout $((T+1)) openssl s_server -accept 127.0.0.1:7199 -cert $C -key $K -CAfile pki/ca.pem -Verify 2 -verify_return_error -msg -naccept 1 "$@" 2>&1
