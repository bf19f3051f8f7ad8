#!/bin/bash
# Reproduce every measurement of NOTES.md (about 6 minutes). Needs the release build and certs/.
cd "$(dirname "$0")"
source ./env.sh
./start.sh
for m in random lowbits seq highbits same_low same_low_h2 one_bit alt_real same_real; do
  PROBE_DUR=10 ./run.sh t_hash.py $m 8 | grep -E "HASH|PROBE|alive:"; done
timeout 60 python3 t_cache.py 60
./start.sh --send-echo a --text probe --wait 60 >/dev/null; PROBE_DUR=30 ./run.sh t_reply.py 5 | grep -E "FLOOD|REPLY|PROBE"; ./start.sh >/dev/null
PROBE_DUR=40 ATK_TIMEOUT=90 ./run.sh t_stall.py | grep -E "STALL|total|PROBE"
PROBE_DUR=30 ATK_TIMEOUT=90 ./run.sh t_stall.py pingpong keyupdate writeheavy | grep -E "STALL|total|PROBE"
timeout 200 python3 t_first.py 4 | grep FIRSTSUM
timeout 150 python3 t_half.py 3 | grep "HALF "
PROBE_DUR=16 ./run.sh t_wblock.py 8 | grep -E "WBLOCK|sent|PROBE"
for b in kind zero huge trunc utf8; do PROBE_DUR=14 ./run.sh t_end.py $b 5 | grep -E "ENDSUM|PROBE|alive:"; done
PROBE_DUR=25 ATK_TIMEOUT=80 ./run.sh t_end.py kind 3 noread | grep -E "noread|fds|ENDSUM|PROBE"
./block.sh split tiny race | grep -E "STALL|PROBE"
./start.sh --send-echo h --block-workers-after 4000 --block-for 20000 >/dev/null; timeout 45 python3 probe9.py 28 > run/probe_block.out & sleep 0.5; timeout 40 python3 t_blockrtt.py 25 | grep BLOCKSUM; wait; grep PROBE run/probe_block.out
./stop.sh
