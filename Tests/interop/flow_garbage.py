#!/usr/bin/env python3
"""Sends malformed and invalid flow-control requests to a transmitter and forged/malformed audio datagrams to a
receiver's media port. Usage: flow_garbage.py TX_IP FLOW_PORT RX_IP RX_MEDIA_PORT"""
import random, socket, struct, sys

tx_ip, fport, rx_ip, mport = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(0.3)
rng = random.Random(7)

def request(channels, fpp, rate=48000, bits=24, n=None):
    """A 0x0100 flow request laid out as dante-protocol.md §7.1 (receiver 10.99.0.99:40000)."""
    n = len(channels) if n is None else n
    name, flow = b"evil", b"0_1"
    strings = 48 + 2 * len(channels)
    flow_at = strings + len(name) + 1
    addr_at = (flow_at + len(flow) + 1 + 7) // 8 * 8
    body = struct.pack(">HIIHHH", strings, rate, bits, 1, n, addr_at)
    body += b"".join(struct.pack(">H", c) for c in channels)
    body += struct.pack(">HHHHH", 0x1C + 2 * len(channels), 0x0A00, 2, fpp, flow_at) + b"\0" * 12
    body += name + b"\0" + flow + b"\0"
    body += b"\0" * (addr_at - 10 - len(body))
    body += struct.pack(">HH4s", 0x0802, 40000, socket.inet_aton("10.99.0.99"))
    return struct.pack(">HHHHH", 0x1102, 10 + len(body), rng.randrange(65536), 0x0100, 0) + body

answers = {}
cases = {
    "huge fpp": request([1, 2], 5000),
    "packet too large": request([1, 2, 3, 4, 5, 6, 7, 8], 256, bits=32),
    "channel id out of range": request([1, 99], 32),
    "wrong rate": request([1], 32, rate=22050),
    "bad depth": request([1], 32, bits=20),
    "no channels": request([], 32),
    "count beyond packet": request([1], 32, n=600),
}
for name, pkt in cases.items():
    s.sendto(pkt, (tx_ip, fport))
    try:
        data, _ = s.recvfrom(2048)
        answers[name] = hex(struct.unpack(">H", data[8:10])[0])
    except socket.timeout:
        answers[name] = None
# Random junk and truncations.
for i in range(300):
    pkt = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 120)))
    s.sendto(pkt, (tx_ip, fport))
for i in range(200):
    good = request([1, 2], 32)
    s.sendto(good[:rng.randrange(0, len(good))], (tx_ip, fport))
# Audio: forged (valid size, foreign source) and malformed sizes to the receiver's media port.
for i in range(500):
    size = rng.choice([0, 1, 8, 9, 10, 9 + 8 * 4 * 32, 9 + 8 * 4 * 32 + 1, 1400])
    s.sendto(bytes(rng.randrange(256) for _ in range(size)), (rx_ip, mport))
print(answers)
refused = [k for k, v in answers.items() if v not in (None, "0x1")]
print("refused with an error status:", refused)
