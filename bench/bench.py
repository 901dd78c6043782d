#!/usr/bin/env python3
"""`make bench`: measures the audio engine beside the kernel's own packet-I/O cost, on loopback.

Rows (printed as a table and written to bench/results.json):
  1 engine vs baseline: 64 TX -> 64 RX, 48 kHz/24-bit, 8 channels per flow, fpp 16 (24,000 packets/s)
  2 lowest latency: 16 -> 16 at fpp 2 (24,000 packets/s per flow); the smallest --latency-ms of 0.25..4 with
    zero late and zero lost packets for the run length
  3 memory: RSS idle at 2x2 and 64x64, streaming (row 1's devices), growth of a 16x16 pair over the whole bench
  4 allocations on the audio threads in steady state (bench/malloc_count.c preloaded), per packet
  5 time to audio: `inferno subscribe --timing` (ARC 0x3010 sent) to the first non-silent sample `inferno record`
    writes to its stdout pipe, on a fresh receiver each time (default latency 4 ms); median of 10
  6 bridges: the AoDNS server (`inferno aodns serve`) vs NSD serving the same seq_N TXT RRsets as a static zone,
    queries/s and p99 answer time from bench/dnsload.c (32 and 1 queries in flight); AudioSocket, 200 calls from
    bench/asload.c against `inferno audiosocket serve`: server CPU, its own send-pacing p99, arrival jitter p99
  7 PTP (root, network namespaces): a ptp4l leader; our v2 follower (`inferno clock show --clock ptp --trace-ms`)
    and ptp4l's own follower (free_running) beside it for the same run: lock time, and p50/p99 of |media time −
    CLOCK_REALTIME| (ours, the real error: every namespace shares REALTIME) next to p50/p99 of ptp4l's |master
    offset| (its measurement noise on the same path), both from 5 s after lock
Per-second CPU samples give min/median/max; short runs are repeated (5 times, QUICK 3).
Usage: bench.py INFERNO BASELINE MALLOC_COUNT DNSLOAD ASLOAD [--quick]; BENCH_ROWS=5,6 runs only those rows.
"""
import json, os, platform, re, shutil, signal, statistics, subprocess, sys, tempfile, threading, time

inferno, baseline, malloc_count, dnsload, asload = sys.argv[1:6]
quick = "--quick" in sys.argv
WINDOW = 8 if quick else 30          # seconds measured in rows 1 and 2
LATENCY_RUN = 10 if quick else 60    # seconds per latency candidate
GROWTH_MIN = 0 if quick else 600     # the 16x16 growth pair runs at least this long
REPS = 3 if quick else 5             # repetitions of the short rows (6)
TTA_REPS = 5 if quick else 10        # time-to-audio samples (5)
LOAD_SECONDS = 3 if quick else 5     # each DNS load run
CALL_SECONDS = 6 if quick else 12    # the 200-call AudioSocket run
PTP_SECONDS = 30 if quick else 120   # the PTP row's run
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
only = {int(x) for x in os.environ.get("BENCH_ROWS", "").split(",") if x.strip()}


def want(n):
    return not only or n in only


def row(name, value, detail):
    rows.append({"row": name, "value": value, "detail": detail})
    print("| %-46s | %-30s | %s" % (name, value, json.dumps(detail)), flush=True)


try:
    print("machine: %d cores, %s, kernel %s, release build%s" % (os.cpu_count(), cpu_model, platform.release(),
                                                                   ", QUICK" if quick else ""), flush=True)
    if want(3):
        # Row 3 (growth): a 16x16 pair that lives through the whole bench.
        ga = device("grow-a", 24600, 21, "growa", 16, 0, ["--tx-source", "pattern"])
        gb = device("grow-b", 24610, 22, "growb", 0, 16, ["--latency-ms", "20"], subs="growa")
        grow_started = time.monotonic()

    if want(3):
        # Row 3 (idle RSS).
        idle = {}
        for tag, ch in (("idle2", 2), ("idle64", 64)):
            p = device(tag, 24620 if ch == 2 else 24630, 23 if ch == 2 else 24, tag, ch, ch)
            time.sleep(3)
            idle[tag] = rss_kb(p.pid)
            stop(p)
        wait_streaming("grow-b", 3000)
        grow0 = (rss_kb(ga.pid), rss_kb(gb.pid), time.monotonic())

    if want(1):
        # Row 1: engine.
        a = device("a64", 24540, 11, "bencha", 64, 0, ["--tx-source", "pattern"])
        b = device("b64", 24550, 12, "benchb", 0, 64, ["--fpp", "16", "--latency-ms", "20"], subs="bencha")
        s, w, ok = streaming_window(a, b, 24000)
        stream_rss = {"tx64": rss_kb(a.pid), "rx64": rss_kb(b.pid)}
        stop(b); stop(a)
    if want(1):
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

    if want(2):
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

    if want(4):
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

    if want(5):
        # Row 5: time to audio.
        a = device("tta-a", 24660, 27, "benchta", 2, 0, ["--tx-source", "pattern"])
        time.sleep(2)
        tta, fails = [], []
        for i in range(TTA_REPS):
            state = os.path.join(work, "state-tta-%d" % i)
            os.makedirs(state)
            log = open(os.path.join(work, "tta-b-%d.log" % i), "w")
            rec = subprocess.Popen([inferno, "record", "--bind", "127.0.0.1", "--ports", "24670", "--process-id", "28",
                                    "--name", "benchtb", "--tx", "0", "--rx", "2", "--device-id", "00000000000e0028",
                                    "--state-dir", state, "--channels", "1", "-o", "-", "--quiet"],
                                   stdout=subprocess.PIPE, stderr=log)
            first = []
            def reader(f=rec.stdout, first=first):
                while True:
                    chunk = os.read(f.fileno(), 65536)
                    if not chunk:
                        return
                    if not first and chunk.strip(b"\0"):
                        first.append(time.monotonic_ns())
            th = threading.Thread(target=reader, daemon=True)
            th.start()
            time.sleep(2.0)
            out = subprocess.run([inferno, "subscribe", "--bind", "127.0.0.1", "--rx", "1@benchtb", "--tx", "01@benchta",
                                  "--timing"], capture_output=True, text=True, timeout=30)
            m = re.search(r"sent at monotonic ns (\d+)", out.stdout)
            end = time.monotonic() + 10
            while not first and time.monotonic() < end:
                time.sleep(0.005)
            stop(rec)
            th.join(2)
            if m and first:
                tta.append((first[0] - int(m.group(1))) / 1e6)
            else:
                fails.append(out.stderr.strip()[-200:] or "no audio within 10 s")
        stop(a)
        row("5 time to audio, subscribe -> first sample (ms)", "%.0f" % statistics.median(tta) if tta else "n/a",
            dict(stats(tta) if tta else {}, samples=[round(x, 1) for x in tta], failures=fails, latency_ms=4))

    if want(6):
        # Row 6: AoDNS server vs NSD.
        zone = "bench.example"
        srv_log = open(os.path.join(work, "aodns.log"), "w")
        srv = subprocess.Popen([inferno, "aodns", "serve", zone, "--listen", "127.0.0.1:24753", "--rate-limit", "0"],
                               stdout=srv_log, stderr=subprocess.STDOUT)
        procs.append(srv)
        time.sleep(20)   # a full window of packs (75 x 240 ms)

        def dig(*args):
            return subprocess.run(["dig", "@127.0.0.1", "-p", "24753"] + list(args), capture_output=True, text=True).stdout

        def window_names(newest_half):
            head = dig("head." + zone, "TXT", "+short")
            mm = re.search(r"f=(\d+);n=(\d+)", head)
            f0, n = int(mm.group(1)), int(mm.group(2))
            lo = f0 + (n // 2 if newest_half else 0)
            return ["seq_%d.%s" % (k, zone) for k in range(lo, f0 + n)]

        def load(port, names, inflight):
            path = os.path.join(work, "names.txt")
            open(path, "w").write("\n".join(names) + "\n")
            r = subprocess.run([dnsload, "127.0.0.1", str(port), path, str(LOAD_SECONDS), str(inflight)],
                               capture_output=True, text=True)
            return json.loads(r.stdout)

        ours = {32: [], 1: []}
        cpu = []
        for _ in range(REPS):
            for inflight in (32, 1):
                names = window_names(True)      # the newest half stays in the window for the whole run
                c0 = cpu_seconds(srv.pid); t0 = time.monotonic()
                ours[inflight].append(load(24753, names, inflight))
                if inflight == 32:
                    cpu.append((cpu_seconds(srv.pid) - c0) / (time.monotonic() - t0))
        # The same RRsets as a static zone, served by NSD (one server process, like ours).
        nsd_dir = os.path.join(work, "nsd")
        os.makedirs(nsd_dir)
        names = window_names(False)
        open(os.path.join(nsd_dir, "batch"), "w").write("".join("%s TXT\n" % n for n in names))
        answers = dig("-f", os.path.join(nsd_dir, "batch"), "+noall", "+answer")
        open(os.path.join(nsd_dir, "zone"), "w").write(
            "$ORIGIN %s.\n$TTL 60\n@ IN SOA ns host 1 3600 600 86400 1\n@ IN NS ns\nns IN A 127.0.0.1\n%s" % (zone, answers))
        open(os.path.join(nsd_dir, "nsd.conf"), "w").write("""server:
      ip-address: 127.0.0.1@24754
      server-count: 1
      username: ""
      chroot: ""
      zonesdir: "%(d)s"
      database: ""
      zonelistfile: "%(d)s/zone.list"
      xfrdfile: "%(d)s/xfrd.state"
      pidfile: "%(d)s/nsd.pid"
      logfile: "%(d)s/nsd.log"
      rrl-ratelimit: 0
    remote-control:
      control-enable: no
    zone:
      name: %(z)s
      zonefile: zone
    """ % {"d": nsd_dir, "z": zone})
        nsd = subprocess.Popen([shutil.which("nsd") or "/usr/sbin/nsd", "-d", "-c", os.path.join(nsd_dir, "nsd.conf")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(nsd)
        time.sleep(2)
        theirs = {32: [], 1: []}
        for _ in range(REPS):
            for inflight in (32, 1):
                theirs[inflight].append(load(24754, names, inflight))
        stop(nsd)
        stop(srv)

        def summary(runs):
            return {"qps": stats([r["qps"] for r in runs]), "p99_ms": stats([r["p99_ms"] for r in runs]),
                    "noerror_share": round(sum(r["noerror"] for r in runs) / max(1, sum(r["answered"] for r in runs)), 4),
                    "lost": sum(r["lost"] for r in runs)}
        s32, n32, s1, n1 = summary(ours[32]), summary(theirs[32]), summary(ours[1]), summary(theirs[1])
        row("6 AoDNS seq_N, 32 in flight: q/s ours / NSD", "%.0f / %.0f" % (s32["qps"]["median"], n32["qps"]["median"]),
            {"ours": s32, "nsd": n32, "server_cpu_s_per_s": stats(cpu)})
        row("6 AoDNS seq_N, 1 in flight: p99 ms ours / NSD", "%.3f / %.3f" % (s1["p99_ms"]["median"], n1["p99_ms"]["median"]),
            {"ours": s1, "nsd": n1})

    if want(6):
        # Row 6: AudioSocket, 200 concurrent calls.
        as_log = os.path.join(work, "audiosocket.log")
        asrv = subprocess.Popen([inferno, "audiosocket", "serve", "--listen", "127.0.0.1:24792", "--max-calls", "200",
                                 "--play", "tone:440"], stdout=open(as_log, "w"), stderr=subprocess.STDOUT)
        procs.append(asrv)
        time.sleep(2)
        c0 = cpu_seconds(asrv.pid); t0 = time.monotonic()
        r = subprocess.run([asload, "127.0.0.1", "24792", "200", str(CALL_SECONDS)], capture_output=True, text=True)
        as_cpu = (cpu_seconds(asrv.pid) - c0) / (time.monotonic() - t0)
        client = json.loads(r.stdout)
        time.sleep(1)
        stop(asrv)
        pace = [json.loads(l)["pace_p99_ms"] for l in open(as_log) if l.startswith('{"event":"hangup"')]
        row("6 AudioSocket 200 calls: CPU s/s, pacing p99 ms", "%.3f, %.2f" % (as_cpu, max(pace) if pace else -1),
            {"server_cpu_s_per_s": round(as_cpu, 4), "calls_ended": len(pace),
             "server_pace_p99_ms": stats(pace) if pace else None, "client": client,
             "note": "pace = gap between a call's consecutive sends (ideal 20 ms) as the server logs it; client jitter = |arrival gap - 20 ms| at the fake Asterisk"})

    if want(7) and os.geteuid() == 0 and shutil.which("ptp4l"):
        # Row 7: PTP, in namespaces: h1 ptp4l leader, h2 our follower, h3 ptp4l's follower.
        netns = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts", "netns.sh")
        pfx = "bptp%d" % os.getpid()
        subprocess.run([netns, "up", pfx, "3", "73"], check=True)
        try:
            common = "[global]\ntime_stamping software\nnetwork_transport UDPv4\nfree_running 1\nlogSyncInterval -3\n"
            mcfg, scfg = os.path.join(work, "ptp-m.cfg"), os.path.join(work, "ptp-s.cfg")
            open(mcfg, "w").write(common + "masterOnly 1\npriority1 100\nlogAnnounceInterval 0\nuds_address %s/m.sock\n" % work)
            open(scfg, "w").write(common + "slaveOnly 1\ntx_timestamp_timeout 20\nuds_address %s/s.sock\n" % work)
            m = subprocess.Popen([netns, "exec", pfx, "1", "ptp4l", "-f", mcfg, "-i", "eth0", "-m"],
                                 stdout=open(os.path.join(work, "ptp-m.log"), "w"), stderr=subprocess.STDOUT)
            procs.append(m)
            time.sleep(1)
            sl = subprocess.Popen([netns, "exec", pfx, "3", "ptp4l", "-f", scfg, "-i", "eth0", "-m"],
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            procs.append(sl)
            t_start = time.monotonic()
            ours = subprocess.run([netns, "exec", pfx, "2", inferno, "clock", "show", "--clock", "ptp", "--bind", "eth0",
                                   "--ptp-version", "2", "--ptp-leader", "never", "--wait-ms", str(PTP_SECONDS * 1000),
                                   "--trace-ms", "250"], capture_output=True, text=True, timeout=PTP_SECONDS + 60)
            t_end = time.monotonic()
            sl.send_signal(signal.SIGTERM)
            slog = sl.communicate(timeout=10)[0]
            open(os.path.join(work, "ptp-s.log"), "w").write(slog)
            stop(m)
            trace = [l.split()[1:] for l in ours.stdout.splitlines() if l.startswith("trace: ")]
            lock_ms = next((int(t[0]) for t in trace if t[3] == "locked"), None)
            mine = [abs(int(t[1])) for t in trace if lock_ms is not None and int(t[0]) >= lock_ms + 5000 and t[1] != "none"]
            # ptp4l: "ptp4l[T]: master offset X s2 freq F path delay D"; its start is its first log line.
            lines = [re.match(r"ptp4l\[([0-9.]+)\]: (.*)", l) for l in slog.splitlines()]
            lines = [(float(x.group(1)), x.group(2)) for x in lines if x]
            t0 = lines[0][0] if lines else 0
            # Per-sample lines ("master offset X sN …") or, as ptp4l prints them by default, one summary a second
            # ("rms X max Y freq …", from its first lock on).
            samples = [(t - t0, re.search(r"master offset\s+(-?\d+) (s\d)", l)) for t, l in lines]
            samples = [(t, int(x.group(1)), x.group(2)) for t, x in samples if x]
            summaries = [(t - t0, re.search(r"rms\s+(\d+) max\s+(\d+)", l)) for t, l in lines]
            summaries = [(t, int(x.group(1)), int(x.group(2))) for t, x in summaries if x]
            if samples:
                p4_lock = next((t for t, _, st in samples if st == "s2"), None)
                theirs = [abs(o) for t, o, st in samples if p4_lock is not None and t >= p4_lock + 5]
            else:
                p4_lock = summaries[0][0] if summaries else None
                theirs = [r for t, r, _ in summaries if p4_lock is not None and t >= p4_lock + 5]

            def pct(xs, q):
                xs = sorted(xs)
                return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else None
            d = {"seconds": PTP_SECONDS, "ours": {"lock_ms": lock_ms, "samples": len(mine), "p50_ns": pct(mine, 0.5),
                                                   "p99_ns": pct(mine, 0.99), "max_ns": max(mine) if mine else None,
                                                   "what": "|media time - CLOCK_REALTIME| every 250 ms"},
                 "ptp4l": {"lock_s": p4_lock, "samples": len(theirs), "p50_ns": pct(theirs, 0.5), "p99_ns": pct(theirs, 0.99),
                           "max_ns": max(theirs) if theirs else None, "what": "|master offset| per sync, or its per-second rms when ptp4l prints summaries (then p50/p99 are of the rms values and max is the largest rms), free_running"},
                 "run_s": round(t_end - t_start, 1)}
            row("7 PTP v2 follower: lock s, |offset| p50/p99 us", "%s s, %s / %s (ptp4l %s s, %s / %s)" % (
                "%.1f" % (lock_ms / 1000) if lock_ms is not None else "n/a",
                "%.1f" % (d["ours"]["p50_ns"] / 1000) if mine else "n/a", "%.1f" % (d["ours"]["p99_ns"] / 1000) if mine else "n/a",
                "%.1f" % p4_lock if p4_lock is not None else "n/a",
                "%.1f" % (d["ptp4l"]["p50_ns"] / 1000) if theirs else "n/a", "%.1f" % (d["ptp4l"]["p99_ns"] / 1000) if theirs else "n/a"), d)
        finally:
            subprocess.run([netns, "down", pfx])

    if want(3):
        # Row 3: memory.
        while time.monotonic() - grow_started < GROWTH_MIN:
            time.sleep(5)
        grow1 = (rss_kb(ga.pid), rss_kb(gb.pid), time.monotonic())
        gt = totals("grow-b")
        row("3 RSS idle 2x2 / 64x64 (KB)", "%d / %d" % (idle["idle2"], idle["idle64"]), idle)
        if want(1):
            row("3 RSS streaming 64 TX / 64 RX (KB)", "%d / %d" % (stream_rss["tx64"], stream_rss["rx64"]), stream_rss)
        row("3 RSS growth 16x16 TX / RX over %.1f min (KB)" % ((grow1[2] - grow0[2]) / 60),
            "%+d / %+d" % (grow1[0] - grow0[0], grow1[1] - grow0[1]),
            {"start_kb": grow0[:2], "end_kb": grow1[:2], "rx_packets": gt[1] if gt else None, "late": gt[2] if gt else None})
finally:
    for p in procs:
        stop(p)

print("results: %s/results.json (work files in %s)" % (os.path.dirname(os.path.abspath(__file__)), work))
json.dump(results, open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "results.json"), "w"), indent=1)
