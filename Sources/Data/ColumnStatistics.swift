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
    ///
    /// The same exact sums as adding every value with ``ExactSum/add(_:to:limbs:)``, faster: a value whose last
    /// significand bit weighs at least 2^-64 is added whole to a bucket for its exponent, and one smaller is rounded
    /// to a multiple of 2^-64 exactly as ExactSum rounds it and added to one more bucket, all in Int64; every
    /// ``rowsPerFlush`` rows the buckets go into the limbs (exact integers either way, so the sums are the same
    /// bits however the rows are split or ordered).
    public mutating func add(rows values: UnsafeBufferPointer<Double>) {
        let columns = shift.count
        precondition(values.count % columns == 0, "\(values.count) values are not rows of \(columns) columns")
        guard let base = values.baseAddress else { return }
        let rows = values.count / columns
        let sums = 2 * columns
        withUnsafeTemporaryAllocation(of: Int64.self, capacity: sums * Self.buckets) { buckets in
            let buckets = buckets.baseAddress!
            buckets.initialize(repeating: 0, count: sums * Self.buckets)
            var row = 0
            while row < rows {
                let batch = min(rows - row, Self.rowsPerFlush)
                shift.withUnsafeBufferPointer { shift in
                    for index in row..<(row + batch) {
                        let values = base + index * columns
                        for column in 0..<columns {
                            let delta = values[column] - shift[column]
                            // A square that ExactSum refuses (not finite, or 2^159 and more) refuses the value: it
                            // adds to neither sum (its delta, below 2^80, never is refused alone).
                            if Self.addToBucket(delta * delta, buckets + (columns + column) * Self.buckets) {
                                _ = Self.addToBucket(delta, buckets + column * Self.buckets)
                            } else {
                                refused[column] += 1
                            }
                        }
                    }
                }
                count += Int64(batch)
                row += batch
                flush(buckets)
            }
        }
    }

    /// Buckets per sum: one for each exponent shift 0 ..< 171 of a value added whole (see ``addToBucket(_:_:)``),
    /// and the last for the rounded small values.
    private static let buckets = 172
    /// Rows between flushes: each adds at most 2^53 in magnitude to a bucket, so 1024 of them stay below 2^63.
    private static let rowsPerFlush = 1024

    /// Adds `value` to its bucket: whole, when its last significand bit weighs 2^-64 or more (bucket `shift`, the
    /// value being `significand * 2^(shift - 64)`); otherwise rounded to a multiple of 2^-64, ties to even, as
    /// ``ExactSum/add(_:to:limbs:)`` rounds it (the last bucket). False for what ExactSum refuses: not finite, or
    /// 2^159 and more (wide limbs).
    @inline(__always)
    private static func addToBucket(_ value: Double, _ buckets: UnsafeMutablePointer<Int64>) -> Bool {
        // The common case first, without a branch on the data beyond one range check: a normal value added whole
        // (shift 0 ..< 171 is biased exponent 1011 ..< 1182), its significand negated by the sign mask.
        let bits = value.bitPattern
        let shift = Int(truncatingIfNeeded: (bits >> 52) & 0x7FF) &- 1011
        if UInt(bitPattern: shift) < 171 {
            let magnitude = Int64(bitPattern: bits & 0xF_FFFF_FFFF_FFFF | 1 << 52)
            let sign = Int64(bitPattern: bits) >> 63
            buckets[shift] &+= (magnitude ^ sign) &- sign
            return true
        }
        return addOutsideWholeRange(value, buckets)
    }

    /// ``addToBucket(_:_:)`` for the rest: zeros, values rounded to the last bucket (subnormals among them), and what
    /// ExactSum refuses.
    @inline(never)
    private static func addOutsideWholeRange(_ value: Double, _ buckets: UnsafeMutablePointer<Int64>) -> Bool {
        let bits = value.bitPattern
        let biased = Int((bits >> 52) & 0x7FF)
        let significand = biased == 0 ? bits & 0xF_FFFF_FFFF_FFFF : bits & 0xF_FFFF_FFFF_FFFF | 1 << 52
        if significand == 0 { return true }
        let exponent = biased == 0 ? -1022 : biased - 1023
        guard biased != 0x7FF, exponent < 159 else { return false }
        // Below the whole range: the significand loses `drop` bits, rounded to even.
        let drop = UInt64(-(exponent + 12))
        guard drop < 64 else { return true }  // under 2^-11 units: rounds to zero
        let kept = significand &>> drop
        let remainder = significand & ((1 &<< drop) - 1)
        let half = UInt64(1) &<< (drop - 1)
        let rounded = Int64(kept + (remainder > half || (remainder == half && kept & 1 == 1) ? 1 : 0))
        buckets[Self.buckets - 1] &+= Int64(bitPattern: bits) < 0 ? -rounded : rounded
        return true
    }

    /// Adds every bucket to its sum's limbs and empties it, then carries.
    private mutating func flush(_ buckets: UnsafeMutablePointer<Int64>) {
        let sums = 2 * shift.count
        limbs.withUnsafeMutableBufferPointer { limbs in
            for sum in 0..<sums {
                let target = limbs.baseAddress! + sum * Self.limbCount
                let bucketsOfSum = buckets + sum * Self.buckets
                for shift in 0..<Self.buckets where bucketsOfSum[shift] != 0 {
                    // The rounded bucket is in units of 2^-64 (shift 0).
                    Self.addWhole(bucketsOfSum[shift], shift: shift == Self.buckets - 1 ? 0 : shift, to: target)
                    bucketsOfSum[shift] = 0
                }
            }
        }
        carry()
    }

    /// Adds `value * 2^shift` units of 2^-64 to the limbs, in 32-bit pieces (at most three, each below 2^32).
    @inline(__always)
    private static func addWhole(_ value: Int64, shift: Int, to limbs: UnsafeMutablePointer<Int64>) {
        let sign: Int64 = value < 0 ? -1 : 1
        let magnitude = value.magnitude
        let limb = shift >> 5
        let offset = UInt64(shift & 31)
        let low = magnitude &<< offset
        let high = offset == 0 ? 0 : magnitude &>> (64 - offset)
        limbs[limb] &+= sign &* Int64(low & 0xFFFF_FFFF)
        limbs[limb + 1] &+= sign &* Int64(low >> 32)
        guard high != 0 else { return }
        // Past the top limb (shifts from 161 on), the piece joins the top limb, which holds the rest with the sign.
        if limb + 2 < Self.limbCount {
            limbs[limb + 2] &+= sign &* Int64(high)
        } else {
            limbs[limb + 1] &+= sign &* Int64(high << 32)
        }
    }

    /// The partial sums as one flat buffer, ready for an integer allreduce: carried, so that the sums of up to
    /// ``ExactSum/safeAdditions`` ranks' buffers cannot overflow.
    public var packed: [Int64] {
        var carried = self
        carried.carry()
        return [count] + carried.refused + carried.limbs
    }

    /// Carries every sum's limbs, so that each but the top one is back below 2^32 and they take
    /// ``ExactSum/safeAdditions`` more additions; a column whose sums grew too large for that is refused (as a value
    /// too far from the reference row is).
    private mutating func carry() {
        let columns = shift.count
        limbs.withUnsafeMutableBufferPointer { limbs in
            for sum in 0..<(2 * columns)
            where !ExactSum.carry(limbs.baseAddress! + sum * Self.limbCount, limbs: Self.limbCount) {
                refused[sum % columns] += 1
            }
        }
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
