#!/usr/bin/env python3
"""Sends ARC 0x3010 subscribe requests straight to a receiver, back to back (no discovery, unlike netaudio or
`inferno subscribe`), to test re-subscription races. Layout: dante-protocol.md §4.4.12 (one record each).
Usage: arc_subscribe.py HOST ARC_PORT GAP_MS RX:TXCHAN@TXDEV [RX:TXCHAN@TXDEV ...]
Prints the reply status of each request; exit 1 if one is missing or not 1."""
import socket, struct, sys, time

host, port, gap = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]) / 1000
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(1.0)
ok = True
for seq, spec in enumerate(sys.argv[4:], 1):
    rx, target = spec.split(":", 1)
    chan, dev = target.rsplit("@", 1)
    strings_at = 10 + 44                       # netaudio's padding: strings after >= 44 body bytes
    names = chan.encode() + b"\0" + dev.encode() + b"\0"
    body = struct.pack(">BBHHH", 2, 1, int(rx), strings_at, strings_at + len(chan) + 1)
    body += bytes(44 - len(body)) + names
    s.sendto(struct.pack(">HHHHH", 0x27FF, 10 + len(body), seq, 0x3010, 0) + body, (host, port))
    try:
        reply = s.recv(2048)
        status = struct.unpack(">H", reply[8:10])[0]
    except socket.timeout:
        status = None
    print("RX %s <- %s: status %s" % (rx, target, status))
    ok = ok and status == 1
    time.sleep(gap)
sys.exit(0 if ok else 1)
