#!/usr/bin/env bash
# Faults on the wire: device A (h1) transmits the test pattern on 16 channels, B (h2) records 16 channels from it
# while the path towards B loses 1 % of frames, duplicates 1 %, reorders 1 % and delays each by 1 ms + up to 5 ms
# of jitter; then a 5 s burst of 100 % loss, then the same impairment again. Checks: no crash, every recorded
# sample is the pattern at its media time or silence (never stale or misplaced audio), the recorder's "missing"
# counter equals the holes in the file, and the flows come back by themselves after the burst (no new subscribe).
#
# The impairment is `tc netem` on the switch port towards B when the kernel has sch_netem; otherwise (this VM's
# kernel is built without it) `impair.c`, a user-space Ethernet forwarder spliced into that port that applies the
# same impairments. FAULT_SECONDS sets the first phase (default 20; `make soak` uses 60).
# Needs root; nothing leaves the namespaces.
set -euo pipefail
: "${INFERNO_BIN:?}" "${VENV:?}"
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
if [ "$(id -u)" -ne 0 ]; then echo "faults: needs root for network namespaces"; exit 1; fi
py="$VENV/bin/python"
ccbin=${CC:-$(command -v cc || command -v gcc || command -v clang)}   # the Swift toolchain brings clang
P1=${FAULT_SECONDS:-20}   # impaired seconds before the burst
BURST=5                   # 100 % loss
R=12                      # impaired seconds after the burst (recovery window)
CH=16

source "$here/lib.bash"
netns_hosts "iflt$$" 2 65
sw="$pfx-sw"
tai_ns() { "$py" -c 'import time; print(time.clock_gettime_ns(time.CLOCK_TAI))'; }

# The impairment on the switch port towards B (p2).
netem_args=(loss 1% delay 1ms 5ms reorder 1% duplicate 1%)
if ip netns exec "$sw" tc qdisc add dev p2 root netem "${netem_args[@]}" 2>/dev/null; then
  mode=netem
  burst_on() { ip netns exec "$sw" tc qdisc change dev p2 root netem loss 100%; }
  burst_off() { ip netns exec "$sw" tc qdisc change dev p2 root netem "${netem_args[@]}"; }
else
  mode=impair
  "$ccbin" -O2 -Wall -o "$work/impair" "$here/impair.c"
  ip -n "$sw" link set p2 nomaster
  ip -n "$sw" link add q2 type veth peer name r2
  ip -n "$sw" link set r2 master br0 up
  ip -n "$sw" link set q2 promisc on up
  ip -n "$sw" link set p2 promisc on up
  ip netns exec "$sw" "$work/impair" q2 p2 1 1 1 1000 5000 >"$work/impair.out" 2>&1 &
  echo $! >"$work/impair.pid"
  burst_on() { kill -USR1 "$(cat "$work/impair.pid")"; }
  burst_off() { kill -USR1 "$(cat "$work/impair.pid")"; }
fi
echo "# impairment: $mode (1 % loss, 1 % duplication, 1 % reordering, 1 ms + 5 ms jitter towards B)"

run_device 1 a --name alpha --tx $CH --rx 0 --tx-source pattern --device-id 00000000000a0061 --stats-seconds 5

# B's subscriptions come from its state file (RX c <- TX c@alpha), as after a controller patched it.
bid=00000000000b0061
write_subscriptions "$work/state-b/$bid.json" $CH alpha
sleep 1
total=$((P1 + BURST + R))
nx 2 timeout $((total + 30)) "$INFERNO_BIN" record --bind eth0 --name beta --tx 0 --rx $CH --device-id $bid \
  --state-dir "$work/state-b" --channels 1-$CH --duration $total --latency-ms 20 -o "$work/r.raw" 2>"$work/r.log" &
recpid=$!
# The recording starts once the clock is read (at once); wait for its first status line, then time the phases.
for _ in $(seq 100); do grep -q 'first frame at media time' "$work/r.log" 2>/dev/null && break; sleep 0.1; done
sleep "$P1"
burst_on
burst_start=$(tai_ns)
sleep "$BURST"
burst_off
burst_end=$(tai_ns)
rc=0; wait $recpid || rc=$?
check "B's recorder ran to the end under faults (exit 0)" test $rc -eq 0
check "A survived the faults (still running)" kill -0 "$(cat "$work/a.pid")"
kill -TERM "$(cat "$work/a.pid")" 2>/dev/null || true
for _ in $(seq 50); do kill -0 "$(cat "$work/a.pid")" 2>/dev/null || break; sleep 0.1; done
rm -f "$work/a.pid"
if [ "$mode" = impair ]; then kill -TERM "$(cat "$work/impair.pid")"; sleep 0.3; rm -f "$work/impair.pid"; fi

first=$(sed -n 's/^record: first frame at media time \([0-9]*\).*/\1/p' "$work/r.log" | tail -1)
"$py" "$here/verify_pattern.py" "$work/r.raw" $CH --first-frame-time "${first:-0}" --holes --burst-start-ns "$burst_start" --burst-end-ns "$burst_end" \
  >"$work/r.json" 2>&1 || true
cat "$work/r.json"
jq() { "$py" -c "import json,sys; d=json.load(open('$work/r.json')); print($1)"; }
check "every received sample is the pattern at its media time; every other sample is silence" \
  "$py" -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if d["ok"] and d["bad_samples"] == 0 else 1)' "$work/r.json"
check "the faults left holes (the impairment was applied)" \
  "$py" -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if d["hole_samples"] > 0 else 1)' "$work/r.json"
check "the 5 s burst is ~5 s of silence in the recording" \
  "$py" -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if 4.0 <= d["silent_s_before_burst_end"] <= 9.5 else 1)' "$work/r.json"
check "flows recover by themselves after the burst (every channel the pattern again within 10 s, no new subscribe)" \
  "$py" -c 'import json,sys; d=json.load(open(sys.argv[1])); r=d.get("recovered_after_s"); sys.exit(0 if r is not None and r < 10 else 1)' "$work/r.json"
final=$(grep '^record: .* frames of' "$work/r.log" | tail -1)
echo "# $final"
missing=$(sed -n 's/.* \([0-9]*\) samples missing, \([0-9]*\) frames of output stall.*/\1/p' <<<"$final")
stalled=$(sed -n 's/.* \([0-9]*\) samples missing, \([0-9]*\) frames of output stall.*/\2/p' <<<"$final")
holes=$(jq 'd["hole_samples_total"]')
pz=$(jq 'd["pattern_zero_samples"]')
echo "# recorder: missing $missing samples, output stall $stalled frames; holes in the file: $holes samples (+ $pz samples where the pattern itself is 0)"
# Equal, except that a hole where the pattern value is 0 looks like the pattern, and a stalled output is silence
# the recorder did not count as missing.
check "counters report what happened: the recorder's missing samples = the holes in the file" \
  test -n "$missing" -a "$holes" -le $((missing + ${stalled:-0} * CH)) -a "$missing" -le $((holes + pz))
grep 'status' "$work/r.log" | tail -1 >/dev/null || true
last=$(grep '^record [0-9.]* s |' "$work/r.log" | tail -1)
echo "# $last"
check "the recorder counted the packets it received and the late ones" grep -Eq 'rx packets [1-9][0-9]* late [0-9]+' <<<"$last"
grep 'media totals' "$work/a.log" | tail -1 | sed 's/^/# A: /'
if [ "$mode" = impair ]; then sed 's/^/# impair: /' "$work/impair.out"; fi
check "A logged its flows expiring or continuing through the burst (counters present)" grep -q 'media totals: tx packets' "$work/a.log"
"$py" - "$work/r.json" "$burst_start" "$burst_end" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
print("# holes %.3f %% of samples between lock and the burst (%.3f %% overall); burst %.2f s; recovered %.2f s after the burst ended" % (
    100 * d["hole_fraction_before_burst"], 100 * d["hole_fraction"], (int(sys.argv[3]) - int(sys.argv[2])) / 1e9, d.get("recovered_after_s") or -1))
PY

echo "faults: $pass passed, $fail failed"
if [ "$fail" -ne 0 ]; then
  for f in "$work"/*.log; do echo "== $f"; tail -25 "$f"; done
fi
[ "$fail" -eq 0 ]
