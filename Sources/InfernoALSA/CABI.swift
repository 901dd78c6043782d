import Glibc

// The C ABI the ioplug shim (alsa-plugin/pcm_inferno.c) calls; declared in alsa-plugin/include/inferno_alsa.h.
// Handles are retained Swift objects passed as opaque pointers. Errors come back as negative errno values with
// a message copied into the caller's buffer.

private func copyMessage(_ message: String, _ buffer: UnsafeMutablePointer<CChar>?, _ length: Int) {
    guard let buffer, length > 0 else { return }
    let bytes = Array(message.utf8.prefix(length - 1))
    for (i, b) in bytes.enumerated() { buffer[i] = CChar(bitPattern: b) }
    buffer[bytes.count] = 0
}

@inline(__always)
private func stream(_ p: UnsafeMutableRawPointer) -> PCMStream { Unmanaged<PCMStream>.fromOpaque(p).takeUnretainedValue() }

@_cdecl("inferno_alsa_config_new")
public func inferno_alsa_config_new(_ pluginDirectory: UnsafePointer<CChar>?) -> UnsafeMutableRawPointer {
    let c = PluginConfig()
    if let pluginDirectory { c.pluginDirectory = String(cString: pluginDirectory) }
    return Unmanaged.passRetained(c).toOpaque()
}

@_cdecl("inferno_alsa_config_free")
public func inferno_alsa_config_free(_ config: UnsafeMutableRawPointer) {
    Unmanaged<PluginConfig>.fromOpaque(config).release()
}

/// 0, -EINVAL (bad value) or -ENOENT (unknown key); the message names the key.
@_cdecl("inferno_alsa_config_set")
public func inferno_alsa_config_set(_ config: UnsafeMutableRawPointer, _ key: UnsafePointer<CChar>,
                                    _ value: UnsafePointer<CChar>, _ errorBuffer: UnsafeMutablePointer<CChar>?,
                                    _ errorLength: Int) -> Int32 {
    let c = Unmanaged<PluginConfig>.fromOpaque(config).takeUnretainedValue()
    do {
        try c.set(String(cString: key), String(cString: value))
        return 0
    } catch {
        copyMessage(error.message, errorBuffer, errorLength)
        return error.unknownKey ? -ENOENT : -EINVAL
    }
}

/// Opens a stream (starting or joining its device). nil on failure, with the reason in `error`.
@_cdecl("inferno_alsa_open")
public func inferno_alsa_open(_ config: UnsafeMutableRawPointer, _ capture: Int32,
                              _ errorBuffer: UnsafeMutablePointer<CChar>?, _ errorLength: Int) -> UnsafeMutableRawPointer? {
    let c = Unmanaged<PluginConfig>.fromOpaque(config).takeUnretainedValue()
    do throws(DeviceHost.Failure) {
        let host = try DeviceHost.acquire(c)
        do {
            let s = try PCMStream(host: host, capture: capture != 0)
            return Unmanaged.passRetained(s).toOpaque()
        } catch {
            host.release()
            throw error
        }
    } catch {
        copyMessage(error.message, errorBuffer, errorLength)
        return nil
    }
}

@_cdecl("inferno_alsa_close")
public func inferno_alsa_close(_ s: UnsafeMutableRawPointer) {
    let st = Unmanaged<PCMStream>.fromOpaque(s).takeRetainedValue()
    st.close()
    st.host.release()
}

@_cdecl("inferno_alsa_channels") public func inferno_alsa_channels(_ s: UnsafeMutableRawPointer) -> UInt32 { UInt32(stream(s).channels) }
@_cdecl("inferno_alsa_rate") public func inferno_alsa_rate(_ s: UnsafeMutableRawPointer) -> UInt32 { stream(s).rate }
@_cdecl("inferno_alsa_max_buffer_frames") public func inferno_alsa_max_buffer_frames(_ s: UnsafeMutableRawPointer) -> UInt32 {
    UInt32(min(PCMStream.maxBufferFrames, stream(s).port.ringFrames / 2))
}
@_cdecl("inferno_alsa_device_path") public func inferno_alsa_device_path(_ s: UnsafeMutableRawPointer, _ out: UnsafeMutablePointer<CChar>?, _ length: Int) {
    copyMessage(stream(s).port.path, out, length)
}

@_cdecl("inferno_alsa_hw_params")
public func inferno_alsa_hw_params(_ s: UnsafeMutableRawPointer, _ bufferSize: UInt, _ periodSize: UInt) {
    stream(s).hwParams(bufferSize: Int(bufferSize), periodSize: Int(periodSize))
}

@_cdecl("inferno_alsa_prepare") public func inferno_alsa_prepare(_ s: UnsafeMutableRawPointer) -> Int32 { stream(s).prepare() }
@_cdecl("inferno_alsa_start") public func inferno_alsa_start(_ s: UnsafeMutableRawPointer) -> Int32 { stream(s).start() }
@_cdecl("inferno_alsa_stop") public func inferno_alsa_stop(_ s: UnsafeMutableRawPointer, _ appl: UInt64) { stream(s).stop(appl: appl) }
@_cdecl("inferno_alsa_no_clock") public func inferno_alsa_no_clock(_ s: UnsafeMutableRawPointer) -> Int32 { stream(s).noClockSeen ? 1 : 0 }

@_cdecl("inferno_alsa_pointer")
public func inferno_alsa_pointer(_ s: UnsafeMutableRawPointer, _ appl: UInt64, _ draining: Int32) -> Int64 {
    stream(s).pointer(appl: appl, draining: draining != 0)
}

@_cdecl("inferno_alsa_write")
public func inferno_alsa_write(_ s: UnsafeMutableRawPointer, _ appl: UInt64, _ frames: UInt, _ src: UnsafePointer<Int32>) {
    stream(s).write(appl: appl, frames: Int(frames), from: src)
}

@_cdecl("inferno_alsa_read")
public func inferno_alsa_read(_ s: UnsafeMutableRawPointer, _ appl: UInt64, _ frames: UInt, _ dst: UnsafeMutablePointer<Int32>) {
    stream(s).read(appl: appl, frames: Int(frames), into: dst)
}

@_cdecl("inferno_alsa_delay") public func inferno_alsa_delay(_ s: UnsafeMutableRawPointer, _ appl: UInt64) -> Int64 { stream(s).delay(appl: appl) }
@_cdecl("inferno_alsa_avail") public func inferno_alsa_avail(_ s: UnsafeMutableRawPointer, _ appl: UInt64) -> Int64 { stream(s).avail(appl: appl) }
@_cdecl("inferno_alsa_next_period_ns") public func inferno_alsa_next_period_ns(_ s: UnsafeMutableRawPointer) -> Int64 { stream(s).nanosecondsToNextPeriod() }
@_cdecl("inferno_alsa_period_ns") public func inferno_alsa_period_ns(_ s: UnsafeMutableRawPointer) -> Int64 { stream(s).periodNanoseconds }
@_cdecl("inferno_alsa_running") public func inferno_alsa_running(_ s: UnsafeMutableRawPointer) -> Int32 { stream(s).running ? 1 : 0 }
