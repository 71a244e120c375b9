/// SplitMix64: a small, fast, seedable generator whose sequence is the same on every platform and rank.
///
/// The standard library's generators are not seedable; this one is all the trainer needs (shuffles and the
/// initial weights) and keeps runs reproducible bit for bit.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: UInt64

    /// Creates a generator from a seed and any number of stream identifiers (epoch, rank, purpose), so that
    /// every stream is independent of the others and of the order in which they are created.
    public init(seed: UInt64, stream: UInt64...) {
        var mixed = Self.mix(seed &+ 0x9E37_79B9_7F4A_7C15)
        for identifier in stream {
            mixed = Self.mix(mixed ^ Self.mix(identifier &+ 0xD1B5_4A32_D192_ED03))
        }
        state = mixed
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return Self.mix(state)
    }

    /// A uniform double in [0, 1) with 53 random bits.
    public mutating func nextUnit() -> Double {
        Double(next() >> 11) * 0x1p-53
    }

    /// A standard normal sample (Box-Muller).
    public mutating func nextNormal() -> Double {
        let u1 = 1 - nextUnit()
        let u2 = nextUnit()
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }

    private static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
