#!/usr/bin/env python3
"""Checks a recording of the `pattern` test signal sample by sample.

pattern: TX channel c (1-based) at media time t carries the 24-bit value
v_c(t) = (t*(2c-1) + (c-1)*65536) mod 2^24 in the top 24 bits of an Int32.

Usage: verify_pattern.py FILE CHANNELS [--bits-on-wire 16|24|32] [--first-frame-time T] [--tx-channels 1,2,..]
                         [--late N | --late-from LOG]
Prints one JSON object: locked_at, frames_checked, mismatches, timeline_offset (recorded media time of the
first locked frame minus the time the pattern encodes; 0 when placement by timestamp is exact).
Exit status 0 only if the recording locked, at least one second was checked and nothing mismatched.
--late N (the recorder's count of late packets): silence where the pattern continues is then counted as holes
(hole_samples), not mismatches, up to 1% of the checked samples. A machine too loaded to deliver every packet in
time is measured by `make bench`; a wrong sample, or a hole nothing explains, still fails.
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
ap.add_argument("--holes", action="store_true",
                help="fault mode, per sample: each is the pattern at first-frame-time + k or exactly zero (a hole); "
                     "needs numpy")
ap.add_argument("--burst-start-ns", type=int,
                help="with --holes: CLOCK_TAI ns when a total outage began; reports the holes before it")
ap.add_argument("--burst-end-ns", type=int,
                help="with --holes: CLOCK_TAI ns when a total outage ended; reports when every channel carried "
                     "the pattern again")
ap.add_argument("--late", type=int, default=0,
                help="the recorder's late-packet count: when above zero, a sample that is exactly zero where the "
                     "pattern continues is a hole (a late packet on a loaded machine), not a mismatch; at most "
                     "--max-hole-fraction of the checked samples")
ap.add_argument("--late-from", metavar="LOG",
                help="take --late from the receiver's log (the largest 'late N' it printed)")
ap.add_argument("--max-hole-fraction", type=float, default=0.01)
a = ap.parse_args()
if a.late_from:
    import re
    try:
        a.late = max([a.late] + [int(m) for m in re.findall(r"\blate (\d+)", open(a.late_from, errors="replace").read())])
    except OSError:
        pass

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

if a.holes:
    import numpy as np
    allx = np.frombuffer(data[:frames * n * 4], dtype="<u4").reshape(frames, n)
    good_rows = np.zeros(frames, dtype=bool)
    zero_rows = np.zeros(frames, dtype=bool)
    good_count = np.zeros(frames, dtype=np.int32)   # per frame, channels carrying the pattern
    zero_count = np.zeros(frames, dtype=np.int32)   # per frame, channels that are holes (zero, not a pattern zero)
    bad_total, first_bad, holes_total, pattern_zeros = 0, None, 0, 0
    step = 4 * a.rate
    for lo in range(0, frames, step):
        x = allx[lo:lo + step].astype(np.int64)
        t = a.first_frame_time + lo + np.arange(len(x), dtype=np.int64)
        want = np.stack([((t * (2 * c - 1) + (c - 1) * 65536) & 0xFFFFFF) << 8 for c in tx], axis=1) & mask
        good = x == want
        zero = x == 0
        bad = ~(good | zero)
        good_rows[lo:lo + len(x)] = good.all(axis=1)
        zero_rows[lo:lo + len(x)] = zero.all(axis=1)
        good_count[lo:lo + len(x)] = good.sum(axis=1)
        holes = zero & ~good   # a pattern value that happens to be 0 is not a hole
        zero_count[lo:lo + len(x)] = holes.sum(axis=1)
        holes_total += int(holes.sum())
        pattern_zeros += int((zero & good).sum())   # a hole there cannot be told from the pattern
        if bad.any():
            bad_total += int(bad.sum())
            if first_bad is None:
                k, ch = map(int, np.argwhere(bad)[0])
                first_bad = {"frame": lo + k, "channel": ch + 1, "got": int(x[k, ch]), "want": int(want[k, ch])}
    # The recording starts with silence until the first packets arrive: holes are counted from the first good frame.
    first = int(np.argmax(good_rows)) if good_rows.any() else frames
    hole_samples = int(zero_count[first:].sum())
    out = {"frames": frames, "first_good_frame": first, "bad_samples": bad_total,
           "good_samples": int(good_count[first:].sum()), "hole_samples": hole_samples,
           "hole_fraction": hole_samples / max(1, (frames - first) * n),
           "all_zero_frames_after_first": int(zero_rows[first:].sum()), "first_bad": first_bad,
           "hole_samples_total": holes_total, "pattern_zero_samples": pattern_zeros}
    if a.burst_start_ns is not None:
        b0 = max(first, min(frames, a.burst_start_ns * a.rate // 1_000_000_000 - a.first_frame_time))
        out["hole_fraction_before_burst"] = float(zero_count[first:b0].sum() / max(1, (b0 - first) * n))
    if a.burst_end_ns is not None:
        end = a.burst_end_ns * a.rate // 1_000_000_000 - a.first_frame_time
        out["burst_end_frame"] = int(end)
        after = np.nonzero(good_rows[max(0, end):])[0]
        out["recovered_after_s"] = float(after[0] / a.rate) if len(after) and 0 <= end < frames else None
        # The outage itself: all-zero frames in the 10 s before the burst end (a 5 s burst leaves about 5 s).
        out["silent_s_before_burst_end"] = float(zero_rows[max(0, end - 10 * a.rate):max(0, end)].sum() / a.rate)
    ok = bad_total == 0 and first < frames
    out["ok"] = ok
    print(json.dumps(out))
    sys.exit(0 if ok else 1)

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
mism = holes = 0
first_bad = None
for j in range(frames - k0):
    base = (k0 + j) * n
    t = t0 + j
    for ch in range(n):
        if u(samples[base + ch]) & mask != pattern(tx[ch], t) & mask or u(samples[base + ch]) & ~mask & 0xFFFFFFFF:
            if a.late > 0 and samples[base + ch] == 0:
                holes += 1
                continue
            mism += 1
            if first_bad is None:
                first_bad = {"frame": k0 + j, "channel": ch + 1, "got": u(samples[base + ch]), "want": pattern(tx[ch], t) & mask}
out.update(locked_at=k0, frames_checked=frames - k0, mismatches=mism, first_mismatch=first_bad,
           late_packets=a.late, hole_samples=holes)
print(json.dumps(out))
ok = mism == 0 and holes <= a.max_hole_fraction * (frames - k0) * n and frames - k0 >= a.min_seconds * a.rate and (out["timeline_offset"] in (None, 0))
sys.exit(0 if ok else 1)
