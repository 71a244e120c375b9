import Common
import Testing
import Data

@Suite("Column statistics combined from per-rank partial sums")
struct ColumnStatisticsTests {
    let rows: [[Double]] = [[1, 10], [2, 20], [4, 10], [8, 40], [16, 30]]

    @Test("partial sums over any split, added together, give the mean and population deviation of all rows")
    func splitsAgree() {
        let means = [6.2, 22]
        let deviations = [
            ((rows.map { ($0[0] - 6.2) * ($0[0] - 6.2) }.reduce(0, +)) / 5).squareRoot(),
            ((rows.map { ($0[1] - 22) * ($0[1] - 22) }.reduce(0, +)) / 5).squareRoot(),
        ]
        for split in 0...rows.count {
            var first = ColumnStatistics(shift: rows[0])
            var second = ColumnStatistics(shift: rows[0])
            rows[..<split].forEach { first.add($0) }
            rows[split...].forEach { second.add($0) }
            var combined = first
            combined.unpack(zip(first.packed, second.packed).map { $0 + $1 })
            #expect(combined.count == 5)
            for column in 0..<2 {
                #expect(abs(combined.means[column] - means[column]) < 1e-12)
                #expect(abs(combined.standardDeviations[column] - deviations[column]) < 1e-12)
            }
            // Exact sums: every split gives the same bits.
            #expect(combined.means == whole.means && combined.standardDeviations == whole.standardDeviations)
        }
    }

    private var whole: ColumnStatistics {
        var statistics = ColumnStatistics(shift: rows[0])
        rows.forEach { statistics.add($0) }
        return statistics
    }

    /// The sums as ExactSum gives them value by value: the packed buffer (count, refused per column, carried limbs).
    static func valueByValue(_ rows: [[Double]], shift: [Double]) -> [Int64] {
        let columns = shift.count
        let limbCount = ExactSum.wideLimbs
        var limbs = [Int64](repeating: 0, count: 2 * columns * limbCount)
        var refused = [Int64](repeating: 0, count: columns)
        limbs.withUnsafeMutableBufferPointer { limbs in
            for row in rows {
                for column in 0..<columns {
                    let delta = row[column] - shift[column]
                    let sum = limbs.baseAddress! + column * limbCount
                    if !(ExactSum.add(delta * delta, to: sum + columns * limbCount, limbs: limbCount)
                         && ExactSum.add(delta, to: sum, limbs: limbCount)) {
                        refused[column] += 1
                    }
                }
            }
            for sum in 0..<(2 * columns) { ExactSum.carry(limbs.baseAddress! + sum * limbCount, limbs: limbCount) }
        }
        return [Int64(rows.count)] + refused + limbs
    }

    @Test("rows added in bulk give ExactSum's value-by-value sums bit for bit, over every exponent, sign and refusal")
    func bulkEqualsValueByValue() {
        var state: UInt64 = 7
        func next() -> UInt64 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return state
        }
        // Values of every magnitude from subnormals to 2^200, zeros, infinities and NaN among them.
        func value() -> Double {
            switch next() % 16 {
            case 0: return 0
            case 1: return [Double.infinity, -.infinity, .nan, 1e200, -3e180][Int(next() % 5)]
            case 2: return Double(bitPattern: next() >> 12)  // subnormal
            default:
                let exponent = Int(next() % 1280) - 1078
                return Double(sign: next() % 2 == 0 ? .plus : .minus, exponent: min(exponent, 200),
                              significand: 1 + Double(next() >> 11) / Double(1 << 53))
            }
        }
        let shift = [0.5, -3, 1e-300, 12345.678]
        let rows = (0..<5000).map { _ in (0..<4).map { _ in value() } }
        var bulk = ColumnStatistics(shift: shift)
        rows.flatMap { $0 }.withUnsafeBufferPointer { bulk.add(rows: $0) }
        #expect(bulk.packed == Self.valueByValue(rows, shift: shift))
        #expect(bulk.refused.allSatisfy { $0 > 0 })
        // Split in two, each half added in bulk, and combined: the same bits again.
        var first = ColumnStatistics(shift: shift)
        var second = ColumnStatistics(shift: shift)
        rows[..<1777].flatMap { $0 }.withUnsafeBufferPointer { first.add(rows: $0) }
        rows[1777...].flatMap { $0 }.withUnsafeBufferPointer { second.add(rows: $0) }
        var combined = first
        combined.unpack(zip(first.packed, second.packed).map { $0 + $1 })
        #expect(combined.packed == bulk.packed)
        #expect(combined.means.map(\.bitPattern) == bulk.means.map(\.bitPattern))
    }

    @Test("a value whose shifted square is beyond an exact sum's range is counted as refused and adds nothing")
    func refusedValue() {
        var statistics = ColumnStatistics(shift: [0, 0])
        statistics.add([1, 2])
        statistics.add([1e30, 3])
        #expect(statistics.refused == [1, 0])
        #expect(statistics.means[0] == 0.5 && statistics.means[1] == 2.5)
    }

    @Test("a large offset does not cancel the spread (shifted sums)")
    func largeOffset() {
        var statistics = ColumnStatistics(shift: [1e9 + 1])
        for value in [1e9 + 1, 1e9 + 2, 1e9 + 3] { statistics.add([value]) }
        #expect(abs(statistics.standardDeviations[0] - (2.0 / 3).squareRoot()) < 1e-9)
    }

    @Test("a constant column has deviation exactly 0")
    func constantColumn() {
        var statistics = ColumnStatistics(shift: [5, 1])
        for value in [1.0, 2, 3] { statistics.add([5, value]) }
        #expect(statistics.standardDeviations[0] == 0)
        #expect(statistics.standardDeviations[1] > 0)
    }
}
