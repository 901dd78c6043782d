#!/usr/bin/env bash
# The two mDNS backends (`--mdns avahi|embedded|auto`) against real programs: three hosts in network namespaces;
# h1 and h2 each run their own system D-Bus (private config and socket under $work) and avahi-daemon (in a
# private mount namespace with a tmpfs /run, --no-drop-root --no-chroot); h3 has no Avahi.
#   h1: device "avadev" published through Avahi (4 TX, pattern)
#   h2: netaudio 0.4.2 and avahi-browse (observers); an Avahi-backed recorder picked by --mdns auto
#   h3: device "embdev" with the embedded responder picked by --mdns auto (no Avahi there; 4 TX, pattern)
# Checks: avahi-browse sees every channel with its TXT; netaudio lists the Avahi device with the same fields as the
# same device on the embedded responder; a rename shows in both tools; audio is bit-exact from the Avahi device to
# an embedded receiver and from the embedded device to an Avahi receiver; a name conflict seen through Avahi
# renames the newcomer to name-2 and saves it; goodbyes on exit; no compatibility-layer banner on stderr.
# Needs root (CI runs as root); nothing leaves the namespaces, no daemon runs in the default namespace.
set -euo pipefail
: "${INFERNO_BIN:?}" "${VENV:?}"
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
if [ "$(id -u)" -ne 0 ]; then echo "avahi: needs root for network namespaces"; exit 1; fi
for tool in avahi-daemon avahi-browse dbus-daemon unshare; do
  command -v "$tool" >/dev/null || { echo "avahi: $tool missing (scripts/setup.sh installs it)"; exit 1; }
done
py="$VENV/bin/python"

source "$here/lib.bash"
netns_hosts "iavh$$" 3 61
A=10.99.$net.1; E=10.99.$net.3
# Host h's system bus (h3 has none: the address points at nothing, so --mdns auto must fall back).
bus() { echo "unix:path=$work/h$1/bus"; }

start_avahi() { # host
  local h=$1 d="$work/h$1"
  mkdir -p "$d"
  cat >"$d/bus.conf" <<EOF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=$d/bus</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/><allow own="*"/><allow send_destination="*"/><allow receive_sender="*"/>
  </policy>
</busconfig>
EOF
  cat >"$d/avahi.conf" <<EOF
[server]
host-name=avahi-h$h
use-ipv4=yes
use-ipv6=no
allow-interfaces=eth0
enable-dbus=yes
[wide-area]
enable-wide-area=no
[publish]
publish-workstation=no
publish-hinfo=no
publish-aaaa-on-ipv4=no
EOF
  "$root/scripts/netns.sh" exec "$pfx" "$h" dbus-daemon --config-file="$d/bus.conf" --nofork --nopidfile >"$d/dbus.log" 2>&1 &
  echo $! >"$d/dbus.pid"
  for _ in $(seq 100); do [ -S "$d/bus" ] && break; sleep 0.05; done
  run_avahi "$h"
}
run_avahi() { # host: avahi-daemon on that host's bus
  local h=$1 d="$work/h$1"
  # avahi-daemon's pid file and socket are hard-wired under /run: give it its own.
  "$root/scripts/netns.sh" exec "$pfx" "$h" env DBUS_SYSTEM_BUS_ADDRESS="$(bus "$h")" unshare --mount --propagation private \
    sh -c "mount -t tmpfs tmpfs /run && exec avahi-daemon -f '$d/avahi.conf' --no-drop-root --no-chroot --no-rlimits" \
    >"$d/avahi.log" 2>&1 &
  echo $! >"$d/avahi.pid"
}
avahi_ready() { wait_grep "$work/h$1/avahi.log" "Server startup complete"; }

start_device() { # host pid-name args…
  local h=$1 n=$2; shift 2
  # (not through nx: $! must be inferno itself, which netns.sh and env exec into, so SIGTERM reaches it)
  "$root/scripts/netns.sh" exec "$pfx" "$h" env DBUS_SYSTEM_BUS_ADDRESS="$(bus "$h")" "$INFERNO_BIN" run --bind eth0 --state-dir "$work/state-$n" "$@" \
    >>"$work/$n.log" 2>&1 &
  echo $! >"$work/$n.pid"
}
browse() { # host type → avahi-browse -rtp output (resolved lines only)
  nx "$1" env DBUS_SYSTEM_BUS_ADDRESS="$(bus "$1")" timeout 10 avahi-browse -rtp "$2" 2>>"$work/browse.err" | grep '^=' || true
}
na() { nx 2 timeout 60 "$VENV/bin/netaudio" --interface eth0 --timeout 3 "$@" 2>>"$work/netaudio.err" || echo "netaudio $* failed" >>"$work/netaudio.err"; }

start_avahi 1
start_avahi 2
check "avahi-daemon up in h1 (own D-Bus, own /run)" avahi_ready 1
check "avahi-daemon up in h2" avahi_ready 2

start_device 1 avadev --name avadev --tx 4 --rx 0 --tx-source pattern --mdns avahi --device-id 00000000000a0001
start_device 3 embdev --name embdev --tx 4 --rx 0 --tx-source pattern --mdns auto --device-id 00000000000e0001
wait_grep "$work/avadev.log" "published 10 services for avadev" || true
wait_grep "$work/embdev.log" "device embdev" || true
sleep 1   # the embedded responder's probing and announcements

# 1. --mdns auto: embedded where no Avahi answers (h3); Avahi where it does (the h2 recorder, section 5).
check "auto without Avahi: embedded responder chosen and logged" \
  grep -q "mDNS: embedded responder (--mdns auto: no Avahi daemon answers on the system D-Bus" "$work/embdev.log"
set +e
nx 3 env DBUS_SYSTEM_BUS_ADDRESS="$(bus 3)" "$INFERNO_BIN" run --bind eth0 --mdns avahi --ports 6440 --process-id 2 \
  --state-dir "$work/state-x" >"$work/noavahi.out" 2>&1
rc=$?
set -e
check "--mdns avahi without a daemon: exit 2, one line naming the setting" \
  bash -c "[ $rc -eq 2 ] && grep -q '^inferno: --mdns avahi (INFERNO_MDNS): no Avahi daemon answers on the system D-Bus' '$work/noavahi.out'"
check "--mdns avahi: Avahi chosen and logged" grep -q "mDNS: Avahi (--mdns avahi)" "$work/avadev.log"
check "Avahi published 10 services (arc, cmc, 4 factory + 4 friendly channel names)" \
  grep -q "mDNS (Avahi): published 10 services for avadev" "$work/avadev.log"
check "no compatibility-layer banner on stderr" bash -c "! grep -q 'WARNING' '$work/avadev.log'"

# 2. avahi-browse (the other namespace's daemon) resolves every channel of the Avahi device, with our TXT.
browse 2 _netaudio-chan._udp >"$work/chan.txt"
chan_ok() { # device address channels… : every instance resolved on address:4455 with its id and TXT keys
  local dev=$1 addr=$2; shift 2
  local c id=0
  for c in "$@"; do
    id=$((id + 1))
    grep -F ";$c\\064$dev;_netaudio-chan._udp;local;" "$work/chan.txt" | grep -F ";$addr;4455;" | grep -F "\"id=$((id > 4 ? id - 4 : id))\"" \
      | grep -F '"rate=48000"' | grep -F '"enc=24"' | grep -F '"latency_ns=' | grep -Fq '"fpp=32,2"' || { echo "missing $c@$dev" >&2; return 1; }
  done
}
check "avahi-browse: all 8 channel instances of avadev (01-04, TX 1-4) with id/rate/enc/latency/fpp" \
  chan_ok avadev "$A" 01 02 03 04 'TX\0321' 'TX\0322' 'TX\0323' 'TX\0324'
check "avahi-browse: the factory names carry the bare key \"default\"" \
  bash -c "[ \$(grep -F '\\064avadev;' '$work/chan.txt' | grep -c '\"default\"') -eq 4 ]"
check "avahi-browse: the embedded device's channels too (same TXT keys)" chan_ok embdev "$E" 01 02 03 04
browse 2 _netaudio-arc._udp >"$work/arc.txt"
check "avahi-browse: _netaudio-arc of avadev on port 4440 with model" \
  grep -q "avadev;_netaudio-arc._udp;local;avahi-h1.local;$A;4440;.*\"model=INFERNO-SWIFT\"" "$work/arc.txt"

# 3. A rename (ARC 0x1001): the Avahi records follow at once (avahi-browse on h2); netaudio is checked in §7.
nx 2 "$INFERNO_BIN" rename --bind eth0 "$A" avaren >"$work/rename.out" 2>&1 || cat "$work/rename.out"
wait_grep "$work/avadev.log" "published 10 services for avaren" || true
sleep 1.5   # goodbyes make the other daemon drop the old records one second later (RFC 6762 §10.1)
browse 2 _netaudio-chan._udp >"$work/chan.txt"
check "rename: avahi-browse shows avaren's channels" chan_ok avaren "$A" 01 02 03 04 'TX\0321' 'TX\0322' 'TX\0323' 'TX\0324'
check "rename: avadev's records withdrawn" bash -c "! grep -q '\\\\064avadev;' '$work/chan.txt'"
check "rename saved in the state file" grep -q '"name" : "avaren"' "$work"/state-avadev/*.json

# 4. Embedded receiver ← Avahi transmitter: `inferno record` on h3 (auto → embedded), subscriptions to avaren's
#    channels from its state file; 24-bit pattern bit-exact.
write_state() { # dir device-id txdevice
  mkdir -p "$1"
  cat >"$1/$2.json" <<EOF
{"version": 1, "txChannelNames": {}, "rxChannelNames": {}, "subscriptions": {"1": {"txChannel": "01", "txDevice": "$3"}, "2": {"txChannel": "02", "txDevice": "$3"},
 "3": {"txChannel": "03", "txDevice": "$3"}, "4": {"txChannel": "04", "txDevice": "$3"}}}
EOF
}
record() { # host name txdevice device-id seconds
  local h=$1 n=$2
  write_state "$work/state-$n" "$4" "$3"
  nx "$h" env DBUS_SYSTEM_BUS_ADDRESS="$(bus "$h")" timeout $(($5 + 20)) "$INFERNO_BIN" record --bind eth0 --name "$n" \
    --tx 0 --rx 4 --device-id "$4" --ports 5440 --process-id 1 --mdns auto --latency-ms 20 --state-dir "$work/state-$n" \
    --channels 1-4 --duration "$5" -o "$work/$n.raw" 2>"$work/$n.log"
}
verify() { # name
  local ff; ff=$(sed -n 's/^record: first frame at media time \([0-9]*\).*/\1/p' "$work/$1.log" | tail -1)
  "$py" "$here/verify_pattern.py" "$work/$1.raw" 4 --bits-on-wire 24 --first-frame-time "$ff" --late-from "$work/$1.log" >"$work/$1.json" 2>&1
}
record 3 embrec avaren 00000000000e0002 3 || true
check "embedded receiver picked the embedded responder (auto, no Avahi on h3)" grep -q "mDNS: embedded responder (--mdns auto" "$work/embrec.log"
check "Avahi transmitter → embedded receiver: 4 channels bit-exact" verify embrec

# 5. Avahi receiver ← embedded transmitter: `inferno record` on h2 (auto → Avahi), resolving embdev's channels
#    through avahi-daemon (resolve + A record query).
record 2 avarec embdev 00000000000a0002 3 || true
nx 2 env DBUS_SYSTEM_BUS_ADDRESS="$(bus 2)" timeout -s INT 3 "$INFERNO_BIN" run --bind eth0 --name wide --tx 70 --rx 0 \
  --mdns auto --ports 6440 --process-id 2 --state-dir "$work/state-wide" >"$work/wide.out" 2>&1 || true
check "auto with Avahi but 142 services (70 TX): embedded responder, reason logged" \
  grep -q "mDNS: embedded responder (--mdns auto: 142 services to publish, more than the 128" "$work/wide.out"
check "auto with Avahi: Avahi chosen and logged" grep -q "mDNS: Avahi (--mdns auto: avahi-daemon answers on the system D-Bus)" "$work/avarec.log"
check "embedded transmitter → Avahi receiver: 4 channels bit-exact" verify avarec

# 6. Name conflict through Avahi: a newcomer on h2 asks for "avaren" while h1 publishes it; it becomes avaren-2,
#    says so, and saves it.
start_device 2 dup --name avaren --tx 1 --rx 0 --mdns avahi --device-id 00000000000a0003
wait_grep "$work/dup.log" "published .* services for avaren-2" || true
check "conflict: newcomer renamed to avaren-2 and told the user" grep -q "uses the name avaren: renamed to avaren-2" "$work/dup.log"
check "conflict: avaren-2 saved in the state file" grep -q '"name" : "avaren-2"' "$work"/state-dup/*.json
browse 1 _netaudio-arc._udp >"$work/arc.txt"
check "conflict: h1's Avahi sees avaren-2 (and no \"avaren #2\")" \
  bash -c "grep -q 'avaren-2;_netaudio-arc._udp;local;avahi-h2.local;' '$work/arc.txt' && ! grep -q 'avaren #2' '$work/arc.txt'"
stop_pid dup

# 7. avahi-daemon restarts under the device: it publishes again by itself.
kill -TERM "$(cat "$work/h1/avahi.pid")"
sleep 1
run_avahi 1
wait_grep "$work/avadev.log" "published 10 services for avaren (again)" || true
check "daemon restart: the device noticed and published again" grep -q "published 10 services for avaren (again)" "$work/avadev.log"
browse 2 _netaudio-chan._udp >"$work/chan.txt"
check "daemon restart: avahi-browse shows avaren's channels again" chan_ok avaren "$A" 01 02 03 04 'TX\0321' 'TX\0322' 'TX\0323' 'TX\0324'

# 8. netaudio (on h2, next to its Avahi) lists the Avahi device under its new name, with the same fields as the
#    identically configured embedded device (name, address and MAC aside; the services' SRV target is Avahi's
#    host name with --mdns avahi, so it is left out).
na -o json device list >"$work/list.json"
listed() { # name address tx absent-name
  "$py" -c 'import json,sys; d={v["name"]:v for v in json.load(open(sys.argv[1]))["dante"].values()}; v=d.get(sys.argv[2]); sys.exit(0 if v and v["ipv4"]==sys.argv[3] and v["tx_count"]==int(sys.argv[4]) and sys.argv[5] not in d else 1)' "$work/list.json" "$@"
}
check "netaudio lists the renamed Avahi device (avaren, 4 TX, $A), not avadev" listed avaren "$A" 4 avadev
fields() { # name → the fields a controller sees, with the device's own name, address and MAC as placeholders
  "$py" - "$work/list.json" "$1" <<'PY'
import json, sys
d = {v["name"]: v for v in json.load(open(sys.argv[1]))["dante"].values()}.get(sys.argv[2])
if d is None: sys.exit(1)
keep = ["name", "ipv4", "server_name", "mac_address", "manufacturer", "model_id", "product_name", "product_version",
        "tx_count", "rx_count", "channels", "sample_rate_hz", "encoding", "supported_encodings", "supported_sample_rates_hz",
        "cmc_server_version", "router_protocol_version", "interfaces", "identify_supported", "clock_source"]
out = {k: d.get(k) for k in keep}
out["services"] = {k: {kk: vv for kk, vv in s.items() if kk != "server_name"} for k, s in d.get("services", {}).items()}
text = json.dumps(out, sort_keys=True, indent=1)
for i in d.get("interfaces") or []:
    if i.get("mac_address"): text = text.replace(i["mac_address"], "MAC")
for v, placeholder in [(d.get("mac_address"), "ID"), (d["ipv4"], "IP"), (d["name"], "NAME")]:
    if v: text = text.replace(v, placeholder)
print(text)
PY
}
fields avaren >"$work/fields-avahi.json" || true
fields embdev >"$work/fields-embedded.json" || true
check "netaudio: the same fields from the Avahi device as from the embedded one" \
  bash -c "[ -s '$work/fields-avahi.json' ] && grep -q '_netaudio-chan\|_netaudio-arc' '$work/fields-avahi.json' && diff '$work/fields-avahi.json' '$work/fields-embedded.json' >'$work/fields.diff'"

check "no compatibility-layer banner from any Avahi-backed process" \
  bash -c "! grep -l 'WARNING \*\*\*\|Bonjour compatibility' '$work/avadev.log' '$work/avarec.log' '$work/dup.log'"

# 9. Exit: Avahi withdraws the device's records (goodbyes).
stop_pid avadev
sleep 1.5
browse 2 _netaudio-chan._udp >"$work/chan.txt"
check "exit: Avahi withdrew every channel of avaren" bash -c "! grep -q '\\\\064avaren;' '$work/chan.txt'"
check "exit: device stopped cleanly" grep -q "device stopped" "$work/avadev.log"

echo "avahi interop: $pass passed, $fail failed ($(( $(date +%s) - t0 )) s)"
if [ "$fail" -ne 0 ]; then
  echo "--- logs"; tail -n 15 "$work"/*.log "$work"/h*/avahi.log; cat "$work/fields.diff" 2>/dev/null | head -40
  tail -n 20 "$work/netaudio.err" 2>/dev/null; tail -n 5 "$work/browse.err" 2>/dev/null
fi
[ "$fail" -eq 0 ]
