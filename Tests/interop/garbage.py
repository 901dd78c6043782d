"""Sends random and mutated datagrams at a device's ARC, CMC, conmon and mDNS ports, then checks it still answers.
Usage: garbage.py DEVICE_IP [COUNT]. Exit 0 when the device answers a name request afterwards. (Mutations can
turn into valid requests, a rename among them, so the name it answers with is printed, not checked.)"""
import random
import socket
import struct
import sys

ip = sys.argv[1]
count = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
rng = random.Random(1234)
seeds = {
    4440: [bytes.fromhex("27ff000a000110020000"), bytes.fromhex("27ff0010000230000000000100010000"),
           bytes.fromhex("27ff004a000030100000020100010034004100") + bytes(34) + b"mic-mix-high\0lx-dante\0",
           bytes.fromhex("27ff001000003014000000010000000100")],
    8800: [bytes.fromhex("1200001429 0b10010000 00003e42274cff240000".replace(" ", ""))],
    8700: [bytes.fromhex("ffff00200fdb0000001dc15279b60000417564696e617465073100c100000000"),
           bytes.fromhex("ffff0028000100005254000000000000417564696e61746507270081000000640000000100017700")],
    5353: [bytes.fromhex("000000000001000000000000") + b"\x0d_netaudio-arc\x04_udp\x05local\x00" + b"\x00\x0c\x00\x01"],
}
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(count):
    port = rng.choice(list(seeds))
    b = bytearray(rng.choice(seeds[port]))
    kind = rng.randrange(4)
    if kind == 0:
        b = bytearray(rng.randbytes(rng.randrange(0, 600)))
    elif kind == 1 and len(b) > 1:
        del b[rng.randrange(len(b)):]
    else:
        for _ in range(rng.randrange(1, 6)):
            if b:
                j = rng.randrange(len(b))
                b[j] = rng.choice([0, 0xff, rng.randrange(256)])
    try:
        s.sendto(bytes(b), (ip, port))
    except OSError:
        pass
# Still alive and answering? The flood may have filled the socket buffer (UDP drops, by design), so ask
# again a few times while the device works through the backlog.
import time
s.settimeout(1)
data = b""
for attempt in range(10):
    s.sendto(bytes.fromhex("27ff000a4242100200 00".replace(" ", "")), (ip, 4440))
    try:
        while True:
            data, _ = s.recvfrom(2000)
            if data[4:6] == b"\x42\x42":
                break
        break
    except socket.timeout:
        time.sleep(0.5)
got = data[10:-1].decode(errors="replace")
print(f"after {count} malformed datagrams the device answers its name request: {got!r}")
sys.exit(0 if data[8:10] == b"\x00\x01" else 1)
