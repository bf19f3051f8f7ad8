# Sourced by this kit's scripts (run a Python script by hand after `source ./env.sh`): the
# shared peer.py (..) and rawtls.py (../attack5) with this folder's certs/ and run/, and the
# victim on 7402.
export REIGN_KIT_DIR="$PWD" REIGN_VICTIM_PORT=7402
export PYTHONPATH="$PWD/..:$PWD/../attack5${PYTHONPATH:+:$PYTHONPATH}"
