#!/bin/bash
# Test 3: pace. Valid updates (fresh signature each) at various rates; result = when/how the link ends.
cd "$(dirname "$0")"; F=certs/forge; U="-upcert $F/a_new3.pem -upkey $F/a_new3.key"
p() { local name=$1; shift; echo "== $name"; ./m.sh -q $U "$@" 2>&1 | grep -E 'RESULT|ENDED|update #' | tail -3; }
p burst2   -n 2
p burst3   -n 3
p burst10  -n 10
p every500ms_x8 -n 8 -interval 500ms
p every900ms_x20 -n 20 -interval 900ms
p every1000ms_x${N1:-30} -n ${N1:-30} -interval 1000ms -hold 500ms
p every950ms_x40 -n 40 -interval 950ms
