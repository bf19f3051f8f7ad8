# proxy.py LISTEN_PORT TARGET_PORT: TCP proxy that prints the plaintext TLS handshake (ClientHello/ServerHello/alerts in clear)
import socket, sys, threading, time, tlsparse
LP, TP = int(sys.argv[1]), int(sys.argv[2])
def pump(src, dst, tag, n):
    buf = b""; plain = True
    while True:
        try: d = src.recv(65536)
        except OSError: d = b""
        if not d:
            print(f"[{n}] {tag} EOF", flush=True)
            try: dst.shutdown(socket.SHUT_WR)
            except OSError: pass
            return
        dst.sendall(d)
        if plain:
            buf += d
            recs, buf = tlsparse.records(buf)
            for ct, p in recs:
                if ct == 22:
                    for name, info in tlsparse.describe_handshake(p): print(f"[{n}] {tag} {name} {info}", flush=True)
                elif ct == 21: print(f"[{n}] {tag} plaintext alert {p.hex()}", flush=True)
                elif ct == 23: plain = False
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", LP)); s.listen(16)
n = 0
while True:
    c, _ = s.accept(); n += 1
    u = socket.create_connection(("127.0.0.1", TP))
    print(f"[{n}] {time.strftime('%X')} connection", flush=True)
    threading.Thread(target=pump, args=(c, u, "C->S", n), daemon=True).start()
    threading.Thread(target=pump, args=(u, c, "S->C", n), daemon=True).start()
