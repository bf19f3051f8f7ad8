#!/bin/bash
# m.sh [flags...]: one gomember connection as node a (TLS cert certs/a.pem unless -cert given)
cd "$(dirname "$0")"
exec ./gomember/gomember -addr 127.0.0.1:7402 -ca certs/ca.pem -me a -cert ${TLSCERT:-certs/a.pem} -key ${TLSKEY:-certs/a.key} "$@"
