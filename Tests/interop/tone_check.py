#!/usr/bin/env python3
"""Measures the frequency and level of a sine in each channel of a recording (WAV of any PCM flavour
incl. WAVE_FORMAT_EXTENSIBLE, or raw S32_LE with --channels).

Usage: tone_check.py FILE --expect HZ[,HZ…] --level-dbfs L [--channels N] [--rate R] [--tol-hz 2] [--tol-db 0.5]
                     [--max-gaps 0] [--min-seconds 1]
Leading and trailing silence is skipped, and the first 0.1 s of sound (the link may be made mid-file). Silence
inside the sound (16 or more samples at zero) is a dropout: at most --max-gaps per channel. Frequency (from
interpolated zero crossings) and level (peak level of a sine with that RMS) are measured on the longest run
without a dropout, which must last --min-seconds.
Prints one JSON object; exit status 0 only if every channel matches.
"""
import argparse, json, math, struct, sys

ap = argparse.ArgumentParser()
ap.add_argument("file")
ap.add_argument("--expect", required=True)
ap.add_argument("--level-dbfs", type=float, required=True)
ap.add_argument("--channels", type=int)
ap.add_argument("--rate", type=int, default=48000)
ap.add_argument("--tol-hz", type=float, default=2.0)
ap.add_argument("--tol-db", type=float, default=0.5)
ap.add_argument("--min-seconds", type=float, default=1.0)
ap.add_argument("--max-gaps", type=int, default=0)
a = ap.parse_args()

data = open(a.file, "rb").read()
channels, bits, rate = a.channels, 32, a.rate
if data[:4] == b"RIFF":
    i = 12
    while i + 8 <= len(data):
        tag, size = data[i:i + 4], struct.unpack("<I", data[i + 4:i + 8])[0]
        if tag == b"fmt ":
            channels, rate = struct.unpack("<HI", data[i + 10:i + 16])
            bits = struct.unpack("<H", data[i + 22:i + 24])[0]
        if tag == b"data":
            data = data[i + 8:i + 8 + size] if size not in (0, 0xFFFFFFFF) else data[i + 8:]
            break
        i += 8 + size + (size & 1)
width = bits // 8
frames = len(data) // (width * channels)

def sample(k, c):
    o = (k * channels + c) * width
    b = data[o:o + width]
    if width == 2:
        return struct.unpack("<h", b)[0] / 32768.0
    if width == 3:
        return int.from_bytes(b, "little", signed=True) / 8388608.0
    return struct.unpack("<i", b)[0] / 2147483648.0

expect = [float(x) for x in a.expect.split(",")]
out = {"frames": frames, "channels": []}
ok = True
for c in range(channels):
    want = expect[c] if c < len(expect) else expect[-1]
    x = [sample(k, c) for k in range(frames)]
    loud = [k for k, v in enumerate(x) if abs(v) > 1e-3]
    res = {"channel": c + 1, "expect_hz": want}
    if not loud:
        res.update(ok=False, error="silent"); ok = False; out["channels"].append(res); continue
    seg = x[loud[0] + rate // 10: loud[-1]]
    # split at dropouts: runs of 16 or more (near) zero samples
    runs, gaps, start, zeros = [], 0, 0, 0
    for k, v in enumerate(seg):
        if abs(v) < 1e-4:
            zeros += 1
            if zeros == 16:
                gaps += 1
                runs.append(seg[start:k - 15])
        else:
            if zeros >= 16:
                start = k
            zeros = 0
    runs.append(seg[start:])
    best = max(runs, key=len)
    if len(best) < a.min_seconds * rate:
        res.update(ok=False, gaps=gaps, error="longest run without dropouts is %.2f s" % (len(best) / rate)); ok = False
        out["channels"].append(res); continue
    rms = math.sqrt(sum(v * v for v in best) / len(best))
    # upward zero crossings, interpolated between samples
    cross = [k - 1 + (-best[k - 1]) / (best[k] - best[k - 1]) for k in range(1, len(best)) if best[k - 1] < 0 <= best[k]]
    hz = (len(cross) - 1) / ((cross[-1] - cross[0]) / rate) if len(cross) > 2 else 0.0
    level = 20 * math.log10(rms * math.sqrt(2)) if rms > 0 else -999
    good = abs(hz - want) <= a.tol_hz and abs(level - a.level_dbfs) <= a.tol_db and gaps <= a.max_gaps
    res.update(seconds=round(len(seg) / rate, 3), longest_run_s=round(len(best) / rate, 3), hz=round(hz, 3),
               level_dbfs=round(level, 3), gaps=gaps, ok=good)
    ok &= good
    out["channels"].append(res)
out["ok"] = ok
print(json.dumps(out))
sys.exit(0 if ok else 1)
