# acceptlog.py PORT SECONDS: accept and immediately close connections, print the gaps between them (redial backoff)
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(16); s.settimeout(0.2)
end = time.time() + float(sys.argv[2]); last = None; gaps = []
while time.time() < end:
    try: c, _ = s.accept()
    except socket.timeout: continue
    now = time.time(); c.close()
    if last: gaps.append(int((now - last) * 1000))
    last = now
print("gaps ms:", gaps)
