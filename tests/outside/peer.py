"""Hostile reign peer written from docs/PROTOCOL.md only."""
import os, socket, ssl, struct, threading, time, queue

# A kit in another folder (attack9/) sets REIGN_KIT_DIR to it (certs/ and run/ live there)
# and REIGN_VICTIM_PORT to its victim's port.
HERE = os.environ.get("REIGN_KIT_DIR") or os.path.dirname(os.path.abspath(__file__))
CERTS = os.path.join(HERE, "certs")
VICTIM_PORT = int(os.environ.get("REIGN_VICTIM_PORT", "7302"))

K_SEND, K_SEND_NAMED = 0x10, 0x11
K_MONITOR, K_DEMONITOR, K_DOWN = 0x20, 0x21, 0x22
K_HB, K_GOODBYE = 0x30, 0x31
K_LOOKUP, K_LOOKUP_REPLY = 0x40, 0x41
K_NAME_ADD, K_NAME_REMOVE = 0x50, 0x51
K_GJOIN, K_GLEAVE = 0x58, 0x59
K_SYNCED = 0x5F
NAMES = {v: k for k, v in dict(SEND=0x10, SEND_NAMED=0x11, MONITOR=0x20, DEMONITOR=0x21,
         DOWN=0x22, HEARTBEAT=0x30, GOODBYE=0x31, LOOKUP=0x40, LOOKUP_REPLY=0x41,
         NAME_ADD=0x50, NAME_REMOVE=0x51, GROUP_JOIN=0x58, GROUP_LEAVE=0x59,
         SYNCED=0x5F, HELLO=1, REFUSE=2, ACCEPT=3).items()}


def t8(s):
    b = s.encode() if isinstance(s, str) else s
    assert 1 <= len(b) <= 255
    return bytes([len(b)]) + b


def t16(s):
    b = s.encode() if isinstance(s, str) else s
    return struct.pack(">H", len(b)) + b


def frame(kind, payload=b""):
    return struct.pack(">IB", len(payload) + 1, kind) + payload


def f_monitor(mon, watcher, target, inc):
    return frame(K_MONITOR, struct.pack(">QQQQ", mon, watcher, target, inc))


def f_demonitor(mon):
    return frame(K_DEMONITOR, struct.pack(">Q", mon))


def f_down(mon, watcher, target, inc, reason=0, text=""):
    return frame(K_DOWN, struct.pack(">QQQQB", mon, watcher, target, inc, reason) + t16(text))


def f_hb(n=0):
    return frame(K_HB, struct.pack(">Q", n))


def f_goodbye(r=0):
    return frame(K_GOODBYE, bytes([r]))


def f_lookup(req, name):
    return frame(K_LOOKUP, struct.pack(">Q", req) + t8(name))


def f_lookup_reply(req, status=0, mbox=1, tag="u64"):
    p = struct.pack(">QB", req, status)
    if status == 0:
        p += struct.pack(">Q", mbox) + t8(tag)
    return frame(K_LOOKUP_REPLY, p)


def f_name_add(name, mbox, tag="u64", at=0):
    return frame(K_NAME_ADD, t8(name) + struct.pack(">Q", mbox) + t8(tag) + struct.pack(">Q", at))


def f_name_remove(name, mbox=0):
    return frame(K_NAME_REMOVE, t8(name) + struct.pack(">Q", mbox))


def f_gjoin(g, mbox, tag="u64"):
    return frame(K_GJOIN, t8(g) + struct.pack(">Q", mbox) + t8(tag))


def f_gleave(g, mbox):
    return frame(K_GLEAVE, t8(g) + struct.pack(">Q", mbox))


def f_synced():
    return frame(K_SYNCED)


def parse(kind, p):
    try:
        if kind == K_LOOKUP_REPLY:
            req, st = struct.unpack(">QB", p[:9])
            if st == 0:
                mb = struct.unpack(">Q", p[9:17])[0]
                tag = p[18:18 + p[17]].decode()
                return dict(req=req, status=st, mbox=mb, tag=tag)
            return dict(req=req, status=st)
        if kind == K_DOWN:
            m, w, t, i, r = struct.unpack(">QQQQB", p[:33])
            return dict(mon=m, watcher=w, target=t, inc=i, reason=r, text=p[35:].decode(errors="replace"))
        if kind == K_NAME_ADD or kind == K_GJOIN:
            n = p[0]
            name = p[1:1 + n].decode()
            mb = struct.unpack(">Q", p[1 + n:9 + n])[0]
            tl = p[9 + n]
            return dict(name=name, mbox=mb, tag=p[10 + n:10 + n + tl].decode())
        if kind == K_HB:
            return dict(nonce=struct.unpack(">Q", p)[0])
        if kind == K_GOODBYE:
            return dict(reason=p[0])
    except Exception as e:
        return dict(raw=p.hex(), err=str(e))
    return dict(raw=p[:64].hex())


class Peer:
    def __init__(self, me="a", host="127.0.0.1", port=VICTIM_PORT, cluster="demo", inc=None,
                 auto_hb=True, read=True, verbose=False, hello=True):
        self.me = me
        self.inc = inc if inc is not None else int.from_bytes(os.urandom(8), "big") | 1
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        ctx.check_hostname = False
        ctx.load_verify_locations(os.path.join(CERTS, "ca.pem"))
        ctx.load_cert_chain(os.path.join(CERTS, me + ".pem"), os.path.join(CERTS, me + ".key"))
        ctx.set_alpn_protocols(["reign/1"])
        raw = socket.create_connection((host, port))
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.s = ctx.wrap_socket(raw, server_hostname=None)
        self.raw = raw
        self.wlock = threading.Lock()
        self.q = queue.Queue()
        self.closed_at = None
        self.close_reason = None
        self.last_rx = time.monotonic()
        self.verbose = verbose
        self.counts = {}
        self.skipped = []
        if hello:
            self.handshake(cluster)
        if read:
            self.reader = threading.Thread(target=self._read_loop, daemon=True)
            self.reader.start()
        self.auto_hb = auto_hb
        self.stop_hb = threading.Event()
        if auto_hb:
            threading.Thread(target=self._hb_loop, daemon=True).start()

    # --- low level
    def recv_exact(self, n):
        b = bytearray()
        while len(b) < n:
            c = self.s.recv(n - len(b))
            if not c:
                raise EOFError("eof after %d/%d" % (len(b), n))
            b += c
        return bytes(b)

    def read_frame(self):
        ln = struct.unpack(">I", self.recv_exact(4))[0]
        body = self.recv_exact(ln)
        return body[0], body[1:]

    def send(self, data):
        with self.wlock:
            self.s.sendall(data)

    def handshake(self, cluster):
        c = cluster.encode(); n = self.me.encode()
        hello = struct.pack(">HQ", 1, self.inc) + bytes([len(c)]) + c + bytes([len(n)]) + n
        self.send(frame(1, hello))
        k, p = self.read_frame()
        if k != 1:
            raise RuntimeError("handshake: got kind %d %r" % (k, p))
        ver, inc = struct.unpack(">HQ", p[:10])
        cl = p[10]; self.peer_cluster = p[11:11 + cl].decode()
        nl = p[11 + cl]; self.peer_id = p[12 + cl:12 + cl + nl].decode()
        self.peer_inc = inc
        self.send(frame(3))

    def _read_loop(self):
        try:
            while True:
                k, p = self.read_frame()
                self.last_rx = time.monotonic()
                self.counts[k] = self.counts.get(k, 0) + 1
                if self.verbose:
                    print("<-", NAMES.get(k, hex(k)), parse(k, p), flush=True)
                if k != K_HB:
                    self.q.put((k, p))
                else:
                    now = time.monotonic()
                    if getattr(self, "last_hb", None) is not None:
                        self.max_hb_gap = max(getattr(self, "max_hb_gap", 0), now - self.last_hb)
                    self.last_hb = now
        except Exception as e:
            self.closed_at = time.monotonic()
            self.close_reason = repr(e)
            self.q.put((None, repr(e)))

    def _hb_loop(self):
        n = 0
        while not self.stop_hb.wait(0.5):
            try:
                self.send(f_hb(n)); n += 1
            except Exception:
                return

    def expect(self, kinds=None, timeout=2.0):
        """next non-heartbeat frame of one of kinds (or any), None on timeout"""
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return None
            try:
                k, p = self.q.get(timeout=left)
            except queue.Empty:
                return None
            if k is None:
                return (None, p)
            if kinds is None or k in kinds:
                return (k, parse(k, p))
            self.skipped.append((k, p))

    def drain(self, timeout=0.5):
        out = []
        while True:
            r = self.expect(timeout=timeout)
            if r is None:
                return out
            out.append(r)
            if r[0] is None:
                return out

    def rawdrain(self, timeout=0.5):
        out = []
        while True:
            try:
                k, p = self.q.get(timeout=timeout)
            except queue.Empty:
                return out
            out.append((k, p))
            if k is None:
                return out

    def wait_synced(self, timeout=3.0):
        got = []
        while True:
            r = self.expect(timeout=timeout)
            if r is None or r[0] is None:
                return got, r
            got.append(r)
            if r[0] == K_SYNCED:
                return got, r

    def alive(self, timeout=2.0):
        """liveness probe: a LOOKUP must be answered"""
        req = int.from_bytes(os.urandom(6), "big")
        try:
            self.send(f_lookup(req, "echo"))
        except Exception as e:
            return False
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            r = self.expect([K_LOOKUP_REPLY], timeout=end - time.monotonic())
            if r is None:
                return False
            if r[0] is None:
                return False
            if r[1].get("req") == req:
                return True
        return False

    def lookup(self, name, timeout=2.0):
        req = int.from_bytes(os.urandom(6), "big")
        self.send(f_lookup(req, name))
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            r = self.expect([K_LOOKUP_REPLY], timeout=end - time.monotonic())
            if r is None or r[0] is None:
                return r
            if r[1].get("req") == req:
                return r[1]

    def close(self):
        """shutdown first so the reader thread leaves before the fd number can be reused"""
        self.stop_hb.set()
        try:
            self.s.shutdown(socket.SHUT_RDWR)
        except Exception:
            pass
        r = getattr(self, "reader", None)
        if r is not None:
            r.join(2)
        try:
            self.s.close()
        except Exception:
            pass


def rss(pid):
    for line in open("/proc/%d/status" % pid):
        if line.startswith("VmRSS") or line.startswith("VmHWM"):
            pass
    d = {}
    for line in open("/proc/%d/status" % pid):
        k, _, v = line.partition(":")
        d[k] = v.strip()
    return d.get("VmRSS"), d.get("VmHWM"), d.get("Threads")


def cpu(pid):
    f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
