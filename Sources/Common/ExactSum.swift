/// Exact, order-independent sums of floating-point values, for results that must be bit-identical at any rank
/// count (`--reproducible`).
///
/// A sum is a fixed-point number with 64 fraction bits held in `limbs` Int64 limbs of 32 bits each (limb `j`
/// weighs `2^(32 j - 64)`). Adding a value rounds it once to a multiple of `2^-64` (the same rounding wherever and
/// whenever it is added) and adds its digits to the limbs without carrying; a limb takes ``safeAdditions`` (2^30)
/// additions, values and merged sums alike, before it could overflow, and ``carry(_:limbs:)`` brings it back to
/// 32 bits. Sums of limbs are exact and associative, so partial sums can be combined in any order, an integer
/// `MPI_SUM` included, and the total read back with one rounding.
public enum ExactSum {
    /// Limbs for gradients and losses: magnitudes below 2^63 per value.
    public static let narrowLimbs = 4
    /// Limbs for data statistics: magnitudes below 2^159 per value (any Float, and the square of any value below
    /// 2^79).
    public static let wideLimbs = 7
    @usableFromInline static let fractionLimbs = 2
    /// Additions (of values, or of carried sums) a sum takes, after a carry, before a limb could overflow: each adds
    /// less than 2^32 to a limb, and 2^30 of them stay far below 2^63.
    public static let safeAdditions = 1 << 30

    /// Adds `value` to the sum in `sum` (`limbs` limbs). Returns false, adding nothing, when the value is not finite
    /// or too large for the limbs (at or above `2^(32 (limbs - 2) - 1)`).
    @inlinable @inline(__always)
    public static func add(_ value: Double, to sum: UnsafeMutablePointer<Int64>, limbs: Int) -> Bool {
        // From the bits: the value is significand x 2^(exponent - 52) (Double's `exponent` is not inlined).
        let bits = value.bitPattern
        let biased = Int((bits >> 52) & 0x7FF)
        let significand = biased == 0 ? bits & 0xF_FFFF_FFFF_FFFF : bits & 0xF_FFFF_FFFF_FFFF | 1 << 52
        if significand == 0 { return true }
        let exponent = biased == 0 ? -1022 : biased - 1023
        guard biased != 0x7FF, exponent < 32 * (limbs - fractionLimbs) - 1 else { return false }
        // In units of 2^-64 the value is `significand << shift`: below 2^85 once the whole limbs of the shift are
        // counted apart, held in two words (UInt128's generic shifts cost more than the rest of the add).
        let shift = exponent + 12
        var limb = 0
        var low: UInt64
        var high: UInt64 = 0
        if shift >= 0 {
            limb = shift >> 5
            let offset = UInt64(shift & 31)
            low = significand &<< offset
            high = offset == 0 ? 0 : significand &>> (64 - offset)
        } else {
            let drop = UInt64(-shift)
            guard drop < 64 else { return true }  // under 2^-11 units: rounds to zero
            // Round to nearest, ties to even.
            let kept = significand &>> drop
            let remainder = significand & ((1 &<< drop) - 1)
            let half = UInt64(1) &<< (drop - 1)
            let roundsUp = remainder > half || (remainder == half && kept & 1 == 1)
            low = kept + (roundsUp ? 1 : 0)
        }
        let sign: Int64 = bits >> 63 == 1 ? -1 : 1
        sum[limb] &+= sign &* Int64(low & 0xFFFF_FFFF)
        if low >> 32 != 0 || high != 0 { sum[limb + 1] &+= sign &* Int64(low >> 32) }
        if high != 0 { sum[limb + 2] &+= sign &* Int64(high) }
        return true
    }

    /// Carries between the limbs of `sum` without changing its value: afterwards every limb but the top one is in
    /// `0 ..< 2^32` and the top one holds the rest, with the sign. Returns false when the top limb is 2^61 or more in
    /// magnitude: the total is then too large for ``safeAdditions`` more additions (no carry can make room above
    /// the top limb), and the caller must stop adding to it.
    @inline(__always) @discardableResult
    public static func carry(_ sum: UnsafeMutablePointer<Int64>, limbs: Int) -> Bool {
        var carry: Int64 = 0
        for limb in 0..<(limbs - 1) {
            let value = sum[limb] &+ carry
            sum[limb] = value & 0xFFFF_FFFF
            carry = value >> 32
        }
        sum[limbs - 1] &+= carry
        return sum[limbs - 1].magnitude < 1 << 61
    }

    /// The sum in `sum` (`limbs` limbs, uncarried), rounded once to the nearest Double.
    public static func double(_ sum: UnsafePointer<Int64>, limbs: Int) -> Double {
        let (negative, top, exponent) = normalized(sum, limbs: limbs)
        let magnitude = Double(sign: .plus, exponent: exponent, significand: Double(top))
        return negative ? -magnitude : magnitude
    }

    /// The sum as sign, a 64-bit magnitude whose lowest bit also records ("sticks") any nonzero bits below it, and
    /// the power of two it is in units of: enough for one correct rounding to Double.
    private static func normalized(_ sum: UnsafePointer<Int64>, limbs: Int) -> (Bool, UInt64, Int) {
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
            // The highest digit (up to 63 bits) and the two below it, as 128 bits in two words.
            let top = UInt64(digits[highest])
            let middle = highest >= 1 ? UInt64(digits[highest - 1]) : 0
            let bottom = highest >= 2 ? UInt64(digits[highest - 2]) : 0
            var high = top >> 32
            var low = top << 32 | middle
            var lowestBit = 32 * (highest - 1)  // the weight of `low`'s bit 0, in bits above 2^-64
            // Shift left by 32 more to bring in the bottom digit: `high:low` then holds three digits.
            high = high << 32 | low >> 32
            low = low << 32 | bottom
            lowestBit -= 32
            var sticky = (0..<max(highest - 2, 0)).contains { digits[$0] != 0 }
            // Keep the leading 64 bits; the bits shifted out stick. `high` is below 2^63 (the top digit is), so the
            // shift is 1 to 63.
            if high != 0 {
                let zeros = UInt64(high.leadingZeroBitCount)
                let shift = 64 - zeros
                sticky = sticky || low & ((1 &<< shift) &- 1) != 0
                low = (high &<< zeros) | (low &>> shift)
                lowestBit += Int(shift)
            }
            return (negative, sticky ? low | 1 : low, lowestBit - 64)
        }
    }
}
