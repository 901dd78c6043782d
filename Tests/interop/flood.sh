#!/usr/bin/env bash
# Control-plane floods at a streaming device: A (h1) transmits the test pattern on 8 channels, B (h2) records
# them (FLOOD_LATENCY_MS, default 20) while a client on B's own host (loopback path inside the namespace) floods B's ARC port
# with valid and malformed requests, then A's ARC port from A's host, then B's mDNS responder with valid and
# malformed queries (`flood.c`).
# Checks: not one late audio packet and no hole while either flood runs, and the recording the pattern
# throughout (a hole from before the floods would be silence, never wrong samples); ARC replies keep coming every second
# of the flood, limited per source (anti-amplification); the malformed requests are counted; B still answers a
# controller afterwards.
# FLOOD_RATE (valid and malformed per second each; default 2000) and FLOOD_SECONDS (per flood; default 6) set the
# load; `make soak` runs 10000/s for 20 s. Needs root; nothing leaves the namespaces.
set -euo pipefail
: "${INFERNO_BIN:?}" "${VENV:?}"
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
if [ "$(id -u)" -ne 0 ]; then echo "flood: needs root for network namespaces"; exit 1; fi
py="$VENV/bin/python"
ccbin=${CC:-$(command -v cc || command -v gcc || command -v clang)}   # the Swift toolchain brings clang
RATE=${FLOOD_RATE:-2000}
F=${FLOOD_SECONDS:-6}
# 20 ms as in media.sh: in `make test` the check must not depend on a loaded 2-core machine's scheduling (the
# kernel's network softirq work is not real-time); `make soak` measures at 10 ms.
LAT=${FLOOD_LATENCY_MS:-20}
CH=8
# Late packets allowed per flood window, in permille of its packets (1,500/s). `make test` asserts correctness,
# not timing (issue 19): a loaded 2-core VM stalls the whole path for 10-20 ms a few times a minute with or
# without a flood (make bench row 2), so the bound is 10 % of the window (900 packets in 6 s): a flood that got
# between the audio path and its socket (the failure this guards against) makes nearly every packet late, one
# scheduling stall does not. Holes must still come only from late packets. `make soak` sets 0: the zero-late
# figure in the README comes from there.
LATE_PERMILLE=${FLOOD_LATE_PERMILLE:-100}
late_max=$((1500 * F * LATE_PERMILLE / 1000))
late_ok() { [ "$1" -le "$late_max" ] && [ "$2" -le $(( $1 * 32 * CH )) ]; }

source "$here/lib.bash"
netns_hosts "ifld$$" 2 62
A=10.99.$net.1; B=10.99.$net.2
"$ccbin" -O2 -Wall -o "$work/flood" "$here/flood.c"

run_device 1 a --name alpha --tx $CH --rx 0 --tx-source pattern --device-id 00000000000a0062
bid=00000000000b0062
write_subscriptions "$work/state-b/$bid.json" $CH alpha
sleep 1
total=$((3 + F + 2 + F + 2 + F + 4))
nx 2 timeout $((total + 30)) "$INFERNO_BIN" record --bind eth0 --name beta --tx 0 --rx $CH --device-id $bid \
  --state-dir "$work/state-b" --channels 1-$CH --duration $total --latency-ms "$LAT" -o "$work/r.raw" 2>"$work/r.log" &
recpid=$!
# Cumulative late packets and missing samples from the recorder's latest status line (one a second).
counters() { grep '^record [0-9.]* s |' "$work/r.log" | tail -1 | sed -n 's/.* late \([0-9]*\) .* missing \([0-9]*\) .*/\1 \2/p'; }
sleep 3
read -r late0 miss0 <<<"$(counters)"
nx 2 "$work/flood" arc "$B" 4440 "$F" "$RATE" "$RATE" >"$work/arc.json"
sleep 1.5
read -r late1 miss1 <<<"$(counters)"
# Then the transmitter, from its own host: its packets must stay on time as well.
nx 1 "$work/flood" arc "$A" 4440 "$F" "$RATE" "$RATE" >"$work/arc-a.json"
sleep 1.5
read -r late2 miss2 <<<"$(counters)"
nx 2 "$work/flood" mdns "$B" 5353 "$F" "$RATE" "$RATE" >"$work/mdns.json"
sleep 1.5
read -r late3 miss3 <<<"$(counters)"
# B still answers a controller on another host (discovery over mDNS, then ARC) right after the floods.
nx 1 timeout 20 "$INFERNO_BIN" channels beta --bind eth0 >"$work/channels.out" 2>&1 && after=0 || after=1
rc=0; wait $recpid || rc=$?
cat "$work/arc.json" "$work/arc-a.json" "$work/mdns.json"
check "B's recorder ran to the end (exit 0)" test $rc -eq 0
first=$(sed -n 's/^record: first frame at media time \([0-9]*\).*/\1/p' "$work/r.log" | tail -1)
"$py" "$here/verify_pattern.py" "$work/r.raw" $CH --first-frame-time "${first:-0}" >"$work/r.json" 2>&1 || true
cat "$work/r.json"   # strict mode, for the record: mismatches are holes or late samples from any time
check "the recording is the pattern at its media time throughout (any hole silence, never wrong)" \
  "$py" "$here/verify_pattern.py" "$work/r.raw" $CH --first-frame-time "${first:-0}" --holes
last=$(grep '^record [0-9.]* s |' "$work/r.log" | tail -1)
echo "# $last"
echo "# late packets / missing samples: ARC flood at B $((late1 - late0)) / $((miss1 - miss0)), at A $((late2 - late1)) / $((miss2 - miss1)), mDNS flood at B $((late3 - late2)) / $((miss3 - miss2)); whole recording: see the line above"
check "late audio packets while B's ARC port was flooded: $((late1 - late0)) (at most $late_max), holes only from them" late_ok $((late1 - late0)) $((miss1 - miss0))
check "late audio packets at B while A's ARC port was flooded: $((late2 - late1)) (at most $late_max), holes only from them" late_ok $((late2 - late1)) $((miss2 - miss1))
check "late audio packets while B's mDNS responder was flooded: $((late3 - late2)) (at most $late_max), holes only from them" late_ok $((late3 - late2)) $((miss3 - miss2))
check "the ARC flood ran at the requested rate (>= 90 %)" \
  "$py" -c 'import json,sys; d=json.load(open(sys.argv[1])); r=int(sys.argv[2]); sys.exit(0 if d["valid_per_s"] >= 0.9*r and d["malformed_per_s"] >= 0.9*r else 1)' "$work/arc.json" "$RATE"
check "ARC replies kept coming in every second of the flood" \
  "$py" -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if d["replies_min_per_s"] > 0 else 1)' "$work/arc.json"
check "mDNS answers kept coming in every second of the query flood" \
  "$py" -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if d["replies_min_per_s"] > 0 else 1)' "$work/mdns.json"
# Anti-amplification: replies to one source are limited to 1,000/s with a burst of 2,000 (SECURITY.md).
check "ARC replies to the flooding source limited to 1,000/s + 2,000 burst" \
  "$py" -c 'import json,sys; d=json.load(open(sys.argv[1])); f=int(sys.argv[2]); r=int(sys.argv[3]); sys.exit(0 if d["replies"] <= min(r, 1000) * f + 2000 + 1000 else 1)' "$work/arc.json" "$F" "$RATE"
check "mDNS unicast answers to the flooding source limited the same way" \
  "$py" -c 'import json,sys; d=json.load(open(sys.argv[1])); f=int(sys.argv[2]); r=int(sys.argv[3]); sys.exit(0 if d["replies"] <= min(r, 1000) * f + 2000 + 1000 else 1)' "$work/mdns.json" "$F" "$RATE"
check "B answered a controller on h1 right after the floods (inferno channels beta)" test $after -eq 0
kill -TERM "$(cat "$work/a.pid")" 2>/dev/null || true
for _ in $(seq 50); do kill -0 "$(cat "$work/a.pid")" 2>/dev/null || break; sleep 0.1; done
rm -f "$work/a.pid"
atotals=$(grep 'media totals' "$work/a.log" | tail -1)
echo "# A: ${atotals#*media totals: }"
echo "# A: $(grep 'control totals' "$work/a.log" | tail -1 | sed 's/.*control totals: //')"
check "the transmitter, flooded in turn, never fell behind (tx dropouts 0; its lateness would show as late packets at B)" \
  grep -Eq 'tx packets [1-9][0-9]*, tx dropouts 0,' <<<"$atotals"
check "the transmitter's flooder ran at the requested rate and got replies every second" \
  "$py" -c 'import json,sys; d=json.load(open(sys.argv[1])); r=int(sys.argv[2]); sys.exit(0 if d["valid_per_s"] >= 0.9*r and d["replies_min_per_s"] > 0 else 1)' "$work/arc-a.json" "$RATE"
totals=$(grep 'control totals' "$work/r.log" | tail -1)
echo "# B: ${totals#*control totals: }"
check "B counted the malformed ARC requests and the replies over the limit" \
  grep -Eq 'ARC requests [1-9][0-9]*, malformed [1-9][0-9]*, replies over the per-source limit [1-9][0-9]*; mDNS unicast answers over the limit [1-9]' <<<"$totals"

echo "flood: $pass passed, $fail failed"
if [ "$fail" -ne 0 ]; then
  for f in "$work"/*.log "$work"/channels.out; do echo "== $f"; tail -20 "$f"; done
fi
[ "$fail" -eq 0 ]
