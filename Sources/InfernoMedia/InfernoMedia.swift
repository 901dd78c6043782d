/// Media module: timestamp-indexed ring buffers, sample conversion and clock math.
/// Everything here is usable from a real-time thread unless documented otherwise (no allocation after init,
/// no locks, no Foundation).
public enum InfernoMedia {}
