#!/usr/bin/env bash
# The built-in PTP clock against programs we did not write, in network namespaces (never the real interface):
#  1. our v2 follower locks to ptp4l (linuxptp, software timestamps, free_running: it never touches the host clock)
#  2. our v2 leader, with a deliberately shifted timescale (+5 ms), is followed by ptp4l; pmc reports the shift
#  3. v1 (as Dante speaks it): our follower locks to our own leader shifted by +5 ms and running 20 ppm fast
#  4. every v1 and v2 datagram we sent, captured with dumpcap, is dissected by tshark with no malformed/expert
#     items and with the fields we intended (subdomain, two-step, TTL 1, DSCP CS7/EF, ports by message type)
#  5. election: two devices → one leader; a third with --ptp-leader preferred takes over; it dies → one of the
#     others leads again
#  6. media: A leads with its timescale shifted by 3 s, B follows; A → B audio is bit-exact (B's receive window
#     depends on agreeing clocks: on its own host clock B would hear nothing)
# Tolerances are generous correctness bounds (a loaded 2-core machine must not break them); lock times and
# offsets are measured by `make bench`, not asserted here.
set -euo pipefail
: "${INFERNO_BIN:?}" "${VENV:?}"
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
if [ "$(id -u)" -ne 0 ]; then echo "ptp: needs root for network namespaces and ports 319/320"; exit 1; fi
for t in ptp4l pmc tshark dumpcap; do command -v $t >/dev/null || { echo "ptp: $t is missing (scripts/setup.sh installs it)"; exit 1; }; done
py="$VENV/bin/python"
source "$here/lib.bash"
netns_hosts "iptp$$" 3 71

field() { sed -n "s/^$1: //p" "$2" | tail -1; }
within() { "$py" -c "import sys; a,b,t=map(float,sys.argv[1:]); sys.exit(0 if abs(a-b)<=t else 1)" "$1" "$2" "$3"; }
show() { # host out args…: `inferno clock show --clock ptp` on host, output in $work/out
  local h=$1 out=$2; shift 2
  nx "$h" timeout 90 env PTP_SETTLE_MS="${SETTLE:-6000}" "$INFERNO_BIN" clock show --clock ptp --bind eth0 "$@" \
    >"$work/$out" 2>"$work/$out.err" || true
}
serve() { # host name args…: `inferno clock serve --source ptp` in the background
  local h=$1 n=$2; shift 2
  bgx "$h" "$n" "$INFERNO_BIN" clock serve --source ptp --bind eth0 --socket "$work/$n.sock" "$@"
}
# In the background on host H with output in $work/NAME.log and the program's own pid in $work/NAME.pid (netns.sh
# execs it, so stop_pid signals the program itself).
bgx() { local h=$1 n=$2; shift 2; "$root/scripts/netns.sh" exec "$pfx" "$h" "$@" >>"$work/$n.log" 2>&1 & echo $! >"$work/$n.pid"; }
capture() { bgx "$1" "cap-$2" dumpcap -q -i eth0 -f "udp port 319 or udp port 320" -w "$work/$2.pcap"; sleep 0.5; }
last_state() { grep -o "ptp: v1 [a-z-]*" "$work/$1.log" | tail -1 | awk '{print $3}'; }

cat >"$work/master.cfg" <<EOF
[global]
time_stamping software
network_transport UDPv4
free_running 1
masterOnly 1
priority1 100
logSyncInterval -3
logAnnounceInterval 0
uds_address $work/m.sock
EOF
cat >"$work/slave.cfg" <<EOF
[global]
time_stamping software
network_transport UDPv4
free_running 1
slaveOnly 1
logSyncInterval -3
tx_timestamp_timeout 20
uds_address $work/s.sock
EOF

# 1. Our v2 follower, ptp4l leader (ptp4l's software stamps and its timescale are CLOCK_REALTIME).
bgx 1 ptp4l-m ptp4l -f "$work/master.cfg" -i eth0 -m
capture 2 v2f
sleep 1
show 2 f2 --ptp-version 2 --ptp-leader never --wait-ms 40000
gm=$(nx 1 pmc -u -b 0 -s "$work/m.sock" -i "$work/pmc-m.sock" 'GET DEFAULT_DATA_SET' 2>/dev/null | awk '/clockIdentity/ {print $2}' | head -1)
stop_pid cap-v2f; stop_pid ptp4l-m
check "v2 follower: locked to ptp4l (state follower, servo locked)" \
  test "$(field ptp_v2_state "$work/f2")/$(field ptp_servo "$work/f2")/$(field ptp_reference "$work/f2")" = "follower/locked/v2"
check "v2 follower: the leader is ptp4l's clock ($gm)" grep -q "^ptp_leader: v2 $gm-1" "$work/f2"
check "v2 follower: media time = ptp4l's CLOCK_REALTIME within 100 µs" within "$(field offset_from_realtime_ns "$work/f2")" 0 100000
check "v2 follower: frequency = REALTIME's rate within 5 ppm" \
  within "$(field ptp_ppm "$work/f2")" "$(field realtime_rate_ppm "$work/f2" | tr -d '+')" 5
echo "# v2 follower: locked after $(field ptp_locked_after_ms "$work/f2") ms; $(field status "$work/f2")"

# 2. Our v2 leader with its timescale 5 ms ahead; ptp4l follows (free_running: reports, never adjusts).
capture 1 v2l
serve 1 l2 --ptp-version 2 --ptp-leader preferred --ptp-test-timescale-offset-ns 5000000
sleep 1
bgx 2 ptp4l-s ptp4l -f "$work/slave.cfg" -i eth0 -m
offsets=()
for i in $(seq 40); do
  sleep 1
  o=$(nx 2 pmc -u -b 0 -s "$work/s.sock" -i "$work/pmc-s.sock" 'GET CURRENT_DATA_SET' 2>/dev/null | awk '/offsetFromMaster/ {print $2}' | head -1)
  [ -n "$o" ] && [ "$o" != "0.0" ] && offsets+=("$o")
  [ ${#offsets[@]} -ge 8 ] && break
done
pmcgm=$(nx 2 pmc -u -b 0 -s "$work/s.sock" -i "$work/pmc-s.sock" 'GET TIME_STATUS_NP' 2>/dev/null | awk '/gmIdentity/ {print $2}' | head -1)
stop_pid ptp4l-s; stop_pid cap-v2l; stop_pid l2
med=$("$py" -c "import sys,statistics; v=[float(x) for x in sys.argv[1:]]; print(statistics.median(v[-5:]) if v else 'none')" "${offsets[@]:-}")
echo "# v2 leader: ptp4l offsetFromMaster samples ${offsets[*]:-none} (median of the last 5: $med)"
check "v2 leader: ptp4l selected our clock as grandmaster" grep -q "selected best master clock" "$work/ptp4l-s.log"
check "v2 leader: pmc's grandmaster is our identity" test -n "$pmcgm" -a "$pmcgm" = "$(grep -o 'as [0-9a-f.]*-1' "$work/l2.log" | head -1 | sed 's/^as //; s/-1$//')"
check "v2 leader: ptp4l measures our +5 ms timescale (offsetFromMaster −5 ms ± 200 µs)" within "$med" -5000000 200000

# 3. v1 (Dante): our leader +5 ms and +20 ppm, our follower.
capture 1 v1
t_lead=$(date +%s%N)
serve 1 l1 --ptp-version 1 --ptp-leader preferred --ptp-test-timescale-offset-ns 5000000 --ptp-test-timescale-ppm 20
sleep 1
SETTLE=8000 show 2 f1 --ptp-version 1 --ptp-leader never --wait-ms 40000
t_end=$(date +%s%N)
# --clock auto (the default) on a network interface picks the PTP clock once a leader is heard.
nx 2 timeout 60 env PTP_SETTLE_MS=1000 "$INFERNO_BIN" clock show --bind eth0 --ptp-version 1 --wait-ms 20000 >"$work/auto" 2>&1 || true
stop_pid cap-v1; stop_pid l1
expect=$("$py" -c "import sys; print(5e6 + 20e-6 * (int(sys.argv[2]) - int(sys.argv[1])))" "$t_lead" "$t_end")
check "v1 follower: locked to our v1 leader" \
  test "$(field ptp_v1_state "$work/f1")/$(field ptp_servo "$work/f1")/$(field ptp_reference "$work/f1")" = "follower/locked/v1"
check "v1 follower: media time = host + 5 ms + 20 ppm × uptime within 200 µs (expected $expect ns)" \
  within "$(field offset_from_tai_ns "$work/f1")" "$expect" 200000
check "v1 follower: frequency +20 ppm within 2 ppm" within "$(field ptp_ppm "$work/f1")" 20 2
check "v1 follower: conmon state 9 (follower)" test "$(field ptp_conmon_state "$work/f1")" = 9
check "v1 leader: our leader logged its v1 state as leader" grep -q "ptp: v1 leader" "$work/l1.log"
check "--clock auto: follows the v1 leader it hears (only follows: --ptp-leader not given)" \
  test "$(field ptp_reference "$work/auto")/$(field ptp_servo "$work/auto")" = "v1/locked" -a -n "$(grep '^reason: auto: .*PTP on eth0.*only follows' "$work/auto")"
echo "# v1 follower: locked after $(field ptp_locked_after_ms "$work/f1") ms; $(field status "$work/f1")"

# 4. tshark dissects what we sent (v1 from the leader's and the follower's capture, v2 leader and follower).
ts() { tshark -r "$work/$1.pcap" "${@:2}" 2>/dev/null; }
for c in v1 v2l v2f; do
  check "tshark: no malformed or expert items in $c" test -z "$(ts $c -Y '_ws.malformed || _ws.expert')"
done
us1=$(nx 1 cat /sys/class/net/eth0/address); us2=$(nx 2 cat /sys/class/net/eth0/address)
check "tshark v1: Syncs from us are two-step, subdomain _DFLT, TTL 1, DSCP 56, to 224.0.1.129:319" \
  test "$(ts v1 -Y "ptp.versionptp==1 && ptp.controlfield==0 && eth.src==$us1" -T fields -e ptp.flags.assist -e ptp.subdomain -e ip.ttl -e ip.dsfield.dscp -e ip.dst -e udp.dstport | sort -u)" \
       = "$(printf '1\t_DFLT\t1\t56\t224.0.1.129\t319')"
check "tshark v1: our Follow_Ups to port 320 name their Sync's sequence" \
  "$py" - "$(ts v1 -Y "ptp.versionptp==1 && eth.src==$us1 && (ptp.controlfield==0 || ptp.controlfield==2)" -T fields -e ptp.controlfield -e ptp.sequenceid -e ptp.fu.associatedsequenceid -e udp.dstport)" <<'PY'
import sys
rows = [l.split("\t") for l in sys.argv[1].splitlines() if l]
syncs = {r[1] for r in rows if r[0] == "0"}
fus = [r for r in rows if r[0] == "2"]
sys.exit(0 if len(fus) >= 10 and all(r[2] in syncs and r[3] == "320" for r in fus) else 1)
PY
check "tshark v1: the follower's Delay_Reqs (to 319) are answered by Delay_Resps naming it (to 320)" \
  test "$(ts v1 -Y "ptp.versionptp==1 && ptp.controlfield==1 && eth.src==$us2 && udp.dstport==319" | wc -l)" -ge 3 -a \
       "$(ts v1 -Y "ptp.versionptp==1 && ptp.controlfield==3 && ptp.dr.requestingsourceuuid==$us2 && udp.dstport==320" | wc -l)" -ge 3
check "tshark v2: our Announces carry priority1 127, class 248, our identity, TTL 1, DSCP 46, port 320" \
  test "$(ts v2l -Y "ptp.v2.messagetype==0xb && eth.src==$us1" -T fields -e ptp.v2.an.priority1 -e ptp.v2.an.grandmasterclockclass -e ip.ttl -e ip.dsfield.dscp -e udp.dstport | sort -u)" \
       = "$(printf '127\t248\t1\t46\t320')"
check "tshark v2: our two-step Syncs (319) each have a Follow_Up (320)" \
  test "$(ts v2l -Y "ptp.v2.messagetype==0x0 && eth.src==$us1 && ptp.v2.flags.twostep==1 && udp.dstport==319" | wc -l)" -ge 10 -a \
       "$(ts v2l -Y "ptp.v2.messagetype==0x8 && eth.src==$us1 && udp.dstport==320" | wc -l)" -ge 10
check "tshark v2: our follower's Delay_Reqs go to ptp4l on 319" \
  test "$(ts v2f -Y "ptp.v2.messagetype==0x1 && eth.src==$us2 && udp.dstport==319" | wc -l)" -ge 3

# 5. Election (v1): two devices → exactly one leader; a preferred third takes over; it dies → another leads.
serve 1 e1 --ptp-version 1
serve 2 e2 --ptp-version 1
leaders() { local n=0 h; for h in "$@"; do [ "$(last_state "$h")" = leader ] && n=$((n+1)); done; echo $n; }
one_leader() { local i; for i in $(seq 100); do [ "$(leaders "$@")" = 1 ] && return 0; sleep 0.1; done; return 1; }
sleep 6
check "election: two devices, exactly one leader" one_leader e1 e2
lead=$( [ "$(last_state e1)" = leader ] && echo e1 || echo e2 )
mac1=$(nx 1 cat /sys/class/net/eth0/address | tr -d :); mac2=$(nx 2 cat /sys/class/net/eth0/address | tr -d :)
low=$( [[ "$mac1" < "$mac2" ]] && echo e1 || echo e2 )
check "election: the lower MAC leads ($low)" test "$lead" = "$low"
serve 3 e3 --ptp-version 1 --ptp-leader preferred
sleep 6
check "election: the preferred third leads, the others follow" \
  test "$(last_state e3)/$(leaders e1 e2)" = "leader/0"
stop_pid e3 KILL
sleep 8
check "election: the preferred leader killed → exactly one of the others leads" one_leader e1 e2
stop_pid e1; stop_pid e2

# 6. Media: A leads 3 s ahead of the host clock; B follows; 4 channels A → B bit-exact.
write_subscriptions "$work/state-b/00000000000b0071.json" 4 alpha
bgx 1 a "$INFERNO_BIN" run --bind eth0 --name alpha --tx 4 --rx 0 --tx-source pattern --clock ptp --ptp-version 1 \
  --ptp-leader preferred --ptp-test-timescale-offset-ns 3000000000 --device-id 00000000000a0071 --state-dir "$work/state-a"
sleep 2
tai0=$("$py" -c 'import time; print(time.clock_gettime_ns(time.CLOCK_TAI))')
nx 2 timeout 60 "$INFERNO_BIN" record --bind eth0 --name beta --tx 0 --rx 4 --device-id 00000000000b0071 \
  --state-dir "$work/state-b" --clock ptp --ptp-version 1 --ptp-leader never --latency-ms 20 --channels 1-4 \
  --duration 4 -o "$work/m.raw" 2>>"$work/m.raw.log" || true
tai1=$("$py" -c 'import time; print(time.clock_gettime_ns(time.CLOCK_TAI))')
stop_pid a
first=$(sed -n 's/^record: first frame at media time \([0-9]*\).*/\1/p' "$work/m.raw.log" | tail -1)
check "media: B (--ptp-leader never) had no media time until it locked to A" grep -q "ptp: locked to .*media time available" "$work/m.raw.log"
check "media: B's media time is A's shifted timescale (host + 3 s ± 0.5 s while B recorded)" \
  "$py" -c "import sys; f,a,b=int(sys.argv[1] or 0),int(sys.argv[2]),int(sys.argv[3]); m=f/48000-3; sys.exit(0 if a/1e9-0.5 < m < b/1e9+0.5 else 1)" "${first:-0}" "$tai0" "$tai1"
if "$py" "$here/verify_pattern.py" "$work/m.raw" 4 --first-frame-time "${first:-0}" --late-from "$work/m.raw.log" >"$work/m.json" 2>&1; then
  check "media: A → B 4 channels bit-exact on A's shifted timescale" true
else
  echo "# $(cat "$work/m.json")"; grep -E '^record|RX flow|ptp' "$work/m.raw.log" | tail -8 | sed 's/^/# /'
  check "media: A → B 4 channels bit-exact on A's shifted timescale" false
fi
check "media: recording timeline equals the pattern's media time" grep -q '"timeline_offset": 0' "$work/m.json"

# 7. netaudio 0.4.2 (the controller) reads both devices' clock roles from conmon 0x0020, and makes the follower
#    the preferred leader with 0x0021: it takes over.
na() { nx 3 timeout 60 "$VENV/bin/netaudio" --interface eth0 --timeout 3 "$@" 2>>"$work/netaudio.err"; }
bgx 1 ca "$INFERNO_BIN" run --bind eth0 --name alpha --tx 2 --rx 2 --clock ptp --ptp-version 1 --device-id 00000000000a0072 --state-dir "$work/state-ca"
bgx 2 cb "$INFERNO_BIN" run --bind eth0 --name beta --tx 2 --rx 2 --clock ptp --ptp-version 1 --device-id 00000000000b0072 --state-dir "$work/state-cb"
sleep 8
roles() { # file → "alpha=ROLE/PREF/LEADER beta=…"
  "$py" - "$1" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
rows = sorted((v.get("name"), v.get("role"), v.get("preferred_leader"), v.get("leader")) for v in d.values())
print(" ".join(f"{n}={r}/{p}/{l}" for n, r, p, l in rows))
PY
}
na -o json clock >"$work/clock1.json" || true
r1=$(roles "$work/clock1.json" 2>/dev/null || echo none)
echo "# netaudio clock: $r1"
low=$( [[ "$mac1" < "$mac2" ]] && echo alpha || echo beta ); high=$( [ "$low" = alpha ] && echo beta || echo alpha )
check "netaudio clock: $low (lower MAC) is Leader, $high follows it" \
  test "$(echo "$r1" | tr ' ' '\n' | sort | tr '\n' ' ')" = "$(printf '%s\n' "$low=Leader/False/None" "$high=Follower/False/$low" | sort | tr '\n' ' ')"
hip=10.99.$net.$( [ "$high" = alpha ] && echo 1 || echo 2 )
na --host "$hip" device config preferred-leader on >"$work/pref.out" 2>&1 || true
sleep 6
na -o json clock >"$work/clock2.json" || true
r2=$(roles "$work/clock2.json" 2>/dev/null || echo none)
echo "# netaudio clock after preferred-leader on $high: $r2"
check "netaudio config preferred-leader on $high: $high leads (preferred), $low follows it" \
  test "$(echo "$r2" | tr ' ' '\n' | sort | tr '\n' ' ')" = "$(printf '%s\n' "$high=Leader/True/None" "$low=Follower/False/$high" | sort | tr '\n' ' ')"
check "the preferred-leader change is logged with the controller's address" grep -q "preferred leader set by 10.99.$net.3" "$work/c${high:0:1}.log"
stop_pid ca; stop_pid cb

echo "ptp: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
