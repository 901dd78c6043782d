#!/usr/bin/env bash
# The `inferno` controller commands (ls, channels, subscribe, unsubscribe, rename, rename-channel, config) against
# two of our devices on a virtual network, cross-checked with netaudio 0.4.2: two hosts in network namespaces
# (scripts/netns.sh), device A on h1, device B on h2; the controller and netaudio run on h2. Needs root; nothing
# leaves the namespaces. KEEP_WORK=1 keeps the logs.
set -euo pipefail
: "${INFERNO_BIN:?}" "${VENV:?}"
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
if [ "$(id -u)" -ne 0 ]; then echo "controller: needs root for network namespaces"; exit 1; fi

source "$here/lib.bash"
netns_hosts "ictl$$" 2 41
ipA="10.99.$net.1"; ipB="10.99.$net.2"

# The controller, on h2: `ctl ARGS…` → stdout in $work/out, stderr in $work/err, exit code in $rc.
ctl() {
  set +e
  "$root/scripts/netns.sh" exec "$pfx" 2 timeout 30 "$INFERNO_BIN" "$@" --bind eth0 >"$work/out" 2>"$work/err"
  rc=$?
  set -e
  { echo "\$ inferno $* → $rc"; cat "$work/out" "$work/err"; } >>"$work/ctl.log"
}
na() { "$root/scripts/netns.sh" exec "$pfx" 2 timeout 60 "$VENV/bin/netaudio" --interface eth0 --timeout 3 "$@" 2>>"$work/netaudio.err" || { echo "netaudio $* failed" >>"$work/netaudio.err"; return 0; }; }
py() { "$VENV/bin/python" - "$@"; }

out_has() { grep -q -- "$1" "$work/out"; }
err_has() { grep -q -- "$1" "$work/err"; }
rc_is() { [ "$rc" -eq "$1" ]; }

# JSON probes. ours: `inferno ls --json` / `channels --json` in $work/out; theirs: netaudio in $work/na.json.
cat >"$work/probe.py" <<'PY'
import json, sys
what, path = sys.argv[1], sys.argv[2]
args = sys.argv[3:]
data = json.load(open(path))
def fail(msg):
    print(f"  {what}: {msg}", file=sys.stderr); sys.exit(1)
if what == "ls":  # name ip tx rx [sample_rate] [latency_ns]
    by = {d["name"]: d for d in data}
    d = by.get(args[0]) or fail(f"{args[0]} not in {sorted(by)}")
    want = {"ipv4": args[1], "tx_count": int(args[2]), "rx_count": int(args[3])}
    if len(args) > 4 and args[4] != "-": want["sample_rate"] = int(args[4])
    if len(args) > 5: want["latency_ns"] = int(args[5])
    for k, v in want.items():
        if d.get(k) != v: fail(f"{args[0]}.{k} = {d.get(k)!r}, want {v!r}")
elif what == "ls-absent":
    if any(d["name"] == args[0] for d in data): fail(f"{args[0]} still listed")
elif what == "channels-rx":  # number subscription|- [status]
    r = next((r for r in data["rx"] if r["number"] == int(args[0])), None) or fail(f"no rx {args[0]}")
    sub = r.get("subscription") or "-"
    if sub != args[1]: fail(f"rx {args[0]} subscription {sub!r}, want {args[1]!r}")
    if len(args) > 2 and r["status"] != args[2]: fail(f"rx {args[0]} status {r['status']!r}, want {args[2]!r}")
elif what == "channels-tx":  # number friendly
    t = next((t for t in data["tx"] if t["number"] == int(args[0])), None) or fail(f"no tx {args[0]}")
    if t["friendly_name"] != args[1]: fail(f"tx {args[0]} is {t['friendly_name']!r}, want {args[1]!r}")
elif what == "na-device":  # netaudio device list: name [tx:N=friendly | key=value]…
    by = {v["name"]: v for v in data["dante"].values()}
    v = by.get(args[0]) or fail(f"{args[0]} not in {sorted(by)}")
    for a in args[1:]:
        k, want = a.split("=", 1)
        if k.startswith("tx:"):
            ch = v["channels"]["transmitters"][k[3:]]
            if want not in (ch.get("friendly_name"), ch.get("name")): fail(f"tx {k[3:]} = {ch}")
        elif str(v.get(k)) != want:
            fail(f"{args[0]}.{k} = {v.get(k)!r}, want {want!r}")
elif what == "na-absent":
    if any(v["name"] == args[0] for v in data["dante"].values()): fail(f"{args[0]} still listed")
elif what == "na-sub":  # netaudio subscription list: rxdev rxnum txchan@txdev | -
    row = next((r for r in data if r.get("rx_device") == args[0] and r.get("rx_channel_number") == int(args[1])), None)
    got = f"{row.get('tx_channel')}@{row.get('tx_device')}" if row and row.get("tx_device") else "-"
    if got != args[2]: fail(f"{args[0]} rx {args[1]}: {got!r}, want {args[2]!r} (row {row})")
else:
    fail("unknown probe")
PY
probe() { "$VENV/bin/python" "$work/probe.py" "$@" 2>>"$work/probe.err"; }
ours() { probe "$1" "$work/out" "${@:2}"; }
theirs() { probe "$1" "$work/na.json" "${@:2}"; }

run_device 1 a --name A --tx 4 --rx 4
run_device 2 b --name B --tx 2 --rx 2
sleep 2

# 1. Discovery and listing.
ctl ls --json
check "ls --json exits 0" rc_is 0
check "ls lists A with address and counts" ours ls A "$ipA" 4 4 48000
check "ls lists B with address and counts" ours ls B "$ipB" 2 2 48000
ctl ls
check "ls table shows both" bash -c "grep -q '^A .*$ipA' '$work/out' && grep -q '^B .*$ipB' '$work/out'"

# 2. Channels, by name (case-insensitive) and by address.
ctl channels a --json
check "channels A: TX 3 friendly name" ours channels-tx 3 "TX 3"
check "channels A: RX 4 unsubscribed" ours channels-rx 4 - none
ctl channels "$ipB"
check "channels by IP: table of B" bash -c "grep -q 'TX channels of B (2)' '$work/out' && grep -q 'RX 2' '$work/out'"

# 3. Subscribe by number (02@A → A's TX 2, named "TX 2") and by names; netaudio sees both.
ctl subscribe --rx 1@B --tx 02@A
check "subscribe 1@B <- 02@A exits 0" rc_is 0
check "subscribe reports the TX name used" out_has "B RX 1 <- TX 2@A"
ctl subscribe --rx "RX 2@B" --tx "TX 1@A"
check "subscribe by names exits 0" rc_is 0
# The media plane connects the subscription by itself: wait for our controller to show it connected.
for _ in 1 2 3 4 5 6 7 8 9 10; do
  ctl channels B --json
  ours channels-rx 1 "TX 2@A" "connected (unicast)" 2>/dev/null && break
  sleep 0.5
done
check "channels B: RX 1 <- TX 2@A, connected (unicast)" ours channels-rx 1 "TX 2@A" "connected (unicast)"
check "channels B: RX 2 <- TX 1@A" ours channels-rx 2 "TX 1@A"
na -o json subscription list >"$work/na.json"
check "netaudio lists B RX 1 <- TX 2@A" theirs na-sub B 1 "TX 2@A"
check "netaudio lists B RX 2 <- TX 1@A" theirs na-sub B 2 "TX 1@A"

# 4. Unsubscribe one channel; the other stays.
ctl unsubscribe --rx 1@B
check "unsubscribe exits 0" rc_is 0
na -o json subscription list >"$work/na.json"
check "netaudio: B RX 1 no longer subscribed" theirs na-sub B 1 -
check "netaudio: B RX 2 still subscribed" theirs na-sub B 2 "TX 1@A"

# 5. Renames, seen by netaudio.
ctl rename A A2
check "rename A A2 exits 0" rc_is 0
ctl rename-channel tx 1@A2 Vox
check "rename-channel tx 1@A2 Vox exits 0" rc_is 0
ctl rename-channel rx "RX 3@A2" Room
check "rename-channel rx by name exits 0" rc_is 0
ctl channels A2 --json
check "channels A2: RX 3 named Room" bash -c "grep -q '\"name\":\"Room\",\"number\":3' '$work/out'"

# 6. Settings: latency over ARC, sample rate and encoding over conmon (port from the CMC answer).
ctl config A2 --latency-ms 2
check "config --latency-ms 2 exits 0" rc_is 0
ctl config A2 --sample-rate 96000
check "config --sample-rate 96000 exits 0 (confirmed)" rc_is 0
ctl config A2 --encoding 16
check "config --encoding 16 exits 0" rc_is 0
ctl ls --json
check "ls shows A2 at 96000 Hz and 2 ms" ours ls A2 "$ipA" 4 4 96000 2000000
check "encoding 16 saved by the device" grep -q '"encoding" : 16' "$work"/state-a/*.json
na -o json device list >"$work/na.json"
check "netaudio lists A2" theirs na-device A2
check "netaudio no longer lists A" theirs na-absent A
check "netaudio sees TX 1 of A2 named Vox" theirs na-device A2 tx:1=Vox
check "netaudio sees A2 at 96000 Hz, 16 bit" theirs na-device A2 sample_rate_hz=96000 encoding=16
na --host "$ipA" device config latency >"$work/na-latency.txt"
check "netaudio reads A2's latency as 2 ms" grep -q "Active latency: 2 ms" "$work/na-latency.txt"
ctl config A2 --sample-rate 192000
check "unsupported sample rate: exit 1, says so" bash -c "[ $rc -eq 1 ] && grep -q 'still reports sample rate 96000' '$work/err'"

# 7. Errors: unknown device, timeout, usage.
ctl channels NOPE
check "unknown device: exit 1" rc_is 1
check "unknown device: message lists what was found" err_has "no Dante device named NOPE on eth0 (found: A2, B)"
start=$(date +%s%N)
ctl channels 10.99.$net.9
elapsed=$(( ($(date +%s%N) - start) / 1000000 ))
check "silent address: exit 1" rc_is 1
check "silent address: timeout message names address and request" err_has "no answer from 10.99.$net.9:4440 to ARC 0x1002 (device name): timed out after 3 attempts in 3 s"
check "silent address: gives up in about 3 s ($elapsed ms)" test "$elapsed" -lt 6000
kill -STOP "$(cat "$work/a.pid")"
ctl subscribe --rx 1@A2 --tx 1@B
kill -CONT "$(cat "$work/a.pid")"
check "stopped device: exit 1 (not found or timeout)" rc_is 1
ctl config A2
check "config without a setting: exit 2" rc_is 2
ctl subscribe --rx 1B --tx 1@A2
check "malformed CH@DEV: exit 2" rc_is 2
ctl rename B "not ok"
check "invalid new name: exit 2" rc_is 2
set +e; "$root/scripts/netns.sh" exec "$pfx" 2 "$INFERNO_BIN" ls --bind nosuchif >"$work/out" 2>"$work/err"; rc=$?; set -e
check "unknown --bind: exit 2, names the option" bash -c "[ $rc -eq 2 ] && grep -q -- '--bind (INFERNO_BIND_IP)' '$work/err'"

echo "controller interop: $pass passed, $fail failed"
if [ "$fail" -ne 0 ]; then
  echo "--- controller"; tail -n 40 "$work/ctl.log"; echo "--- probes"; cat "$work/probe.err" 2>/dev/null || true
  echo "--- devices"; tail -n 10 "$work"/a.log "$work"/b.log; echo "--- netaudio"; tail -n 10 "$work/netaudio.err"
fi
[ "$fail" -eq 0 ]
