#!/usr/bin/env bash
# Test hosts in network namespaces: N hosts (10.99.<net>.1 … .N) on one bridge, multicast routed on eth0,
# nothing reachable from or leaking to the machine's real interfaces. Needs root (CI runs as root).
#
#   scripts/netns.sh up PREFIX N [NET]   create PREFIX-sw (bridge) and PREFIX-h1 … PREFIX-hN
#   scripts/netns.sh down PREFIX         delete them (safe to call twice, or when nothing exists)
#   scripts/netns.sh exec PREFIX I CMD…  run CMD inside host I
#
# Callers use `trap 'scripts/netns.sh down PREFIX' EXIT` so the namespaces go away even when a test fails.
set -euo pipefail
cmd=${1:-}; pfx=${2:-}
[ -n "$cmd" ] && [ -n "$pfx" ] || { echo "usage: $0 up|down|exec PREFIX …" >&2; exit 2; }
case "$pfx" in *[!a-z0-9-]*|"") echo "netns.sh: bad prefix '$pfx'" >&2; exit 2;; esac

case "$cmd" in
  up)
    n=${3:-2}; net=${4:-0}
    "$0" down "$pfx"
    ip netns add "$pfx-sw"
    ip -n "$pfx-sw" link set lo up
    # No IGMP querier on this bridge: disable snooping so multicast floods to every port.
    ip -n "$pfx-sw" link add br0 type bridge mcast_snooping 0
    ip -n "$pfx-sw" link set br0 up
    for i in $(seq 1 "$n"); do
      h="$pfx-h$i"
      ip netns add "$h"
      ip link add eth0 netns "$h" type veth peer name "p$i" netns "$pfx-sw"
      ip -n "$pfx-sw" link set "p$i" master br0 up
      ip -n "$h" link set lo up
      ip -n "$h" link set eth0 multicast on up
      ip -n "$h" addr add "10.99.$net.$i/24" dev eth0
      ip -n "$h" route add 224.0.0.0/4 dev eth0   # no default route in the namespace
    done
    ;;
  down)
    for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^$pfx-(h[0-9]+|sw)$" || true); do
      ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
      ip netns del "$ns" 2>/dev/null || true
    done
    ;;
  exec)
    i=${3:?host number}; shift 3
    exec ip netns exec "$pfx-h$i" "$@"
    ;;
  *) echo "usage: $0 up|down|exec PREFIX …" >&2; exit 2 ;;
esac
