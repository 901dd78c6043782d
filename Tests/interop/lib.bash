# Shared harness (named .bash so `make test-interop`, which runs *.sh, does not run it) of the interop scripts that run hosts in network namespaces. Source it after `set -euo pipefail`
# and after setting `root` (the repository) and `py` (the venv's python):
#   netns_hosts PREFIX HOSTS NET   hosts 10.99.NET.1..HOSTS in namespaces PREFIX-h1…, a private switch, and an EXIT
#                                  trap that kills every "$work"/*.pid (after calling cleanup_extra, if the script
#                                  defines it), removes the namespaces and the work directory (KEEP_WORK=1 keeps it)
#   nx H CMD…                      runs CMD on host H
#   check NAME CMD…                "ok - NAME" / "not ok - NAME", counted in $pass / $fail
#   write_subscriptions FILE N DEV a state file subscribing RX c to TX "0c"@DEV for c = 1…N (as after a controller
#                                  patched the device)
work=$(mktemp -d)
pass=0; fail=0

netns_hosts() {
  pfx=$1; net=$3
  trap _lib_cleanup EXIT
  "$root/scripts/netns.sh" up "$pfx" "$2" "$net"
}

_lib_cleanup() {
  if declare -F cleanup_extra >/dev/null; then cleanup_extra || true; fi
  for f in "$work"/*.pid; do [ -f "$f" ] && kill -KILL "$(cat "$f")" 2>/dev/null || true; done
  sleep 0.3
  [ -n "${pfx:-}" ] && { "$root/scripts/netns.sh" down "$pfx" || true; }
  [ -n "${KEEP_WORK:-}" ] && echo "kept $work" || rm -rf "$work"
}

nx() { local h=$1; shift; "$root/scripts/netns.sh" exec "$pfx" "$h" "$@"; }

check() { local name=$1; shift; if "$@"; then pass=$((pass+1)); echo "ok - $name"; else fail=$((fail+1)); echo "not ok - $name"; fi; }

write_subscriptions() {
  mkdir -p "$(dirname "$1")"
  "$py" - "$1" "$2" "$3" <<'PY'
import json, sys
n, dev = int(sys.argv[2]), sys.argv[3]
subs = {str(c): {"txChannel": "%02d" % c, "txDevice": dev} for c in range(1, n + 1)}
json.dump({"version": 1, "txChannelNames": {}, "rxChannelNames": {}, "subscriptions": subs}, open(sys.argv[1], "w"))
PY
}
