"""Malformed frames: each should close the link (PROTOCOL.md section 5) and nothing else."""
from peer import *
VPID = int(open("run/v.pid").read())
Q = struct.pack(">Q", 1)
cases = {
 "len0": b"\0\0\0\0",
 "len>max (no body)": struct.pack(">I", 8388609) + b"\x30",
 "len=0xffffffff (no body)": b"\xff\xff\xff\xff",
 "unknown kind 0x12": frame(0x12, Q),
 "HELLO kind after link": frame(0x01, b"\0\1" + Q + b"\x04demo\x01a"),
 "ACCEPT after link": frame(0x03),
 "HEARTBEAT trailing": frame(K_HB, Q + b"x"),
 "HEARTBEAT short": frame(K_HB, b"\0\0"),
 "SYNCED with payload": frame(K_SYNCED, b"\0"),
 "GOODBYE trailing": frame(K_GOODBYE, b"\0\0"),
 "GOODBYE empty": frame(K_GOODBYE),
 "LOOKUP name len 0": frame(K_LOOKUP, Q + b"\0"),
 "LOOKUP non-utf8": frame(K_LOOKUP, Q + b"\x02\xff\xfe"),
 "LOOKUP trailing": frame(K_LOOKUP, Q + b"\x01a" + b"z"),
 "LOOKUP_REPLY st1 trailing": frame(K_LOOKUP_REPLY, Q + b"\x01" + b"z"),
 "LOOKUP_REPLY st0 truncated": frame(K_LOOKUP_REPLY, Q + b"\x00" + b"\0\0"),
 "DOWN text16 non-utf8": frame(K_DOWN, Q*4 + b"\x01" + b"\0\x01\xff"),
 "DOWN text16 truncated": frame(K_DOWN, Q*4 + b"\x01" + b"\0\x10ab"),
 "DOWN trailing": frame(K_DOWN, Q*4 + b"\x01" + b"\0\0" + b"z"),
 "MONITOR short": frame(K_MONITOR, Q*3),
 "MONITOR trailing": frame(K_MONITOR, Q*4 + b"z"),
 "DEMONITOR trailing": frame(K_DEMONITOR, Q + b"z"),
 "NAME_ADD tag len 0": frame(K_NAME_ADD, b"\x01n" + Q + b"\0" + Q),
 "NAME_ADD tag non-utf8": frame(K_NAME_ADD, b"\x01n" + Q + b"\x01\xc3" + Q),
 "NAME_ADD trailing": frame(K_NAME_ADD, b"\x01n" + Q + b"\x01t" + Q + b"z"),
 "NAME_REMOVE trailing": frame(K_NAME_REMOVE, b"\x01n" + Q + b"z"),
 "GROUP_JOIN truncated": frame(K_GJOIN, b"\x01g" + Q),
 "GROUP_LEAVE trailing": frame(K_GLEAVE, b"\x01g" + Q + b"z"),
 "DOWN reason 200 (unknown)": f_down(1, 2, 3, 4, 200, "x"),
 "LOOKUP_REPLY status 7": f_lookup_reply(5, 7),
 "HEARTBEAT at 8MiB max (trailing)": frame(K_HB, b"\0" * (8388608 - 1)),
 "DEMONITOR 8MiB-1 trailing": frame(K_DEMONITOR, b"\0" * (8388608 - 1)),
}
for name, data in cases.items():
    p = Peer(); p.wait_synced(); p.send(f_synced()); assert p.alive()
    t = time.monotonic()
    try: p.send(data)
    except Exception as e: pass
    while p.closed_at is None and time.monotonic() - t < 1.5: time.sleep(0.005)
    stay = p.closed_at is None and p.alive(1)
    print("%-36s -> %s  (RSS %s)" % (name, "link STAYS" if stay else "closed after %.3fs" % ((p.closed_at or time.monotonic()) - t), rss(VPID)[0]), flush=True)
    p.close(); time.sleep(0.2)
print(open("run/v.out").read().count("protocol error"), "protocol errors logged")
