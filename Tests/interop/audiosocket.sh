#!/usr/bin/env bash
# AudioSocket bridge (issue 8), driven by a fake Asterisk written for the project (fake_asterisk.py, stdlib
# Python). Three parts:
#   1. `inferno audiosocket serve` on loopback: the reference's P, R, C and T cases (audiosocket_cases.py):
#      every chunking, bad lengths, unknown kinds, DTMF, all rates, timeouts, slow-loris, 500 idle connections,
#      RST/FIN, a stalled reader, junk, the pool limit, shutdown; a 30 s call next to all of it for pacing.
#   2. Devices in network namespaces: a call's tone → TX "call 1" of A → B records it at 48 kHz (frequency,
#      level, silence after hangup); B's tone → RX "call 1" → the caller hears it at 8 kHz (0x10) and 16 kHz
#      (0x12). Then 32 concurrent calls with distinct tones, each call's RX patched to its own TX: every call
#      hears only its own tone (cross-talk below −60 dB).
#   3. Client mode: a device dials a fake AudioSocket server (--audiosocket-connect) and the server hears its
#      own tone come back through the device.
# Needs root for the namespaces (CI runs as root); the fake Asterisk only talks to 127.0.0.1/::1 or inside them.
set -euo pipefail
: "${INFERNO_BIN:?}"
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
if [ "$(id -u)" -ne 0 ]; then echo "audiosocket: needs root for network namespaces"; exit 1; fi
py=python3
fa="$here/fake_asterisk.py"

source "$here/lib.bash"

# --- 0. configuration mistakes: one line naming the setting, exit code 2 -------------------------------------
set +e
"$INFERNO_BIN" run --audiosocket-listen 127.0.0.1 >/dev/null 2>"$work/e1"; r1=$?
"$INFERNO_BIN" run --audiosocket-calls 4 >/dev/null 2>"$work/e2"; r2=$?
"$INFERNO_BIN" run --audiosocket-connect 127.0.0.1:9,not-a-uuid >/dev/null 2>"$work/e3"; r3=$?
INFERNO_AUDIOSOCKET_CALLS=999 "$INFERNO_BIN" run --audiosocket-listen 127.0.0.1:9 >/dev/null 2>"$work/e4"; r4=$?
"$INFERNO_BIN" audiosocket serve --listen 127.0.0.1:9 --play beep >/dev/null 2>"$work/e5"; r5=$?
set -e
check "config errors exit 2 with one line naming the setting" \
  test "$r1$r2$r3$r4$r5" = 22222 -a "$(cat "$work"/e[1-5] | wc -l)" -eq 5
check "  … e.g. $(cat "$work/e1")" grep -q -- '--audiosocket-listen (INFERNO_AUDIOSOCKET_LISTEN)' "$work/e1"
check "  … and the environment variable for --audiosocket-calls" grep -q 'INFERNO_AUDIOSOCKET_CALLS' "$work/e4"

# --- 1. standalone server: P/R/C/T cases ---------------------------------------------------------------------
port=$("$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$work/rec"
"$INFERNO_BIN" audiosocket serve --listen "127.0.0.1:$port" --listen "[::1]:$port" --record "$work/rec" \
  --play tone:1000 --max-calls 4 --max-pending 32 --uuid-timeout 1.5 --message-timeout 1 --idle-timeout 2 \
  >"$work/serve.jsonl" 2>"$work/serve.log" &
echo $! >"$work/serve.pid"
wait_grep "$work/serve.jsonl" '"listening"' 5
set +e
timeout 150 "$py" "$here/audiosocket_cases.py" 127.0.0.1 "$port" "$work/rec" "$work/serve.jsonl" "$(cat "$work/serve.pid")" \
  | tee "$work/cases.out" | grep -v '^ok - '
set -e
pass=$((pass + $(grep -c '^ok - ' "$work/cases.out" || true)))
fail=$((fail + $(grep -c '^not ok - ' "$work/cases.out" || true)))
grep -q '^audiosocket cases: .* 0 failed' "$work/cases.out" || { fail=$((fail+1)); echo "not ok - the case runner finished"; }
for _ in $(seq 30); do kill -0 "$(cat "$work/serve.pid")" 2>/dev/null || break; sleep 0.1; done
check "serve stopped on SIGTERM after hanging up" grep -q 'AudioSocket: stopped' "$work/serve.log"

# --play wav:FILE: a 1 s, 16 kHz, 600 Hz file reaches an 8 kHz caller resampled, then silence.
"$py" - "$work/prompt.wav" <<'PY'
import math, struct, sys, wave
with wave.open(sys.argv[1], "wb") as w:
    w.setnchannels(1); w.setsampwidth(2); w.setframerate(16000)
    w.writeframes(b"".join(struct.pack("<h", int(0.1 * 32767 * math.sin(2 * math.pi * 600 * i / 16000))) for i in range(16000)))
PY
"$INFERNO_BIN" audiosocket serve --listen "127.0.0.1:$port" --play "wav:$work/prompt.wav" --duration 6 \
  >"$work/serve2.jsonl" 2>"$work/serve2.log" &
echo $! >"$work/serve.pid"
wait_grep "$work/serve2.jsonl" '"listening"' 5 || true
"$py" "$fa" call 127.0.0.1 "$port" --seconds 2 --skip 0.1 --save "$work/wavcall.s16" >"$work/wavcall.json"
check "--play wav:FILE: the file's 600 Hz (16 kHz file) reaches an 8 kHz caller at −20 dBFS for 1 s, then silence" \
  "$py" -c "
import sys
sys.path.insert(0, '$here')
import fake_asterisk as fa
x = fa.samples(open('$work/wavcall.s16', 'rb').read())
tone, rest = x[400:7600], x[8400:]
f, l = fa.robust(tone, 8000)
sys.exit(0 if abs(f - 600) < 0.5 and abs(l + 20) < 0.5 and len(rest) > 4000 and max(map(abs, rest)) == 0 else 1)"

# --- 2. devices in namespaces --------------------------------------------------------------------------------
netns_hosts "ias$$" 2 58
# Background processes are started with netns.sh directly (it execs), so $! is the process itself.
ns="$root/scripts/netns.sh"
"$ns" exec "$pfx" 1 "$INFERNO_BIN" run --bind eth0 --name alpha --tx 1 --rx 1 --latency-ms 20 --device-id 00000000000a5001 \
  --state-dir "$work/sa" --audiosocket-listen 127.0.0.1:9092 --audiosocket-calls 32 >"$work/a.jsonl" 2>"$work/a.log" &
echo $! >"$work/a.pid"
"$ns" exec "$pfx" 2 timeout 60 "$INFERNO_BIN" record --bind eth0 --name beta --tx 1 --rx 1 --tx-source tone:1000 --latency-ms 20 \
  --device-id 00000000000b5001 --state-dir "$work/sb" --channels 1 --duration 24 -o "$work/b.raw" 2>"$work/b.log" &
echo $! >"$work/b.pid"
wait_grep "$work/a.log" 'AudioSocket: listening' 10
check "device A has 33 TX / 33 RX channels (1 + 32 calls)" grep -q '33 TX / 33 RX' "$work/a.log"
sub() { nx 1 "$INFERNO_BIN" subscribe --bind eth0 --rx "$1" --tx "$2" >>"$work/subscribe.log" 2>&1; }
sub "1@beta" "call 1@alpha" & p1=$!
sub "call 1@alpha" "01@beta" & p2=$!
wait $p1 $p2
wait_grep "$work/a.log" 'RX 2 (01@beta): connected' 10 || true
sleep 1.5
# (a second call meanwhile takes slot 2, whose RX nothing is patched to: it must hear paced silence)
( sleep 1; nx 1 "$py" "$fa" call 127.0.0.1 9092 --uuid 00000000-0000-4000-8000-0000000000e3 --hz 300 --seconds 2 \
    --skip 0.2 >"$work/call-idle.json" ) &
idle=$!
nx 1 "$py" "$fa" call 127.0.0.1 9092 --uuid 00000000-0000-4000-8000-0000000000e1 --rate 8000 --hz 440 --seconds 4 \
  --expect-hz 1000 --digits '5#*' >"$work/call8.json"
wait $idle || true
sleep 2
nx 1 "$py" "$fa" call 127.0.0.1 9092 --uuid 00000000-0000-4000-8000-0000000000e2 --rate 16000 --hz 440 --seconds 4 \
  --expect-hz 1000 >"$work/call16.json"
wait "$(cat "$work/b.pid")" || true
first=$(sed -n 's/^record: first frame at media time \([0-9]*\).*/\1/p' "$work/b.log" | tail -1)
seg() { # call-json from-offset-s to-offset-s (relative to the call's start/end) out
  local s e
  s=$("$py" -c "import json,sys; d=json.load(open('$1')); print(d['start_tai_ns'] + int($2*1e9))")
  e=$("$py" -c "import json,sys; d=json.load(open('$1')); print(d['${3%%:*}_tai_ns'] + int(${3#*:}*1e9))")
  "$py" "$fa" segment "$work/b.raw" --first-frame "${first:-0}" --from-tai "$s" --to-tai "$e" >"$4"
}
seg "$work/call8.json" 1.0 end:-0.3 "$work/b8.json"
seg "$work/call16.json" 1.0 end:-0.3 "$work/b16.json"
# the gap between the calls: from 0.3 s after the first call's end to 0.1 s before the second starts
s=$("$py" -c "import json; print(json.load(open('$work/call8.json'))['end_tai_ns'] + 300000000)")
e=$("$py" -c "import json; print(json.load(open('$work/call16.json'))['start_tai_ns'] - 100000000)")
"$py" "$fa" segment "$work/b.raw" --first-frame "${first:-0}" --from-tai "$s" --to-tai "$e" >"$work/bgap.json"
check "call 1 (8 kHz, 440 Hz) → TX \"call 1\" → B records 440 Hz at 48 kHz" \
  json "$work/b8.json" 'd["frames"] > 48000 and abs(d["freq_hz"] - 440) < 0.5'
check "  … at its level (−20 dBFS ± 0.5 dB): $(cat "$work/b8.json")" json "$work/b8.json" 'abs(d["level_dbfs"] + 20) < 0.5'
check "call 2 (16 kHz, 0x12) → B records 440 Hz at −20 dBFS" \
  json "$work/b16.json" 'd["frames"] > 48000 and abs(d["freq_hz"] - 440) < 0.5 and abs(d["level_dbfs"] + 20) < 0.5'
check "between the calls the channel is silent (slot freed and silenced): $(cat "$work/bgap.json")" \
  json "$work/bgap.json" 'd["frames"] > 24000 and d["peak_dbfs"] < -90'
check "B's tone (1000 Hz) → RX \"call 1\" → the caller hears it at 8 kHz (0x10), −20 dBFS: $(cut -c1-160 "$work/call8.json")" \
  json "$work/call8.json" 'd["kinds"] == ["0x10"] and abs(d["freq_hz"] - 1000) < 0.5 and abs(d["tone_dbfs"] + 20) < 0.5 and not d["errors"]'
check "… and at 16 kHz (0x12, 320 samples per frame)" \
  json "$work/call16.json" 'd["kinds"] == ["0x12"] and abs(d["freq_hz"] - 1000) < 0.5 and abs(d["tone_dbfs"] + 20) < 0.5 and d["samples"] >= 300 * d["frames"] and not d["errors"]'
check "a call whose RX channel nothing is patched to hears silence, paced (50 frames/s): $(cut -c1-120 "$work/call-idle.json")" \
  json "$work/call-idle.json" 'd["frames"] >= 95 and d["samples"] == 160 * d["frames"] and d["level_dbfs"] < -200 and abs(d["pacing"]["mean_ms"] - 20) < 0.5'
check "  … on slot 2 (channel \"call 2\") while call 1 ran" grep -q '"channel":"call 2".*"uuid":"00000000-0000-4000-8000-0000000000e3"' "$work/a.jsonl"
check "calls reported as JSON lines on stdout with their channel" \
  grep -q '"channel":"call 1".*"uuid":"00000000-0000-4000-8000-0000000000e2"' "$work/a.jsonl"
check "DTMF digits 5 # * reported in order (JSON on stdout, and logged)" "$py" -c "
import json,sys
ev=[json.loads(l) for l in open('$work/a.jsonl') if l.startswith('{')]
d=''.join(e['digit'] for e in ev if e.get('event')=='dtmf' and e['uuid'].endswith('e1'))
sys.exit(0 if d=='5#*' else 1)"
check "  … the log names the call and digit" grep -q 'call 1 DTMF #' "$work/a.log"

# C-2: 32 calls, each call's RX "call k" patched to its own TX "call k", on a fresh device A (same name).
kill -TERM "$(cat "$work/a.pid")"
for _ in $(seq 50); do kill -0 "$(cat "$work/a.pid")" 2>/dev/null || break; sleep 0.1; done
check "device A stopped on SIGTERM" grep -q 'device stopped' "$work/a.log"
"$ns" exec "$pfx" 1 "$INFERNO_BIN" run --bind eth0 --name alpha --tx 1 --rx 1 --latency-ms 20 --device-id 00000000000a5001 \
  --state-dir "$work/sa2" --audiosocket-listen 127.0.0.1:9092 --audiosocket-calls 32 >"$work/a2.jsonl" 2>"$work/a2.log" &
echo $! >"$work/a.pid"
wait_grep "$work/a2.log" 'AudioSocket: listening' 10 || true
pids=()
for k in $(seq 1 32); do sub "call $k@alpha" "call $k@alpha" & pids+=($!); done
wait "${pids[@]}"
for _ in $(seq 50); do [ "$(grep -c 'call [0-9]*@alpha): connected' "$work/a2.log")" -ge 32 ] && break; sleep 0.2; done
sleep 1
nx 1 "$py" "$fa" calls 127.0.0.1 9092 --count 32 --seconds 6 >"$work/c2.json"
check "C-2: 32 concurrent calls with distinct tones: each hears only its own (worst cross-talk $("$py" -c "import json; print(round(json.load(open('$work/c2.json'))['worst_crosstalk_db'],1))") dB < −60)" \
  json "$work/c2.json" 'len(d["calls"]) == 32 and d["worst_crosstalk_db"] < -60'
check "C-2: every call at its level (−20 dBFS ± 1 dB), framing exact" \
  json "$work/c2.json" 'all(abs(c["own_dbfs"] + 20) < 1 and not c["errors"] and c["frames"] > 250 for c in d["calls"])'
check "C-2: call k took slot k (channel \"call k\")" \
  "$py" -c "
import json,sys
ev=[json.loads(l) for l in open('$work/a2.jsonl') if l.startswith('{')]
m={e['uuid']:e['slot'] for e in ev if e.get('event')=='call' and e['uuid'].startswith('0000ca11')}
sys.exit(0 if len(m)==32 and all(m['0000ca11-0000-4000-8000-%012x'%k]==k for k in range(1,33)) else 1)"

# --- 3. client mode ------------------------------------------------------------------------------------------
"$ns" exec "$pfx" 1 "$py" "$fa" server 127.0.0.1 9200 --hz 700 --seconds 15 >"$work/srv.json" 2>"$work/srv.err" &
echo $! >"$work/srv.pid"
sleep 0.3
"$ns" exec "$pfx" 1 "$INFERNO_BIN" run --bind eth0 --name gamma --ports 24440 --process-id 1 --tx 0 --rx 0 --latency-ms 20 \
  --device-id 00000000000c5001 --state-dir "$work/sc" --audiosocket-connect 127.0.0.1:9200,4a1c11e0-0000-4000-8000-00000000c11e \
  --audiosocket-calls 1 >"$work/c.jsonl" 2>"$work/c.log" &
echo $! >"$work/c.pid"
wait_grep "$work/c.log" 'AudioSocket: call' 10 || true
sub "call 1@gamma" "call 1@gamma"
# C-8 on the device: stopping it while the call is up hangs the call up (00 00 00, then close).
sleep 5
kill -TERM "$(cat "$work/c.pid")"
wait "$(cat "$work/srv.pid")" || true
check "client mode: the device dials out and announces its UUID first" \
  json "$work/srv.json" 'd["uuid"] == "4a1c11e0-0000-4000-8000-00000000c11e".replace("-", "") and not d["errors"]'
check "client mode: the server's tone comes back through TX/RX \"call 1\" (700 Hz, −20 dBFS): $(cut -c1-200 "$work/srv.json")" \
  json "$work/srv.json" 'abs(d["freq_hz"] - 700) < 0.5 and abs(d["level_dbfs"] + 20) < 0.5'

for _ in $(seq 50); do kill -0 "$(cat "$work/c.pid")" 2>/dev/null || break; sleep 0.1; done
check "C-8: stopping the device hung up its call (reason shutdown; the server got 00 00 00 and EOF)" \
  json "$work/srv.json" 'd["hangup_from_client"] and d["eof"]'
check "  … reported as such" grep -q '"reason":"shutdown"' "$work/c.jsonl"
kill -TERM "$(cat "$work/a.pid")" 2>/dev/null || true

echo "audiosocket: $pass passed, $fail failed"
if [ "$fail" -ne 0 ]; then
  for f in "$work"/*.log "$work"/*.json; do echo "== $f"; tail -12 "$f"; done
fi
[ "$fail" -eq 0 ]
