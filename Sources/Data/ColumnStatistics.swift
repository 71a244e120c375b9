import Common
/// Per-column mean and population standard deviation, accumulated on each rank and combined by one allreduce.
///
/// Sums are of values shifted by a reference row that every rank knows (the file's first row), in Double, which
/// avoids the cancellation of the textbook `E[x^2] - E[x]^2` when a column's mean is large against its spread.
public struct ColumnStatistics: Equatable, Sendable {
    /// The reference row subtracted before summing.
    public let shift: [Double]
    /// Rows accumulated.
    public private(set) var count: Double = 0
    /// Per column: the sum of `x - shift`.
    public private(set) var sums: [Double]
    /// Per column: the sum of `(x - shift)^2`.
    public private(set) var squareSums: [Double]

    /// Creates empty statistics around `shift`.
    public init(shift: [Double]) {
        self.shift = shift
        sums = Array(repeating: 0, count: shift.count)
        squareSums = Array(repeating: 0, count: shift.count)
    }

    /// Adds one row.
    public mutating func add(_ row: [Double]) {
        count += 1
        for column in shift.indices {
            let delta = row[column] - shift[column]
            sums[column] += delta
            squareSums[column] += delta * delta
        }
    }

    /// The partial sums as one flat buffer: `[count, sums..., squareSums...]`, ready for an allreduce.
    public var packed: [Double] { [count] + sums + squareSums }

    /// Replaces the partial sums with `packed` (the allreduced buffer).
    public mutating func unpack(_ packed: [Double]) {
        let columns = shift.count
        count = packed[0]
        sums = Array(packed[1...columns])
        squareSums = Array(packed[(columns + 1)...(2 * columns)])
    }

    /// The column means.
    public var means: [Double] { shift.indices.map { shift[$0] + sums[$0] / count } }

    /// The population standard deviations (dividing by the row count, as numpy's default does).
    public var standardDeviations: [Double] {
        shift.indices.map { column in
            let meanDelta = sums[column] / count
            return max(squareSums[column] / count - meanDelta * meanDelta, 0).squareRoot()
        }
    }
}
