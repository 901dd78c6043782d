#!/usr/bin/env bash
# Exposure: a device's control ports listen only on its bind address, and `--allow-controllers` decides who may
# change it. Device "guard" on h1 allows only h2 (10.99.64.2); h3 is another host (netaudio 0.4.2 and our
# controller commands run there, plus a receiving device "edge"). From h3: listing, channel and subscription
# queries work; netaudio's rename, channel rename, latency and subscribe, a conmon sample-rate change built by
# netaudio, and our `inferno subscribe` are refused (ARC status 0x0600, as a locked device answers) and change
# nothing; edge's flow request is refused. From h2 the same changes go through. Refusals are counted and logged
# at most once a second. Needs root; nothing leaves the namespaces.
set -euo pipefail
: "${INFERNO_BIN:?}" "${VENV:?}"
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
if [ "$(id -u)" -ne 0 ]; then echo "exposure: needs root for network namespaces"; exit 1; fi
py="$VENV/bin/python"

source "$here/lib.bash"
netns_hosts "iexp$$" 3 64
D=10.99.$net.1
na() { local h=$1; shift; nx "$h" timeout 60 "$VENV/bin/netaudio" --interface eth0 --timeout 3 "$@" 2>>"$work/netaudio-h$h.err" || echo "netaudio $* failed (rc $?)" >>"$work/netaudio-h$h.err"; }
inf() { local h=$1; shift; nx "$h" timeout 20 "$INFERNO_BIN" "$@" --bind eth0; }

# A configuration mistake is one line naming the setting.
set +e
"$INFERNO_BIN" run --allow-controllers 10.0.0.0/33 >"$work/bad.out" 2>&1; badrc=$?
set -e
check "--allow-controllers 10.0.0.0/33: exit 2, one line naming the setting" \
  bash -c "[ $badrc -eq 2 ] && [ \$(wc -l <'$work/bad.out') -eq 1 ] && grep -q -- '--allow-controllers (INFERNO_ALLOW_CONTROLLERS)' '$work/bad.out'"

"$root/scripts/netns.sh" exec "$pfx" 1 env INFERNO_ALLOW_CONTROLLERS=10.99.$net.2 "$INFERNO_BIN" run --bind eth0 \
  --name guard --tx 2 --rx 2 --device-id 00000000000d0064 --state-dir "$work/state-guard" >>"$work/guard.log" 2>&1 &
echo $! >"$work/guard.pid"
run_device 3 edge --name edge --tx 0 --rx 1 --device-id 00000000000e0064
sleep 2
gstate="$work/state-guard/00000000000d0064.json"

# 1. The control ports listen on the bind address only (mDNS shares *:5353 with every responder on the host).
nx 1 ss -ulnH >"$work/ss.out"
check "ARC, CMC, conmon and flow-control sockets bound to $D only" "$py" - "$work/ss.out" "$D" <<'PY'
import sys
lines = [l.split() for l in open(sys.argv[1]) if l.strip()]
local = [l[3] for l in lines if len(l) >= 4]
want = {"4440", "8800", "8700", "4455"}
found = {a.rsplit(":", 1)[1]: a for a in local if a.rsplit(":", 1)[1] in want}
sys.exit(0 if set(found) == want and all(a.rsplit(":", 1)[0] == sys.argv[2] for a in found.values())
         and not any(a.rsplit(":", 1)[1] in want and a.rsplit(":", 1)[0] != sys.argv[2] for a in local) else 1)
PY

# 2. From h3 (not allowed): reads work, every change is refused. (netaudio calls in parallel: each discovers first.)
na 3 -o json device list >"$work/list3.json" &
p1=$!
na 3 --host $D device name evil >/dev/null &
p2=$!
na 3 --host $D channel name tx:1 Evil >/dev/null &
p3=$!
na 3 --host $D device config latency 10 >/dev/null &
p4=$!
na 3 subscription add --tx "02@guard" --rx "rx:1@guard" >/dev/null &
p5=$!
wait $p1 $p2 $p3 $p4 $p5
nx 3 "$py" - "$D" >"$work/conmon3.out" 2>&1 <<'PY'
import socket, sys
from netaudio import core
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(core.build_command({"command": "set_sample_rate", "sample_rate": 96000, "message_id": 11}), (sys.argv[1], 8700))
s.sendto(core.build_command({"command": "set_encoding", "encoding": 16, "message_id": 12}), (sys.argv[1], 8700))
PY
set +e
inf 3 subscribe --rx "2@$D" --tx "Vox@guard" >"$work/sub3.out" 2>&1; sub3=$?
inf 3 channels "$D" >"$work/channels3.out" 2>&1; ch3=$?
set -e
check "h3 lists guard with netaudio (reads stay open)" grep -q '"guard"' "$work/list3.json"
check "h3 reads guard's channels and subscriptions (inferno channels)" bash -c "[ $ch3 -eq 0 ] && grep -q 'RX 2' '$work/channels3.out'"
check "h3: netaudio reports its channel rename and latency change refused" \
  bash -c "grep -q 'channel name change was not acknowledged' '$work/netaudio-h3.err' && grep -q 'latency change for guard: device rejected' '$work/netaudio-h3.err'"
check "h3: inferno subscribe refused with status 0x0600 (exit 1)" bash -c "[ $sub3 -eq 1 ] && grep -q '0x0600' '$work/sub3.out'"
sleep 0.5
unchanged() { "$py" - "$gstate" <<'PY'
import json, os, sys
if not os.path.exists(sys.argv[1]):
    sys.exit(0)   # never saved: nothing changed
d = json.load(open(sys.argv[1]))
ok = (d.get("name") is None and not d.get("txChannelNames") and not d.get("subscriptions")
      and d.get("latencyNs") in (None, 4000000) and d.get("sampleRate") in (None, 48000) and d.get("encoding") in (None, 24))
sys.exit(0 if ok else 1)
PY
}
check "nothing changed: name, channel names, subscriptions, latency, sample rate, encoding (state file)" unchanged
still_guard() { inf 2 channels guard >/dev/null 2>&1; }
check "guard is still found under its name (from h2)" still_guard
check "guard logged refusals from 10.99.$net.3 (rate-limited warning)" bash -c "grep 'not in --allow-controllers' '$work/guard.log' | grep -q '10.99.$net.3'"

# 3. From h2 (allowed) the same changes go through.
na 2 --host $D device name guard2 >/dev/null
inf 2 rename-channel tx "1@$D" Vox >/dev/null 2>&1 || true
inf 2 subscribe --rx "1@$D" --tx "Vox@guard2" >/dev/null 2>&1 || true
sleep 0.5
check "h2: rename, channel rename and subscribe applied and saved" "$py" - "$gstate" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
sys.exit(0 if d.get("name") == "guard2" and d["txChannelNames"].get("1") == "Vox"
         and d["subscriptions"].get("1") == {"txChannel": "Vox", "txDevice": "guard2"} else 1)
PY

# 4. Flow control: edge (on h3) is told by h2 to receive guard's TX 1; guard refuses edge's flow requests, while
#    its own RX 1 (patched to its own TX 1 above) gets its flow: the device's own address is always allowed.
inf 2 subscribe --rx "1@edge" --tx "Vox@guard2" >"$work/sub-edge.out" 2>&1 || true
sleep 3
check "guard refused edge's flow request (error status) and opened no flow to it" \
  bash -c "grep -q 'refused flow request from 10.99.$net.3' '$work/guard.log' && ! grep -q 'TX flow .* to edge' '$work/guard.log'"
check "guard's own subscriber got its flow (own address allowed): RX 1 connected" \
  bash -c "grep -q 'TX flow .* to guard2' '$work/guard.log' && ! grep -q 'refused flow request from $D' '$work/guard.log'"

# 5. A burst of 500 refused renames from h3: every one answered 0x0600 and counted, the log rate-limited.
nx 3 "$py" - "$D" >"$work/burst.out" 2>&1 <<'PY'
import socket, struct, sys
from netaudio import core
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(1.0)
locked = 0
for i in range(500):
    s.sendto(core.build_command({"command": "set_name", "name": "evil%d" % i, "message_id": i + 1}), (sys.argv[1], 4440))
    try:
        r = s.recv(2048)
        if struct.unpack(">H", r[8:10])[0] == 0x0600:
            locked += 1
    except socket.timeout:
        pass
print(locked)
PY
check "500 renames from h3 in a burst: all answered 0x0600" grep -qx 500 "$work/burst.out"
stop_pid guard
refused=$(sed -n 's/.*refused by --allow-controllers \([0-9]*\).*/\1/p' "$work/guard.log" | tail -1)
lines=$(grep -c 'not in --allow-controllers' "$work/guard.log" || true)
echo "# guard: ${refused:-?} requests refused, $lines log lines about them"
check "refusals counted (>= 505) and logged at most once a second (<= 12 lines)" \
  bash -c "[ '${refused:-0}' -ge 505 ] && [ '$lines' -le 12 ] && [ '$lines' -ge 1 ]"
check "guard's state after the burst still holds h2's name" grep -q '"guard2"' "$gstate"

echo "exposure: $pass passed, $fail failed"
if [ "$fail" -ne 0 ]; then
  for f in "$work"/*.log "$work"/*.out "$work"/*.err; do [ -f "$f" ] && { echo "== $f"; tail -15 "$f"; }; done
fi
[ "$fail" -eq 0 ]
