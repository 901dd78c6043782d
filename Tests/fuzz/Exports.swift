// The fuzz module compiles a few files of InfernoAoDNS and InfernoDevice next to the harness; they see
// InfernoProtocol through this re-export, as they do in their own modules.
@_exported import InfernoProtocol
