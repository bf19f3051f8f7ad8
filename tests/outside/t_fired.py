"""v runs --send-echo a. We monitor v's call-reply mailbox R at the cap, end the call, then add one monitor: the fired one must no longer count."""
from peer import *
def blast(p, frames, chunk=4096):
    for i in range(0, len(frames), chunk):
        p.send(b"".join(frames[i:i+chunk]))
def varint(b, i):
    x = b[i]
    if x < 251: return x, i + 1
    n = {251: 2, 252: 4, 253: 8, 254: 16}[x]; return int.from_bytes(b[i+1:i+1+n], "little"), i + 1 + n
p = Peer(); p.wait_synced(); p.send(f_synced())
mb = p.lookup("echo")["mbox"]; inc = p.peer_inc
looks = [struct.unpack('>Q', pp[:8])[0] for k, pp in p.skipped if k == K_LOOKUP]; t = time.monotonic()
while time.monotonic() - t < 5 and not looks:
    k, pp = p.q.get(timeout=5)
    if k == K_LOOKUP: looks.append(struct.unpack(">Q", pp[:8])[0])
MB = 0x42
p.send(f_lookup_reply(looks[0], 0, MB, "reign.echo.Request"))
req = None; callmon = None
t = time.monotonic()
while time.monotonic() - t < 3 and (req is None or callmon is None):
    k, pp = p.q.get(timeout=3)
    if k == K_SEND: req = pp
    if k == K_MONITOR: callmon = struct.unpack(">QQQQ", pp)
tl = req[16]; payload = req[17 + tl:]
n, i = varint(payload, 0); text = payload[i:i+n]; i += n
n, i = varint(payload, i); node = payload[i:i+n]; i += n
rinc, i = varint(payload, i); R, i = varint(payload, i)
print("call reply address:", node, hex(rinc), R, "text", text)
blast(p, [f_monitor(j, 1000+j, mb, inc) for j in range(1, 65536)])
p.send(f_monitor(99999, 7, R, rinc)); print("65,535 on echo + 1 on R: alive", p.alive(5))
# answer the call: EchoReply { text } to R
rep = bytes([len(text)]) + text
p.send(frame(K_SEND, struct.pack(">QQ", R, rinc) + t8("reign.echo.Reply") + rep))
d = p.expect([K_DOWN], timeout=3)
print("DOWN for our monitor of R:", d)
time.sleep(0.3)
p.send(f_monitor(10**9, 7, mb, inc)); time.sleep(0.5)
print("one new monitor after R fired -> closed?", p.closed_at is not None, "(docs: fired ones no longer count, so it must fit)")
p.send(f_monitor(10**9 + 1, 7, mb, inc)); time.sleep(0.5)
print("and one past the cap -> closed?", p.closed_at is not None)
print(open("run/v.out").read()[-300:])
p.close()
