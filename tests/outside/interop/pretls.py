# pretls.py MODE: time how node b (127.0.0.1:7102) ends a connection before TLS completes
#  idle: send nothing; partial: first 10 bytes of a ClientHello; full: a whole ClientHello, then nothing; garbage: HTTP request
import socket, sys, time, subprocess
mode = sys.argv[1]
s = socket.create_connection(("127.0.0.1", 7102)); t0 = time.time()
if mode != "idle":
    import hello_probe_lib as h
    ch = h.ch(["X25519MLKEM768", "x25519"], ["x25519"], ["reign/1"], [0x0304]) if mode in ("partial", "full") else b"GET / HTTP/1.0\r\n\r\n"
    s.sendall(ch[:10] if mode == "partial" else ch)
s.settimeout(10); got = b""
try:
    while True:
        d = s.recv(65536)
        if not d: break
        got += d
    end = "FIN (orderly close)"
except ConnectionResetError: end = "RST"
except socket.timeout: end = "still open at 10 s"
print(f"{mode}: {end} after {time.time()-t0:.3f}s, received {len(got)} bytes; first bytes {got[:7].hex()} ; tail {got[-7:].hex()}")
