import InfernoDevice

/// AoDNS bridge (issue: AoDNS bridge). Audio published in DNS TXT records and AoDNS streams played into
/// Dante channels. Empty until that issue lands; the module exists so the dependency direction is fixed:
/// bridges depend on the device, never the other way round.
public enum AoDNSBridge {}
