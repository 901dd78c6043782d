#!/usr/bin/env bash
# inferno-wired against a real, private PipeWire: D-Bus session bus, pipewire and wireplumber started here (state
# under a temp dir) and stopped on exit, also on failure. Three hosts in network namespaces: device A (h1) sends
# the test pattern, inferno-wired "studio" (h2) is patched to it, device B (h3, `inferno record`) listens to
# studio's TX; controller commands and netaudio run on h3. PipeWire's daemons run in h2 (they only use Unix
# sockets, which every namespace reaches). Checks: a missing daemon is a clear error; nodes, ports, aliases;
# pw-record from the source ports is bit-exact (S32) with the node driving the graph from the media clock, and
# again when it follows another driver; pw-play into the sink ports reaches device B at the right frequency and
# level; renames reach the ports; a PipeWire restart is survived (nodes come back, netaudio lists the device
# throughout, audio is bit-exact again). Needs root; nothing leaves the namespaces. KEEP_WORK=1 keeps the logs.
set -euo pipefail
: "${INFERNO_BIN:?}" "${VENV:?}"
WIRED_BIN=${INFERNO_WIRED_BIN:-$(dirname "$INFERNO_BIN")/inferno-wired}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
if [ "$(id -u)" -ne 0 ]; then echo "pipewire: needs root for network namespaces"; exit 1; fi
for t in pipewire wireplumber dbus-daemon pw-cli pw-link pw-record pw-play; do
  command -v "$t" >/dev/null || { echo "pipewire: $t is missing (run scripts/setup.sh)"; exit 1; }
done
[ -x "$WIRED_BIN" ] || { echo "pipewire: $WIRED_BIN is missing (swift build)"; exit 1; }
py="$VENV/bin/python"

source "$here/lib.bash"
# pw-record writes its file from PipeWire's main loop; on a disk busy with other jobs a blocked write can cost
# it buffers (lost quanta in the file). Recordings go to tmpfs.
shm=$(mktemp -d /dev/shm/inferno-pw.XXXXXX 2>/dev/null || mktemp -d)
# A private PipeWire world: nothing here touches a user's session.
export XDG_RUNTIME_DIR="$work/run" XDG_CONFIG_HOME="$work/config" XDG_STATE_HOME="$work/state"
export DBUS_SESSION_BUS_ADDRESS="unix:path=$work/run/bus"
unset PIPEWIRE_REMOTE PIPEWIRE_RUNTIME_DIR PIPEWIRE_DEBUG
mkdir -p "$XDG_RUNTIME_DIR" "$XDG_CONFIG_HOME" "$XDG_STATE_HOME"
chmod 700 "$XDG_RUNTIME_DIR"

cleanup_extra() { # stop PipeWire, WirePlumber, D-Bus and the devices gracefully; keep the recordings with KEEP_WORK
  for f in "$work"/*.pid; do [ -f "$f" ] && stop_pid "$(basename "$f" .pid)"; done
  [ -n "${KEEP_WORK:-}" ] && cp -a "$shm"/. "$work"/ 2>/dev/null
  rm -rf "$shm"
}
netns_hosts "ipw$$" 3 25
bg() { # name host cmd…: start in the background, log to $work/name.log
  local n=$1 h=$2; shift 2
  "$root/scripts/netns.sh" exec "$pfx" "$h" "$@" >>"$work/$n.log" 2>&1 &   # (not via a function: $! is the process)
  echo $! >"$work/$n.pid"
}
ctl() { nx 3 timeout 30 "$INFERNO_BIN" "$@" --bind eth0 >>"$work/ctl.log" 2>&1 || echo "(inferno $* failed)" >>"$work/ctl.log"; }
na() { nx 3 timeout 60 "$VENV/bin/netaudio" --interface eth0 --timeout 3 "$@" 2>>"$work/netaudio.err"; }
wait_for() { # seconds command…: poll every 0.1 s
  local t=$1; shift
  for _ in $(seq $((t * 10))); do "$@" && return 0; sleep 0.1; done
  return 1
}
has() { local out; out=$("$@" 2>/dev/null) || return 1; grep -qF -- "$PATTERN" <<<"$out"; }
log_has() { grep -qE -- "$2" "$work/$1.log"; }

CHECK_TIMES=1


# A null sink that is a driver of higher priority than inferno-wired's (a stand-in for a sound card).
mkdir -p "$XDG_CONFIG_HOME/pipewire/pipewire.conf.d"
cat >"$XDG_CONFIG_HOME/pipewire/pipewire.conf.d/10-test-sink.conf" <<'CONF'
context.objects = [
  { factory = adapter
    args = { factory.name = support.null-audio-sink  node.name = test-sink  media.class = Audio/Sink
             audio.position = [ FL FR ]  audio.rate = 48000  object.linger = true
             node.driver = true  priority.driver = 30000 } }
]
CONF
pw_up() { # dbus (first time only), pipewire, wireplumber; ready when WirePlumber has configured the test sink
  if [ ! -f "$work/dbus.pid" ]; then
    bg dbus 2 dbus-daemon --session --nofork --nopidfile --address="$DBUS_SESSION_BUS_ADDRESS"
    wait_for 5 test -S "$work/run/bus"
  fi
  bg pipewire 2 pipewire
  wait_for 10 eval 'pw-cli info 0 >/dev/null 2>&1'
  bg wireplumber 2 wireplumber
  PATTERN=test-sink:playback_FL wait_for 10 has pw-link -i
}
pw_down() { stop_pid wireplumber; stop_pid pipewire; }

# 1. Before any daemon: a clear error naming the socket, exit 2, and nothing on the network. Bad settings too.
set +e
nx 2 "$WIRED_BIN" --bind eth0 --state-dir "$work/state-x" >"$work/nodaemon.out" 2>&1; rc=$?
nx 2 "$WIRED_BIN" --bind eth0 --pw-clock sometimes >"$work/badopt.out" 2>&1; rc2=$?
nx 2 env INFERNO_PW_QUANTUM=7 "$WIRED_BIN" --bind eth0 >"$work/badenv.out" 2>&1; rc3=$?
set -e
check "no PipeWire daemon: exit 2 with one line naming the socket it tried" \
  eval "[ $rc -eq 2 ] && grep -q 'cannot connect to PipeWire at $work/run/pipewire-0' '$work/nodaemon.out' && [ \$(wc -l <'$work/nodaemon.out') -eq 1 ]"
check "bad --pw-clock and INFERNO_PW_QUANTUM: exit 2, the setting named" \
  eval "[ $rc2 -eq 2 ] && grep -q -- '--pw-clock (INFERNO_PW_CLOCK): \"sometimes\" must be driver or follow' '$work/badopt.out' && [ $rc3 -eq 2 ] && grep -q -- '--pw-quantum (INFERNO_PW_QUANTUM): \"7\"' '$work/badenv.out'"

pw_up
check "private pipewire + wireplumber up" eval 'PATTERN=WirePlumber has pw-cli ls Client'

# 2. Devices: A sends the pattern; studio is inferno-wired (status every second). Receivers use 40 ms of latency:
#    this test is about correctness, and a loaded 2-core machine can delay packets by tens of ms.
bg alpha 1 "$INFERNO_BIN" run --bind eth0 --name alpha --tx 2 --rx 0 --tx-source pattern --clock system \
  --device-id 00000000000a0007 --state-dir "$work/state-a"
start_wired() { # log-name extra-args…
  local n=$1; shift
  bg "$n" 2 env INFERNO_NAME=studio "$WIRED_BIN" --bind eth0 --tx 2 --rx 2 --clock system --latency-ms 40 \
    --device-id 00000000000c0007 --state-dir "$work/state-w" --status-interval 1 "$@"
  PATTERN="inferno.studio:RX 2" wait_for 10 has pw-link -o || true
}
start_wired wired
pw-link -o >"$work/outs.txt"; pw-link -i >"$work/ins.txt"; pw-link -o -v >"$work/outs-v.txt"
# Everything PipeWire knows (current properties of nodes and ports), as lines for grep:
#   node <name> <media.class> channels=<n> position=<…> description=<…>
#   port <in|out> <node name> <media.class> <port.name> | <port.alias> | <audio.channel>
dump() {
  pw-dump 2>/dev/null | "$py" -c '
import json, sys
objs = json.load(sys.stdin)
nodes = {o["id"]: o["info"].get("props", {}) for o in objs if o["type"].endswith(":Node") and o.get("info")}
for p in nodes.values():
    print("node", p.get("node.name"), p.get("media.class"), "channels=%s" % p.get("audio.channels"),
          "position=%s" % p.get("audio.position"), "description=%s" % p.get("node.description"),
          "driver=%s" % p.get("node.driver"))
for o in objs:
    if o["type"].endswith(":Port") and o.get("info"):
        p = o["info"].get("props", {})
        n = nodes.get(p.get("node.id"), {})
        print("port", "out" if o["info"].get("direction") == "output" else "in", n.get("node.name"), n.get("media.class"),
              p.get("port.name"), "|", p.get("port.alias"), "|", p.get("audio.channel"))
'
}
dump >"$work/dump.txt"
pw-cli ls Node >"$work/nodes.txt"
check "pw-cli ls Node: inferno.studio twice (Audio/Source, Audio/Sink) and the driver inferno.studio.clock" \
  eval 'grep -q "node.name = \"inferno.studio\"" "$work/nodes.txt" && grep -q "media.class = \"Audio/Source\"" "$work/nodes.txt" && grep -q "media.class = \"Audio/Sink\"" "$work/nodes.txt" && grep -q "node.name = \"inferno.studio.clock\"" "$work/nodes.txt"'
check "source node: 2 channels AUX0,AUX1, described as studio (Dante RX)" \
  grep -qx "node inferno.studio Audio/Source channels=2 position=AUX0,AUX1 description=studio (Dante RX) driver=None" "$work/dump.txt"
check "sink node: 2 channels AUX0,AUX1, described as studio (Dante TX)" \
  grep -qx "node inferno.studio Audio/Sink channels=2 position=AUX0,AUX1 description=studio (Dante TX) driver=None" "$work/dump.txt"
check "driver node: node.driver = true" grep -q "^node inferno.studio.clock None .*driver=True" "$work/dump.txt"
check "ports carry the channel names, aliases channel@device and AUX positions" \
  eval 'grep -qx "port out inferno.studio Audio/Source RX 1 | RX 1@studio | AUX0" "$work/dump.txt" && grep -qx "port in inferno.studio Audio/Sink TX 2 | TX 2@studio | AUX1" "$work/dump.txt"'
check "pw-link -io: ports named after the channels (RX 1, RX 2 out; TX 1, TX 2 in)" \
  eval 'grep -qx "inferno.studio:RX 1" "$work/outs.txt" && grep -qx "inferno.studio:RX 2" "$work/outs.txt" && grep -qx "inferno.studio:TX 1" "$work/ins.txt" && grep -qx "inferno.studio:TX 2" "$work/ins.txt"'
check "pw-link -v: port aliases channel@device" grep -qx '  RX 1@studio' "$work/outs-v.txt"

# 3. Patch studio's RX to alpha's TX with our controller; record the source ports with pw-record (S32).
listed() { nx 3 timeout 10 "$INFERNO_BIN" ls --json --bind eth0 --timeout 0.5 2>/dev/null | grep -q "\"name\" *: *\"$1\""; }
wait_for 15 eval 'listed studio && listed alpha' || true     # both announced (mDNS probing takes a moment)
ctl subscribe --rx 1@studio --tx 1@alpha; ctl subscribe --rx 2@studio --tx 2@alpha
check "studio's RX 1 and 2 receive alpha" wait_for 10 eval 'log_has wired "RX 1 .*receiving" && log_has wired "RX 2 .*receiving"'
record_source() { # out-file seconds: pw-record from studio's source ports
  local out=$1 secs=$2 name; name="rec$RANDOM"
  pw-record --target 0 -P "{ node.name = $name }" --format s32 --rate 48000 --channels 2 --channel-map AUX0,AUX1 \
    "$out" >>"$work/pw-record.log" 2>&1 &
  echo $! >"$work/rec.pid"
  PATTERN="$name:input_AUX1" wait_for 10 has pw-link -i || return 1
  pw-link "inferno.studio:RX 1" "$name:input_AUX0" && pw-link "inferno.studio:RX 2" "$name:input_AUX1" || return 1
  sleep "$secs"
  stop_pid rec INT
}
bitexact() { "$py" "$here/verify_pattern.py" "$1" 2 --bits-on-wire 24 --min-seconds 2 >"$work/$(basename "$1").json" 2>&1; }
record_source "$shm/driven.wav" 3 || true
check "pw-record from the source ports (node drives the graph): bit-exact pattern after lock" bitexact "$shm/driven.wav"
check "timing: the media-clock driver runs the graph; both nodes driven by it" \
  log_has wired "driving the graph from the media clock .*source: driven by the media clock.*sink: driven by the media clock"
# A driver of higher priority (the test sink, as a sound card would be) joins the graph: studio follows it.
pw-link "inferno.studio:RX 1" test-sink:playback_FL || true
record_source "$shm/takeover.wav" 3 || true
check "higher-priority driver linked: the media-clock driver stands by, the source follows (exact)" \
  log_has wired "media-clock driver stands by .*source: following another driver, exact, drift"
check "following the higher-priority driver: pw-record still bit-exact" bitexact "$shm/takeover.wav"
pw-link -d "inferno.studio:RX 1" test-sink:playback_FL || true

# 4. pw-play a tone (1 kHz / 1.5 kHz, -6 dBFS) into the sink ports; device B records studio's TX.
"$py" - "$work/tone.wav" <<'PY'
import math, struct, sys, wave
w = wave.open(sys.argv[1], "wb"); w.setnchannels(2); w.setsampwidth(2); w.setframerate(48000)
a = 0.5 * 32767
w.writeframes(b"".join(struct.pack("<hh", round(a * math.sin(2 * math.pi * 1000 * i / 48000)),
                                   round(a * math.sin(2 * math.pi * 1500 * i / 48000))) for i in range(48000 * 12)))
w.close()
PY
bg beta 3 "$INFERNO_BIN" record --bind eth0 --name beta --tx 0 --rx 2 --clock system --latency-ms 40 \
  --device-id 00000000000b0007 --state-dir "$work/state-b" --duration 6 -o "$shm/beta.wav"
wait_for 15 eval 'listed beta' || true
ctl subscribe --rx 1@beta --tx 1@studio; ctl subscribe --rx 2@beta --tx 2@studio
pw-play --target 0 -P '{ node.name = tone }' "$work/tone.wav" >>"$work/pw-play.log" 2>&1 &
echo $! >"$work/play.pid"
PATTERN="tone:output_FR" wait_for 10 has pw-link -o || true
pw-link tone:output_FL "inferno.studio:TX 1" || true; pw-link tone:output_FR "inferno.studio:TX 2" || true
wait_for 15 eval '! alive "$(cat "$work/beta.pid")"' || true
stop_pid beta; stop_pid play
check "pw-play into the sink ports → device B: 1000/1500 Hz at -6 dBFS, no dropouts" \
  eval '"$py" "$here/tone_check.py" "$shm/beta.wav" --expect 1000,1500 --level-dbfs -6.02 --min-seconds 2 >"$work/tone.json"'

# 5. Renames from a controller reach the ports (name and alias).
ctl rename-channel rx 1@studio Vox; ctl rename-channel tx 2@studio Bus
# (PipeWire 0.3.x updates a port's properties in place; pw-link lists the registry's names from creation, so
# the check reads the ports' current properties with pw-dump.)
check "rename-channel rx 1 → Vox: source port 1 is Vox, alias Vox@studio" \
  wait_for 5 eval 'PATTERN="port out inferno.studio Audio/Source Vox | Vox@studio | AUX0" has dump'
check "rename-channel tx 2 → Bus: sink port 2 is Bus, alias Bus@studio" \
  wait_for 5 eval 'PATTERN="port in inferno.studio Audio/Sink Bus | Bus@studio | AUX1" has dump'
ctl rename-channel rx 1@studio ""; ctl rename-channel tx 2@studio ""
check "default names restored: RX 1@studio again" \
  wait_for 5 eval 'PATTERN="port out inferno.studio Audio/Source RX 1 | RX 1@studio | AUX0" has dump'

# 6. Restart PipeWire while studio runs: netaudio and `inferno ls` list studio all along, the nodes come back,
#    and the audio is bit-exact again. (A netaudio listing takes 8-20 s here; the first one spans the outage.)
has_studio() { "$py" -c '
import json, sys
d = json.load(open(sys.argv[1]))
devs = d["dante"].values() if isinstance(d, dict) and "dante" in d else d
sys.exit(0 if any(v.get("name") == "studio" for v in devs) else 1)' "$1" 2>/dev/null; }
list_na() { for i in 1 2; do
  na -o json device list >"$work/na$i.json" || true
  has_studio "$work/na$i.json" && echo studio || echo missing
  [ "$i" = 1 ] && wait_for 30 test -f "$work/back"
done >"$work/na-listings"; }
list_ls() { for i in $(seq 6); do
  nx 3 timeout 10 "$INFERNO_BIN" ls --json --bind eth0 --timeout 1 >"$work/ls$i.json" 2>>"$work/ctl.log" || true
  has_studio "$work/ls$i.json" && echo studio || echo missing
done >"$work/ls-listings"; }
list_na & lister_na=$!
list_ls & lister_ls=$!
sleep 1
wired_pid=$(cat "$work/wired.pid")
pw_down
sleep 2
check "PipeWire gone: studio's nodes removed, inferno-wired still running" \
  eval 'alive $wired_pid && log_has wired "PipeWire nodes removed; the Dante device stays on the network"'
pw_up
check "PipeWire back: inferno-wired reconnected, nodes and ports again" \
  wait_for 10 eval 'log_has wired "reconnected to PipeWire" && PATTERN="inferno.studio:RX 2" has pw-link -o'
touch "$work/back"
record_source "$shm/after.wav" 3 || true
check "after the restart: pw-record bit-exact again" bitexact "$shm/after.wav"
wait "$lister_na" "$lister_ls" || true
check "inferno ls listed studio every time around the restart (6 of 6)" \
  eval '[ "$(grep -c "^studio$" "$work/ls-listings")" -eq 6 ]'
check "netaudio device list showed studio during and after the restart (2 of 2)" \
  eval '[ "$(grep -c "^studio$" "$work/na-listings")" -eq 2 ]'
check "same inferno-wired process throughout, no goodbye sent" \
  eval 'alive $wired_pid && ! log_has wired "device stopped"'

# 7. Follower timing: studio restarted with --pw-clock follow follows PipeWire's dummy driver, still bit-exact.
stop_pid wired
check "inferno-wired exits cleanly on SIGTERM (device stopped)" log_has wired "device stopped"
start_wired follow --pw-clock follow
wait_for 10 eval 'log_has follow "RX 2 .*receiving"' || true
record_source "$shm/follow.wav" 3 || true
check "--pw-clock follow: bit-exact pattern (no drift between the dummy driver and the media clock)" bitexact "$shm/follow.wav"
check "--pw-clock follow: status reports following, exact, with drift" \
  log_has follow "following the graph's driver.*source: following another driver, exact, drift [-+][0-9.]+ ppm"
stop_pid follow

# 8. Device at 96 kHz on the 48 kHz graph: both directions go through the resampler, driven by the media clock.
#    A sends a 1 kHz tone (-20 dBFS) at 96 kHz; studio's and beta's saved subscriptions come back by themselves.
stop_pid alpha
bg alpha96 1 "$INFERNO_BIN" run --bind eth0 --name alpha --tx 2 --rx 0 --tx-source tone:1000 --sample-rate 96000 \
  --clock system --device-id 00000000000a0007 --state-dir "$work/state-a"
start_wired wired96 --sample-rate 96000
bg beta96 3 "$INFERNO_BIN" record --bind eth0 --name beta --tx 0 --rx 2 --clock system --latency-ms 40 --sample-rate 96000 \
  --device-id 00000000000b0007 --state-dir "$work/state-b" --duration 6 -o "$shm/beta96.wav"
wait_for 10 eval 'log_has wired96 "RX 2 .*receiving"' || true
pw-play --target 0 -P '{ node.name = tone }' "$work/tone.wav" >>"$work/pw-play.log" 2>&1 &
echo $! >"$work/play.pid"
PATTERN="tone:output_FR" wait_for 10 has pw-link -o || true
pw-link tone:output_FL "inferno.studio:TX 1" || true; pw-link tone:output_FR "inferno.studio:TX 2" || true
record_source "$shm/rx96.wav" 3 || true
wait_for 15 eval '! alive "$(cat "$work/beta96.pid")"' || true
stop_pid beta96; stop_pid play
check "96 kHz device → pw-record at 48 kHz: 1 kHz at -20 dBFS, no dropouts (resampled)" \
  eval '"$py" "$here/tone_check.py" "$shm/rx96.wav" --expect 1000 --level-dbfs -20 --tol-db 0.3 --min-seconds 2 >"$work/rx96.json"'
check "pw-play at 48 kHz → 96 kHz device → beta: 1000/1500 Hz at -6 dBFS, no dropouts (resampled)" \
  eval '"$py" "$here/tone_check.py" "$shm/beta96.wav" --expect 1000,1500 --level-dbfs -6.02 --min-seconds 2 >"$work/beta96.json"'
check "status: driven by the media clock at another rate, resampling" \
  log_has wired96 "source: driven by the media clock at another rate, resampling.*device 96000 Hz, graph 48000 Hz"
stop_pid wired96

# 8. The unit files parse (systemd-analyze, when systemd is installed; the binary is linked where they expect it).
if command -v systemd-analyze >/dev/null; then
  mkdir -p "$work/home/.local/bin" "$work/units" "$work/sd-run"; chmod 700 "$work/sd-run"
  ln -s "$WIRED_BIN" "$work/home/.local/bin/inferno-wired"
  cp "$root/pipewire/inferno-wired.service" "$root/pipewire/inferno-wired@.service" "$work/units/"
  check "systemd-analyze --user verify: inferno-wired.service and inferno-wired@studio.service" \
    eval '(cd "$work/units" && HOME="$work/home" XDG_RUNTIME_DIR="$work/sd-run" systemd-analyze --user verify \
            ./inferno-wired.service ./inferno-wired@studio.service) >"$work/units.out" 2>&1 && [ ! -s "$work/units.out" ]'
else
  echo "skip - systemd-analyze not installed (unit files not verified)"
fi

echo "pipewire: $pass passed, $fail failed ($(( $(date +%s) - t0 )) s)"
if [ "$fail" -ne 0 ]; then
  for f in "$work"/*.log "$work"/*.json "$work"/*.out "$work/listings"; do [ -f "$f" ] && { echo "== $f"; tail -15 "$f"; }; done
fi
[ "$fail" -eq 0 ]
