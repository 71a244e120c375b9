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
