/// Whether a GEMM operand is used as stored or transposed.
public enum Transpose: Sendable {
    /// The operand is used as stored.
    case none
    /// The operand is used transposed.
    case transposed

    /// The other choice.
    var flipped: Transpose { self == .none ? .transposed : .none }
}
