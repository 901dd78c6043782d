#!/usr/bin/env bash
# The usrvclock path end to end with real processes: `inferno clock serve` publishes the host clock on a
# temporary socket, `inferno clock show --clock …` follows it (or falls back). Checks that usrvclock time agrees
# with the system clock (within 50 ms, bracketed by two `--clock system` readings), both server sources, auto
# with and without a server, a second server refused, socket files removed, and one-line errors.
# Needs no root and nothing outside a temporary directory.
set -euo pipefail
: "${INFERNO_BIN:?}"
unset INFERNO_CLOCK INFERNO_CLOCK_PATH INFERNO_LOG_LEVEL

work=$(mktemp -d)
export TMPDIR="$work"   # client sockets (usrvclock-client.<pid>.<n>) go here
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  [ -n "${KEEP_WORK:-}" ] && echo "kept $work" || rm -rf "$work"
}
trap cleanup EXIT

pass=0; fail=0
ok() { echo "ok - $1"; pass=$((pass+1)); }
notok() { echo "not ok - $1"; fail=$((fail+1)); [ -n "${2:-}" ] && sed 's/^/#   /' <<<"$2" || true; }
check() { # name, command…
  local name=$1; shift
  if "$@"; then ok "$name"; else notok "$name"; fi
}

serve() { # name, args…
  local n=$1; shift
  "$INFERNO_BIN" clock serve "$@" >>"$work/$n.log" 2>&1 &
  pids+=($!)
  echo $! >"$work/$n.pid"
}
wait_socket() { for _ in $(seq 100); do [ -S "$1" ] && return 0; sleep 0.05; done; return 1; }
stop() { # name: SIGTERM and wait for exit
  local p; p=$(cat "$work/$1.pid")
  kill -TERM "$p"
  for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
  ! kill -0 "$p" 2>/dev/null
}
field() { sed -n "s/^$1: //p" <<<"$2"; }
show() { "$INFERNO_BIN" clock show "$@" 2>>"$work/show.err"; }

# Reads usrvclock time between two system readings; passes if sys1 − 50 ms ≤ t ≤ sys2 + 50 ms.
agrees_with_system() { # spec
  local s1 out s2 t
  s1=$(field time_ns "$(show --clock system)")
  out=$(show --clock "$1") || { echo "$out"; return 1; }
  s2=$(field time_ns "$(show --clock system)")
  t=$(field time_ns "$out")
  [[ "$t" =~ ^[0-9]+$ ]] || { echo "$out"; return 1; }
  if (( t >= s1 - 50000000 && t <= s2 + 50000000 )); then return 0; fi
  echo "system $s1 .. $s2, $1 $t"; return 1
}

# 1. A system-source server; show follows it and agrees with the system clock.
sock="$work/sock"
serve sys --socket "$sock" --interval-ms 100
if wait_socket "$sock"; then ok "clock serve creates its socket"; else notok "clock serve creates its socket" "$(cat "$work/sys.log")"; exit 1; fi

out=$(show --clock "usrvclock:$sock") || true
if [ "$(field source "$out")" = "usrvclock $sock" ] && [[ "$(field status "$out")" == following\ usrvclock* ]] \
   && [ "$(field generation "$out")" = 1 ]; then ok "show --clock usrvclock reports usrvclock"
else notok "show --clock usrvclock reports usrvclock" "$out"; fi

if msg=$(agrees_with_system "usrvclock:$sock"); then ok "usrvclock time within 50 ms of the system clock"
else notok "usrvclock time within 50 ms of the system clock" "$msg"; fi

# INFERNO_CLOCK / INFERNO_CLOCK_PATH instead of the flag.
out=$(INFERNO_CLOCK=usrvclock INFERNO_CLOCK_PATH="$sock" "$INFERNO_BIN" clock show 2>/dev/null) || true
if [ "$(field source "$out")" = "usrvclock $sock" ]; then ok "INFERNO_CLOCK=usrvclock with INFERNO_CLOCK_PATH"
else notok "INFERNO_CLOCK=usrvclock with INFERNO_CLOCK_PATH" "$out"; fi

# 2. auto: usrvclock when the server answers, system when there is none.
out=$(show --clock "auto:$sock") || true
if [ "$(field source "$out")" = "usrvclock $sock" ]; then ok "auto picks usrvclock when the server answers"
else notok "auto picks usrvclock when the server answers" "$out"; fi

out=$(INFERNO_CLOCK_PATH="$work/none" "$INFERNO_BIN" clock show 2>/dev/null) || true
if [[ "$(field source "$out")" == system* ]] && [[ "$(field reason "$out")" == *"no usrvclock server at $work/none"* ]] \
   && [[ "$(field time_ns "$out")" =~ ^[0-9]+$ ]]; then ok "auto (default) falls back to system without a server"
else notok "auto (default) falls back to system without a server" "$out"; fi

out=$(show --clock "auto:$work/none") || true
if [[ "$(field source "$out")" == system* ]]; then ok "auto:PATH falls back to system without a server"
else notok "auto:PATH falls back to system without a server" "$out"; fi

# 3. A second server on the same socket is refused; the first keeps serving.
if err=$("$INFERNO_BIN" clock serve --socket "$sock" 2>&1); then notok "second server refused" "$err"
else
  rc=$?
  if [ $rc -eq 2 ] && [[ "$err" == *"already serving $sock"* ]]; then ok "second server on the same socket refused"
  else notok "second server on the same socket refused" "rc $rc: $err"; fi
fi
check "first server still answers" agrees_with_system "usrvclock:$sock"

# 4. SIGTERM: the server exits and removes its socket; usrvclock then has no clock (exit 1, clear status).
if stop sys && [ ! -e "$sock" ]; then ok "serve stops on SIGTERM and removes its socket"
else notok "serve stops on SIGTERM and removes its socket" "$(cat "$work/sys.log")"; fi

rc=0; out=$(show --clock "usrvclock:$sock" --wait-ms 500) || rc=$?
if [ $rc -eq 1 ] && [ "$(field time_ns "$out")" = none ] && [[ "$(field status "$out")" == *"no usrvclock server at $sock"* ]]
then ok "no server: no clock, exit 1, status says why"
else notok "no server: no clock, exit 1, status says why" "rc $rc: $out"; fi

# 5. The monotonic-raw source is shifted onto the same timescale.
sock2="$work/sock-raw"
serve raw --socket "$sock2" --source monotonic-raw --interval-ms 200
wait_socket "$sock2" || true
out=$(show --clock "usrvclock:$sock2") || true
if [[ "$(field status "$out")" == *CLOCK_MONOTONIC_RAW* ]]; then ok "monotonic-raw server announces CLOCK_MONOTONIC_RAW"
else notok "monotonic-raw server announces CLOCK_MONOTONIC_RAW" "$out"; fi
if msg=$(agrees_with_system "usrvclock:$sock2"); then ok "monotonic-raw usrvclock time within 50 ms of the system clock"
else notok "monotonic-raw usrvclock time within 50 ms of the system clock" "$msg"; fi
stop raw || true

# 6. Client sockets are cleaned up; errors are one line naming the setting.
left=$(find "$work" -name 'usrvclock-client.*' | wc -l)
if [ "$left" -eq 0 ]; then ok "client sockets removed"; else notok "client sockets removed" "$(ls "$work")"; fi

rc=0; err=$("$INFERNO_BIN" clock show --clock gps 2>&1) || rc=$?
if [ $rc -eq 2 ] && [ "$err" = 'inferno: --clock (INFERNO_CLOCK): "gps" must be auto, system, ptp, usrvclock[:PATH] or phc:/dev/ptpN' ]
then ok "bad --clock is a one-line error"; else notok "bad --clock is a one-line error" "rc $rc: $err"; fi

rc=0; err=$("$INFERNO_BIN" clock show --clock phc:/dev/ptp-none 2>&1) || rc=$?
if [ $rc -eq 2 ] && [[ "$err" == 'inferno: --clock (INFERNO_CLOCK): "phc:/dev/ptp-none" cannot open /dev/ptp-none: '* ]]
then ok "missing PHC is a one-line error"; else notok "missing PHC is a one-line error" "rc $rc: $err"; fi

echo "clock: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
