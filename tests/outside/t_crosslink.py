"""While v looks up 'echo' on h, flood LOOKUP_REPLY and DOWN for small ids on a's link."""
import subprocess
from peer import *
p = Peer(); p.wait_synced(); p.send(f_synced())
print("a linked; starting h", flush=True)
h = subprocess.Popen([os.environ.get("NODE", "../../target/debug/examples/node"), "--config", "h.toml"], stdout=open("run/h.out", "w"), stderr=open("run/h.err", "w"))
open("run/h.pid", "w").write(str(h.pid))
t0 = time.monotonic()
hinc = None
while time.monotonic() - t0 < 4:
    fr = [f_lookup_reply(i, 0, 0xdead, "reign.echo.Request") for i in range(0, 64)]
    p.send(b"".join(fr))
    time.sleep(0.002)
print("v.out:"); print(open("run/v.out").read())
print("alive", p.alive())
p.close()
