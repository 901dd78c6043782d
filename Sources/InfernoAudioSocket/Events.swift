import InfernoProtocol

/// One JSON object per line for stdout (scripts, hooks, tests) and a sentence for the log.
extension AudioSocketEvent {
    /// Slots are shown 1-based, as the channel names ("call 1").
    public var jsonLine: String {
        switch self {
        case .listening(let hp):
            return json(["event": .s("listening"), "address": .s(hp.description)])
        case let .callStarted(slot, uuid, peer, outbound):
            return json(["event": .s("call"), "slot": .i(slot + 1), "channel": .s("call \(slot + 1)"), "uuid": .s(uuid.description),
                         "peer": .s(peer), "direction": .s(outbound ? "outbound" : "inbound")])
        case let .rateChanged(slot, uuid, rate):
            return json(["event": .s("rate"), "slot": .i(slot + 1), "uuid": .s(uuid.description), "rate": .i(rate)])
        case let .dtmf(slot, uuid, digit):
            return json(["event": .s("dtmf"), "slot": .i(slot + 1), "uuid": .s(uuid.description), "digit": .s(String(digit))])
        case .callEnded(let c):
            var f: [String: JSONValue] = [
                "event": .s("hangup"), "slot": .i(c.slot + 1), "uuid": .s(c.uuid.description), "peer": .s(c.peer),
                "reason": .s(c.reason), "seconds": .d(c.seconds), "messages": .i(c.counters.messages),
                "audio_messages": .i(c.counters.audioMessages), "audio_bytes": .i(c.counters.audioBytes),
                "unknown": .i(c.counters.unknownMessages), "unknown_bytes": .i(c.counters.unknownBytes),
                "extra_uuids": .i(c.counters.extraUUIDs), "dtmf": .i(c.counters.dtmfDigits),
                "malformed_dtmf": .i(c.counters.malformedDTMF), "zero_length": .i(c.counters.zeroLengthAudio),
                "odd_length": .i(c.counters.oddLengthAudio), "oversize": .i(c.counters.oversizeAudio),
                "rate_changes": .i(c.counters.rateChanges), "frames_sent": .i(c.framesSent), "frames_dropped": .i(c.framesDropped),
            ]
            if let p = c.pacing {
                f["pace_mean_ms"] = .d(p.mean); f["pace_p99_ms"] = .d(p.p99); f["pace_max_ms"] = .d(p.max)
            }
            for (k, v) in c.media { f[k] = .i(v) }
            return json(f)
        case let .refused(peer, uuid, reason):
            var f: [String: JSONValue] = ["event": .s("refused"), "peer": .s(peer), "reason": .s(reason)]
            if let uuid { f["uuid"] = .s(uuid.description) }
            return json(f)
        case let .rejected(peer, reason):
            return json(["event": .s("rejected"), "peer": .s(peer), "reason": .s(reason)])
        case let .dialFailed(target, reason):
            return json(["event": .s("dial-failed"), "target": .s(target), "reason": .s(reason)])
        }
    }

    public var logLine: String {
        switch self {
        case .listening(let hp): return "AudioSocket: listening on \(hp)"
        case let .callStarted(slot, uuid, peer, outbound):
            return "AudioSocket: call \(uuid) \(outbound ? "to" : "from") \(peer) on channel \"call \(slot + 1)\""
        case let .rateChanged(slot, _, rate): return "AudioSocket: call \(slot + 1) now \(rate) Hz"
        case let .dtmf(slot, _, digit): return "AudioSocket: call \(slot + 1) DTMF \(digit)"
        case .callEnded(let c):
            var s = "AudioSocket: call \(c.slot + 1) (\(c.uuid)) ended: \(c.reason) after \(String(format1(c.seconds))) s, \(c.counters.audioBytes) bytes in, \(c.framesSent) frames out"
            if c.framesDropped > 0 { s += ", \(c.framesDropped) frames dropped (caller not reading)" }
            if c.counters.unknownMessages > 0 { s += ", \(c.counters.unknownMessages) unknown messages skipped" }
            let m = c.media.filter { $0.1 != 0 }
            if !m.isEmpty { s += " (" + m.map { "\($0.0) \($0.1)" }.joined(separator: ", ") + ")" }
            return s
        case let .refused(peer, uuid, reason):
            return "AudioSocket: refused \(peer)\(uuid.map { " (\($0))" } ?? ""): \(reason == "pool-full" ? "all call slots busy" : reason)"
        case let .rejected(peer, reason): return "AudioSocket: dropped \(peer): \(reason)"
        case let .dialFailed(target, reason): return "AudioSocket: dialling \(target) failed: \(reason); retrying"
        }
    }
}

func format1(_ d: Double) -> String {
    let t = (d * 10).rounded() / 10
    return String(t)
}

enum JSONValue {
    case s(String), i(Int), d(Double)
    var text: String {
        switch self {
        case .i(let v): return String(v)
        case .d(let v): return v.isFinite ? String((v * 1000).rounded() / 1000) : "null"
        case .s(let v):
            var out = "\""
            for u in v.unicodeScalars {
                switch u {
                case "\"": out += "\\\""
                case "\\": out += "\\\\"
                case "\n": out += "\\n"
                default:
                    if u.value < 0x20 {
                        let h = String(u.value, radix: 16)
                        out += "\\u" + String(repeating: "0", count: 4 - h.count) + h
                    } else { out.unicodeScalars.append(u) }
                }
            }
            return out + "\""
        }
    }
}

func json(_ fields: [String: JSONValue]) -> String {
    // "event" first, the rest sorted: stable lines for people and scripts.
    let keys = fields.keys.sorted { a, b in a == "event" ? true : b == "event" ? false : a < b }
    return "{" + keys.map { "\"\($0)\":\(fields[$0]!.text)" }.joined(separator: ",") + "}"
}
