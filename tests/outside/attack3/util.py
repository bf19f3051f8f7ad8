"""Helpers on top of peer.py (the outside kit): echo requests, a streaming honest member."""
import sys, struct, time, threading, os
from peer import *

def varint(n):
    if n < 251: return bytes([n])
    if n < 1 << 16: return b"\xfb" + struct.pack("<H", n)
    if n < 1 << 32: return b"\xfc" + struct.pack("<I", n)
    return b"\xfd" + struct.pack("<Q", n)

def bstr(s):
    b = s.encode(); return varint(len(b)) + b

def f_echo(text, me, inc, mbox=5):
    payload = bstr(text) + bstr(me) + varint(inc) + varint(mbox)
    return frame(K_SEND_NAMED, t8("echo") + t8("reign.echo.Request") + payload)

def parse_reply(p):
    # SEND: mbox u64, inc u64, tag text8, payload
    mbox, inc = struct.unpack(">QQ", p[:16]); tl = p[16]; tag = p[17:17 + tl]; pl = p[17 + tl:]
    # payload: varint len + text
    n = pl[0]; off = 1
    if n == 251: n = struct.unpack("<H", pl[1:3])[0]; off = 3
    return mbox, inc, tag.decode(), pl[off:off + n].decode()
