#!/usr/bin/env python3
"""Drives an ALSA PCM through libasound (ctypes) for the plugin tests. Prints one JSON object.

  alsa_harness.py reopen PCM ROUNDS       open/transfer/close ROUNDS times in this process, alternating capture and
                                          playback, with snd_config_update_free_global() after each close; reports
                                          file descriptors, threads, RSS and child processes after round 1 and at
                                          the end.
  alsa_harness.py stall PCM SECONDS       plays the 2-channel test pattern (S32_LE, 48 kHz, period 240, buffer 960,
                                          start threshold one period) for SECONDS, stalls 200 ms once at 1/2 of the
                                          run, recovers from the xrun with snd_pcm_prepare and carries on; reports
                                          xruns and how long recovery took.
"""
import ctypes, ctypes.util, json, os, sys, time

lib = ctypes.CDLL(ctypes.util.find_library("asound") or "libasound.so.2")
c_pcm = ctypes.c_void_p
SND_PCM_STREAM_PLAYBACK, SND_PCM_STREAM_CAPTURE = 0, 1
SND_PCM_FORMAT_S32_LE = 10
SND_PCM_ACCESS_RW_INTERLEAVED = 3
SND_PCM_STATE_RUNNING = 3
EPIPE = 32
lib.snd_pcm_writei.argtypes = [c_pcm, ctypes.c_void_p, ctypes.c_ulong]
lib.snd_pcm_writei.restype = ctypes.c_long
lib.snd_pcm_readi.argtypes = [c_pcm, ctypes.c_void_p, ctypes.c_ulong]
lib.snd_pcm_readi.restype = ctypes.c_long
lib.snd_pcm_open.argtypes = [ctypes.POINTER(c_pcm), ctypes.c_char_p, ctypes.c_int, ctypes.c_int]
lib.snd_pcm_set_params.argtypes = [c_pcm, ctypes.c_int, ctypes.c_int, ctypes.c_uint, ctypes.c_uint, ctypes.c_int, ctypes.c_uint]
for f in ("snd_pcm_close", "snd_pcm_prepare", "snd_pcm_state", "snd_pcm_drop", "snd_pcm_drain", "snd_pcm_start"):
    getattr(lib, f).argtypes = [c_pcm]
lib.snd_strerror.restype = ctypes.c_char_p
lib.snd_pcm_delay.argtypes = [c_pcm, ctypes.POINTER(ctypes.c_long)]


def check(rc, what):
    if rc < 0:
        raise RuntimeError("%s: %s" % (what, lib.snd_strerror(rc).decode()))
    return rc


def open_pcm(name, stream):
    pcm = c_pcm()
    check(lib.snd_pcm_open(ctypes.byref(pcm), name.encode(), stream, 0), "snd_pcm_open " + name)
    return pcm


def pattern(c, t):
    v = ((t * (2 * c - 1) + (c - 1) * 65536) & 0xFFFFFF) << 8
    return v - (1 << 32) if v >= 1 << 31 else v


def usage():
    st = open("/proc/self/status").read()
    threads = int([l for l in st.splitlines() if l.startswith("Threads:")][0].split()[1])
    rss_kb = int([l for l in st.splitlines() if l.startswith("VmRSS:")][0].split()[1])
    me = os.getpid()
    children = []
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                fields = open("/proc/%s/stat" % p).read().rsplit(")", 1)[1].split()
                if int(fields[1]) == me:
                    children.append(int(p))
            except OSError:
                pass
    return {"fds": len(os.listdir("/proc/self/fd")), "threads": threads, "rss_kb": rss_kb, "children": len(children)}


def reopen(name, rounds):
    out = {"rounds": 0, "errors": [], "after_first": None, "end": None}
    buf = ctypes.create_string_buffer(2400 * 2 * 4)
    for i in range(rounds):
        capture = i % 2 == 0
        try:
            pcm = open_pcm(name, SND_PCM_STREAM_CAPTURE if capture else SND_PCM_STREAM_PLAYBACK)
            check(lib.snd_pcm_set_params(pcm, SND_PCM_FORMAT_S32_LE, SND_PCM_ACCESS_RW_INTERLEAVED, 2, 48000, 0, 40000),
                  "snd_pcm_set_params")
            n = (lib.snd_pcm_readi if capture else lib.snd_pcm_writei)(pcm, buf, 2400)
            check(n, "transfer")
            if not capture:
                lib.snd_pcm_drop(pcm)
            check(lib.snd_pcm_close(pcm), "snd_pcm_close")
            lib.snd_config_update_free_global()
            out["rounds"] += 1
        except RuntimeError as e:
            out["errors"].append("round %d: %s" % (i + 1, e))
        if i == 0:
            out["after_first"] = usage()
    time.sleep(0.2)
    out["end"] = usage()
    out["shm_left"] = sorted(f for f in os.listdir("/dev/shm") if f.startswith("inferno-alsa-%d-" % os.getpid()))
    return out


def stall(name, seconds):
    rate, period, buffer = 48000, 240, 960
    pcm = open_pcm(name, SND_PCM_STREAM_PLAYBACK)
    hw = ctypes.c_void_p()
    sw = ctypes.c_void_p()
    lib.snd_pcm_hw_params_malloc(ctypes.byref(hw))
    lib.snd_pcm_sw_params_malloc(ctypes.byref(sw))
    check(lib.snd_pcm_hw_params_any(pcm, hw), "hw_params_any")
    check(lib.snd_pcm_hw_params_set_access(pcm, hw, SND_PCM_ACCESS_RW_INTERLEAVED), "set_access")
    check(lib.snd_pcm_hw_params_set_format(pcm, hw, SND_PCM_FORMAT_S32_LE), "set_format")
    check(lib.snd_pcm_hw_params_set_channels(pcm, hw, 2), "set_channels")
    check(lib.snd_pcm_hw_params_set_rate(pcm, hw, rate, 0), "set_rate")
    check(lib.snd_pcm_hw_params_set_period_size(pcm, hw, ctypes.c_ulong(period), 0), "set_period_size")
    check(lib.snd_pcm_hw_params_set_buffer_size(pcm, hw, ctypes.c_ulong(buffer)), "set_buffer_size")
    check(lib.snd_pcm_hw_params(pcm, hw), "hw_params")
    check(lib.snd_pcm_sw_params_current(pcm, sw), "sw_params_current")
    check(lib.snd_pcm_sw_params_set_start_threshold(pcm, sw, ctypes.c_ulong(period)), "start_threshold")
    check(lib.snd_pcm_sw_params_set_avail_min(pcm, sw, ctypes.c_ulong(period)), "avail_min")
    check(lib.snd_pcm_sw_params(pcm, sw), "sw_params")
    total = seconds * rate
    stall_at = total // 2
    t0 = 1_000_000
    frame = 0
    xruns, recover_ms, stalled, stall_ms = 0, [], False, None
    delays = []
    buf = (ctypes.c_int32 * (period * 2))()
    while frame < total:
        for k in range(period):
            buf[2 * k] = pattern(1, t0 + frame + k)
            buf[2 * k + 1] = pattern(2, t0 + frame + k)
        if not stalled and frame >= stall_at:
            stalled = True
            began = time.monotonic()
            time.sleep(0.2)
            stall_ms = (time.monotonic() - began) * 1000   # a loaded machine oversleeps: the real stall
        n = lib.snd_pcm_writei(pcm, buf, period)
        if n == -EPIPE:
            xruns += 1
            began = time.monotonic()
            check(lib.snd_pcm_prepare(pcm), "prepare after xrun")
            n = check(lib.snd_pcm_writei(pcm, buf, period), "write after xrun")
            running = lib.snd_pcm_state(pcm) == SND_PCM_STATE_RUNNING
            recover_ms.append({"ms": (time.monotonic() - began) * 1000, "running": running})
        check(n, "snd_pcm_writei")
        frame += n
        if frame % (rate // 2) < period:
            d = ctypes.c_long()
            if lib.snd_pcm_delay(pcm, ctypes.byref(d)) == 0:
                delays.append(d.value)
    lib.snd_pcm_drain(pcm)
    lib.snd_pcm_close(pcm)
    return {"frames": frame, "xruns": xruns, "recoveries": recover_ms, "period": period, "buffer": buffer,
            "first_t": t0, "stall_at_frame": stall_at, "stall_ms": stall_ms, "delays": delays}


if __name__ == "__main__":
    mode, name, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    try:
        result = reopen(name, n) if mode == "reopen" else stall(name, n)
    except RuntimeError as e:
        result = {"error": str(e)}
    print(json.dumps(result))
