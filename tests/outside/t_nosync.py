"""Does the node report 'a up' before our SYNCED? Frames before SYNCED."""
from peer import *
import subprocess
def tail(): return open("run/v.out").read().splitlines()[-3:]
n0 = len(open("run/v.out").read().splitlines())
p = Peer()
time.sleep(1.0)
print("before SYNCED, new v.out lines:", open("run/v.out").read().splitlines()[n0:])
print("lookup before SYNCED:", p.lookup("echo"))
# frames before SYNCED: MONITOR, NAME_ADD, GROUP_JOIN, SEND_NAMED
r = p.lookup("echo"); mb = r["mbox"]
p.send(f_monitor(1, 77, mb, p.peer_inc))
p.send(f_name_add("pre-sync-name", 1234, "u64"))
p.send(f_gjoin("pre-sync-group", 1234, "u64"))
time.sleep(0.5)
print("alive:", p.alive(), p.drain(0.3))
p.send(f_synced())
time.sleep(0.5)
print("after SYNCED, new lines:", open("run/v.out").read().splitlines()[n0:])
# repeated SYNCED x1000
for i in range(1000): p.send(f_synced())
time.sleep(0.5)
print("after 1000 SYNCED alive:", p.alive(), open("run/v.out").read().splitlines()[n0:])
p.close()
