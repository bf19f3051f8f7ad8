from peer import *
p = Peer(verbose=True)
print("peer", p.peer_id, hex(p.peer_inc))
print(p.wait_synced())
p.send(f_synced())
print(p.lookup("echo"))
time.sleep(1.5)
print(p.counts)
