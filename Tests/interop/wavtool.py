#!/usr/bin/env python3
"""Test signals and their analysis for the ALSA tests (stdlib only). Each command prints one JSON object.

  wavtool.py pattern OUT SECONDS [--t0 T]          2-channel S32_LE 48 kHz WAV of the test pattern from time T
  wavtool.py tone OUT SECONDS --rate R --channels C --bits 16|32 --freq F --amp A
  wavtool.py analyze FILE [--channels N] [--channel K] [--skip S]
                                                   frequency (zero crossings, interpolated) and RMS (dBFS) of
                                                   channel K over the loud part (after S seconds of it)
  wavtool.py runs FILE CHANNELS [--bits-on-wire B] per channel, runs of the pattern, each locked on its own:
                                                   every sample continues a run, is silence, or is bad
Raw files (no RIFF header) are read as S32_LE at 48 kHz.
"""
import argparse, json, math, struct, sys


def pattern(c, t):
    return ((t * (2 * c - 1) + (c - 1) * 65536) & 0xFFFFFF) << 8


def write_wav(path, rate, channels, bits, frames_iter):
    data = bytearray()
    fmt = {16: "<h", 32: "<i"}[bits]
    for row in frames_iter:
        for v in row:
            data += struct.pack(fmt, v)
    with open(path, "wb") as f:
        f.write(b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVE")
        f.write(b"fmt " + struct.pack("<IHHIIHH", 16, 1, channels, rate, rate * channels * bits // 8, channels * bits // 8, bits))
        f.write(b"data" + struct.pack("<I", len(data)) + data)


def read_samples(path, channels=None):
    raw = open(path, "rb").read()
    rate, bits = 48000, 32
    if raw[:4] == b"RIFF":
        i = 12
        while i + 8 <= len(raw):
            tag, size = raw[i:i + 4], struct.unpack("<I", raw[i + 4:i + 8])[0]
            if tag == b"fmt ":
                _, channels, rate, _, _, bits = struct.unpack("<HHIIHH", raw[i + 8:i + 24])
            if tag == b"data":
                raw = raw[i + 8:i + 8 + size]
                break
            i += 8 + size + (size & 1)
    width = bits // 8
    n = len(raw) // (width * channels)
    if bits == 16:
        s = struct.unpack("<%dh" % (n * channels), raw[:n * channels * 2])
        scale = 32768.0
    elif bits == 32:
        s = struct.unpack("<%di" % (n * channels), raw[:n * channels * 4])
        scale = 2147483648.0
    else:  # 24-bit packed
        s = [int.from_bytes(raw[k * 3:k * 3 + 3], "little", signed=True) for k in range(n * channels)]
        scale = 8388608.0
    return s, n, channels, rate, scale


def cmd_analyze(a):
    s, n, ch, rate, scale = read_samples(a.file, a.channels)
    x = [s[k * ch + a.channel - 1] / scale for k in range(n)]
    loud = [k for k in range(n) if abs(x[k]) > 0.01]
    if not loud:
        return {"frames": n, "loud_frames": 0}
    start = loud[0] + int(a.skip * rate)
    end = loud[-1] - rate // 10
    seg = x[start:end]
    if len(seg) < rate // 2:
        return {"frames": n, "loud_frames": len(loud), "error": "too short"}
    rms = math.sqrt(sum(v * v for v in seg) / len(seg))
    crossings = []
    for k in range(1, len(seg)):
        if seg[k - 1] < 0 <= seg[k]:
            crossings.append(k - 1 + (-seg[k - 1]) / (seg[k] - seg[k - 1]))
    freq = (len(crossings) - 1) / ((crossings[-1] - crossings[0]) / rate) if len(crossings) > 2 else 0.0
    return {"frames": n, "rate": rate, "loud_frames": len(loud), "analysed": len(seg), "freq": freq,
            "rms": rms, "rms_dbfs": 20 * math.log10(rms) if rms > 0 else None}


def channel_runs(col, c, mask):
    """Runs of channel c's pattern in one column of samples: each run locked on its own."""
    u = lambda v: v & 0xFFFFFFFF
    runs, bad, current = [], 0, None   # current = [start_frame, length, t_start]
    for k, v in enumerate(col):
        v = u(v)
        if current is not None:
            if v & mask == pattern(c, current[2] + current[1]) & mask and not v & ~mask & 0xFFFFFFFF:
                current[1] += 1
                continue
            runs.append(current)
            current = None
        if v == 0:
            if runs and runs[-1][0] == "z":
                runs[-1][1] += 1
            else:
                runs.append(["z", 1])
            continue
        # 2c-1 is odd, so invertible mod 2^24: recover t from the value.
        inv = pow(2 * c - 1, -1, 1 << 24)
        t = (((v >> 8) - (c - 1) * 65536) * inv) & 0xFFFFFF
        if v & mask == pattern(c, t) & mask:
            current = [k, 1, t]
        else:
            bad += 1
    if current is not None:
        runs.append(current)
    pattern_runs = [{"start": r[0], "frames": r[1], "t": r[2]} for r in runs if r[0] != "z"]
    gaps, seen = [], False
    for r in runs:
        if r[0] != "z":
            seen = True
        elif seen:
            gaps.append(r[1])
    if runs and runs[-1][0] == "z" and gaps:
        gaps.pop()   # trailing silence is not a gap
    return {"bad_frames": bad, "pattern_runs": pattern_runs[:10], "gaps": gaps[:10]}


def cmd_runs(a):
    """Per channel (flows of different channels may start at different moments): every sample is the
    channel's pattern continuing its run, silence, or bad. Pattern times are taken mod 2^24."""
    s, n, ch, rate, _ = read_samples(a.file, a.channels)
    mask = {16: 0xFFFF0000, 24: 0xFFFFFF00, 32: 0xFFFFFFFF}[a.bits_on_wire]
    return {"frames": n, "channels": [channel_runs(s[c::ch], c + 1, mask) for c in range(ch)]}


ap = argparse.ArgumentParser()
sub = ap.add_subparsers(dest="cmd", required=True)
p = sub.add_parser("pattern"); p.add_argument("out"); p.add_argument("seconds", type=float); p.add_argument("--t0", type=int, default=5000)
p = sub.add_parser("tone"); p.add_argument("out"); p.add_argument("seconds", type=float)
p.add_argument("--rate", type=int, default=48000); p.add_argument("--channels", type=int, default=2)
p.add_argument("--bits", type=int, default=32); p.add_argument("--freq", type=float, default=1000.0)
p.add_argument("--amp", type=float, default=0.5)
p = sub.add_parser("analyze"); p.add_argument("file"); p.add_argument("--channels", type=int, default=2)
p.add_argument("--channel", type=int, default=1); p.add_argument("--skip", type=float, default=0.2)
p = sub.add_parser("runs"); p.add_argument("file"); p.add_argument("channels", type=int)
p.add_argument("--bits-on-wire", type=int, default=24)
a = ap.parse_args()

if a.cmd == "pattern":
    n = int(a.seconds * 48000)
    def rows():
        for k in range(n):
            yield [pattern(1, a.t0 + k) - (1 << 32) if pattern(1, a.t0 + k) >= 1 << 31 else pattern(1, a.t0 + k),
                   pattern(2, a.t0 + k) - (1 << 32) if pattern(2, a.t0 + k) >= 1 << 31 else pattern(2, a.t0 + k)]
    write_wav(a.out, 48000, 2, 32, rows())
    print(json.dumps({"frames": n, "t0": a.t0}))
elif a.cmd == "tone":
    n = int(a.seconds * a.rate)
    full = (1 << (a.bits - 1)) - 1
    def rows():
        for k in range(n):
            v = int(round(a.amp * full * math.sin(2 * math.pi * a.freq * k / a.rate)))
            yield [v] * a.channels
    write_wav(a.out, a.rate, a.channels, a.bits, rows())
    print(json.dumps({"frames": n}))
elif a.cmd == "analyze":
    print(json.dumps(cmd_analyze(a)))
else:
    print(json.dumps(cmd_runs(a)))
