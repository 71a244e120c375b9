import Formats

/// A row count carried exactly through the step's Float allreduce, as three base-256 digits.
///
/// A Float holds integers exactly only up to 2^24, so a count sent as one Float would round past a global batch of
/// 16,777,216 rows and the batch check would see ranks disagree where they do not. Each rank sends its count's
/// low, middle and high digits (`c & 255`, `(c >> 8) & 255`, `c >> 16`); the allreduce sums them digit by digit.
/// The two lower sums stay below 255 P, exact for up to 65,793 ranks; the high sum is at most the global batch over
/// 65,536, exact below 2^40 rows (above synthetic data's 10^12). The total is read back as an integer.
public enum RowCountDigits {
    /// Floats the count takes in the allreduced buffer.
    public static let slots = 3
    /// The most ranks for which the digit sums stay exact.
    public static let maximumRanks = 65_793

    /// Writes `rows`'s digits into `slots` floats at `destination`.
    @inline(__always)
    public static func store(_ rows: Int, into destination: UnsafeMutablePointer<Float>) {
        destination[0] = Float(rows & 255)
        destination[1] = Float((rows >> 8) & 255)
        destination[2] = Float(rows >> 16)
    }

    /// The count whose (summed) digits are at `source`.
    @inline(__always)
    public static func load(_ source: UnsafePointer<Float>) -> Int {
        Int(source[0]) + Int(source[1]) << 8 + Int(source[2]) << 16
    }
}

extension TrainingConfiguration {
    /// Floats in each step's allreduce for a model of `parameterCount` parameters: the gradient sum, the noise
    /// scale's two sums when it is on, the row count's digits (``RowCountDigits``) and the stop flag (how many
    /// ranks received a graceful signal: all stop at the same step boundary).
    public func allreducedFloats(parameterCount: Int) -> Int {
        parameterCount + (noiseScaleDecay == nil ? 0 : 2) + RowCountDigits.slots + 1
    }
}
