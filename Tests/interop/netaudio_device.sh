#!/usr/bin/env bash
# `inferno run` against netaudio 0.4.2, over a real (virtual) network: three hosts in network namespaces
# (scripts/netns.sh), devices on h1 and h2, netaudio on h3. Checks listing with paging (40 TX / 20 RX),
# renames, latency, subscriptions added and removed, persistence across a restart, and two instances on one
# host. Needs root (CI runs as root); nothing leaves the namespaces.
set -euo pipefail
: "${INFERNO_BIN:?}" "${VENV:?}"
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
if [ "$(id -u)" -ne 0 ]; then echo "netaudio_device: needs root for network namespaces"; exit 1; fi

source "$here/lib.bash"
netns_hosts "infna$$" 3 7

na() { "$root/scripts/netns.sh" exec "$pfx" 3 timeout 90 "$VENV/bin/netaudio" --interface eth0 --timeout 3 "$@" 2>>"$work/netaudio.err" || { echo "netaudio $* failed" >>"$work/netaudio.err"; return 0; }; }
list_json() { na -o json device list >"$work/list.json"; }
q() { "$VENV/bin/python" - "$work/list.json" "$@"; }


run_device 1 big --name bigdesk --tx 40 --rx 20
run_device 2 small --name smallbox --tx 2 --rx 2
sleep 2

# 1. Listing: both devices with name, address and counts; every channel name (TX paging at 32, RX at 16).
list_json
cat >"$work/probe.py" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))["dante"]
by = {v["name"]: v for v in d.values()}
what = sys.argv[2]
if what == "device":
    name, ip, tx, rx = sys.argv[3], sys.argv[4], int(sys.argv[5]), int(sys.argv[6])
    v = by.get(name)
    ok = v is not None and v["ipv4"] == ip and v["tx_count"] == tx and v["rx_count"] == rx
    ok = ok and len(v["channels"]["transmitters"]) == tx and len(v["channels"]["receivers"]) == rx
    sys.exit(0 if ok else 1)
if what == "txname":
    v = by[sys.argv[3]]; ch = v["channels"]["transmitters"][sys.argv[4]]
    sys.exit(0 if ch.get("friendly_name") == sys.argv[5] or ch.get("name") == sys.argv[5] else 1)
if what == "rxname":
    v = by[sys.argv[3]]; ch = v["channels"]["receivers"][sys.argv[4]]
    sys.exit(0 if ch.get("name") == sys.argv[5] else 1)
if what == "absent":
    sys.exit(0 if sys.argv[3] not in by else 1)
sys.exit(2)
PY
q() { "$VENV/bin/python" "$work/probe.py" "$work/list.json" "$@"; }
check "bigdesk listed with 40 TX / 20 RX" q device bigdesk 10.99.7.1 40 20
check "smallbox listed with 2 TX / 2 RX" q device smallbox 10.99.7.2 2 2
check "TX 40 listed" q txname bigdesk 40 "40"
check "RX 20 name" q rxname bigdesk 20 "RX 20"

# 2. Changes through netaudio: device rename, channel renames, latency, subscriptions.
na --host 10.99.7.1 device name desk2 >/dev/null
na --host 10.99.7.1 channel name tx:3 Vox >/dev/null
na --host 10.99.7.1 channel name rx:2 Room >/dev/null
na --host 10.99.7.1 device config latency 1 >/dev/null
na subscription add --tx "01@smallbox" --rx "rx:1@desk2" >/dev/null
na subscription add --tx "TX 2@smallbox" --rx "rx:5@desk2" >/dev/null
na subscription add --tx "02@smallbox" --rx "rx:6@desk2" >/dev/null
na subscription remove --rx "rx:6@desk2" >/dev/null
# Sample rate and encoding through conmon, with packets built by netaudio's own builder.
"$root/scripts/netns.sh" exec "$pfx" 3 "$VENV/bin/python" - <<'PY'
import socket
from netaudio import core
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(core.build_command({"command": "set_sample_rate", "sample_rate": 96000, "message_id": 11}), ("10.99.7.1", 8700))
s.sendto(core.build_command({"command": "set_encoding", "encoding": 16, "message_id": 12}), ("10.99.7.1", 8700))
s.sendto(core.build_command({"command": "set_sample_rate", "sample_rate": 22050, "message_id": 13}), ("10.99.7.1", 8700))
PY
sleep 1
state_has() { grep -q "\"$1\" : $2" "$work"/state-big/*.json; }
check "sample rate 96000 applied and saved" state_has sampleRate 96000
check "encoding 16 applied and saved" state_has encoding 16
check "latency 1 ms from netaudio applied and saved" state_has latencyNs 1000000
# …and through netaudio's own CLI, which first checks the capabilities our 0x0060 board info advertises.
na --host 10.99.7.1 device config sample-rate 88200 >"$work/rate.out"
na --host 10.99.7.1 device config encoding 32 >>"$work/rate.out"
sleep 1
check "netaudio CLI sets the sample rate" state_has sampleRate 88200
check "netaudio CLI sets the encoding" state_has encoding 32
check "unsupported rate refused" grep -q "refused sample rate 22050" "$work/big.log"
list_json
check "renamed device listed" q device desk2 10.99.7.1 40 20
check "old name gone" q absent bigdesk
check "tx channel renamed" q txname desk2 3 Vox
check "rx channel renamed" q rxname desk2 2 Room
na -o json subscription list >"$work/subs.json"
subs() { "$VENV/bin/python" - "$work/subs.json" "$@" <<'PY'
import json, sys
rows = json.load(open(sys.argv[1]))
for want in sys.argv[2:]:
    rx, tx = want.split("=")
    row = next((r for r in rows if r.get("rx_device") == "desk2" and r.get("rx_channel_number") == int(rx)), None)
    got = row.get("tx_device") if row else None
    ok = (not got) if tx == "-" else (got == tx.split("@")[1] and row.get("tx_channel") == tx.split("@")[0])
    if not ok:
        print(f"subscription rx {rx}: expected {tx}, got {row}", file=sys.stderr)
        sys.exit(1)
PY
}
check "subscriptions listed (1, 5 set; 6 removed)" subs "1=TX 1@smallbox" "5=TX 2@smallbox" "6=-"

# 3. Persistence: restart the device; everything is still there.
stop_pid big
list_json
check "stopped device is gone (mDNS goodbye)" q absent desk2
run_device 1 big --tx 40 --rx 20
sleep 2
list_json
check "name survives restart" q device desk2 10.99.7.1 40 20
check "tx name survives restart" q txname desk2 3 Vox
check "rx name survives restart" q rxname desk2 2 Room
na -o json subscription list >"$work/subs.json"
check "subscriptions survive restart" subs "1=TX 1@smallbox" "5=TX 2@smallbox" "6=-"

# 4. Two instances on one host with different ports and process ids.
run_device 2 second --name smallbox2 --tx 4 --rx 4 --ports 5440 --process-id 1
sleep 2
list_json
check "second instance on one host listed" q device smallbox2 10.99.7.2 4 4
check "first instance still listed" q device smallbox 10.99.7.2 2 2

# 5. A second device taking an existing name on the network loses the mDNS probe and renames itself.
run_device 3 dup --name smallbox --tx 2 --rx 2
sleep 3
check "name conflict resolved by renaming" grep -q "renamed to smallbox-2" "$work/dup.log"
list_json
check "original keeps its name" q device smallbox 10.99.7.2 2 2
check "newcomer listed as smallbox-2" q device smallbox-2 10.99.7.3 2 2
stop_pid dup

# 6. Same ports twice: a one-line error naming the port and the option, exit code 2.
set +e
"$root/scripts/netns.sh" exec "$pfx" 2 "$INFERNO_BIN" run --bind eth0 --state-dir "$work/state-x" --name clash >"$work/clash.log" 2>&1
rc=$?
set -e
check "port clash exits 2" test "$rc" -eq 2
check "port clash names the port and --ports" grep -q "port 4440 .*already in use.*--ports" "$work/clash.log"

# 7. Malformed ARC/CMC/conmon/mDNS datagrams from another host: the device keeps running and answering.
check "survives 3000 malformed datagrams" "$root/scripts/netns.sh" exec "$pfx" 3 "$VENV/bin/python" "$here/garbage.py" 10.99.7.2 3000
check "still running after them" kill -0 "$(cat "$work/small.pid")"

check "SIGTERM stops the device cleanly" grep -q "device stopped" "$work/big.log"
# netaudio 0.4.2 reads one 0x2010 response (at most 32 records): friendly names of TX 33+ show as factory names.
check "TX 32 friendly name" q txname desk2 32 "TX 32"
check "TX 40 listed" q txname desk2 40 "40"
echo "netaudio device interop: $pass passed, $fail failed"
if [ "$fail" -ne 0 ]; then
  echo "--- logs"; tail -n 20 "$work"/*.log; tail -n 20 "$work/netaudio.err"
fi
[ "$fail" -eq 0 ]
