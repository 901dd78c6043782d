#!/usr/bin/env python3
"""Checks a device state file against a controller's log (crashstate.sh).

Usage: state_check.py STATE_JSON CONTROLLER_LOG
The log has "sent FIELD K" before each request and "ack FIELD K" after its success reply, for FIELD in name, tx,
rx, sub and rounds K = 1, 2, ... Each setting in the file must carry a round K with last acknowledged <= K <= last
sent (0 = never set), and the subscription's channel ("s-K") and device ("src-K") the same K. Exit 0 when all hold;
prints one JSON line either way.
"""
import json, re, sys

path, log = sys.argv[1], sys.argv[2]
sent, ack = {}, {}
for line in open(log):
    m = re.match(r"(sent|ack) (\w+) (\d+)$", line.strip())
    if m:
        d = sent if m.group(1) == "sent" else ack
        d[m.group(2)] = max(d.get(m.group(2), 0), int(m.group(3)))

problems = []
try:
    st = json.load(open(path))
except FileNotFoundError:
    st = None
    if ack:
        problems.append("no state file although changes were acknowledged")
except Exception as e:  # a torn or garbage file
    print(json.dumps({"ok": False, "problems": ["state file does not parse: %s" % e]}))
    sys.exit(1)

def k_of(value, prefix):
    if value is None:
        return 0
    m = re.fullmatch(re.escape(prefix) + r"(\d+)", value)
    if not m:
        problems.append("unexpected value %r" % value)
        return None
    return int(m.group(1))

found = {}
if st is not None:
    if st.get("version") != 1:
        problems.append("version %r" % st.get("version"))
    found["name"] = k_of(st.get("name"), "dev-")
    found["tx"] = k_of(st.get("txChannelNames", {}).get("1"), "t-")
    found["rx"] = k_of(st.get("rxChannelNames", {}).get("1"), "r-")
    sub = st.get("subscriptions", {}).get("1")
    if sub is None:
        found["sub"] = 0
    else:
        a, b = k_of(sub.get("txChannel"), "s-"), k_of(sub.get("txDevice"), "src-")
        if a != b:
            problems.append("subscription mixes two requests: %r" % sub)
        found["sub"] = a
    for f, k in found.items():
        if k is None:
            continue
        if k < ack.get(f, 0):
            problems.append("%s: round %d in the file, but round %d was acknowledged" % (f, k, ack[f]))
        if k > sent.get(f, 0):
            problems.append("%s: round %d in the file, but only %d were sent" % (f, k, sent.get(f, 0)))
print(json.dumps({"ok": not problems, "found": found, "acked": ack, "sent": sent, "problems": problems}))
sys.exit(0 if not problems else 1)
