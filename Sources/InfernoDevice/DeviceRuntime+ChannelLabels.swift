extension DeviceRuntime {
    /// Friendly names for some channels (1-based numbers) that show until a controller renames them; they are not
    /// saved. Bridges use them to label the channels they feed or read (AoDNS: the zone). Call before `start()`.
    public func setDefaultChannelNames(tx: [Int: String] = [:], rx: [Int: String] = [:]) {
        for (n, name) in tx where n >= 1 && n <= model.tx.count && DeviceModel.validChannelName(name) {
            model.tx[n - 1].defaultName = name
        }
        for (n, name) in rx where n >= 1 && n <= model.rx.count && DeviceModel.validChannelName(name) {
            model.rx[n - 1].defaultName = name
        }
    }
}
