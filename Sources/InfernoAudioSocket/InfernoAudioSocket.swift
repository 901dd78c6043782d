import InfernoDevice

/// AudioSocket bridge (issue: AudioSocket bridge): Asterisk calls as Dante channels.
/// Empty until that issue lands; the module fixes the dependency direction.
public enum AudioSocketBridge {}
