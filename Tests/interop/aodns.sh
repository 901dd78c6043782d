#!/usr/bin/env bash
# AoDNS bridge: our DNS server against dig (bind9-dnsutils) and a real unbound (started here, loopback only,
# use-caps-for-id: yes), our listener against our server for 20 s (directly and through unbound), the v1 path,
# Dante devices in and out of AoDNS (in network namespaces), and a 100,000-query flood.
# Everything runs on 127.0.0.0/8 or inside namespaces this script creates; all of it is removed on exit.
set -euo pipefail
: "${INFERNO_BIN:?}"
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
py=python3
chk="$here/aodns_check.py"
for tool in dig unbound; do
  command -v "$tool" >/dev/null || { echo "aodns: $tool is missing (scripts/setup.sh installs bind9-dnsutils and unbound)"; exit 1; }
done

Z=music.example.com
PORT=25353          # our server
UB=25354            # unbound
source "$here/lib.bash"   # namespaces only in part 3, when root
jok() { "$py" -c 'import json,sys; d=json.loads(open(sys.argv[1]).read().strip().splitlines()[-1]); sys.exit(0 if d.get("ok") else 1)' "$1"; }
d() { dig @127.0.0.1 -p "$PORT" +time=2 +tries=2 "$@"; }

# ---------------------------------------------------------------------------------------------------------------
# 1. The server, against dig.
"$INFERNO_BIN" aodns serve "$Z" --listen "127.0.0.1:$PORT" --status-interval 1 >"$work/serve.log" 2>&1 &
echo $! >"$work/serve.pid"
for _ in $(seq 50); do grep -q 'packs [3-9]' "$work/serve.log" 2>/dev/null && break; sleep 0.1; done
sleep 0.5

d +noall +answer sequence.$Z TXT >"$work/seq.txt"
"$py" "$chk" sequence <"$work/seq.txt" >"$work/seq.json" || true
check "dig: sequence is one basE91(zlib) string listing contiguous packs, ≤ 255 octets" jok "$work/seq.json"
N=$("$py" -c 'import json,sys; print(json.load(open(sys.argv[1]))["last"])' "$work/seq.json" 2>/dev/null || echo 0)
E=$(d +short head.$Z TXT | sed -n 's/.*e=\([0-9a-f]*\);.*/\1/p')
check "dig: head carries an 8-hex epoch" test "${#E}" -eq 8

d +noall +answer +bufsize=1232 "seq_$N.$Z" TXT | "$py" "$chk" pack --count 4 >"$work/pack.json" || true
check "dig: seq_N (UDP, EDNS 1232): 4 RRs DDD'''<basE91>, indices 0-3, each a 60 ms Opus packet" jok "$work/pack.json"
d +noall +answer +bufsize=1232 "seq_$N.$E.$Z" TXT | "$py" "$chk" pack --count 4 >"$work/pack-e.json" || true
check "dig: the same pack under the epoch-scoped name seq_N.<epoch>" jok "$work/pack-e.json"
d +tcp +noall +answer "seq_$N.$Z" TXT | "$py" "$chk" pack --count 4 >"$work/pack-tcp.json" || true
check "dig +tcp: seq_N over TCP" jok "$work/pack-tcp.json"

d +bufsize=4096 "seq_$N.$Z" TXT >"$work/edns.txt"
size=$(sed -n 's/.*MSG SIZE  rcvd: \([0-9]*\).*/\1/p' "$work/edns.txt")
check "EDNS: OPT echoed with udp 1232, answer within 1232 bytes even when 4096 is offered ($size B)" \
  bash -c "grep -q 'udp: 1232' '$work/edns.txt' && [ '${size:-9999}' -le 1232 ] && grep -q 'ANSWER: 4' '$work/edns.txt'"
d +noedns +ignore "seq_$N.$Z" TXT >"$work/tc.txt"
check "TC: without EDNS (512 B) the answer does not fit: tc flag, no answers" \
  bash -c "grep -Eq 'flags: qr[a-z ]* tc' '$work/tc.txt' && grep -q 'ANSWER: 0' '$work/tc.txt'"
d +bufsize=512 +ignore "seq_$N.$Z" TXT >"$work/tc512.txt"
check "TC: EDNS 512 the same, with OPT" \
  bash -c "grep -Eq 'flags: qr[a-z ]* tc' '$work/tc512.txt' && grep -q 'udp: 1232' '$work/tc512.txt'"
d +noedns "seq_$N.$Z" TXT >"$work/tc-retry.txt"
check "TC: dig retries over TCP by itself and gets the 4 RRs" \
  bash -c "grep -q 'Truncated, retrying in TCP mode' '$work/tc-retry.txt' && grep -q 'ANSWER: 4' '$work/tc-retry.txt'"
d +tcp +keepopen head.$Z TXT sequence.$Z TXT config.$Z TXT >"$work/keepopen.txt"
check "TCP: three queries on one connection (dig +keepopen)" test "$(grep -c 'status: NOERROR' "$work/keepopen.txt")" -eq 3
"$py" "$chk" tcp 127.0.0.1 "$PORT" "$Z" >"$work/tcp.json" 2>&1 || true
check "TCP framing: pipelined queries in one segment, a length prefix split byte by byte, answered in order" jok "$work/tcp.json"

mixed="SeQ_$N.MuSiC.ExAmPlE.CoM"
d +noall +answer "$mixed" TXT >"$work/case.txt"
check "0x20: a case-randomised name is answered, owner echoed in the query's spelling" \
  bash -c "[ \$(grep -c '^$mixed\.' '$work/case.txt') -eq 4 ]"
d sequence.$Z ANY >"$work/any.txt"
check "ANY: minimal RFC 8482 answer (one HINFO \"RFC8482\")" \
  bash -c "grep -q 'ANSWER: 1' '$work/any.txt' && grep -q 'HINFO.*\"RFC8482\"' '$work/any.txt'"
d www.example.org A >"$work/out.txt"
check "out of zone: REFUSED, not authoritative, nothing answered" \
  bash -c "grep -q 'status: REFUSED' '$work/out.txt' && ! grep -Eq 'flags:[a-z ]* aa' '$work/out.txt' && grep -q 'ANSWER: 0' '$work/out.txt'"
d +norec nothing.$Z TXT >"$work/nx.txt"
check "NXDOMAIN with the SOA (TTL 1, MINIMUM 1: negative answers cached ≤ 1 s)" \
  bash -c "grep -q 'status: NXDOMAIN' '$work/nx.txt' && grep -Eq '^$Z\.[[:space:]]+1[[:space:]]+IN[[:space:]]+SOA[[:space:]].*[[:space:]]1$' '$work/nx.txt'"
d head.$Z AAAA >"$work/nodata.txt"
check "NODATA for a wrong type (NOERROR, no answer, SOA)" \
  bash -c "grep -q 'status: NOERROR' '$work/nodata.txt' && grep -q 'ANSWER: 0, AUTHORITY: 1' '$work/nodata.txt'"
"$py" "$chk" malformed 127.0.0.1 "$PORT" "$Z" >"$work/malformed.json" 2>&1 || true
check "malformed (truncated, pointer loops, 0/2 questions, huge counts, bad OPT, 64-byte label): FORMERR or dropped, then answers again" jok "$work/malformed.json"

# Configuration mistakes: one line naming the setting, exit 2 (nothing starts).
cfg() { # expected-text command…
  local want=$1; shift
  local out rc=0
  out=$(timeout 20 "$@" 2>&1 >/dev/null) || rc=$?
  [ "$rc" -eq 2 ] && [ "$(printf '%s\n' "$out" | grep -c .)" -eq 1 ] && printf '%s' "$out" | grep -q -- "$want" \
    || { echo "  # got rc $rc: $out"; return 1; }
}
check "config errors: bad zone, --pack-ms 50, --input, SOURCE without @, --protocol, port in use, --aodns-listen junk, --aodns-channels alone: one line, exit 2" bash -c '
  set -e; '"$(declare -f cfg)"'
  cfg "ZONE" "$1" aodns serve "bad..zone"
  cfg "--pack-ms" "$1" aodns serve x.example --pack-ms 50
  cfg "--input" "$1" aodns serve x.example --input mp3:x
  cfg "SOURCE" "$1" aodns listen nozone -o /dev/null
  cfg "--protocol" "$1" aodns listen x.example@127.0.0.1 -o /dev/null --protocol v3
  cfg "already in use" "$1" aodns serve x.example --listen "127.0.0.1:$2"
  cfg "--aodns-listen" "$1" run --aodns-listen junk --state-dir "$3"
  cfg "--aodns-channels" "$1" run --aodns-channels 1 --state-dir "$3"
' _ "$INFERNO_BIN" "$PORT" "$work/st-cfg"

# ---------------------------------------------------------------------------------------------------------------
# 2. Our listener for 20 s: directly, through unbound (use-caps-for-id), and the v1 path (sequence/seq_N).
cat >"$work/unbound.conf" <<EOF
server:
  interface: 127.0.0.1
  port: $UB
  do-ip4: yes
  do-ip6: no
  do-not-query-localhost: no
  use-caps-for-id: yes
  username: ""
  chroot: ""
  directory: "$work"
  pidfile: "$work/unbound.pidfile"
  use-syslog: no
  logfile: ""
  verbosity: 1
  num-threads: 1
  access-control: 127.0.0.0/8 allow
  module-config: "iterator"
stub-zone:
  name: "$Z"
  stub-addr: 127.0.0.1@$PORT
EOF
unbound -d -c "$work/unbound.conf" >"$work/unbound.log" 2>&1 &
echo $! >"$work/unbound.pid"
for _ in $(seq 50); do dig @127.0.0.1 -p "$UB" +time=1 +tries=1 head.$Z TXT >/dev/null 2>&1 && break; sleep 0.1; done
mixed_before=$(grep -o 'mixed-case names [0-9]*' "$work/serve.log" | tail -1 | awk '{print $3}')
listen() { # name source extra…
  local n=$1 src=$2; shift 2
  timeout 60 "$INFERNO_BIN" aodns listen "$src" -o "$work/$n.wav" --status-interval 0 "$@" >"$work/$n.log" 2>&1
}
# Meanwhile a second server restarts under its listener: new epoch, the listener resyncs and plays on.
restart_test() {
  "$INFERNO_BIN" aodns serve restart.example.com --listen "127.0.0.1:$((PORT+10))" --status-interval 0 >"$work/serve-r1.log" 2>&1 &
  echo $! >"$work/server1.pid"
  sleep 1
  listen restart "restart.example.com@127.0.0.1:$((PORT+10))" --duration 10 & local lp=$!
  sleep 3
  stop_pid server1
  "$INFERNO_BIN" aodns serve restart.example.com --listen "127.0.0.1:$((PORT+10))" --status-interval 0 >"$work/serve-r2.log" 2>&1 &
  echo $! >"$work/server2.pid"
  wait $lp || true
  stop_pid server2
}
restart_test & lr=$!
listen direct "$Z@127.0.0.1:$PORT" --duration 20 & l1=$!
listen unbound "$Z@127.0.0.1:$UB" --duration 20 & l2=$!
listen v1 "$Z@127.0.0.1:$PORT" --duration 6 --protocol v1 & l3=$!
wait $l1 || true; wait $l2 || true; wait $l3 || true; wait $lr || true
for n in direct unbound; do
  "$py" "$chk" tone "$work/$n.wav" --expect 1000 >"$work/$n.json" 2>&1 || true
  check "listener ↔ server ($n, 20 s): 1000 Hz, SNR ≥ 30 dB in every second, no gaps ($(cut -c1-150 "$work/$n.json"))" jok "$work/$n.json"
  check "listener ($n): 20 s written, nothing concealed, nothing skipped" \
    grep -Eq 'done: 20.00 s written .* skipped 0 .* concealed 0 ' "$work/$n.log"
  lat=$(sed -n 's/.*latency ms avg \([0-9]*\).*/\1/p' "$work/$n.log" | tail -1)
  check "listener ($n) starts near the live edge, not at the oldest of 75 packs (18 s): ${lat:-?} ms behind" \
    test "${lat:-99999}" -lt 3000
done
sleep 1.2
mixed_after=$(grep -o 'mixed-case names [0-9]*' "$work/serve.log" | tail -1 | awk '{print $3}')
check "unbound really randomised the case of its queries (server saw $((mixed_after - mixed_before)) mixed-case names)" \
  test "$((mixed_after - mixed_before))" -gt 10
"$py" "$chk" tone "$work/v1.wav" --expect 1000 --skip 0.5 >"$work/v1.json" 2>&1 || true
check "v1 listener (sequence + seq_N only, as the original client reads): the tone, no gaps" jok "$work/v1.json"
"$py" "$chk" tone "$work/restart.wav" --expect 1000 --skip 6 >"$work/restart.json" 2>&1 || true
check "server restart (new epoch): the listener resyncs and the tone is back ($(grep -o 'resyncs [0-9]*' "$work/restart.log" | tail -1))" \
  bash -c "jok() { $(declare -f jok | tail -n +2); }; grep -Eq 'resyncs [1-9]' '$work/restart.log' && '$py' -c 'import json,sys; d=json.loads(open(sys.argv[1]).read()); sys.exit(0 if d[\"ok\"] else 1)' '$work/restart.json'"
grep -h 'latency ms' "$work/direct.log" "$work/unbound.log" | sed 's/^/  # /' | tail -2

# ---------------------------------------------------------------------------------------------------------------
# 3. Dante devices in network namespaces (h1, h2, h3 on 10.99.27.0/24, mDNS inside only).
#    a) device A --tx-source tone → device B RX 1 → B --aodns-serve → inferno aodns listen (h3) → WAV
#    b) inferno aodns serve (h3) → device C --aodns-listen → C TX 1 → device D records it
if [ "$(id -u)" -eq 0 ]; then
  netns_hosts "iaod$$" 3 27
  A=10.99.$net.1; B=10.99.$net.2; C=10.99.$net.3
  bg() { local h=$1 name=$2; shift 2; "$root/scripts/netns.sh" exec "$pfx" "$h" "$@" >"$work/$name.log" 2>&1 & echo $! >"$work/$name.pid"; }
  bg 1 deva "$INFERNO_BIN" run --bind eth0 --name aoda --tx 2 --rx 0 --tx-source tone:1000 --device-id 00000000000a0027 \
    --state-dir "$work/st-a"
  bg 2 devb "$INFERNO_BIN" run --bind eth0 --name aodb --tx 0 --rx 2 --latency-ms 20 --aodns-serve "tone.example.com@$B:5053" \
    --aodns-channels 1 --device-id 00000000000b0027 --state-dir "$work/st-b"
  sleep 2
  nx 3 timeout 30 "$INFERNO_BIN" subscribe --bind eth0 --rx 1@aodb --tx 01@aoda >>"$work/subscribe.log" 2>&1 || true
  nx 3 timeout 30 "$INFERNO_BIN" channels --bind eth0 aodb >"$work/chan-b.txt" 2>&1 || true
  check "device B's RX 1 is named after the zone it publishes (tone_example_com)" grep -Eq '^ *1 +tone_example_com ' "$work/chan-b.txt"
  for _ in $(seq 100); do grep -q 'receiving' "$work/devb.log" && break; sleep 0.1; done
  nx 3 timeout 60 "$INFERNO_BIN" aodns listen "tone.example.com@$B:5053" -o "$work/dev-listen.wav" --duration 8 \
    --status-interval 0 >"$work/dev-listen.log" 2>&1 || true
  "$py" "$chk" tone "$work/dev-listen.wav" --expect 1000 --onset >"$work/dev-listen.json" 2>&1 || true
  check "A tone → B RX → --aodns-serve → aodns listen: 1000 Hz arrives, SNR ≥ 30 dB, no gaps ($(cut -c1-120 "$work/dev-listen.json"))" jok "$work/dev-listen.json"
  stop_pid deva; stop_pid devb

  bg 3 serveh3 "$INFERNO_BIN" aodns serve radio.example.net --listen "$C:5053" --input tone:440 --status-interval 0
  bg 1 devc "$INFERNO_BIN" run --bind eth0 --name aodc --tx 2 --rx 0 --aodns-listen "radio.example.net@$C:5053" \
    --device-id 00000000000c0027 --state-dir "$work/st-c"
  sleep 2
  nx 3 timeout 30 "$INFERNO_BIN" channels --bind eth0 aodc >"$work/chan-c.txt" 2>&1 || true
  check "device C's TX 1 is named after the zone it plays (radio_example_net)" grep -Eq '^ *1 +01 +radio_example_net' "$work/chan-c.txt"
  nx 2 timeout 60 "$INFERNO_BIN" record --bind eth0 --name aodd --tx 0 --rx 1 --latency-ms 20 --channels 1 --duration 9 \
    --device-id 00000000000d0027 --state-dir "$work/st-d" -o "$work/dev-rec.wav" --quiet 2>"$work/dev-rec.log" & rp=$!
  sleep 1.5
  nx 3 timeout 30 "$INFERNO_BIN" subscribe --bind eth0 --rx 1@aodd --tx radio_example_net@aodc >>"$work/subscribe.log" 2>&1 || true
  wait $rp || true
  "$py" "$chk" tone "$work/dev-rec.wav" --expect 440 --onset --skip 0.5 >"$work/dev-rec.json" 2>&1 || true
  check "aodns serve → C --aodns-listen → C TX 1 → D records: 440 Hz at 48 kHz, SNR ≥ 30 dB, no gaps ($(cut -c1-120 "$work/dev-rec.json"))" jok "$work/dev-rec.json"
  stop_pid devc; stop_pid serveh3
  "$root/scripts/netns.sh" down "$pfx"; pfx=   # done with the namespaces (the exit trap skips them now)
else
  check "device tests need root (network namespaces)" false
fi

# ---------------------------------------------------------------------------------------------------------------
# 4. Flood: 100,000 queries from 127.0.0.1 while a legitimate client on 127.0.0.2 keeps asking.
spid=$(cat "$work/serve.pid")
rss() { awk '/VmRSS/ {print $2}' "/proc/$spid/status"; }
"$py" "$chk" flood 127.0.0.1 "$PORT" "$Z" --count 20000 >/dev/null 2>&1 || true   # warm-up
sleep 1
rss_before=$(rss)
"$py" "$chk" flood 127.0.0.1 "$PORT" "$Z" --count 100000 >"$work/flood.json" 2>&1 & fpid=$!
legit_ok=0; legit_n=0
while kill -0 $fpid 2>/dev/null; do
  legit_n=$((legit_n+1))
  if dig @127.0.0.1 -p "$PORT" -b 127.0.0.2 +time=1 +tries=3 +short head.$Z TXT 2>/dev/null | grep -q 'e='; then legit_ok=$((legit_ok+1)); fi
  sleep 0.05
done
wait $fpid || true
sleep 1.5
rss_after=$(rss)
echo "  # flood: $(cat "$work/flood.json"); server RSS ${rss_before} kB → ${rss_after} kB; legitimate $legit_ok/$legit_n"
check "flood: every legitimate query from another address answered ($legit_ok/$legit_n)" \
  bash -c "[ $legit_n -ge 3 ] && [ $legit_ok -eq $legit_n ]"
check "flood: the flooding source was rate-limited (dropped/slipped, counted)" \
  bash -c "tail -1 '$work/serve.log' | grep -Eq 'rate-limited dropped [1-9][0-9]* slipped [1-9]'"
check "flood: server memory flat (RSS grew $((rss_after - rss_before)) kB, limit 4096)" test $((rss_after - rss_before)) -lt 4096
check "flood: the server still answers" bash -c "dig @127.0.0.1 -p $PORT +time=2 +short head.$Z TXT | grep -q e="

stop_pid unbound
stop_pid serve
# Both bridges on one device (loopback only): AoDNS serves its RX, AudioSocket adds call channels after them.
timeout -s INT 4 "$INFERNO_BIN" run --ports 25440 --process-id 9 --state-dir "$work/state-both" \
  --aodns-serve both.example@127.0.0.1:15353 --audiosocket-listen 127.0.0.1:19092 --audiosocket-calls 2 \
  >"$work/both.log" 2>&1 || true
check "--aodns-serve and --audiosocket-listen together: 2+2 channels, both bridges up" \
  bash -c "grep -q '4 TX / 4 RX' '$work/both.log' && grep -q 'AudioSocket: listening on 127.0.0.1:19092' '$work/both.log' && grep -q 'published as both.example' '$work/both.log'"

echo "aodns: $pass passed, $fail failed"
if [ "$fail" -ne 0 ]; then
  for f in "$work"/*.log "$work"/*.json; do echo "== $f"; tail -8 "$f"; done
fi
[ "$fail" -eq 0 ]
