import Testing
@testable import InfernoMedia
