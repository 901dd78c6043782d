#!/usr/bin/env python3
"""Checks a received AoDNS tone (stdlib only). Prints one JSON object.

  aodns_check.py tone FILE.wav [--skip S] [--expect HZ]
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
    skip = int(a.skip * rate)
    x = x[skip:]
    out = {"seconds": round(len(x) / rate, 3), "rate": rate}
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


p = argparse.ArgumentParser()
sub = p.add_subparsers(dest="cmd", required=True)
t = sub.add_parser("tone"); t.add_argument("file"); t.add_argument("--skip", type=float, default=0.5)
t.add_argument("--expect", type=float); t.add_argument("--min-snr", type=float, default=30.0)
a = p.parse_args()
{"tone": cmd_tone}[a.cmd](a)
