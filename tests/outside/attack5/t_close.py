"""Ends of a link. modes:
 cn_more: close_notify, then more records (HB) and keep the TCP open, reading
 cn_open: close_notify, TCP left open and nothing else sent (do we get v's close? does v spin?)
 halfclose: TCP shutdown(SHUT_WR) without close_notify, keep reading
 halfclose_midframe: half of a frame, then shutdown(SHUT_WR)
 rst_midframe: half of a frame, then RST (SO_LINGER 0)
 alert_mid: fatal alert (internal_error) in the middle of a frame
 usercanceled: 1000 warning user_canceled alerts, each followed by a HB
 garbage: a HB frame followed by an unknown frame kind
 plainalert: an unencrypted alert record after the handshake
 badrec: a record of an unknown outer type (0x42)"""
import sys
from rawtls import *
mode = sys.argv[1]
V = pid("v")
p = Raw(me="a", auto_hb=False); p.wait_synced()
l0 = nlines("v"); c0 = cpu(V); t0 = time.monotonic()
half = hb(5)[:6]
if mode == "cn_more":
    p.s.sendall(p.rec(b"\x01\x00", CT_ALERT) + b"".join(p.rec(hb(i)) for i in range(100)))
elif mode == "cn_open":
    p.s.sendall(p.rec(b"\x01\x00", CT_ALERT))
elif mode == "halfclose":
    p.s.shutdown(socket.SHUT_WR)
elif mode == "halfclose_midframe":
    p.s.sendall(p.rec(half)); p.s.shutdown(socket.SHUT_WR)
elif mode == "rst_midframe":
    p.s.sendall(p.rec(half)); time.sleep(0.2)
    p.s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)); p.s.close()
elif mode == "alert_mid":
    p.s.sendall(p.rec(half) + p.rec(b"\x02\x50", CT_ALERT))
elif mode == "usercanceled":
    try:
        for i in range(1000):
            p.s.sendall(p.rec(b"\x01\x5a", CT_ALERT) + p.rec(hb(i)))
    except Exception as e:
        print("send:", repr(e))
elif mode == "garbage":
    p.s.sendall(p.rec(hb(1) + frame(0x99, b"zzzz")))
elif mode == "plainalert":
    p.s.sendall(bytes([21, 3, 3, 0, 2, 2, 80]))
elif mode == "badrec":
    p.s.sendall(bytes([0x42, 3, 3, 0, 5]) + b"hello")
# watch for 5 s: when does v close toward us, and what does v say; v's CPU meanwhile
time.sleep(5)
closed = ("%.2fs" % (p.closed_at - t0)) if p.closed_at else "NO"
print("%s: v closed our side after %s (%s); alerts from v %r; v cpu in 5 s: %.2fs; v says: %s" % (
    mode, closed, p.close_reason, p.alerts, cpu(V) - c0, [l for l in events("v", l0) if "event: a" in l]))
p.close()
