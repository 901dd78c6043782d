import InfernoDevice
import InfernoProtocol

/// AudioSocket bridge: Asterisk calls as channels of the device (`inferno run --audiosocket-listen …`), or on
/// their own (`inferno audiosocket serve`). Wire format and parser: InfernoProtocol/AudioSocketFrame.swift.
public enum AudioSocketBridge {
    /// Options for the hub from the device's settings.
    public static func hubOptions(_ s: AudioSocketSettings) -> AudioSocketHubOptions {
        var o = AudioSocketHubOptions()
        o.listen = s.listen
        o.connect = s.connect
        o.slots = s.calls
        return o
    }

    /// Starts the bridge on a started device: `media` must be the one whose `txSource` the runtime was given.
    /// The hub stops (hanging up every call) when the runtime stops.
    public static func start(on runtime: DeviceRuntime, media: DeviceCallMedia,
                             onEvent: @escaping @Sendable (AudioSocketEvent) -> Void) throws -> AudioSocketHub {
        let settings = runtime.config.audioSocket
        media.attach(clock: runtime.clock, rx: runtime.rx, rxBase: runtime.config.rxChannels, deviceRate: runtime.sampleRate)
        let hub = AudioSocketHub(options: hubOptions(settings), media: media, onEvent: onEvent)
        try hub.start()
        runtime.addStopHook { hub.stop() }
        return hub
    }
}
