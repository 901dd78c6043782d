#!/usr/bin/env python3
"""`make bench`: measures the audio engine beside the kernel's own packet-I/O cost, on loopback.

Rows (printed as a table and written to bench/results.json):
  1 engine vs baseline: 64 TX -> 64 RX, 48 kHz/24-bit, 8 channels per flow, fpp 16 (24,000 packets/s)
  2 lowest latency: 16 -> 16 at fpp 2 (24,000 packets/s per flow); the smallest --latency-ms of 0.25..4 with
    zero late and zero lost packets for the run length
  3 memory: RSS idle at 2x2 and 64x64, streaming (row 1's devices), growth of a 16x16 pair over the whole bench
  4 allocations on the audio threads in steady state (bench/malloc_count.c preloaded), per packet
Per-second CPU samples give min/median/max. Usage: bench.py INFERNO BASELINE MALLOC_COUNT [--quick]
"""
import json, os, platform, re, signal, statistics, subprocess, sys, tempfile, time

inferno, baseline, malloc_count = sys.argv[1:4]
quick = "--quick" in sys.argv
WINDOW = 8 if quick else 30          # seconds measured in rows 1 and 2
LATENCY_RUN = 10 if quick else 60    # seconds per latency candidate
GROWTH_MIN = 0 if quick else 600     # the 16x16 growth pair runs at least this long
RATE = 48000
work = tempfile.mkdtemp(prefix="inferno-bench-")
procs = []
CLK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / CLK


def rss_kb(pid):
    for line in open("/proc/%d/status" % pid):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def device(tag, ports, pid, name, tx, rx, extra=(), subs=None, env=None):
    state = os.path.join(work, "state-" + tag)
    os.makedirs(state, exist_ok=True)
    dev_id = "00000000000e%04x" % pid
    if subs:
        json.dump({"version": 1, "subscriptions": {str(c): {"txChannel": "%02d" % c, "txDevice": subs}
                                                   for c in range(1, rx + 1)},
                   "txChannelNames": {}, "rxChannelNames": {}}, open(os.path.join(state, dev_id + ".json"), "w"))
    log = open(os.path.join(work, tag + ".log"), "w")
    args = [inferno, "run", "--bind", "127.0.0.1", "--ports", str(ports), "--process-id", str(pid), "--name", name,
            "--tx", str(tx), "--rx", str(rx), "--device-id", dev_id, "--state-dir", state, "--stats-seconds", "1"]
    p = subprocess.Popen(args + list(extra), stdout=log, stderr=subprocess.STDOUT, env=env)
    p.tag = tag
    procs.append(p)
    return p


def stop(p):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


TOTALS = re.compile(r"media totals: tx packets (\d+).*?rx packets (\d+), late (\d+),.*monotonic ns (\d+)")


def totals(tag):
    """Latest (tx packets, rx packets, late, monotonic ns) line of a device's log."""
    last = None
    for line in open(os.path.join(work, tag + ".log")):
        m = TOTALS.search(line)
        if m:
            last = tuple(int(x) for x in m.groups())
    return last


def wait_streaming(tag, pps, timeout=40):
    """Until the receiver's packet rate over one stats interval reaches 98 % of pps."""
    end = time.time() + timeout
    prev = None
    while time.time() < end:
        time.sleep(1.0)
        t = totals(tag)
        if t and prev and t[3] > prev[3]:
            rate = (t[1] - prev[1]) / ((t[3] - prev[3]) / 1e9)
            if rate >= 0.98 * pps:
                return True
        prev = t
    return False


def measure(pids, seconds):
    """Per-second CPU (seconds per second) of each pid over `seconds`."""
    samples = {p: [] for p in pids}
    last = {p: cpu_seconds(p) for p in pids}
    t_last = time.monotonic()
    for _ in range(seconds):
        time.sleep(1.0)
        now = time.monotonic()
        for p in pids:
            c = cpu_seconds(p)
            samples[p].append((c - last[p]) / (now - t_last))
            last[p] = c
        t_last = now
    return samples


def stats(xs):
    return {"min": round(min(xs), 4), "median": round(statistics.median(xs), 4), "max": round(max(xs), 4)}


def window(before, after, pps):
    secs = (after[3] - before[3]) / 1e9
    received = after[1] - before[1]
    return {"seconds": round(secs, 2), "received": received, "expected": int(pps * secs),
            "lost": max(0, int(pps * secs) - received), "late": after[2] - before[2]}


def streaming_window(a, b, pps):
    """Waits until b receives pps, then WINDOW seconds of per-second CPU of a and b and b's packet counts."""
    ok = wait_streaming(b.tag, pps)
    time.sleep(2)
    before = totals(b.tag)
    s = measure([a.pid, b.pid], WINDOW)
    after = totals(b.tag)
    return s, window(before, after, pps), ok


results = {"machine": {}, "rows": []}
cpu_model = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
results["machine"] = {"cores": os.cpu_count(), "cpu": cpu_model, "kernel": platform.release(), "build": "release",
                      "quick": quick}
rows = results["rows"]


def row(name, value, detail):
    rows.append({"row": name, "value": value, "detail": detail})
    print("| %-46s | %-30s | %s" % (name, value, json.dumps(detail)), flush=True)


try:
    print("machine: %d cores, %s, kernel %s, release build%s" % (os.cpu_count(), cpu_model, platform.release(),
                                                                   ", QUICK" if quick else ""), flush=True)
    # Row 3 (growth): a 16x16 pair that lives through the whole bench.
    ga = device("grow-a", 24600, 21, "growa", 16, 0, ["--tx-source", "pattern"])
    gb = device("grow-b", 24610, 22, "growb", 0, 16, ["--latency-ms", "20"], subs="growa")
    grow_started = time.monotonic()

    # Row 3 (idle RSS).
    idle = {}
    for tag, ch in (("idle2", 2), ("idle64", 64)):
        p = device(tag, 24620 if ch == 2 else 24630, 23 if ch == 2 else 24, tag, ch, ch)
        time.sleep(3)
        idle[tag] = rss_kb(p.pid)
        stop(p)
    wait_streaming("grow-b", 3000)
    grow0 = (rss_kb(ga.pid), rss_kb(gb.pid), time.monotonic())

    # Row 1: engine.
    a = device("a64", 24540, 11, "bencha", 64, 0, ["--tx-source", "pattern"])
    b = device("b64", 24550, 12, "benchb", 0, 64, ["--fpp", "16", "--latency-ms", "20"], subs="bencha")
    s, w, ok = streaming_window(a, b, 24000)
    stream_rss = {"tx64": rss_kb(a.pid), "rx64": rss_kb(b.pid)}
    stop(b); stop(a)
    # Row 1: baseline.
    brx = subprocess.Popen([baseline, "rx", "24700", "8", str(WINDOW + 3)], stdout=subprocess.PIPE, text=True)
    time.sleep(0.3)
    btx = subprocess.Popen([baseline, "tx", "127.0.0.1", "24700", "8", "16", "8", str(WINDOW + 2)], stdout=subprocess.PIPE, text=True)
    time.sleep(1)
    bs = measure([btx.pid, brx.pid], WINDOW)
    btx_out = json.loads(btx.communicate()[0]); brx_out = json.loads(brx.communicate()[0])
    e_tx, e_rx = stats(s[a.pid]), stats(s[b.pid])
    b_tx, b_rx = stats(bs[btx.pid]), stats(bs[brx.pid])
    row("1 engine TX, 64 ch, 24k pkt/s (CPU s/s)", "%.4f" % e_tx["median"], {"engine": e_tx, "baseline": b_tx,
        "ratio": round(e_tx["median"] / max(b_tx["median"], 1e-6), 2)})
    row("1 engine RX, 64 ch, 24k pkt/s (CPU s/s)", "%.4f" % e_rx["median"], {"engine": e_rx, "baseline": b_rx,
        "ratio": round(e_rx["median"] / max(b_rx["median"], 1e-6), 2)})
    row("1 packets: late / lost", "%d / %d" % (w["late"], w["lost"]), dict(w, streaming=ok,
        baseline_tx_packets=btx_out["packets"], baseline_rx_packets=brx_out["packets"]))

    # Row 2: 16x16 at fpp 2.
    a = device("a16", 24560, 13, "benchc", 16, 0, ["--tx-source", "pattern"])
    b = device("b16", 24570, 14, "benchd", 0, 16, ["--fpp", "2", "--latency-ms", "4"], subs="benchc")
    s, w, ok = streaming_window(a, b, 48000)
    stop(b)
    row("2 16 ch fpp 2, 2 x 24k pkt/s: TX / RX CPU s/s", "%.4f / %.4f" % (stats(s[a.pid])["median"], stats(s[b.pid])["median"]),
        {"tx": stats(s[a.pid]), "rx": stats(s[b.pid]), "late": w["late"], "lost": w["lost"], "streaming": ok})
    smallest, tried = None, []
    for n, lat in enumerate(["0.25", "0.5", "1", "2", "4"]):
        tag = "lat%d" % n
        b = device(tag, 24580, 15, "benche%d" % n, 0, 16, ["--fpp", "2", "--latency-ms", lat], subs="benchc")
        ok = wait_streaming(tag, 48000, timeout=30)
        time.sleep(1)
        before = totals(tag)
        time.sleep(LATENCY_RUN)
        after = totals(tag)
        stop(b)
        w = window(before, after, 48000) if before and after else {"late": -1, "lost": -1}
        tried.append({"latency_ms": float(lat), "late": w["late"], "lost": w["lost"], "streaming": ok})
        if ok and w["late"] == 0 and w["lost"] == 0:
            smallest = float(lat)
            break
    stop(a)
    row("2 smallest clean --latency-ms (%d s runs)" % LATENCY_RUN, str(smallest), {"tried": tried})

    # Row 4: allocations on the audio threads, steady state.
    out = os.path.join(work, "malloc.json")
    env = dict(os.environ, LD_PRELOAD=malloc_count, MALLOC_COUNT_OUT=out, MALLOC_COUNT_SKIP_MS="10000")
    a = device("m-a", 24640, 25, "benchma", 64, 0, ["--tx-source", "pattern"], env=env)
    b = device("m-b", 24650, 26, "benchmb", 0, 64, ["--fpp", "16", "--latency-ms", "20"], subs="benchma", env=env)
    ok = wait_streaming("m-b", 24000)
    time.sleep(11)
    before = totals("m-b")
    time.sleep(WINDOW // 2)
    after = totals("m-b")
    stop(b); stop(a)
    counts = [json.loads(l) for l in open(out)] if os.path.exists(out) else []
    tx_allocs = sum(c["tx"] for c in counts); rx_allocs = sum(c["rx"] for c in counts)
    pk = (after[1] - before[1]) if before and after else 0
    row("4 heap allocations per packet, TX / RX", "%s / %s" % (tx_allocs, rx_allocs),
        {"tx_allocations": tx_allocs, "rx_allocations": rx_allocs, "packets_in_window": pk, "streaming": ok,
         "including_thread_startup": [sum(c.get("tx_all", 0) for c in counts), sum(c.get("rx_all", 0) for c in counts)],
         "main_thread_control": sum(c.get("main", 0) for c in counts),
         "note": "counted on threads inferno-tx/inferno-rx from 10 s after start until exit"})

    # Row 3: memory.
    while time.monotonic() - grow_started < GROWTH_MIN:
        time.sleep(5)
    grow1 = (rss_kb(ga.pid), rss_kb(gb.pid), time.monotonic())
    gt = totals("grow-b")
    row("3 RSS idle 2x2 / 64x64 (KB)", "%d / %d" % (idle["idle2"], idle["idle64"]), idle)
    row("3 RSS streaming 64 TX / 64 RX (KB)", "%d / %d" % (stream_rss["tx64"], stream_rss["rx64"]), stream_rss)
    row("3 RSS growth 16x16 TX / RX over %.1f min (KB)" % ((grow1[2] - grow0[2]) / 60),
        "%+d / %+d" % (grow1[0] - grow0[0], grow1[1] - grow0[1]),
        {"start_kb": grow0[:2], "end_kb": grow1[:2], "rx_packets": gt[1] if gt else None, "late": gt[2] if gt else None})
finally:
    for p in procs:
        stop(p)

print("results: %s/results.json (work files in %s)" % (os.path.dirname(os.path.abspath(__file__)), work))
json.dump(results, open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "results.json"), "w"), indent=1)
