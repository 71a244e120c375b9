/// Exact, order-independent sums of floating-point values, for results that must be bit-identical at any rank
/// count (`--reproducible`).
///
/// A sum is a fixed-point number with 64 fraction bits held in `limbs` Int64 limbs of 32 bits each (limb `j`
/// weighs `2^(32 j - 64)`). Adding a value rounds it once to a multiple of `2^-64` (the same rounding wherever and
/// whenever it is added) and adds its digits to the limbs without carrying; a limb takes 2^31 additions before it
/// could overflow. Sums of limbs are exact and associative, so partial sums can be combined in any order, an
/// integer `MPI_SUM` included, and the total read back with one rounding.
public enum ExactSum {
    /// Limbs for gradients and losses: magnitudes below 2^63 per value.
    public static let narrowLimbs = 4
    /// Limbs for data statistics: magnitudes below 2^159 per value (any Float, and the square of any value below
    /// 2^79).
    public static let wideLimbs = 7
    private static let fractionLimbs = 2

    /// Adds `value` to the sum in `sum` (`limbs` limbs). Returns false, adding nothing, when the value is not finite
    /// or too large for the limbs (at or above `2^(32 (limbs - 2) - 1)`).
    @inline(__always)
    public static func add(_ value: Double, to sum: UnsafeMutablePointer<Int64>, limbs: Int) -> Bool {
        if value == 0 { return true }
        let magnitude = value.magnitude
        guard magnitude.isFinite, magnitude.exponent < 32 * (limbs - fractionLimbs) - 1 else { return false }
        // magnitude = significand x 2^(exponent - 52); in units of 2^-64, shifted left by exponent + 12.
        let significand = magnitude.isNormal
            ? magnitude.significandBitPattern | (1 << 52) : magnitude.significandBitPattern
        let exponent = magnitude.isNormal ? Int(magnitude.exponent) : -1022
        let shift = exponent + 12
        var rest: UInt128
        var limb = 0
        if shift >= 0 {
            limb = shift >> 5
            rest = UInt128(significand) << (shift & 31)
        } else {
            let drop = -shift
            guard drop < 64 else { return true }  // under 2^-11 units: rounds to zero
            // Round to nearest, ties to even.
            let kept = significand >> drop
            let remainder = significand & ((1 << drop) - 1)
            let half = UInt64(1) << (drop - 1)
            let roundsUp = remainder > half || (remainder == half && kept & 1 == 1)
            rest = UInt128(kept + (roundsUp ? 1 : 0))
        }
        let sign: Int64 = value < 0 ? -1 : 1
        while rest != 0 {
            sum[limb] &+= sign * Int64(UInt32(truncatingIfNeeded: rest))
            rest >>= 32
            limb += 1
        }
        return true
    }

    /// Adds the limbs of `other` to `sum` (`limbs` each): the sum of the two sums, exactly.
    @inline(__always)
    public static func merge(_ other: UnsafePointer<Int64>, into sum: UnsafeMutablePointer<Int64>, limbs: Int) {
        for limb in 0..<limbs { sum[limb] &+= other[limb] }
    }

    /// The sum in `sum` (`limbs` limbs, uncarried), rounded once to the nearest Double.
    public static func double(_ sum: UnsafePointer<Int64>, limbs: Int) -> Double {
        let (negative, top, exponent) = normalized(sum, limbs: limbs)
        let magnitude = Double(sign: .plus, exponent: exponent, significand: Double(top))
        return negative ? -magnitude : magnitude
    }

    /// The sum in `sum` (`limbs` limbs, uncarried), rounded once to the nearest Float.
    public static func float(_ sum: UnsafePointer<Int64>, limbs: Int) -> Float {
        let (negative, top, exponent) = normalized(sum, limbs: limbs)
        let magnitude = Float(sign: .plus, exponent: exponent, significand: Float(top))
        return negative ? -magnitude : magnitude
    }

    /// The sum as sign, a magnitude of at most 128 bits whose lowest bit also records ("sticks") any nonzero bits
    /// below it, and the power of two it is in units of: enough for one correct rounding to Float or Double.
    private static func normalized(_ sum: UnsafePointer<Int64>, limbs: Int) -> (Bool, UInt128, Int) {
        withUnsafeTemporaryAllocation(of: Int64.self, capacity: limbs) { digits in
            // Carry so that every limb but the top one is in 0 ..< 2^32; the top one holds the sign.
            var carry: Int64 = 0
            for limb in 0..<limbs {
                let value = sum[limb] &+ carry
                if limb == limbs - 1 {
                    digits[limb] = value
                } else {
                    digits[limb] = value & 0xFFFF_FFFF
                    carry = value >> 32
                }
            }
            let negative = digits[limbs - 1] < 0
            if negative {
                // Negate the whole number: complement every digit and add one, carrying.
                var carry: Int64 = 1
                for limb in 0..<limbs {
                    if limb == limbs - 1 {
                        digits[limb] = ~digits[limb] &+ carry
                    } else {
                        let value = (~digits[limb] & 0xFFFF_FFFF) + carry
                        digits[limb] = value & 0xFFFF_FFFF
                        carry = value >> 32
                    }
                }
            }
            guard let highest = (0..<limbs).last(where: { digits[$0] != 0 }) else { return (false, 0, 0) }
            let lowest = max(highest - 2, 0)
            var top: UInt128 = 0
            for limb in stride(from: highest, through: lowest, by: -1) {
                top = top << 32 | UInt128(UInt64(digits[limb]))
            }
            if (0..<lowest).contains(where: { digits[$0] != 0 }) { top |= 1 }
            return (negative, top, 32 * (lowest - fractionLimbs))
        }
    }
}
