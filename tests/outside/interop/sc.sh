#!/bin/bash
# sc.sh CERT KEY [extra s_client args...]  -- connect to node b as a client, send nothing, keep stdin open $WAIT s
# prints s_client -msg transcript (what alerts/close_notify arrive)
C=$1; K=$2; shift 2
( sleep ${WAIT:-5} ) | timeout $(( ${WAIT:-5} + 3 )) openssl s_client -connect ${ADDR:-127.0.0.1:7102} -cert $C -key $K -CAfile ${CA:-pki/ca.pem} -msg -ign_eof "$@" 2>&1
