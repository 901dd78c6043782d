#!/usr/bin/env python3
"""Checks a received AoDNS tone (stdlib only). Prints one JSON object.

  aodns_check.py sequence < dig-output          the sequence record: basE91 → zlib → contiguous pack numbers
  aodns_check.py pack --count N < dig-output    a seq_N RRset: N strings DDD'''<basE91>, indices 0…N-1, 60 ms Opus
  aodns_check.py tcp HOST PORT ZONE             pipelined and byte-split TCP queries
  aodns_check.py malformed HOST PORT ZONE       malformed UDP queries: FORMERR or nothing, then a good answer
  aodns_check.py flood HOST PORT ZONE --count N N queries as fast as one socket sends them
  aodns_check.py tone FILE.wav [--skip S] [--expect HZ] [--onset] [--min-snr DB]
      frequency (zero crossings, interpolated, over the whole file after S seconds), SNR in dB per 1 s segment
      (least-squares sine at that frequency, amplitude and phase free per segment: residual = noise + distortion),
      gaps (10 ms blocks more than 6 dB below the median level), level in dBFS.
"""
import argparse, json, math, struct, sys


def read_wav(path):
    raw = open(path, "rb").read()
    if raw[:4] != b"RIFF" or raw[8:12] != b"WAVE":
        raise SystemExit("not a WAV file")
    i, ch, rate, bits, data = 12, 1, 0, 16, b""
    while i + 8 <= len(raw):
        tag, size = raw[i:i + 4], struct.unpack("<I", raw[i + 4:i + 8])[0]
        if tag == b"fmt ":
            _, ch, rate, _, _, bits = struct.unpack("<HHIIHH", raw[i + 8:i + 24])
        if tag == b"data":
            data = raw[i + 8:i + 8 + size]
            break
        i += 8 + size + (size & 1)
    width = bits // 8
    n = len(data) // (width * ch)
    if bits == 16:
        s = struct.unpack("<%dh" % (n * ch), data[:n * ch * 2]); scale = 32768.0
    elif bits == 32:
        s = struct.unpack("<%di" % (n * ch), data[:n * ch * 4]); scale = 2147483648.0
    else:
        s = [int.from_bytes(data[k * 3:k * 3 + 3], "little", signed=True) for k in range(n * ch)]; scale = 8388608.0
    return [s[k * ch] / scale for k in range(n)], rate


def fit(x, f, rate, start):
    ss = sc = cc = ys = yc = 0.0
    w = 2 * math.pi * f / rate
    for i, y in enumerate(x):
        p = w * (start + i)
        s, c = math.sin(p), math.cos(p)
        ss += s * s; cc += c * c; sc += s * c; ys += y * s; yc += y * c
    det = ss * cc - sc * sc
    a, b = (ys * cc - yc * sc) / det, (yc * ss - ys * sc) / det
    ps = pn = 0.0
    for i, y in enumerate(x):
        p = w * (start + i)
        v = a * math.sin(p) + b * math.cos(p)
        ps += v * v; pn += (y - v) * (y - v)
    return 10 * math.log10(ps / max(pn, 1e-20))


def cmd_tone(a):
    x, rate = read_wav(a.file)
    onset = 0
    if a.onset:
        # Skip leading silence (a recording that started before the audio was patched).
        blk = rate // 100
        while onset + blk <= len(x) and math.sqrt(sum(v * v for v in x[onset:onset + blk]) / blk) < 0.01:
            onset += blk
    skip = onset + int(a.skip * rate)
    x = x[skip:]
    out = {"seconds": round(len(x) / rate, 3), "rate": rate, "onset_s": round(onset / rate, 3)}
    if len(x) < rate:
        out["ok"] = False; print(json.dumps(out)); return
    # Frequency: interpolated rising zero crossings.
    cross = []
    for i in range(1, len(x)):
        if x[i - 1] < 0 <= x[i]:
            cross.append(i - 1 + (-x[i - 1]) / (x[i] - x[i - 1]))
    freq = (len(cross) - 1) * rate / (cross[-1] - cross[0]) if len(cross) > 2 else 0.0
    out["freq"] = round(freq, 3)
    # Level and gaps on 10 ms blocks.
    blk = rate // 100
    levels = [math.sqrt(sum(v * v for v in x[k:k + blk]) / blk) for k in range(0, len(x) - blk + 1, blk)]
    med = sorted(levels)[len(levels) // 2]
    gaps = [round(k * 0.01 + a.skip, 2) for k, l in enumerate(levels) if l < med * 0.5]
    out["rms_dbfs"] = round(20 * math.log10(max(med, 1e-12)), 2)
    out["gap_blocks"] = len(gaps)
    out["first_gaps_s"] = gaps[:10]
    # SNR per 1 s segment.
    snrs = [fit(x[k:k + rate], freq, rate, k) for k in range(0, len(x) - rate + 1, rate)]
    out["snr_min_db"] = round(min(snrs), 2)
    out["snr_median_db"] = round(sorted(snrs)[len(snrs) // 2], 2)
    out["segments"] = len(snrs)
    ok = len(gaps) == 0 and out["snr_min_db"] >= a.min_snr
    if a.expect:
        ok = ok and abs(freq - a.expect) <= a.expect * 0.002
    out["ok"] = ok
    print(json.dumps(out))


# basE91 (Henke), written from aodns.md §6 independently of the Swift code.
B91 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!#$%&()*+,./:;<=>?@[]^_`{|}~\""
B91_DEC = {c: i for i, c in enumerate(B91)}


def b91decode(text):
    out, q, n, v = bytearray(), 0, 0, -1
    for ch in text:
        if ch not in B91_DEC:
            continue
        if v < 0:
            v = B91_DEC[ch]; continue
        v += B91_DEC[ch] * 91
        q |= v << n
        n += 13 if (v & 8191) > 88 else 14
        while True:
            out.append(q & 255); q >>= 8; n -= 8
            if n <= 7:
                break
        v = -1
    if v >= 0:
        out.append((q | v << n) & 255)
    return bytes(out)


def dig_txt(text):
    """The character-strings of dig's TXT presentation output lines (one list per RR)."""
    rrs = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(";"):
            continue
        parts = line.split(None, 4)
        if len(parts) < 5 or parts[3] != "TXT":
            continue
        data, strings, i = parts[4], [], 0
        while i < len(data):
            if data[i] == '"':
                i += 1; s = bytearray()
                while i < len(data) and data[i] != '"':
                    if data[i] == "\\":
                        if data[i + 1:i + 4].isdigit():
                            s.append(int(data[i + 1:i + 4])); i += 4; continue
                        s += data[i + 1].encode(); i += 2; continue
                    s += data[i].encode(); i += 1
                strings.append(bytes(s)); i += 1
            else:
                i += 1
        rrs.append((parts[0], int(parts[1]), strings))
    return rrs


def opus_ms(p):
    toc = p[0]; cfg = toc >> 3; code = toc & 3
    if cfg < 12: per = [10, 20, 40, 60][cfg % 4]
    elif cfg < 16: per = [10, 20][cfg % 2]
    else: per = [2.5, 5, 10, 20][cfg % 4]
    frames = 1 if code == 0 else 2 if code in (1, 2) else (p[1] & 63 if len(p) > 1 else 0)
    return per * frames


def cmd_sequence(a):
    import zlib
    rrs = dig_txt(sys.stdin.read())
    s = rrs[0][2][0].decode()
    nums = [int(x) for x in zlib.decompress(b91decode(s)).decode().split(",")]
    ok = len(rrs) == 1 and len(rrs[0][2]) == 1 and len(s) <= 255 and nums == list(range(nums[0], nums[0] + len(nums)))
    print(json.dumps({"ok": ok, "count": len(nums), "first": nums[0], "last": nums[-1], "chars": len(s), "ttl": rrs[0][1]}))


def cmd_pack(a):
    rrs = dig_txt(sys.stdin.read())
    idx, durations, ok = [], [], True
    for owner, ttl, strings in rrs:
        if len(strings) != 1:
            ok = False; continue
        s = strings[0].decode("latin-1")
        head, sep, body = s.partition("\'\'\'")
        if not sep or len(head) != 3 or not head.isdigit() or len(s) > 250:
            ok = False; continue
        idx.append(int(head))
        durations.append(opus_ms(b91decode(body)))
    ok = ok and sorted(idx) == list(range(len(idx))) and len(idx) == a.count and all(d == 60 for d in durations)
    print(json.dumps({"ok": ok, "rrs": len(rrs), "indices": sorted(idx), "opus_ms": sorted(set(durations)),
                      "owners": sorted(set(o for o, _, _ in rrs))}))


def query(name, qtype=16, qid=0x4242, edns=None, rd=True):
    q = struct.pack(">HHHHHH", qid, 0x0100 if rd else 0, 1, 0, 0, 1 if edns else 0)
    for label in name.rstrip(".").split("."):
        q += bytes([len(label)]) + label.encode()
    q += b"\0" + struct.pack(">HH", qtype, 1)
    if edns:
        q += b"\0" + struct.pack(">HHIH", 41, edns, 0, 0)
    return q


def cmd_tcp(a):
    """Pipelined queries in one segment, a length prefix split across segments, then an idle connection."""
    import socket, time
    res = {}
    def read_msg(sock):
        hdr = b""
        while len(hdr) < 2:
            c = sock.recv(2 - len(hdr))
            if not c: return None
            hdr += c
        n = struct.unpack(">H", hdr)[0]; body = b""
        while len(body) < n:
            c = sock.recv(n - len(body))
            if not c: return None
            body += c
        return body
    s = socket.create_connection((a.host, a.port), timeout=3)
    names = ["sequence." + a.zone, "head." + a.zone, "config." + a.zone]
    s.sendall(b"".join(struct.pack(">H", len(q)) + q for q in (query(n, qid=100 + i) for i, n in enumerate(names))))
    ids = []
    for _ in names:
        m = read_msg(s); ids.append(struct.unpack(">H", m[:2])[0] if m else None)
        if m: res.setdefault("answers", []).append(struct.unpack(">H", m[6:8])[0])
    res["pipelined_ids"] = ids
    q = query("head." + a.zone, qid=777)
    framed = struct.pack(">H", len(q)) + q
    for b in framed:           # one byte per segment
        s.send(bytes([b])); time.sleep(0.002)
    m = read_msg(s)
    res["split_id"] = struct.unpack(">H", m[:2])[0] if m else None
    s.close()
    # Idle connection: closed by the server after its idle timeout (10 s); we only check it stays usable for 1 s.
    s2 = socket.create_connection((a.host, a.port), timeout=3)
    time.sleep(1.0)
    s2.sendall(struct.pack(">H", len(q)) + q)
    m = read_msg(s2)
    res["after_1s_idle"] = m is not None
    s2.close()
    res["ok"] = ids == [100, 101, 102] and res["split_id"] == 777 and res["after_1s_idle"] and all(x >= 1 for x in res.get("answers", []))
    print(json.dumps(res))


def cmd_malformed(a):
    """Malformed queries over UDP: each must get FORMERR (id echoed) or nothing; the server must keep answering."""
    import socket
    good = query("sequence." + a.zone)
    hdr = good[:12]
    name_end = good.index(b"\0", 12) + 5
    cases = {
        "short-3-bytes": b"\x12\x34\x01",
        "header-only": hdr,
        "truncated-name": good[:20],
        "truncated-type": good[:name_end - 2],
        "pointer-self": struct.pack(">HHHHHH", 0x4242, 0x0100, 1, 0, 0, 0) + b"\xc0\x0c\x00\x10\x00\x01",
        "pointer-loop": struct.pack(">HHHHHH", 0x4242, 0x0100, 1, 0, 0, 0) + b"\x01a\xc0\x11\x00\x10\x00\x01\xc0\x0c",
        "zero-questions": struct.pack(">HHHHHH", 0x4242, 0x0100, 0, 0, 0, 0),
        "two-questions": struct.pack(">HHHHHH", 0x4242, 0x0100, 2, 0, 0, 0) + good[12:name_end] + good[12:name_end],
        "huge-counts": struct.pack(">HHHHHH", 0x4242, 0x0100, 0xffff, 0xffff, 0xffff, 0xffff) + good[12:name_end],
        "huge-additional": good[:10] + b"\xff\xff" + good[12:],
        "bad-opt-length": good[:10] + b"\x00\x01" + good[12:] + b"\x00\x00\x29\x04\xd0\x00\x00\x00\x00\xff\xff",
        "label-64": struct.pack(">HHHHHH", 0x4242, 0x0100, 1, 0, 0, 0) + b"\x40" + b"a" * 64 + b"\x00\x00\x10\x00\x01",
        "response-bit": good[:2] + b"\x81\x00" + good[4:],
    }
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(0.5)
    s.connect((a.host, a.port))
    res, ok = {}, True
    for k, q in cases.items():
        s.send(q)
        try:
            r = s.recv(4096)
            rc = r[3] & 15
            res[k] = "rcode %d" % rc
            if rc != 1 or r[:2] != q[:2] or len(q) < 12:
                ok = False
        except socket.timeout:
            res[k] = "no answer"
            if k not in ("short-3-bytes", "response-bit"):
                ok = False  # we answer every malformed query with a header FORMERR
    s.send(good)
    try:
        r = s.recv(4096); res["good-after"] = "rcode %d answers %d" % (r[3] & 15, struct.unpack(">H", r[6:8])[0])
        ok = ok and r[3] & 15 == 0 and struct.unpack(">H", r[6:8])[0] == 1
    except socket.timeout:
        res["good-after"] = "no answer"; ok = False
    res["ok"] = ok
    print(json.dumps(res))


def cmd_flood(a):
    """Sends N queries as fast as possible from one UDP socket (a mix of valid, random-name and junk queries)."""
    import socket, random, time
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
    s.setblocking(False)
    target = (a.host, a.port)
    rnd = random.Random(1)
    pool = [query("seq_%d.%s" % (rnd.randrange(10**9), a.zone), qid=rnd.randrange(65536)) for _ in range(200)]
    pool += [query("sequence." + a.zone, qid=i, edns=1232) for i in range(50)]
    pool += [bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 60))) for _ in range(50)]
    pool += [query("x%d.example.org" % i) for i in range(50)]
    sent, t0, received = 0, time.time(), 0
    while sent < a.count:
        try:
            s.sendto(pool[sent % len(pool)], target); sent += 1
        except BlockingIOError:
            time.sleep(0.0005)
        try:
            while True:
                s.recv(4096); received += 1
        except BlockingIOError:
            pass
    dt = time.time() - t0
    print(json.dumps({"sent": sent, "seconds": round(dt, 2), "rate_qps": round(sent / dt), "replies_seen": received}))


p = argparse.ArgumentParser()
sub = p.add_subparsers(dest="cmd", required=True)
t = sub.add_parser("tone"); t.add_argument("file"); t.add_argument("--skip", type=float, default=0.5)
t.add_argument("--expect", type=float); t.add_argument("--min-snr", type=float, default=30.0)
t.add_argument("--onset", action="store_true")
sub.add_parser("sequence")
pk = sub.add_parser("pack"); pk.add_argument("--count", type=int, required=True)
for name in ("tcp", "malformed", "flood"):
    c = sub.add_parser(name); c.add_argument("host"); c.add_argument("port", type=int); c.add_argument("zone")
    c.add_argument("--count", type=int, default=100000)
a = p.parse_args()
{"tone": cmd_tone, "sequence": cmd_sequence, "pack": cmd_pack, "tcp": cmd_tcp, "malformed": cmd_malformed,
 "flood": cmd_flood}[a.cmd](a)
