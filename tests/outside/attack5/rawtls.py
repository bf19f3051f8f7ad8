"""A reign member with its own TLS 1.3 record layer after the handshake.

Python's ssl (memory BIO, keylog) does the TLS handshake; then the traffic secrets from the
keylog are used to encrypt/decrypt records by hand, so that any record can be crafted: record
sizes, padding, zero-length records, KeyUpdate, alerts, bytes after close_notify, ...
"""
import os, socket, ssl, struct, threading, time, queue, tempfile
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
from cryptography.hazmat.primitives import hashes, hmac

# A kit in another folder (attack9/) sets REIGN_KIT_DIR to it: certs/ and run/ live there.
HERE = os.environ.get("REIGN_KIT_DIR") or os.path.dirname(os.path.abspath(__file__))
CERTS = os.path.join(HERE, "certs")
RUN = os.path.join(HERE, "run") if os.environ.get("REIGN_KIT_DIR") else "/tmp/atk/run"

CT_ALERT, CT_HS, CT_APP = 21, 22, 23


def frame(kind, payload=b""):
    return struct.pack(">IB", len(payload) + 1, kind) + payload


def hkdf_expand(hashalg, secret, info, length):
    out = b""; t = b""; i = 1
    while len(out) < length:
        h = hmac.HMAC(secret, hashalg()); h.update(t + info + bytes([i])); t = h.finalize()
        out += t; i += 1
    return out[:length]


def expand_label(hashalg, secret, label, context, length):
    lab = b"tls13 " + label
    info = struct.pack(">H", length) + bytes([len(lab)]) + lab + bytes([len(context)]) + context
    return hkdf_expand(hashalg, secret, info, length)


SUITES = {
    "TLS_AES_256_GCM_SHA384": (AESGCM, 32, hashes.SHA384),
    "TLS_AES_128_GCM_SHA256": (AESGCM, 16, hashes.SHA256),
    "TLS_CHACHA20_POLY1305_SHA256": (ChaCha20Poly1305, 32, hashes.SHA256),
}


class Dir:
    def __init__(self, suite, secret):
        self.aead_cls, self.klen, self.h = SUITES[suite]
        self.set(secret)

    def set(self, secret):
        self.secret = secret
        self.aead = self.aead_cls(expand_label(self.h, secret, b"key", b"", self.klen))
        self.iv = expand_label(self.h, secret, b"iv", b"", 12)
        self.seq = 0

    def update(self):
        self.set(expand_label(self.h, self.secret, b"traffic upd", b"", self.h.digest_size))

    def nonce(self):
        n = bytes(a ^ b for a, b in zip(self.iv, self.seq.to_bytes(12, "big")))
        self.seq += 1
        return n

    def seal(self, ctype, data, pad=0):
        inner = data + bytes([ctype]) + b"\0" * pad
        ln = len(inner) + 16
        hdr = bytes([CT_APP, 3, 3]) + struct.pack(">H", ln)
        return hdr + self.aead.encrypt(self.nonce(), inner, hdr)

    def open(self, hdr, body):
        pt = self.aead.decrypt(self.nonce(), body, hdr)
        i = len(pt) - 1
        while i >= 0 and pt[i] == 0:
            i -= 1
        return pt[i], pt[:i]


class Raw:
    """One connection to a node: TLS handshake by Python's ssl, then records by hand."""

    def __init__(self, me="a", host="127.0.0.1", port=int(os.environ.get("REIGN_VICTIM_PORT", "7402")), cluster="demo", hello=True,
                 reader=True, auto_hb=True, hb_every=0.5, verbose=False, inc=None):
        self.me = me
        self.inc = inc if inc is not None else int.from_bytes(os.urandom(8), "big") | 1
        kl = tempfile.NamedTemporaryFile(delete=False, prefix="keylog", dir=RUN)
        kl.close()
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        ctx.check_hostname = False
        ctx.load_verify_locations(os.path.join(CERTS, "ca.pem"))
        ctx.load_cert_chain(os.path.join(CERTS, me + ".pem"), os.path.join(CERTS, me + ".key"))
        ctx.set_alpn_protocols(["reign/1"])
        ctx.keylog_filename = kl.name
        inb, outb = ssl.MemoryBIO(), ssl.MemoryBIO()
        o = ctx.wrap_bio(inb, outb, server_hostname=None)
        s = socket.create_connection((host, port))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.settimeout(5)
        while True:
            try:
                o.do_handshake()
                break
            except ssl.SSLWantReadError:
                d = outb.read()
                if d:
                    s.sendall(d)
                r = s.recv(65536)
                if not r:
                    raise EOFError("eof in handshake")
                inb.write(r)
        d = outb.read()
        if d:
            s.sendall(d)
        self.suite = o.cipher()[0]
        secrets = {}
        for line in open(kl.name):
            parts = line.split()
            if len(parts) == 3:
                secrets[parts[0]] = bytes.fromhex(parts[2])
        os.unlink(kl.name)
        self.tx = Dir(self.suite, secrets["CLIENT_TRAFFIC_SECRET_0"])
        self.rx = Dir(self.suite, secrets["SERVER_TRAFFIC_SECRET_0"])
        self.s = s
        self.rbuf = bytearray(inb.read())
        self.pt = bytearray()  # decrypted application data not yet parsed
        self.wlock = threading.Lock()
        self.q = queue.Queue()
        self.counts = {}
        self.closed_at = None
        self.close_reason = None
        self.verbose = verbose
        self.last_hb = None
        self.max_hb_gap = 0
        self.hb_times = []
        self.key_updates_rx = 0
        self.alerts = []
        self.respond_key_update = True
        s.settimeout(None)
        if hello:
            self.handshake(cluster)
        if reader:
            threading.Thread(target=self._read_loop, daemon=True).start()
        self.stop_hb = threading.Event()
        if auto_hb:
            threading.Thread(target=self._hb_loop, args=(hb_every,), daemon=True).start()

    # ---- records
    def rec(self, data, ctype=CT_APP, pad=0):
        """one sealed record (bytes), not sent"""
        with self.wlock:
            return self.tx.seal(ctype, data, pad)

    def send_raw(self, b):
        self.s.sendall(b)

    def send(self, data, maxrec=16384):
        """application data, in records of at most maxrec bytes"""
        with self.wlock:
            out = b"".join(self.tx.seal(CT_APP, data[i:i + maxrec]) for i in range(0, len(data), maxrec))
            self.s.sendall(out)

    def key_update(self, request=1):
        """send KeyUpdate(request) and switch our sending key"""
        with self.wlock:
            r = self.tx.seal(CT_HS, bytes([24, 0, 0, 1, request]))
            self.tx.update()
            self.s.sendall(r)

    def _recv_record(self):
        while len(self.rbuf) < 5 or len(self.rbuf) < 5 + struct.unpack(">H", self.rbuf[3:5])[0]:
            c = self.s.recv(1 << 20)
            if not c:
                raise EOFError("eof")
            self.rbuf += c
        ln = struct.unpack(">H", self.rbuf[3:5])[0]
        hdr = bytes(self.rbuf[:5]); body = bytes(self.rbuf[5:5 + ln])
        del self.rbuf[:5 + ln]
        return hdr, body

    def _next_plain(self):
        """decrypt records until there is application data; handles KeyUpdate, alerts"""
        while True:
            hdr, body = self._recv_record()
            if hdr[0] != CT_APP:
                raise RuntimeError("plaintext record type %d: %r" % (hdr[0], body[:20]))
            ctype, data = self.rx.open(hdr, body)
            if ctype == CT_APP:
                return data
            if ctype == CT_ALERT:
                self.alerts.append(data)
                raise EOFError("alert %r" % data)
            if ctype == CT_HS:
                i = 0
                while i < len(data):
                    t = data[i]; ln = int.from_bytes(data[i + 1:i + 4], "big")
                    m = data[i + 4:i + 4 + ln]; i += 4 + ln
                    if t == 24:
                        self.key_updates_rx += 1
                        self.rx.update()
                        if m[0] == 1 and self.respond_key_update:
                            self.key_update(0)
                    # 4 NewSessionTicket: ignore

    def recv_exact(self, n):
        while len(self.pt) < n:
            self.pt += self._next_plain()
        b = bytes(self.pt[:n]); del self.pt[:n]
        return b

    def read_frame(self):
        ln = struct.unpack(">I", self.recv_exact(4))[0]
        body = self.recv_exact(ln)
        return body[0], body[1:]

    def handshake(self, cluster):
        c = cluster.encode(); n = self.me.encode()
        hello = struct.pack(">HQ", 1, self.inc) + bytes([len(c)]) + c + bytes([len(n)]) + n
        self.send(frame(1, hello))
        k, p = self.read_frame()
        if k != 1:
            raise RuntimeError("handshake: got kind %d %r" % (k, p))
        self.peer_inc = struct.unpack(">HQ", p[:10])[1]
        self.send(frame(3))

    def _read_loop(self):
        try:
            while True:
                k, p = self.read_frame()
                self.counts[k] = self.counts.get(k, 0) + 1
                if self.verbose:
                    print("<-", hex(k), p[:40].hex(), flush=True)
                if k == 0x30:
                    now = time.monotonic()
                    if self.last_hb is not None:
                        self.max_hb_gap = max(self.max_hb_gap, now - self.last_hb)
                    self.last_hb = now
                    self.hb_times.append(now)
                else:
                    self.q.put((k, p))
        except Exception as e:
            self.closed_at = time.monotonic()
            self.close_reason = repr(e)
            self.q.put((None, repr(e)))

    def _hb_loop(self, every):
        n = 0
        while not self.stop_hb.wait(every):
            try:
                self.send(frame(0x30, struct.pack(">Q", n))); n += 1
            except Exception:
                return

    def expect(self, kinds=None, timeout=2.0):
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return None
            try:
                k, p = self.q.get(timeout=left)
            except queue.Empty:
                return None
            if k is None or kinds is None or k in kinds:
                return (k, p)

    def wait_synced(self, timeout=3.0):
        r = self.expect([0x5f], timeout)
        self.send(frame(0x5f))
        return r

    def lookup(self, name="echo", timeout=2.0):
        req = int.from_bytes(os.urandom(6), "big")
        n = name.encode()
        self.send(frame(0x40, struct.pack(">Q", req) + bytes([len(n)]) + n))
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            r = self.expect([0x41], timeout=end - time.monotonic())
            if r is None or r[0] is None:
                return None
            if struct.unpack(">Q", r[1][:8])[0] == req:
                p = r[1]
                if p[8] != 0:
                    return {"status": p[8]}
                return {"mbox": struct.unpack(">Q", p[9:17])[0]}
        return None

    def close(self):
        self.stop_hb.set()
        try:
            self.s.shutdown(socket.SHUT_RDWR)
        except Exception:
            pass
        try:
            self.s.close()
        except Exception:
            pass


def hb(n=0):
    return frame(0x30, struct.pack(">Q", n))


def pid(n):
    return int(open(os.path.join(RUN, "%s.pid" % n)).read())


def rss_kb(p):
    for line in open("/proc/%d/status" % p):
        if line.startswith("VmRSS"):
            return int(line.split()[1])


def cpu(p):
    f = open("/proc/%d/stat" % p).read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def events(n, start_line=0):
    return open(os.path.join(RUN, "%s.out" % n)).read().splitlines()[start_line:]


def nlines(n):
    return len(events(n))


def wait_block(timeout=30):
    """if WAIT_BLOCK is set: wait until v printed 'blocking' (its workers are blocked)"""
    if not os.environ.get("WAIT_BLOCK"):
        return
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if "blocking" in open(os.path.join(RUN, "v.out")).read():
            print("v is blocking now", flush=True)
            return
        time.sleep(0.05)
