#!/usr/bin/env python3
"""Checks a recording of the `pattern` test signal sample by sample.

pattern: TX channel c (1-based) at media time t carries the 24-bit value
v_c(t) = (t*(2c-1) + (c-1)*65536) mod 2^24 in the top 24 bits of an Int32.

Usage: verify_pattern.py FILE CHANNELS [--bits-on-wire 16|24|32] [--first-frame-time T] [--tx-channels 1,2,..]
Prints one JSON object: locked_at, frames_checked, mismatches, timeline_offset (recorded media time of the
first locked frame minus the time the pattern encodes; 0 when placement by timestamp is exact).
Exit status 0 only if the recording locked, at least one second was checked and nothing mismatched.
"""
import argparse, json, struct, sys

ap = argparse.ArgumentParser()
ap.add_argument("file")
ap.add_argument("channels", type=int)
ap.add_argument("--bits-on-wire", type=int, default=24)
ap.add_argument("--first-frame-time", type=int)
ap.add_argument("--tx-channels", help="TX channel feeding each recorded channel (default 1..N)")
ap.add_argument("--min-seconds", type=float, default=1.0)
ap.add_argument("--rate", type=int, default=48000)
ap.add_argument("--segments", action="store_true",
                help="recovery mode: every frame must be all-zero (a gap) or the pattern at first-frame-time + k")
ap.add_argument("--restart-ns", type=int, help="with --segments: CLOCK_TAI ns when the transmitter restarted")
a = ap.parse_args()

data = open(a.file, "rb").read()
if data[:4] == b"RIFF":
    i = 12
    while i + 8 <= len(data):
        tag, size = data[i:i + 4], struct.unpack("<I", data[i + 4:i + 8])[0]
        if tag == b"data":
            data = data[i + 8:]
            break
        i += 8 + size
n = a.channels
frames = len(data) // (4 * n)
samples = struct.unpack("<%di" % (frames * n), data[:frames * n * 4])
tx = [int(x) for x in a.tx_channels.split(",")] if a.tx_channels else list(range(1, n + 1))
mask = {16: 0xFFFF0000, 24: 0xFFFFFF00, 32: 0xFFFFFFFF}[a.bits_on_wire]

def pattern(c, t):
    v = (t * (2 * c - 1) + (c - 1) * 65536) & 0xFFFFFF
    return v << 8

def u(x):
    return x & 0xFFFFFFFF

if a.segments:
    ref = a.first_frame_time
    state, gaps, bad, first_good = [], 0, 0, None
    classes = []
    for k in range(frames):
        row = [u(samples[k * n + ch]) for ch in range(n)]
        if all(v == 0 for v in row):
            classes.append("z")
        elif all(row[ch] & mask == pattern(tx[ch], ref + k) & mask and not row[ch] & ~mask & 0xFFFFFFFF for ch in range(n)):
            classes.append("g")
        else:
            classes.append("b")
    runs = []
    for k, c in enumerate(classes):
        if runs and runs[-1][0] == c:
            runs[-1][2] = k + 1
        else:
            runs.append([c, k, k + 1])
    bad = sum(e - b for c, b, e in runs if c == "b")
    resumed = None
    if a.restart_ns is not None:
        restart = a.restart_ns * a.rate // 1_000_000_000
        # The first run of good frames that starts after the outage began (the restart comes 2+ s after it).
        later = [r for r in runs if r[0] == "g" and ref + r[1] > restart - a.rate]
        if later and later[0][1] > 0:
            resumed = (ref + later[0][1] - restart) / a.rate
    print(json.dumps({"runs": [(c, b, e) for c, b, e in runs][:20], "bad_frames": bad, "ok": bad == 0,
                      "resumed_after_s": resumed}))
    sys.exit(0 if bad == 0 else 1)

# Lock: first frame from which every channel follows the pattern for 8 frames.
locked = None
for k in range(frames - 8):
    s = u(samples[k * n])
    if s == 0:
        continue
    t = (s >> 8) if tx[0] == 1 else None
    if t is None:
        # derive t from channel c: v = t*(2c-1) + (c-1)*65536  (2c-1 is odd, invertible mod 2^24)
        c = tx[0]
        inv = pow(2 * c - 1, -1, 1 << 24)
        t = (((s >> 8) - (c - 1) * 65536) * inv) & 0xFFFFFF
    if all(u(samples[(k + j) * n + ch]) & mask == pattern(tx[ch], t + j) & mask for j in range(8) for ch in range(n)):
        locked = (k, t)
        break

out = {"frames": frames, "locked_at": None, "frames_checked": 0, "mismatches": 0, "timeline_offset": None}
if locked is None:
    print(json.dumps(out)); sys.exit(1)
k0, t24 = locked
t0 = t24
if a.first_frame_time is not None:
    ref = a.first_frame_time + k0
    d = (t24 - ref) & 0xFFFFFF
    if d >= 1 << 23:
        d -= 1 << 24
    t0 = ref + d
    out["timeline_offset"] = d
mism = 0
first_bad = None
for j in range(frames - k0):
    base = (k0 + j) * n
    t = t0 + j
    for ch in range(n):
        if u(samples[base + ch]) & mask != pattern(tx[ch], t) & mask or u(samples[base + ch]) & ~mask & 0xFFFFFFFF:
            mism += 1
            if first_bad is None:
                first_bad = {"frame": k0 + j, "channel": ch + 1, "got": u(samples[base + ch]), "want": pattern(tx[ch], t) & mask}
out.update(locked_at=k0, frames_checked=frames - k0, mismatches=mism, first_mismatch=first_bad)
print(json.dumps(out))
ok = mism == 0 and frames - k0 >= a.min_seconds * a.rate and (out["timeline_offset"] in (None, 0))
sys.exit(0 if ok else 1)
