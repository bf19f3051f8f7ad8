"""Item 3, ends of the stream: EOF or close_notify arriving in the same read as data.
Each variant: one connection; send a LOOKUP and then the end (close_notify, TCP FIN, or both),
in one TCP segment (TCP_CORK) or just after; measure whether the LOOKUP is answered and how
long until v reports the link down (doc: close_notify ends the link at once; silence limit 3 s).
usage: t_half.py ROUNDS"""
import sys
from rawtls import *
VOUT = os.path.join(HERE, "run", "v.out")
rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
def lk(req): return frame(0x40, struct.pack(">Q", req) + b"\x04echo")
def vl(): return open(VOUT).read().splitlines()
CLOSE = (b"\x01\x00", CT_ALERT)
res = {}
for r in range(rounds):
    for var in ("cn_same_seg", "cn_after", "fin_same_seg", "fin_after", "cn_fin_same_seg", "partial_rec_fin",
                "partial_frame_cn", "cn_keep_open_then_data", "cn_after20", "fin_after20"):
        p = Raw(me="a", auto_hb=False); p.wait_synced(); s = p.s
        n0 = len(vl()); q = 4242 + r
        look = p.rec(lk(q)); cn = p.rec(*CLOSE)
        cork = "same_seg" in var
        if cork: s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 0); s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
        t0 = time.monotonic()
        if var.startswith("cn_fin"): s.sendall(look + cn); s.shutdown(socket.SHUT_WR)
        elif var.startswith("cn_keep"):
            s.sendall(look + cn); extra = p.rec(lk(q + 1))
            def later(s=s, extra=extra):
                time.sleep(0.5)
                try: s.sendall(extra)
                except Exception: pass
            threading.Thread(target=later, daemon=True).start()
        elif var.endswith("after20"):
            s.sendall(look); time.sleep(0.02)
            if var.startswith("cn"): s.sendall(cn)
            else: s.shutdown(socket.SHUT_WR)
        elif var.startswith("cn") and not var.endswith("after20"):
            s.sendall(look) if not cork else None
            if not cork: time.sleep(0.002)
            s.sendall(cn if not cork else look + cn)
        elif var.startswith("fin") and not var.endswith("after20"):
            s.sendall(look)
            if not cork: time.sleep(0.002)
            s.shutdown(socket.SHUT_WR)
        elif var == "partial_rec_fin":
            nxt = p.rec(hb(1)); s.sendall(look + nxt[:9]); s.shutdown(socket.SHUT_WR)
        elif var == "partial_frame_cn":
            half = p.rec(hb(1)[:6]); s.sendall(look + half + p.rec(*CLOSE))
        if cork: s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 0)
        ans = None; down = None; eof = None; t1 = time.monotonic()   # after the last send (cn_keep: +500 ms thread)
        while time.monotonic() - t0 < 6:
            if ans is None:
                try:
                    k, pl = p.q.get(timeout=0.005)
                    if k == 0x41: ans = time.monotonic() - t0
                    elif k is None and eof is None: eof = time.monotonic() - t0
                except queue.Empty: pass
            else: time.sleep(0.005)
            if eof is None and p.closed_at: eof = p.closed_at - t0
            if down is None:
                hit = [l for l in vl()[n0:] if " a down" in l]
                if hit: down = (time.monotonic() - t0, hit[0])
            if down and (eof or ans is not None and p.closed_at):
                while ans is None:
                    try: k, pl = p.q.get(timeout=0.05)
                    except queue.Empty: break
                    if k == 0x41: ans = -1
                break
        f = lambda x: ("%.0f ms" % ((x - (t1 - t0)) * 1000) if x >= 0 else "yes") if x is not None else "NONE"
        print("HALF %-22s lookup answered %-8s v down after %-8s (%s), our EOF %s" % (var, f(ans), f(down[0] if down else None), down[1] if down else "", f(eof)), flush=True)
        res.setdefault(var, []).append(down[0] if down else 99)
        p.close(); time.sleep(0.2)
for k, v in res.items(): print("HALFSUM %-22s worst v-down %.0f ms" % (k, max(v) * 1000))
