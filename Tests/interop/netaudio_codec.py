"""netaudio 0.4.2 <-> inferno wire codecs, in both directions (see netaudio_codec.sh)."""
import json
import subprocess
import sys

from netaudio import core

INFERNO = sys.argv[1]
passed = failed = 0


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print(f"FAIL {name}: {detail}")


def decode(packet: bytes) -> str:
    """`inferno wire decode HEX` prints our decoded value (or the typed error) on one line."""
    out = subprocess.run([INFERNO, "wire", "decode", packet.hex()], capture_output=True, text=True)
    return out.stdout.strip() + out.stderr.strip()


# 1. Requests built by netaudio decode in our codec to what netaudio meant.
requests = [
    ({"command": "channel_count", "message_id": 5}, ["channelCounts", "transactionID: 5"]),
    ({"command": "device_name", "message_id": 2}, ["deviceName"]),
    ({"command": "set_name", "name": "newname", "message_id": 0}, ['setDeviceName(Optional("newname"))']),
    ({"command": "reset_name"}, ["setDeviceName(nil)"]),
    ({"command": "set_latency", "latency": 1.0, "message_id": 7}, ["settingsSet", "code: 33285", "valueArea: [0, 15, 66, 64"]),
    ({"command": "query_latency_config", "message_id": 7}, ["settingsQuery", "33285"]),  # 0x8205
    ({"command": "query_receiver_port_ranges", "message_id": 2}, ["portRanges"]),
    ({"command": "add_subscriptions", "message_id": 0,
      "subscriptions": [{"rx_channel": 1, "tx_channel": "01", "tx_device": "inferno"},
                        {"rx_channel": 2, "tx_channel": "TX 2", "tx_device": "lx-dante"}]},
     ['rxChannel: 1, txChannel: Optional("01"), txDevice: Optional("inferno")',
      'rxChannel: 2, txChannel: Optional("TX 2"), txDevice: Optional("lx-dante")']),
    ({"command": "remove_subscriptions", "message_id": 0, "rx_channels": [1, 2, 40]}, ["bulkUnsubscribe([1, 2, 40])"]),
    ({"command": "identify", "message_id": 1}, ["identify"]),
    ({"command": "make_model", "mac": "001dc15279b6"}, ["productInfoQuery"]),
    ({"command": "set_sample_rate", "sample_rate": 96000, "message_id": 1}, ["setSampleRate", "96000"]),
    ({"command": "set_encoding", "encoding": 16, "message_id": 1}, ["setEncoding", "16"]),
]
for spec, expected in requests:
    try:
        packet = core.build_command(spec)
    except Exception as e:  # a netaudio builder we cannot drive is a failure of this test, not a skip
        check(spec["command"], False, f"netaudio could not build it: {e}")
        continue
    text = decode(packet)
    for e in expected:
        check(f"decode {spec['command']}", e in text, f"expected {e!r} in {text!r}")
    check(f"decode {spec['command']} has no error", "error" not in text.lower(), text)

# 2. Device responses we build parse in netaudio to the values we put in.
demo = [json.loads(line) for line in subprocess.run(
    [INFERNO, "wire", "demo"], capture_output=True, text=True, check=True).stdout.splitlines() if line.strip()]
by_name = {d["name"]: d for d in demo}
check("demo responses exist", len(demo) >= 6, str(len(demo)))


def parsed(name):
    d = by_name[name]
    packet = bytes.fromhex(d["response"])
    header = core.parse_response("packet_header", packet)
    decoder = header.get("response_decoder")
    if decoder is None:
        return header, None
    if decoder["paged"]:
        start = core.parse_response("channel_page_start", bytes.fromhex(d["request"]))
        return header, core.parse_page(decoder["kind"], packet, start)
    return header, core.parse_response(decoder["kind"], packet)


h, counts = parsed("channel_count")
check("channel_count tx", counts["tx_count"] == 40, counts)
check("channel_count rx", counts["rx_count"] == 20, counts)
check("channel_count unlocked", not counts.get("locked"), counts)

tx = []
for n in ("tx_channels_page1", "tx_channels_page2"):
    h, page = parsed(n)
    tx += page
check("tx pages cover 40 channels", [c["number"] for c in tx] == list(range(1, 41)), [c.get("number") for c in tx])
check("tx factory names", [c.get("name") for c in tx][:3] == ["01", "02", "03"], tx[:3])
h, first = parsed("tx_channels_page1")
check("first tx page is marked as continued", h["result_code"] == 0x8112, h)

friendly = []
for n in ("tx_friendly_page1", "tx_friendly_page2"):
    h, page = parsed(n)
    friendly += [tuple(x) for x in page]  # netaudio gives [channel, friendly name] pairs
check("tx friendly names", friendly[:3] == [(1, "Kick"), (2, "TX 2"), (3, "TX 3")], friendly[:3])
check("tx friendly names cover 40 channels", [c for c, _ in friendly] == list(range(1, 41)), len(friendly))

rx = []
for n in ("rx_channels_page1", "rx_channels_page2"):
    h, page = parsed(n)
    rx += page
check("rx pages cover 20 channels", [c["number"] for c in rx] == list(range(1, 21)), [c.get("number") for c in rx])
r1 = rx[0]
check("rx 1 subscription", (r1["tx_channel_name"], r1["tx_device_name"]) == ("01", "lx-dante"), r1)
check("rx 1 unresolved", r1["subscription_status_code"] == 1, r1)
check("rx 2 unsubscribed", not rx[1].get("tx_device_name"), rx[1])
check("rx names", rx[1]["rx_channel_name"] == "RX 2", rx[1])

reg = core.parse_response("cmc_registration", bytes.fromhex(by_name["cmc_registration"]["response"]))
check("cmc registration accepted", reg == {"sequence": 9, "accepted": True}, reg)

h, name = parsed("device_name")
check("device name", name == "demo-device" or (isinstance(name, dict) and "demo-device" in json.dumps(name)), name)

h, info = parsed("device_info")
check("device info names", (info["model_name"], info["display_name"], info["port"]) == ("demo-device", "INFERNO-5279B6", ":705"), info)

h, settings = parsed("settings")
check("latency settings", (settings["active_latency_ns"], settings["min_latency_ns"], settings["max_latency_ns"])
      == (4_000_000, 250_000, 1_000_000_000), settings)

print(f"netaudio codec cross-check: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
