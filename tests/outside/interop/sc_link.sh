#!/bin/bash
# sc_link.sh HEX_AFTER: openssl s_client as node a: HELLO + ACCEPT, then after 1 s the given bytes; shows what b sends back at the end
( printf '\x00\x00\x00\x12\x01\x00\x01\x01\x02\x03\x04\x05\x06\x07\x08\x04demo\x01a'; sleep 0.3; printf '\x00\x00\x00\x01\x03'; sleep 1; printf "$(echo -n $1 | sed 's/../\\x&/g')"; sleep ${WAIT:-3} ) | timeout $(( ${WAIT:-3} + 3 )) openssl s_client -connect 127.0.0.1:7102 -cert pki/a.pem -key pki/a.key -CAfile pki/ca.pem -alpn reign/1 -msg -ign_eof 2>&1 | grep -a -E 'Alert|closed|DONE|errno|error'
