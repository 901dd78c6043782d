#!/usr/bin/env python3
"""A fake Asterisk for the AudioSocket tests: stdlib only, loopback (or test-namespace) addresses only, every
wait bounded.

It connects as Asterisk does (TCP_NODELAY, the UUID first, one send per message, 20 ms real-time frames), reads
the server's messages with exact framing (any kind other than 0x00 and audio, a zero-length or odd-length audio
message, is a framing error), and analyses what it heard (tone level, frequency, cross-talk, pacing).

Used as a library by audiosocket_cases.py and as a command for the shell test:

  fake_asterisk.py call HOST PORT --uuid U --hz 440 --seconds 4 [--rate 16000] [--json]
  fake_asterisk.py calls HOST PORT --count 32 --seconds 6 [--base-hz 300 --step-hz 50]   (C-2)
  fake_asterisk.py server PORT --hz 700 --seconds 8                                       (client-mode peer)
"""
import argparse
import array
import json
import math
import os
import selectors
import socket
import struct
import sys
import time

HANGUP, UUID, DTMF, ERROR = 0x00, 0x01, 0x03, 0xFF
RATES = {0x10: 8000, 0x11: 12000, 0x12: 16000, 0x13: 24000, 0x14: 32000, 0x15: 44100, 0x16: 48000,
         0x17: 96000, 0x18: 192000}
KIND = {r: k for k, r in RATES.items()}


def msg(kind, payload=b""):
    return bytes([kind]) + struct.pack(">H", len(payload)) + payload


def uuid_msg(u):
    return msg(UUID, bytes.fromhex(u.replace("-", "")))


def tone(hz, rate, n, amp=0.1, start=0):
    """n samples of a sine at amp (fraction of full scale) as s16le bytes, phase-continuous from sample `start`."""
    a = array.array("h", (int(round(amp * 32767 * math.sin(2 * math.pi * hz * (start + i) / rate))) for i in range(n)))
    if sys.byteorder != "little":
        a.byteswap()
    return a.tobytes()


def samples(pcm):
    a = array.array("h")
    a.frombytes(pcm[: len(pcm) - len(pcm) % 2])
    if sys.byteorder != "little":
        a.byteswap()
    return a


def connect(host, port, timeout=5.0):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.connect((host, port))
    return s


class Reader:
    """Exact framing of the server's messages, fed arbitrary chunks."""

    def __init__(self):
        self.buf = b""
        self.messages = []        # (arrival time, kind, payload)
        self.errors = []
        self.hangup = False

    def feed(self, data, t):
        self.buf += data
        while len(self.buf) >= 3:
            kind = self.buf[0]
            n = struct.unpack(">H", self.buf[1:3])[0]
            if len(self.buf) < 3 + n:
                break
            payload = self.buf[3:3 + n]
            self.buf = self.buf[3 + n:]
            if kind == HANGUP:
                if n != 0:
                    self.errors.append("hangup with payload")
                self.hangup = True
            elif kind in RATES:
                if n == 0 or n % 2:
                    self.errors.append("audio of %d bytes" % n)
            else:
                self.errors.append("kind 0x%02x from server" % kind)
            self.messages.append((t, kind, payload))

    def audio(self, kind=None):
        return b"".join(p for _, k, p in self.messages if k in RATES and (kind is None or k == kind))

    def audio_times(self):
        return [t for t, k, _ in self.messages if k in RATES]


def read_until_closed(s, reader, timeout):
    """Reads until EOF/reset or `timeout`; returns 'eof', 'reset' or 'timeout'."""
    end = time.monotonic() + timeout
    while True:
        left = end - time.monotonic()
        if left <= 0:
            return "timeout"
        s.settimeout(left)
        try:
            d = s.recv(65536)
        except socket.timeout:
            return "timeout"
        except (ConnectionResetError, BrokenPipeError):
            return "reset"
        if not d:
            return "eof"
        reader.feed(d, time.monotonic())


# ---------------------------------------------------------------------------------------------------------------
# Analysis


def fit(x, hz, rate):
    """Amplitude (fraction of full scale) of the component at hz (least-squares projection)."""
    n = len(x)
    if n == 0:
        return 0.0
    w = 2 * math.pi * hz / rate
    s = c = 0.0
    for i, v in enumerate(x):
        s += v * math.sin(w * i)
        c += v * math.cos(w * i)
    return 2 * math.hypot(s, c) / n / 32768.0


_bh_cache = {}


def tone_level(x, hz, rate, full_scale=32768.0):
    """Amplitude (fraction of full scale) at hz with a Blackman-Harris window: sidelobes below -92 dB, so a tone
    50 Hz away leaks nothing measurable into a 0.25 s window, and a pitch a fraction of a Hz off loses nothing."""
    n = len(x)
    if n < 16:
        return 0.0
    key = (n, hz, rate)
    if key not in _bh_cache:
        w = [0.35875 - 0.48829 * math.cos(2 * math.pi * i / (n - 1)) + 0.14128 * math.cos(4 * math.pi * i / (n - 1))
             - 0.01168 * math.cos(6 * math.pi * i / (n - 1)) for i in range(n)]
        ws = sum(w)
        cw = [w[i] * math.cos(2 * math.pi * hz * i / rate) for i in range(n)]
        sw = [w[i] * math.sin(2 * math.pi * hz * i / rate) for i in range(n)]
        _bh_cache[key] = (cw, sw, ws)
    cw, sw, ws = _bh_cache[key]
    c = sum(map(float.__mul__, cw, map(float, x)))
    s = sum(map(float.__mul__, sw, map(float, x)))
    return 2 * math.hypot(c, s) / ws / full_scale


def windowed(x, hz, rate, seconds=0.25):
    """Mean Blackman-Harris tone level over consecutive windows of `seconds`."""
    n = int(rate * seconds)
    levels = [tone_level(x[i:i + n], hz, rate) for i in range(0, len(x) - n + 1, n)]
    return sum(levels) / len(levels) if levels else 0.0


def fit_scaled(x, hz, rate, full_scale):
    n = len(x)
    w = 2 * math.pi * hz / rate
    s = c = 0.0
    for i, v in enumerate(x):
        s += v * math.sin(w * i)
        c += v * math.cos(w * i)
    return 2 * math.hypot(s, c) / n / full_scale


def frequency(x, rate):
    """Frequency by interpolated zero crossings (rising), Hz; 0 if none."""
    crossings = []
    for i in range(1, len(x)):
        a, b = x[i - 1], x[i]
        if a < 0 <= b:
            crossings.append(i - 1 + (-a) / (b - a))
    if len(crossings) < 3:
        return 0.0
    return (len(crossings) - 1) * rate / (crossings[-1] - crossings[0])


def median(v):
    s = sorted(v)
    return s[len(s) // 2] if s else 0.0


def robust(x, rate, seconds=0.25):
    """Frequency and level (dBFS, sine-equivalent) as the medians over windows of `seconds`: one click from a
    busy test machine cannot move them, a wrong frequency or level shows in every window."""
    n = int(rate * seconds)
    wins = [x[i:i + n] for i in range(0, len(x) - n + 1, n)] or [x]
    return median([frequency(w, rate) for w in wins]), median([db(rms_amplitude(w)) for w in wins])


def rms_amplitude(x, full_scale=32768.0):
    if not x:
        return 0.0
    return math.sqrt(sum(v * v for v in x) / len(x)) * math.sqrt(2) / full_scale


def db(x):
    return 20 * math.log10(max(x, 1e-12))


def pacing(times):
    """Mean and p99 interval (ms), largest burst (messages within 2 ms of each other), drift (ms)."""
    if len(times) < 3:
        return None
    d = [(b - a) * 1000 for a, b in zip(times, times[1:])]
    # The mean interval is the slope of arrival time against message number (least squares): one late read on
    # a busy test machine does not move it.
    n = len(times)
    mi = (n - 1) / 2
    mt = sum(times) / n
    mean = sum((i - mi) * (t - mt) for i, t in enumerate(times)) / sum((i - mi) ** 2 for i in range(n)) * 1000
    s = sorted(d)
    p99 = s[min(len(s) - 1, int(math.ceil(0.99 * len(s))) - 1)]
    burst = run = 1
    for v in d:
        run = run + 1 if v < 2.0 else 1
        burst = max(burst, run)
    drift = (mean - 20.0) * (n - 1)         # accumulated over the run, from the fitted slope
    return {"mean_ms": mean, "p99_ms": p99, "max_ms": s[-1], "min_ms": s[0], "burst": burst, "drift_ms": drift,
            "n": len(times)}


# ---------------------------------------------------------------------------------------------------------------
# Real-time calls: several at once in one selector loop, 20 ms frames on absolute deadlines.


class LiveCall:
    def __init__(self, host, port, uuid, rate=8000, hz=440.0, amp=0.1, seconds=5.0, read=True, send=True,
                 digits=None):
        self.uuid = uuid
        self.rate = rate
        self.kind = KIND[rate]
        self.hz = hz
        self.amp = amp
        self.seconds = seconds
        self.read = read
        self.send_audio = send
        self.digits = list(digits or [])
        self.sock = connect(host, port)
        self.sock.setblocking(False)
        self.reader = Reader()
        self.sent = 0
        self.end = None
        self.pcm_sent = bytearray()
        self.sock.send(uuid_msg(uuid))

    def frame(self):
        n = self.rate // 50
        pcm = tone(self.hz, self.rate, n, self.amp, start=self.sent * n)
        self.pcm_sent += pcm
        self.sent += 1
        return msg(self.kind, pcm)


def run_live(calls, seconds, linger=1.0):
    """Sends every call's frames every 20 ms for `seconds`, reading all the while; then closes each socket
    (Asterisk's hangup: FIN, no 0x00) and reads for `linger` s more. Returns when done."""
    sel = selectors.DefaultSelector()
    for c in calls:
        if c.read:
            sel.register(c.sock, selectors.EVENT_READ, c)
    start = time.monotonic()
    tick = 0
    closed = False
    while True:
        now = time.monotonic()
        if not closed and now - start >= seconds:
            for c in calls:
                try:
                    c.sock.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
            closed = True
            stop_at = now + linger
        if closed and now >= stop_at:
            break
        deadline = start + (tick + 1) * 0.02
        if not closed and now >= deadline:
            tick += 1
            for c in calls:
                if c.end is None and c.send_audio:
                    try:
                        c.sock.send(c.frame())
                        if c.digits and tick % 25 == 0:
                            c.sock.send(msg(DTMF, c.digits.pop(0).encode()))
                    except (BlockingIOError, OSError):
                        pass
            continue
        timeout = max(0.0, (deadline if not closed else stop_at) - time.monotonic())
        for key, _ in sel.select(timeout=min(timeout, 0.05)):
            c = key.data
            try:
                d = c.sock.recv(65536)
            except BlockingIOError:
                continue
            except (ConnectionResetError, OSError):
                d = b""
            if not d:
                c.end = time.monotonic()
                sel.unregister(c.sock)
                continue
            c.reader.feed(d, time.monotonic())
    for c in calls:
        try:
            c.sock.close()
        except OSError:
            pass


# ---------------------------------------------------------------------------------------------------------------
# Commands


def tai_ns():
    return time.clock_gettime_ns(time.CLOCK_TAI)


def cmd_call(a):
    """One call: send a tone, report what came back (frequency, level, pacing, framing) and when it ran (TAI)."""
    c = LiveCall(a.host, a.port, a.uuid, rate=a.rate, hz=a.hz, amp=a.amp, seconds=a.seconds,
                 digits=a.digits)
    t0 = tai_ns()
    run_live([c], a.seconds, linger=a.linger)
    t1 = t0 + int(a.seconds * 1e9)
    x = samples(c.reader.audio())
    if a.save:
        with open(a.save, "wb") as f:
            f.write(c.reader.audio())
    skip = int(a.skip * a.rate)
    y = x[skip:]
    out = {"uuid": a.uuid, "rate": a.rate, "start_tai_ns": t0, "end_tai_ns": t1,
           "frames": len(c.reader.audio_times()), "errors": c.reader.errors,
           "kinds": sorted({"0x%02x" % k for _, k, _ in c.reader.messages}), "hangup": c.reader.hangup,
           "samples": len(x)}
    if y:
        out["freq_hz"], out["level_dbfs"] = robust(y, a.rate)
        if a.expect_hz:
            out["tone_dbfs"] = db(windowed(y, a.expect_hz, a.rate))
    out["pacing"] = pacing(c.reader.audio_times())
    print(json.dumps(out))


def cmd_calls(a):
    """C-2: `count` calls at once, call k sends base + step·k Hz; each must hear only its own tone back."""
    calls = []
    freqs = []
    for k in range(1, a.count + 1):
        hz = a.base_hz + a.step_hz * k
        freqs.append(hz)
        u = "%08x-0000-4000-8000-%012x" % (0xca11, k)
        calls.append(LiveCall(a.host, a.port, u, rate=8000, hz=hz, amp=0.1, seconds=a.seconds))
        time.sleep(0.02)          # connect in order: call k takes slot k
    run_live(calls, a.seconds, linger=0.5)
    result = {"calls": []}
    worst = -1e9
    for k, c in enumerate(calls):
        x = samples(c.reader.audio())
        # The last two seconds before the end, in 0.25 s windows; the median window counts, so one click (a busy
        # test machine delaying this Python client) cannot pass for cross-talk, while a wrong route shows in all.
        y = x[-(16000 + 4000):-4000] if len(x) >= 20000 else x
        owns, xts = [], []
        for i in range(0, len(y) - 2000 + 1, 2000):
            w = y[i:i + 2000]
            o = tone_level(w, freqs[k], 8000)
            others = max((tone_level(w, f, 8000) for j, f in enumerate(freqs) if j != k), default=0.0)
            owns.append(o)
            xts.append(db(others) - db(o) if o > 0 else 0.0)
        own = sorted(owns)[len(owns) // 2] if owns else 0.0
        xt = sorted(xts)[len(xts) // 2] if xts else 0.0
        worst = max(worst, xt)
        result["calls"].append({"uuid": c.uuid, "hz": freqs[k], "own_dbfs": round(db(own), 2),
                                "freq_hz": round(frequency(y, 8000), 2),
                                "crosstalk_db": round(xt, 1), "frames": len(c.reader.audio_times()),
                                "errors": c.reader.errors})
    result["worst_crosstalk_db"] = worst
    print(json.dumps(result))


def cmd_server(a):
    """A minimal AudioSocket server (the AI-agent side) for the client-mode test: accepts one call, sends a tone
    every 20 ms, reports the UUID and what it heard."""
    fam = socket.AF_INET6 if ":" in a.host else socket.AF_INET
    ls = socket.socket(fam, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((a.host, a.port))
    ls.listen(4)
    ls.settimeout(a.accept_timeout)
    s, _ = ls.accept()
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.setblocking(False)
    reader = Reader()
    start = time.monotonic()
    tick = 0
    sel = selectors.DefaultSelector()
    sel.register(s, selectors.EVENT_READ)
    eof = False
    while time.monotonic() - start < a.seconds and not eof:
        deadline = start + (tick + 1) * 0.02
        now = time.monotonic()
        if now >= deadline:
            try:
                s.send(msg(0x10, tone(a.hz, 8000, 160, 0.1, start=tick * 160)))
            except OSError:
                pass
            tick += 1
            continue
        for _ in sel.select(timeout=deadline - now):
            try:
                d = s.recv(65536)
            except BlockingIOError:
                continue
            except OSError:
                d = b""
            if not d:
                eof = True
                break
            reader.feed(d, time.monotonic())
    if not eof:
        s.send(msg(HANGUP))
    s.close()
    ls.close()
    first = reader.messages[0] if reader.messages else None
    got_uuid = first[2].hex() if first and first[1] == UUID else None
    # The client sends UUID first; what follows is audio at its rate.
    audio = b"".join(p for _, k, p in reader.messages[1:] if k in RATES)
    x = samples(audio)
    y = x[len(x) // 2:]
    out = {"uuid": got_uuid, "eof": eof, "hangup_from_client": reader.hangup, "messages": len(reader.messages), "kinds": sorted({"0x%02x" % k for _, k, _ in reader.messages}),
           "samples": len(x), "errors": [e for e in reader.errors if "0x01" not in e]}
    if y:
        out["freq_hz"], out["level_dbfs"] = robust(y, 8000)
        out["pacing"] = pacing([t for t, k, _ in reader.messages[1:] if k in RATES])
    print(json.dumps(out))


def cmd_segment(a):
    """A stretch of an `inferno record` raw file (S32_LE, interleaved): frequency and level of one channel between
    two TAI instants (the file's frame k is media time first + k; media time = TAI ns × rate / 10^9)."""
    first = a.first_frame
    lo = a.from_tai * a.rate // 1_000_000_000 - first
    hi = a.to_tai * a.rate // 1_000_000_000 - first
    x = array.array("i")
    with open(a.file, "rb") as f:
        x.frombytes(f.read())
    if sys.byteorder != "little":
        x.byteswap()
    ch = x[a.channel - 1::a.channels]
    lo, hi = max(0, lo), min(len(ch), hi)
    y = [v / 65536.0 for v in ch[lo:hi]]          # to s16 scale
    out = {"frames": max(0, hi - lo), "file_frames": len(ch)}
    if y:
        out["freq_hz"], out["level_dbfs"] = robust(y, a.rate)
        out["peak_dbfs"] = db(max(abs(v) for v in y) / 32768.0)
    print(json.dumps(out))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("call")
    c.add_argument("host")
    c.add_argument("port", type=int)
    c.add_argument("--uuid", default="40325ec2-5efd-4bd3-805f-53576e581d13")
    c.add_argument("--rate", type=int, default=8000)
    c.add_argument("--hz", type=float, default=440.0)
    c.add_argument("--amp", type=float, default=0.1)
    c.add_argument("--seconds", type=float, default=4.0)
    c.add_argument("--skip", type=float, default=1.0, help="seconds of received audio to skip before analysing")
    c.add_argument("--expect-hz", type=float)
    c.add_argument("--linger", type=float, default=1.0)
    c.add_argument("--digits", default="")
    c.add_argument("--save", help="write the received audio (s16le) here")
    c.set_defaults(func=cmd_call)
    m = sub.add_parser("calls")
    m.add_argument("host")
    m.add_argument("port", type=int)
    m.add_argument("--count", type=int, default=32)
    m.add_argument("--seconds", type=float, default=6.0)
    m.add_argument("--base-hz", type=float, default=300.0)
    m.add_argument("--step-hz", type=float, default=50.0)
    m.set_defaults(func=cmd_calls)
    s = sub.add_parser("server")
    s.add_argument("host")
    s.add_argument("port", type=int)
    s.add_argument("--hz", type=float, default=700.0)
    s.add_argument("--seconds", type=float, default=8.0)
    s.add_argument("--accept-timeout", type=float, default=20.0)
    s.set_defaults(func=cmd_server)
    g = sub.add_parser("segment")
    g.add_argument("file")
    g.add_argument("--first-frame", type=int, required=True)
    g.add_argument("--from-tai", type=int, required=True)
    g.add_argument("--to-tai", type=int, required=True)
    g.add_argument("--rate", type=int, default=48000)
    g.add_argument("--channels", type=int, default=1)
    g.add_argument("--channel", type=int, default=1)
    g.set_defaults(func=cmd_segment)
    a = p.parse_args()
    a.func(a)


if __name__ == "__main__":
    main()
