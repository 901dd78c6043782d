#!/usr/bin/env bash
# The ALSA plugin against real alsa-utils (aplay/arecord) and libasound (ctypes harness), in network namespaces:
# h1 runs device "alpha" transmitting the test pattern, h2 runs the applications (each PCM runs device
# "alsadev" through the plugin), h3 runs device "beta" recording what the applications play.
# Checks: capture bit-exact, playback bit-exact (S32 with zero low byte), a tone through plug: (S16 44.1 kHz
# mono) at the right frequency and level, plug: capture, 20 open/close rounds in one process without growth,
# a 200 ms application stall (xrun recovered within a period, flow untouched), two processes at once, no clock,
# attach mode, configuration errors, and install-alsa into a prefix. Needs root; nothing leaves the namespaces.
set -euo pipefail
: "${INFERNO_BIN:?}" "${VENV:?}"
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
if [ "$(id -u)" -ne 0 ]; then echo "alsa: needs root for network namespaces"; exit 1; fi
so="$(dirname "$INFERNO_BIN")/libasound_module_pcm_inferno.so"
[ -f "$so" ] || { echo "alsa: $so is missing (make builds it)"; exit 1; }
py=python3

source "$here/lib.bash"
shm="studio$$"
cleanup_extra() { rm -f "/dev/shm/inferno-$shm"; }
netns_hosts "ialsa$$" 3 23

cat >"$work/asoundrc" <<EOF
pcm_type.inferno { lib "$so" }
pcm.inferno { type inferno name "alsadev" bind "eth0" tx_channels 2 rx_channels 2 latency_ms 40
              device_id "00000000000c0001" state_dir "$work/state-p" log_level "info" }
pcm.inferno2 { type inferno name "alsadev2" bind "eth0" ports 24440 process_id 1 device_id "00000000000c0002"
               state_dir "$work/state-p2" }
pcm.noclock { type inferno name "alsanoclock" bind "eth0" ports 24460 process_id 2 clock "usrvclock:$work/none.sock"
              device_id "00000000000c0003" state_dir "$work/state-nc" log_level "notice" }
pcm.attach { type inferno mode attach shm "$shm" }
pcm.badvalue { type inferno rx_channels "lots" }
pcm.badkey { type inferno colour "red" }
EOF
export ALSA_CONFIG_PATH="/usr/share/alsa/alsa.conf:$work/asoundrc"

subscribe() { # host rx@device tx@device
  nx "$1" timeout 30 "$INFERNO_BIN" subscribe --bind eth0 --rx "$2" --tx "$3" >>"$work/subscribe.log" 2>&1
}
record_b() { # output seconds  (beta on h3 records its RX 1-2)
  nx 3 timeout $(($2 + 20)) "$INFERNO_BIN" record --bind eth0 --name beta --tx 0 --rx 2 --latency-ms 40 \
    --device-id 00000000000b0001 --state-dir "$work/state-b" --channels 1-2 --duration "$2" -o "$1" 2>>"$1.log"
}

run_device 1 alpha --name alpha --tx 2 --rx 0 --tx-source pattern --device-id 00000000000a0001

# 1. arecord from the plugin's RX, patched to alpha's pattern once the PCM's device is up: bit-exact after lock.
nx 2 timeout 40 arecord -D inferno -f S32_LE -c 2 -r 48000 -d 7 "$work/cap.wav" 2>"$work/cap.log" &
recpid=$!
sleep 2
subscribe 2 1@alsadev 01@alpha & s1=$!
subscribe 2 2@alsadev 02@alpha & s2=$!
wait $s1 $s2 || true
arc=0; wait $recpid || arc=$?
check "arecord -D inferno exits 0" test $arc -eq 0
"$py" "$here/verify_pattern.py" "$work/cap.wav" 2 --late-from "$work/cap.log" >"$work/cap.json" 2>&1 || true
check "arecord: both RX channels carry alpha's pattern bit-exact after lock (>= 1 s)" \
  json "$work/cap.json" 'd["mismatches"] == 0 and d["locked_at"] is not None and d["frames_checked"] >= 48000'

# 2. aplay a 24-bit-clean S32 pattern WAV into the plugin's TX; beta (patched once the PCM's device is on the
#    network: `inferno subscribe` checks that the transmitter exists) records it bit-exact.
"$py" "$here/wavtool.py" pattern "$work/pb.wav" 10 --t0 5000 >/dev/null
record_b "$work/pb.raw" 13 &
recpid=$!
nx 2 timeout 30 aplay -D inferno "$work/pb.wav" 2>"$work/pb.aplay.log" & apid=$!
sleep 2
subscribe 3 1@beta 01@alsadev & s1=$!
subscribe 3 2@beta 02@alsadev & s2=$!
wait $s1 $s2 || true
prc=0; wait $apid || prc=$?
wait $recpid || true
check "aplay -D inferno (S32_LE) exits 0" test $prc -eq 0
"$py" "$here/wavtool.py" runs "$work/pb.raw" 2 >"$work/pb.json"
check "aplay: beta receives the file's pattern bit-exact (>= 3 s in one run, nothing else but silence)" \
  json "$work/pb.json" 'all(c["bad_frames"] == 0 and len(c["pattern_runs"]) == 1 and c["pattern_runs"][0]["frames"] >= 144000 and 5000 <= c["pattern_runs"][0]["t"] and c["pattern_runs"][0]["t"] + c["pattern_runs"][0]["frames"] <= 5000 + 10 * 48000 for c in d["channels"])'

# 3. A tone through plug: (S16_LE, 44.1 kHz, mono → S32, 48 kHz, 2 channels): frequency and level arrive.
"$py" "$here/wavtool.py" tone "$work/t44.wav" 6 --rate 44100 --channels 1 --bits 16 --freq 1000 --amp 0.5 >/dev/null
record_b "$work/tone.raw" 10 &
recpid=$!
sleep 1
prc=0; nx 2 timeout 30 aplay -D plug:inferno "$work/t44.wav" 2>"$work/t44.aplay.log" || prc=$?
wait $recpid || true
check "aplay -D plug:inferno (S16_LE 44.1 kHz mono) exits 0" test $prc -eq 0
"$py" "$here/wavtool.py" analyze "$work/tone.raw" --channels 2 --channel 1 >"$work/tone.json"
check "plug: tone arrives at 1000 Hz (±0.5) and -9.03 dBFS RMS (±0.1 dB)" \
  json "$work/tone.json" 'abs(d["freq"] - 1000) < 0.5 and abs(d["rms_dbfs"] - 20 * __import__("math").log10(0.5 / 2 ** 0.5)) < 0.1'

# 4. arecord through plug: at S16_LE / 44.1 kHz / mono.
arc=0; nx 2 timeout 30 arecord -D plug:inferno -f S16_LE -c 1 -r 44100 -d 2 "$work/c44.wav" 2>"$work/c44.log" || arc=$?
"$py" "$here/wavtool.py" analyze "$work/c44.wav" --channels 1 >"$work/c44.json"
check "arecord -D plug:inferno S16_LE 44.1 kHz mono: exits 0 with 88200 frames of audio" \
  json "$work/c44.json" "$arc == 0 and d['frames'] == 88200 and d['loud_frames'] > 40000"

# 5. Open/transfer/close 20 times in one process (capture and playback alternating, alsa's config freed each
#    time): no errors, no growth in descriptors, threads or memory, no device processes or ports left behind.
nx 2 timeout 120 "$py" "$here/alsa_harness.py" reopen inferno 20 >"$work/reopen.json" 2>"$work/reopen.log" || true
check "20 open/close rounds in one process without errors" json "$work/reopen.json" 'd.get("rounds") == 20 and not d["errors"]'
check "20 rounds: descriptors and threads unchanged, RSS growth < 4 MB, no child processes or shm ports left" \
  json "$work/reopen.json" 'd["end"]["fds"] == d["after_first"]["fds"] and d["end"]["threads"] == d["after_first"]["threads"] and d["end"]["rss_kb"] - d["after_first"]["rss_kb"] < 4096 and d["end"]["children"] == 0 and not d["shm_left"]'

# 6. An application that stalls 200 ms: one xrun, recovered (running again) within one period (5 ms); beta's
#    flow stays: the PCM's device accepts exactly one flow request, and the audio continues where it left off.
record_b "$work/stall.raw" 9 &   # ends before the application closes its PCM
recpid=$!
sleep 1
nx 2 timeout 60 "$py" "$here/alsa_harness.py" stall inferno 9 >"$work/stall.json" 2>"$work/stall.log" || true
wait $recpid || true
check "stall: exactly one xrun, running again within one period" \
  json "$work/stall.json" 'd.get("xruns") == 1 and d["recoveries"][0]["running"] and d["recoveries"][0]["ms"] < 5'
check "stall: no flow was set up again, reconfigured or expired on the PCM's device" \
  bash -c "n=\$(grep -c 'TX flow [0-9]* to beta' '$work/stall.log'); [ \$n -ge 1 ] && [ \$n -le 2 ] && ! grep -Eq 'TX flow [0-9]+ (reconfigured|expired)' '$work/stall.log'"
check "stall: beta never lost its flow (media kept arriving through the xrun)" \
  bash -c "! grep -q 'no media for' '$work/stall.raw.log'"
"$py" "$here/wavtool.py" runs "$work/stall.raw" 2 >"$work/stall.runs.json"
# Judged per channel between consecutive pattern runs: the stall leaves exactly one gap after which the pattern
# continues at the next sample the application wrote (nothing the application wrote is lost), no longer than the
# measured stall (the harness's sleep, which a loaded machine stretches) plus one period. Any other gap must be
# a hole in transit (the pattern resumes at its media time) and is accepted only when beta counted late packets
# or the PCM's device counted TX dropouts (a loaded machine's scheduling, not the xrun handling under test).
stall_verdict() {
  local late drop
  late=$(sed -n 's/.*rx packets [0-9]*, late \([0-9]*\),.*/\1/p' "$work/stall.raw.log" | tail -1)
  drop=$(sed -n 's/.*tx dropouts \([0-9]*\),.*/\1/p' "$work/stall.log" | tail -1)
  "$py" - "$work/stall.runs.json" "$work/stall.json" "$((${late:-0} + ${drop:-0}))" <<'PY'
import json, sys
runs, h, late = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), int(sys.argv[3])
limit = int((h.get("stall_ms") or 200) * 48) + 240
why = []
for n, c in enumerate(runs["channels"]):
    r, g = c["pattern_runs"], c["gaps"]
    stall_gaps, holes = [], []
    for i in range(min(len(r) - 1, len(g))):
        follow = r[i]["t"] + r[i]["frames"]
        if r[i + 1]["t"] == follow:
            stall_gaps.append(g[i])
        elif r[i + 1]["t"] == follow + g[i]:
            holes.append(g[i])
        else:
            why.append("channel %d: run %d resumes at t %d, neither %d nor %d" % (n + 1, i + 1, r[i + 1]["t"], follow, follow + g[i]))
    if c["bad_frames"]:
        why.append("channel %d: %d frames neither pattern nor silence" % (n + 1, c["bad_frames"]))
    if len(stall_gaps) != 1 or not 0 < stall_gaps[0] <= limit:
        why.append("channel %d: stall gaps %s, want one of 1..%d frames" % (n + 1, stall_gaps, limit))
    if holes and not late:
        why.append("channel %d: holes %s with no late packets counted" % (n + 1, holes))
    if len(g) >= 10 or sum(holes) > 4800:
        why.append("channel %d: too many or too long holes %s" % (n + 1, holes))
if why:
    print("# stall (%s ms measured, %d late packets at beta + TX dropouts): %s" % (h.get("stall_ms"), late, "; ".join(why)))
    sys.exit(1)
PY
}
check "stall: beta hears the pattern, one gap no longer than the stall plus one period, then the pattern continuing exactly" \
  stall_verdict

# 7. Two processes, two PCMs with different names and ports, at the same time.
nx 2 timeout 30 arecord -D inferno -f S32_LE -c 2 -r 48000 -d 2 "$work/two1.wav" 2>"$work/two1.log" & p1=$!
nx 2 timeout 30 arecord -D inferno2 -f S32_LE -c 2 -r 48000 -d 2 "$work/two2.wav" 2>"$work/two2.log" & p2=$!
r1=0; wait $p1 || r1=$?; r2=0; wait $p2 || r2=$?
check "two processes each open their own inferno PCM at once" test $r1 -eq 0 -a $r2 -eq 0 \
  -a "$(stat -c %s "$work/two1.wav")" -ge 768000 -a "$(stat -c %s "$work/two2.wav")" -ge 768000

# 8. No clock (usrvclock with no server): opening does not hang, the stream runs silent and says why.
arc=0; nx 2 timeout 15 arecord -D noclock -f S32_LE -c 2 -r 48000 -d 2 "$work/nc.wav" 2>"$work/nc.log" || arc=$?
"$py" "$here/wavtool.py" analyze "$work/nc.wav" >"$work/nc.json"
check "no clock: arecord completes 2 s of silence" json "$work/nc.json" "$arc == 0 and d['frames'] == 96000 and d['loud_frames'] == 0"
check "no clock: the reason is printed" grep -q "no media clock" "$work/nc.log"

# 9. mode attach: a device started on its own (inferno run --shm) serves PCMs and outlives them.
run_device 2 studio --shm "$shm" --name studio --tx 2 --rx 2 --ports 24480 --process-id 3 --latency-ms 40 \
  --device-id 00000000000d0001
sleep 1.5
subscribe 2 1@studio 01@alpha & s1=$!
subscribe 2 2@studio 02@alpha & s2=$!
wait $s1 $s2 || true
sleep 1
arc=0; nx 2 timeout 30 arecord -D attach -f S32_LE -c 2 -r 48000 -d 3 "$work/att.wav" 2>"$work/att.log" || arc=$?
"$py" "$here/verify_pattern.py" "$work/att.wav" 2 >"$work/att.json" 2>&1 || true
check "attach: arecord from a running inferno run --shm is bit-exact" \
  json "$work/att.json" "$arc == 0 and d['mismatches'] == 0 and d['locked_at'] is not None and d['frames_checked'] >= 96000"
check "attach: the device outlives the application" kill -0 "$(cat "$work/studio.pid")"
stop_pid studio TERM
arc=0; nx 2 timeout 10 arecord -D attach -f S32_LE -c 2 -r 48000 -d 1 "$work/att2.wav" 2>"$work/att2.log" || arc=$?
check "attach: with the device gone, opening fails and says so" \
  bash -c "[ $arc -ne 0 ] && grep -q 'no running inferno device' '$work/att2.log' && [ ! -e /dev/shm/inferno-$shm ]"

# 10. Configuration mistakes are ALSA errors that name the key.
arc=0; arecord -D badvalue -d 1 "$work/bad.wav" 2>"$work/bad1.log" || arc=$?
check "bad value: error names rx_channels" bash -c "[ $arc -ne 0 ] && grep -q 'rx_channels \"lots\"' '$work/bad1.log'"
arc=0; arecord -D badkey -d 1 "$work/bad.wav" 2>"$work/bad2.log" || arc=$?
check "unknown key: error names colour" bash -c "[ $arc -ne 0 ] && grep -q 'unknown setting \"colour\"' '$work/bad2.log'"

# 11. make install-alsa PREFIX=…: the plugin and inferno land in the prefix; ALSA_PLUGIN_DIR finds the plugin
#     with a plain "type inferno" entry (no lib line), and it finds inferno relative to itself.
make -C "$root" --no-print-directory install-alsa PREFIX="$work/prefix" >"$work/install.log" 2>&1 || true
plugdir=$(sed -n 's/^ALSA_PLUGIN_DIR=\([^ ]*\).*/\1/p' "$work/install.log" | tail -1)
cat >"$work/asoundrc-plain" <<EOF
pcm.plain { type inferno name "alsaplain" bind "eth0" ports 24490 process_id 4 device_id "00000000000c0004" state_dir "$work/state-pl" }
EOF
arc=1
if [ -n "$plugdir" ] && [ -f "$plugdir/libasound_module_pcm_inferno.so" ]; then
  arc=0
  nx 2 env -u INFERNO_BIN PATH=/usr/bin:/bin ALSA_PLUGIN_DIR="$plugdir" ALSA_CONFIG_PATH="/usr/share/alsa/alsa.conf:$work/asoundrc-plain" \
    timeout 20 arecord -D plain -f S32_LE -c 2 -r 48000 -d 1 "$work/plain.wav" 2>"$work/plain.log" || arc=$?
fi
check "install-alsa PREFIX: arecord works through ALSA_PLUGIN_DIR with the installed plugin" test $arc -eq 0

echo "alsa: $pass passed, $fail failed"
if [ "$fail" -ne 0 ]; then
  for f in "$work"/*.log "$work"/*.json; do echo "== $f"; tail -12 "$f"; done
fi
[ "$fail" -eq 0 ]
