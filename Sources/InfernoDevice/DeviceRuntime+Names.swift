extension DeviceRuntime {
    /// The device's name and the current (friendly, else default) names of its channels.
    public struct Names: Equatable, Sendable {
        public var device: String
        public var tx: [String]
        public var rx: [String]
        public init(device: String, tx: [String], rx: [String]) {
            self.device = device; self.tx = tx; self.rx = rx
        }
    }

    /// Read on the event loop.
    var currentNames: Names { Names(device: model.name, tx: model.tx.map(\.name), rx: model.rx.map(\.name)) }

    /// The current names (from any thread; before `start()` too).
    public var names: Names { (try? loop.submit { self.currentNames }.wait()) ?? currentNames }
}
