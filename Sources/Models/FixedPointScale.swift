/// How `--reproducible` rounds one block of a model's gradient (a layer's weights and bias) to integers.
///
/// Every per-row term of a block is a product `a d` of an activation side (an input or hidden activation, the bias
/// input 1 included) and a delta side (a residual or a hidden delta). Before the step, every rank derives the same
/// bounds on both sides from the parameters and the training data's largest values (the model's
/// `fixedPointScales`), and from them this scale: the activation side is multiplied by `2^activationExponent`,
/// the delta side by `2^deltaExponent`, and each product is rounded once to an integer
/// (`KernelCore.fixedPointOuterSum`). The exponents leave a factor of two over the bounds for the Float rounding
/// of the values they bound, keep every rounded term below 2^51 (where the kernels' rounding is exact) and any sum
/// of `rows` terms below 2^62, so the Int64 sums neither overflow nor depend on the order they are added in.
/// The grid is as fine as that allows: a term is kept to about `61 - log2(rows)` bits below its block's bound.
public struct FixedPointScale: Sendable, Equatable {
    /// The power of two the activation side is multiplied by.
    public let activationExponent: Int
    /// The power of two the delta side is multiplied by.
    public let deltaExponent: Int

    /// The gradient one unit of an integer sum stands for: `2^-(activationExponent + deltaExponent)`.
    public let unit: Double

    /// The scale for terms no larger than `activationBound * deltaBound` in magnitude, summed `rows` (at least 1)
    /// at a time; nil when a bound is not finite or above 2^900 (the parameters have diverged: a Float gradient of
    /// such terms would be infinite).
    public init?(activationBound: Double, deltaBound: Double, rows: Int) {
        guard activationBound.isFinite, deltaBound.isFinite, activationBound < 0x1p900, deltaBound < 0x1p900,
              activationBound * deltaBound < 0x1p900 else { return nil }
        let rowBits = Int.bitWidth - max(rows - 1, 0).leadingZeroBitCount  // ceil(log2(rows))
        let limitExponent = min(50, 61 - rowBits)
        // A < 2^(eA + 1) and D < 2^(eD + 1), so 2 A 2^-eA D 2^(limit - eD - 3) < 2^limit.
        let activationPower = activationBound > 0 ? Int(activationBound.exponent) : 0
        let deltaPower = deltaBound > 0 ? Int(deltaBound.exponent) : 0
        // Capped so that the scales and the unit stay normal Doubles: a cap only coarsens a grid finer than any term
        // can use (the terms are then below 2^-900).
        activationExponent = min(-activationPower, 500)
        deltaExponent = min(limitExponent - deltaPower - 3, 1000 - activationExponent)
        unit = Double(sign: .plus, exponent: -(activationExponent + deltaExponent), significand: 1)
    }

    /// `2^activationExponent`.
    public var activationScale: Double { Double(sign: .plus, exponent: activationExponent, significand: 1) }
    /// `2^deltaExponent`.
    public var deltaScale: Double { Double(sign: .plus, exponent: deltaExponent, significand: 1) }
}
