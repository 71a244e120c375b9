import Common
/// Per-column mean and population standard deviation, accumulated on each rank and combined by one allreduce.
///
/// Sums are of values shifted by a reference row that every rank knows (the file's first row), which avoids the
/// cancellation of the textbook `E[x^2] - E[x]^2` when a column's mean is large against its spread. They are exact
/// (``ExactSum``): the statistics, and so the standardised data, are the same bits however the rows are split
/// between ranks.
public struct ColumnStatistics: Equatable, Sendable {
    /// The reference row subtracted before summing.
    public let shift: [Double]
    /// Rows accumulated.
    public private(set) var count: Int64 = 0
    /// Per column: values whose shifted square is too large for an exact sum (beyond about 6e23 from the reference).
    public private(set) var refused: [Int64]
    /// Per column, ``ExactSum/wideLimbs`` limbs each: the sums of `x - shift`, then of `(x - shift)^2`.
    private var limbs: [Int64]
    /// Rows added since the limbs were last carried (``ExactSum/carry(_:limbs:)``).
    private var uncarried = 0

    private static let limbCount = ExactSum.wideLimbs

    /// Creates empty statistics around `shift`.
    public init(shift: [Double]) {
        self.shift = shift
        refused = Array(repeating: 0, count: shift.count)
        limbs = Array(repeating: 0, count: 2 * shift.count * Self.limbCount)
    }

    /// Adds one row.
    public mutating func add(_ row: [Double]) {
        precondition(row.count == shift.count, "a row of \(row.count) values for \(shift.count) columns")
        row.withUnsafeBufferPointer { add(rows: $0) }
    }

    /// Adds the rows of `values`, one after another (a whole number of rows).
    public mutating func add(rows values: UnsafeBufferPointer<Double>) {
        let columns = shift.count
        precondition(values.count % columns == 0, "\(values.count) values are not rows of \(columns) columns")
        guard let base = values.baseAddress else { return }
        let rows = values.count / columns
        shift.withUnsafeBufferPointer { shift in
            var row = 0
            while row < rows {
                if uncarried == ExactSum.safeAdditions { carry() }
                // Up to the next carry, in one pass over the limbs.
                let batch = min(rows - row, ExactSum.safeAdditions - uncarried)
                limbs.withUnsafeMutableBufferPointer { limbs in
                    let limbs = limbs.baseAddress!
                    for index in row..<(row + batch) {
                        let values = base + index * columns
                        for column in 0..<columns {
                            let delta = values[column] - shift[column]
                            let sum = limbs + column * Self.limbCount
                            let squares = sum + columns * Self.limbCount
                            // Check the square first: a refused value adds to neither sum.
                            if !ExactSum.add(delta * delta, to: squares, limbs: Self.limbCount)
                                || !ExactSum.add(delta, to: sum, limbs: Self.limbCount)
                            {
                                refused[column] += 1
                            }
                        }
                    }
                }
                uncarried += batch
                count += Int64(batch)
                row += batch
            }
        }
    }

    /// The partial sums as one flat buffer, ready for an integer allreduce: carried, so that the sums of up to
    /// ``ExactSum/safeAdditions`` ranks' buffers cannot overflow.
    public var packed: [Int64] {
        var carried = self
        carried.carry()
        return [count] + carried.refused + carried.limbs
    }

    /// Carries every sum's limbs, so that they take ``ExactSum/safeAdditions`` more rows; a column whose sums grew
    /// too large for that is refused (as a value too far from the reference row is).
    private mutating func carry() {
        let columns = shift.count
        limbs.withUnsafeMutableBufferPointer { limbs in
            for sum in 0..<(2 * columns)
            where !ExactSum.carry(limbs.baseAddress! + sum * Self.limbCount, limbs: Self.limbCount) {
                refused[sum % columns] += 1
            }
        }
        uncarried = 0
    }

    /// Replaces the partial sums with `packed` (the allreduced buffer).
    public mutating func unpack(_ packed: [Int64]) {
        let columns = shift.count
        count = packed[0]
        refused = Array(packed[1...columns])
        limbs = Array(packed[(columns + 1)...])
        carry()
    }

    /// Per column: the sum of `x - shift`, or of its square, rounded once.
    private func total(_ column: Int, squares: Bool) -> Double {
        limbs.withUnsafeBufferPointer { limbs in
            let offset = (squares ? shift.count + column : column) * Self.limbCount
            return ExactSum.double(limbs.baseAddress! + offset, limbs: Self.limbCount)
        }
    }

    /// The column means.
    public var means: [Double] { shift.indices.map { shift[$0] + total($0, squares: false) / Double(count) } }

    /// The population standard deviations (dividing by the row count, as numpy's default does).
    public var standardDeviations: [Double] {
        shift.indices.map { column in
            let meanDelta = total(column, squares: false) / Double(count)
            return max(total(column, squares: true) / Double(count) - meanDelta * meanDelta, 0).squareRoot()
        }
    }
}
