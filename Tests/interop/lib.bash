# Shared harness (named .bash so `make test-interop`, which runs *.sh, does not run it) of the interop scripts that run hosts in network namespaces. Source it after `set -euo pipefail`
# and after setting `root` (the repository) and `py` (the venv's python):
# Sourcing it makes "$work" (a fresh directory) and sets an EXIT trap that calls cleanup_extra (if the script
# defines one), kills every "$work"/*.pid and "$work"/*/*.pid, removes the namespaces netns_hosts made and the work
# directory (KEEP_WORK=1 keeps it).
#   netns_hosts PREFIX HOSTS NET   hosts 10.99.NET.1..HOSTS in namespaces PREFIX-h1…, on a private switch
#   nx H CMD…                      runs CMD on host H
#   check NAME CMD…                "ok - NAME" / "not ok - NAME", counted in $pass / $fail (CHECK_TIMES=1 adds
#                                  the seconds since the script began)
#   json FILE EXPR                 true when the Python expression EXPR holds for d = the JSON object in FILE
#   wait_grep FILE PATTERN [S]     true as soon as grep finds PATTERN in FILE, false after S seconds (default 10)
#   alive PID                      the process exists and is not a zombie
#   stop_pid NAME [SIGNAL]         signals the process in "$work"/NAME.pid (TERM by default), waits up to 5 s for it,
#                                  then kills it; removes the pid file
#   run_device H NAME ARGS…        `inferno run --bind eth0 --state-dir "$work"/state-NAME ARGS…` on host H in the
#                                  background, output in "$work"/NAME.log, pid in "$work"/NAME.pid
#   write_subscriptions FILE N DEV a state file subscribing RX c to TX "0c"@DEV for c = 1…N (as after a controller
#                                  patched the device)
work=$(mktemp -d)
pass=0; fail=0; t0=$(date +%s)
trap _lib_cleanup EXIT

netns_hosts() {
  pfx=$1; net=$3
  "$root/scripts/netns.sh" up "$pfx" "$2" "$net"
}

_lib_cleanup() {
  set +e
  if declare -F cleanup_extra >/dev/null; then cleanup_extra; fi
  for f in "$work"/*.pid "$work"/*/*.pid; do [ -f "$f" ] && kill -KILL "$(cat "$f")" 2>/dev/null; done
  sleep 0.3
  [ -n "${pfx:-}" ] && { "$root/scripts/netns.sh" down "$pfx" || true; }
  [ -n "${KEEP_WORK:-}" ] && echo "kept $work" || rm -rf "$work"
}

nx() { local h=$1; shift; "$root/scripts/netns.sh" exec "$pfx" "$h" "$@"; }

check() {
  local name=$1; shift
  [ -n "${CHECK_TIMES:-}" ] && name="$name ($(( $(date +%s) - t0 )) s)"
  if "$@"; then pass=$((pass+1)); echo "ok - $name"; else fail=$((fail+1)); echo "not ok - $name"; fi
}

json() { "$py" -c "import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if ($2) else 1)" "$1"; }

wait_grep() {
  local i; for i in $(seq $(( ${3:-10} * 10 ))); do grep -q -- "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done; return 1
}

alive() { local st; st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1; [ "$st" != Z ]; }

stop_pid() {
  local f="$work/$1.pid"; [ -f "$f" ] || return 0
  local p; p=$(cat "$f")
  kill "-${2:-TERM}" "$p" 2>/dev/null || true
  for _ in $(seq 50); do alive "$p" || break; sleep 0.1; done
  alive "$p" && kill -KILL "$p" 2>/dev/null || true
  wait "$p" 2>/dev/null || true
  rm -f "$f"
}

run_device() {
  local h=$1 n=$2; shift 2
  "$root/scripts/netns.sh" exec "$pfx" "$h" "$INFERNO_BIN" run --bind eth0 --state-dir "$work/state-$n" "$@" \
    >>"$work/$n.log" 2>&1 &
  echo $! >"$work/$n.pid"
}

write_subscriptions() {
  mkdir -p "$(dirname "$1")"
  "$py" - "$1" "$2" "$3" <<'PY'
import json, sys
n, dev = int(sys.argv[2]), sys.argv[3]
subs = {str(c): {"txChannel": "%02d" % c, "txDevice": dev} for c in range(1, n + 1)}
json.dump({"version": 1, "txChannelNames": {}, "rxChannelNames": {}, "subscriptions": subs}, open(sys.argv[1], "w"))
PY
}
