#!/usr/bin/env bash
# Crash-safe state: a controller (our `inferno rename`, `rename-channel` and `subscribe` commands, on another
# namespace host) changes a device's name, a TX and an RX channel name and a subscription in a loop, value k in
# round k; meanwhile the device is killed with SIGKILL at random moments (0.5-2 s apart) and restarted at once,
# KILLS times (default 20; `make soak` 100). After every kill: the state file parses, and each setting holds a
# value the controller sent, no older than the last one the device acknowledged (a change is on disk before its
# reply) and no newer than the last one sent; the subscription's channel and device come from the same request
# (never a mix). After every restart the device loads the file without a warning.
# Needs root; nothing leaves the namespaces.
set -euo pipefail
: "${INFERNO_BIN:?}" "${VENV:?}"
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
if [ "$(id -u)" -ne 0 ]; then echo "crashstate: needs root for network namespaces"; exit 1; fi
py="$VENV/bin/python"
KILLS=${KILLS:-20}

source "$here/lib.bash"
cleanup_extra() { [ -f "$work/ctl.pid" ] && kill -TERM "$(cat "$work/ctl.pid")" 2>/dev/null; }
netns_hosts "icst$$" 2 63
D=10.99.$net.1
id=00000000000c0063
state="$work/state/$id.json"

start_device() {
  "$root/scripts/netns.sh" exec "$pfx" 1 "$INFERNO_BIN" run --bind eth0 --name crash --tx 2 --rx 2 --device-id $id --state-dir "$work/state" \
    >>"$work/dev-$1.log" 2>&1 &
  echo $! >"$work/dev.pid"
}

# The controller: one line per request sent ("sent FIELD K") and per acknowledgement ("ack FIELD K").
cat >"$work/ctl.sh" <<EOF
#!/usr/bin/env bash
inf() { timeout 10 "$INFERNO_BIN" "\$@" --bind eth0 --timeout 0.1 >/dev/null 2>&1; }
k=0
while :; do
  k=\$((k + 1))
  for f in name tx rx sub; do
    echo "sent \$f \$k"
    case \$f in
      name) inf rename $D "dev-\$k" ;;
      tx) inf rename-channel tx 1@$D "t-\$k" ;;
      rx) inf rename-channel rx 1@$D "r-\$k" ;;
      sub) inf subscribe --rx 1@$D --tx "s-\$k@src-\$k" ;;
    esac && echo "ack \$f \$k"
  done
done
EOF
start_device 0
sleep 1
"$root/scripts/netns.sh" exec "$pfx" 2 bash "$work/ctl.sh" >"$work/ctl.log" 2>&1 &
echo $! >"$work/ctl.pid"
sleep 2

bad=0; warnings=0; survived=0
for i in $(seq 1 "$KILLS"); do
  sleep "$("$py" -c 'import random; print(round(random.uniform(0.5, 2.0), 3))')"
  kill -KILL "$(cat "$work/dev.pid")"
  wait "$(cat "$work/dev.pid")" 2>/dev/null || true
  cp "$work/ctl.log" "$work/ctl-at-kill.log"      # acknowledgements so far (all of them happened before the kill)
  if ! "$py" "$here/state_check.py" "$state" "$work/ctl-at-kill.log" >>"$work/check.log" 2>&1; then
    bad=$((bad + 1)); cp "$state" "$work/bad-$i.json" 2>/dev/null || true
  fi
  start_device "$i"
  survived=$((survived + 1))
done
sleep 1.5
kill -TERM "$(cat "$work/ctl.pid")" 2>/dev/null || true; rm -f "$work/ctl.pid"
kill -TERM "$(cat "$work/dev.pid")" 2>/dev/null || true
for _ in $(seq 50); do kill -0 "$(cat "$work/dev.pid")" 2>/dev/null || break; sleep 0.1; done
rm -f "$work/dev.pid"
warnings=$(cat "$work"/dev-*.log | grep -c 'unreadable\|corrupt' || true)
rounds=$(grep -c '^ack sub' "$work/ctl.log" || true)
acks=$(grep -c '^ack' "$work/ctl.log" || true)
tail -1 "$work/check.log" | sed 's/^/# last: /'
inflight=$("$py" -c '
import json, sys
n = 0
for line in open(sys.argv[1]):
    d = json.loads(line)
    n += any(k is not None and k > d["acked"].get(f, 0) for f, k in d["found"].items())
print(n)' "$work/check.log")
echo "# kills that caught a change on disk but not yet acknowledged (the in-flight value): $inflight"
echo "# $KILLS kills, $acks changes acknowledged ($rounds full rounds), $bad bad states, $warnings load warnings"
check "$KILLS kills at random moments, each followed by a restart" test "$survived" -eq "$KILLS"
check "the controller's changes kept being acknowledged between kills (>= 2 per kill)" test "$acks" -ge $((KILLS * 2))
check "after every kill the state file parses and holds, per setting, the last acknowledged or the in-flight value (never a mix)" test "$bad" -eq 0
check "every restart loaded the state file without a warning" test "$warnings" -eq 0
check "no temporary files left behind after the restarts" test -z "$(ls "$work/state" | grep -v "^$id.json\$")"
"$py" "$here/state_check.py" "$state" "$work/ctl.log" >/dev/null 2>&1 && final=0 || final=1
check "after a clean stop the file holds every acknowledged change" test $final -eq 0

echo "crashstate: $pass passed, $fail failed"
if [ "$fail" -ne 0 ]; then
  tail -20 "$work/check.log"; tail -20 "$work/ctl.log"; for f in "$work"/dev-*.log; do echo "== $f"; tail -5 "$f"; done | tail -60
fi
[ "$fail" -eq 0 ]
