"""The handshake -> link hand-over: link frames in the same record / TCP segment as ACCEPT must not be lost."""
from rawtls import *
def t8(b): return bytes([len(b)]) + b
for how in ["one_record", "one_segment", "separate"]:
    p = Raw(me="a", hello=False, reader=False, auto_hb=False)
    c = b"demo"; n = b"a"
    p.send(frame(1, struct.pack(">HQ", 1, p.inc) + t8(c) + t8(n)))
    k, b = p.read_frame(); assert k == 1
    link = frame(0x5f) + frame(0x40, struct.pack(">Q", 4242) + t8(b"echo")) + hb(1)
    if how == "one_record":
        p.send(frame(3) + link)
    elif how == "one_segment":
        with p.wlock: p.s.sendall(p.tx.seal(CT_APP, frame(3)) + p.tx.seal(CT_APP, link))
    else:
        p.send(frame(3)); time.sleep(0.2); p.send(link)
    threading.Thread(target=p._read_loop, daemon=True).start()
    threading.Thread(target=p._hb_loop, args=(0.5,), daemon=True).start()
    r = p.expect([0x41], timeout=3)
    print(how, "-> LOOKUP answered:", bool(r and r[0] == 0x41 and struct.unpack(">Q", r[1][:8])[0] == 4242), p.close_reason)
    p.close(); time.sleep(0.3)
