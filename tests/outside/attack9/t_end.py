"""Item 4: a protocol error while heavy traffic flows both ways; the link must end promptly,
v stay healthy, and a reconnect work. usage: t_end.py BAD ROUNDS [noread]
BAD: kind (unknown kind 0x99) | zero (length 0) | huge (length 2^31) | trunc (truncated MONITOR)
     | utf8 (LOOKUP name not UTF-8)"""
import sys
from peer import *
VPID = int(open(os.path.join(HERE, "run", "v.pid")).read())
VOUT = os.path.join(HERE, "run", "v.out")
bad = sys.argv[1]; rounds = int(sys.argv[2]); noread = len(sys.argv) > 3 and sys.argv[3] == "noread"
def varint(n):
    if n < 251: return bytes([n])
    if n < 1 << 16: return b"\xfb" + n.to_bytes(2, "little")
    if n < 1 << 32: return b"\xfc" + n.to_bytes(4, "little")
    return b"\xfd" + n.to_bytes(8, "little")
def bstr(s): s = s.encode(); return varint(len(s)) + s
BAD = {"kind": struct.pack(">IB", 5, 0x99) + b"abcd", "zero": struct.pack(">I", 0),
       "huge": struct.pack(">IB", 1 << 31, 0x10), "trunc": struct.pack(">IB", 4, 0x20) + b"abc",
       "utf8": frame(K_LOOKUP, struct.pack(">Q", 1) + b"\x02\xff\xfe")}[bad]
def vlines(): return open(VOUT).read().splitlines()
res = []
for r in range(rounds):
    t_c = time.monotonic()
    p = Peer(me="a", read=not noread); 
    if not noread: p.wait_synced()
    else:
        # read the sync by hand, then stop reading
        while True:
            k, _ = p.read_frame()
            if k == K_SYNCED: break
    p.send(f_synced()); t_up = time.monotonic() - t_c
    if noread:
        req = 77; p.send(f_lookup(req, "echo"))
        while True:
            k, pl = p.read_frame()
            if k == K_LOOKUP_REPLY: M = struct.unpack(">Q", pl[9:17])[0]; break
    else:
        M = p.lookup("echo")["mbox"]
    inc = p.peer_inc
    req = lambda t: frame(K_SEND, struct.pack(">QQ", M, inc) + t8("reign.echo.Request") + bstr(t) + bstr("a") + varint(p.inc) + varint(5))
    blob = b"".join(req("x" * 300 + str(i)) for i in range(500)) + b"".join(f_lookup(i, "echo") for i in range(2))
    stop = threading.Event(); sent = [0]
    def flood():
        try:
            while not stop.is_set():
                p.send(blob); sent[0] += 1
        except Exception as e:
            pass
    th = threading.Thread(target=flood, daemon=True); th.start()
    time.sleep(1.5)
    n0 = len(vlines()); rx0 = sum(p.counts.values())
    t_bad = time.monotonic()
    with p.wlock:
        p.s.sendall(BAD)          # mid-stream, between whole frames; the flood goes on after it
    t_down = None; t_eof = None
    while time.monotonic() - t_bad < 10:
        if t_down is None:
            new = vlines()[n0:]
            hit = [l for l in new if "a" in l.split() or "\"a\"" in l or " a " in l]
            if hit: t_down = time.monotonic() - t_bad; down_line = hit[0]
        if not noread and t_eof is None and p.closed_at is not None: t_eof = p.closed_at - t_bad
        if t_down is not None and (noread or t_eof is not None): break
        time.sleep(0.005)
    t_eof_nr = None
    if noread and t_down is not None:   # drain what v wrote: does the TCP connection end?
        p.s.settimeout(0.2); end = time.monotonic() + 10; nbytes = 0
        while time.monotonic() < end:
            try:
                c = p.s.recv(1 << 20)
                if not c: t_eof_nr = time.monotonic() - t_bad; break
                nbytes += len(c)
            except socket.timeout: pass
            except Exception as e: t_eof_nr = time.monotonic() - t_bad; break
        print("  noread: drained %d bytes, TCP end after %s ms" % (nbytes, "%.0f" % (t_eof_nr * 1000) if t_eof_nr else "NONE (10 s)"))
    stop.set(); p.close(); th.join(2)
    print("  v fds: %d" % len(os.listdir("/proc/%d/fd" % VPID)))
    rs = int(rss(VPID)[0].split()[0])
    res.append((t_up, t_down, t_eof, rs))
    print("END round %d: up in %.0f ms, flood %d blobs, v event after %s ms (%s), attacker sees close after %s ms, v RSS %d kB" % (
        r, t_up * 1000, sent[0], "%.0f" % (t_down * 1000) if t_down is not None else "NONE",
        down_line if t_down is not None else "", "%.0f" % (t_eof * 1000) if t_eof is not None else ("n/a" if noread else "NONE"), rs), flush=True)
    time.sleep(0.3)
print("ENDSUM %s %s: worst v-event %.0f ms, worst attacker-close %s ms, worst reconnect %.0f ms, RSS first/last %d/%d kB" % (
    bad, "noread" if noread else "read", max(x[1] or 99 for x in res) * 1000,
    "n/a" if noread else "%.0f" % (max(x[2] or 99 for x in res) * 1000), max(x[0] for x in res) * 1000, res[0][3], res[-1][3]))
